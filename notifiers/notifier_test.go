package notifiers

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestErrorClasses(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		name      string
		err       error
		permanent bool
		after     time.Duration
		hasAfter  bool
	}{
		{name: "plain is transient", err: base},
		{name: "permanent", err: Permanent(base), permanent: true},
		{name: "wrapped permanent", err: fmt.Errorf("send: %w", Permanent(base)), permanent: true},
		{name: "retry after", err: RetryAfter(base, 2*time.Second), after: 2 * time.Second, hasAfter: true},
		{name: "wrapped retry after", err: fmt.Errorf("x: %w", RetryAfter(base, time.Minute)), after: time.Minute, hasAfter: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPermanent(tc.err); got != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.permanent)
			}
			after, ok := RetryAfterOf(tc.err)
			if ok != tc.hasAfter || after != tc.after {
				t.Errorf("RetryAfterOf(%v) = %v, %v, want %v, %v", tc.err, after, ok, tc.after, tc.hasAfter)
			}
			if !errors.Is(tc.err, base) || tc.err.Error() != strings.TrimPrefix(tc.err.Error(), "") {
				t.Errorf("%v does not wrap its cause", tc.err)
			}
		})
	}
	if Permanent(nil) != nil || RetryAfter(nil, time.Second) != nil {
		t.Error("Permanent(nil) or RetryAfter(nil) is not nil")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const value = "xoxb-very-secret"
	s := NewSecret(value)
	type holder struct {
		Token Secret `json:"token"`
	}
	j, _ := json.Marshal(holder{s})
	text, _ := s.MarshalText()
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "token", s, "holder", holder{s})
	outputs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %s %q %#v", s, s, s, s, s), fmt.Sprintf("%+v %#v", holder{s}, holder{s}),
		string(j), string(text), logged.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, value) {
			t.Errorf("secret printed: %s", out)
		}
		if !strings.Contains(out, "<redacted>") && !strings.Contains(out, `\u003credacted\u003e`) {
			t.Errorf("output %q lacks <redacted>", out)
		}
	}
	if s.Reveal() != value || s.IsZero() || !NewSecret("").IsZero() {
		t.Error("Reveal/IsZero wrong")
	}
}

func TestRedactURL(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "https://hooks.slack.com/services/T/B/secret", Err: errors.New("connection refused")}
	got := RedactURL(fmt.Errorf("send: %w", err)).Error()
	if strings.Contains(got, "secret") || !strings.Contains(got, "connection refused") || !strings.HasPrefix(got, "Post <redacted url>") {
		t.Errorf("RedactURL = %q", got)
	}
	plain := errors.New("x")
	if RedactURL(plain) != plain {
		t.Error("RedactURL changed an error without a URL")
	}
}
