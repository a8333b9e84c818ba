package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/notifiers"
)

const (
	secretPath  = "/hook/s3cr3tP4th"
	secretToken = "Bearer s3cr3tT0k3n"
)

// request is what the stand-in server received.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   string
}

// answer is how the stand-in server replies.
type answer struct {
	Status int
	Header map[string]string
	Body   string // "" echoes the request's Authorization header and URL
}

// newServer starts a receiver that records every request on the returned
// channel and replies with a. Unless a has a body, the reply echoes the
// request's credentials, as a careless receiver might.
func newServer(t *testing.T, a answer) (*httptest.Server, <-chan request) {
	t.Helper()
	got := make(chan request, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		got <- request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)}
		for k, v := range a.Header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.Status)
		reply := a.Body
		if reply == "" {
			reply = "echo: " + r.Header.Get("Authorization") + " " + r.URL.String()
		}
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// testDeps are the dependencies every test notifier gets: a client of its
// own, closed when t ends, and a logger that discards.
func testDeps(t testing.TB) notifiers.Deps {
	c := notifiers.NewHTTPClient(4)
	t.Cleanup(c.CloseIdleConnections)
	return notifiers.Deps{HTTP: c, Log: slog.New(slog.DiscardHandler)}
}

func newNotifier(t *testing.T, c Config) *Notifier {
	t.Helper()
	n, err := New(c, testDeps(t))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return n
}

var testMessage = notifiers.Message{ID: "job-42", Text: `{"id":"abc","status":"succeeded"}`}

func TestNotifySends(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantMethod string
		wantHeader map[string]string
	}{
		{
			name:       "defaults",
			cfg:        Config{},
			wantMethod: "POST",
			wantHeader: map[string]string{"Content-Type": "application/json", "User-Agent": "hooknote", "Idempotency-Key": "job-42"},
		},
		{
			name: "put with headers",
			cfg: Config{Method: "PUT", Headers: map[string]notifiers.Secret{
				"authorization": notifiers.NewSecret(secretToken),
				"Content-Type":  notifiers.NewSecret("application/vnd.acme+json"),
				"X-Team":        notifiers.NewSecret("ml"),
			}},
			wantMethod: "PUT",
			wantHeader: map[string]string{"Content-Type": "application/vnd.acme+json", "User-Agent": "hooknote", "Idempotency-Key": "job-42", "Authorization": secretToken, "X-Team": "ml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := newServer(t, answer{Status: http.StatusNoContent})
			tt.cfg.URL = srv.URL + secretPath + "?a=1"
			if err := newNotifier(t, tt.cfg).Notify(t.Context(), testMessage); err != nil {
				t.Fatalf("Notify() = %v, want nil", err)
			}
			r := <-got
			if r.Method != tt.wantMethod || r.Path != secretPath || r.Body != testMessage.Text {
				t.Errorf("Notify() sent %s %s %q, want %s %s %q", r.Method, r.Path, r.Body, tt.wantMethod, secretPath, testMessage.Text)
			}
			for name, want := range tt.wantHeader {
				if got := r.Header.Get(name); got != want {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// classOf names the class relay's retry loop sees in err.
func classOf(err error) string {
	if err == nil {
		return "ok"
	}
	if d, ok := notifiers.RetryAfterOf(err); ok {
		return fmt.Sprintf("retry after %s", d)
	}
	if notifiers.IsPermanent(err) {
		return "permanent"
	}
	return "transient"
}

// TestNotifyClassification checks, over a real connection, the class and
// the text of what Notify returns; notifiers.TestCheckHTTP covers every
// status and Retry-After form.
func TestNotifyClassification(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		answer     answer
		closed     bool // connection refused
		want       string
		wantErr    string
		wantReason string // of the *notifiers.HTTPError; "" for none
	}{
		{name: "200", answer: answer{Status: 200}, want: "ok"},
		{name: "201", answer: answer{Status: 201}, want: "ok"},
		{name: "204", answer: answer{Status: 204}, want: "ok"},
		{name: "301", answer: answer{Status: 301, Header: map[string]string{"Location": "https://elsewhere.example/"}}, want: "permanent", wantErr: "post webhook: redirects are not followed: status 301", wantReason: "redirect"},
		{name: "400", answer: answer{Status: 400, Body: `{"error":"unknown pipeline"}`}, want: "permanent", wantErr: `post webhook: status 400: {"error":"unknown pipeline"}`, wantReason: "client_error"},
		{name: "400 echoing", answer: answer{Status: 400}, want: "permanent", wantErr: "post webhook: status 400: echo: <redacted>", wantReason: "client_error"},
		{name: "401", answer: answer{Status: 401, Body: "bad token"}, want: "permanent", wantErr: "post webhook: status 401: bad token", wantReason: "client_error"},
		{name: "404", answer: answer{Status: 404, Body: "no_service"}, want: "permanent", wantErr: "post webhook: status 404: no_service", wantReason: "client_error"},
		{name: "408", answer: answer{Status: 408}, want: "transient", wantReason: "client_error"},
		{name: "409", answer: answer{Status: 409}, want: "permanent", wantReason: "client_error"},
		{name: "429 seconds", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "2"}, Body: "slow down"}, want: "retry after 2s", wantErr: "post webhook: status 429: slow down", wantReason: "rate_limited"},
		{name: "429 date", answer: answer{Status: 429, Header: map[string]string{"Retry-After": now.Add(2 * time.Second).Format(http.TimeFormat)}}, want: "retry after 2s", wantReason: "rate_limited"},
		{name: "429 far date", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}}, want: "retry after 24h0m0s", wantReason: "rate_limited"},
		{name: "429 huge seconds", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "4294967295"}}, want: "retry after 24h0m0s", wantReason: "rate_limited"},
		{name: "429 past date", answer: answer{Status: 429, Header: map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}}, want: "transient", wantReason: "rate_limited"},
		{name: "429 unreadable", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "soon"}}, want: "transient", wantReason: "rate_limited"},
		{name: "429 without Retry-After", answer: answer{Status: 429}, want: "transient", wantReason: "rate_limited"},
		{name: "500", answer: answer{Status: 500}, want: "transient", wantReason: "server_error"},
		{name: "502", answer: answer{Status: 502}, want: "transient", wantReason: "server_error"},
		{name: "503", answer: answer{Status: 503, Body: "maintenance\n"}, want: "transient", wantErr: "post webhook: status 503: maintenance", wantReason: "server_error"},
		{name: "connection refused", closed: true, want: "transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.answer)
			n := newNotifier(t, Config{URL: srv.URL + secretPath})
			n.now = func() time.Time { return now }
			if tt.closed {
				srv.Close()
			}
			err := n.Notify(t.Context(), testMessage)
			if got := classOf(err); got != tt.want {
				t.Errorf("Notify() answered %d = %v (%s), want %s", tt.answer.Status, err, got, tt.want)
			}
			if tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("Notify() answered %d = %v, want %q", tt.answer.Status, err, tt.wantErr)
			}
			var he *notifiers.HTTPError
			switch {
			case !errors.As(err, &he):
				if tt.wantReason != "" {
					t.Errorf("Notify() answered %d = %v, want an *notifiers.HTTPError", tt.answer.Status, err)
				}
			case he.Status != tt.answer.Status || he.Reason() != tt.wantReason:
				t.Errorf("Notify() answered %d: HTTPError{Status: %d}.Reason() = %q, want %q", tt.answer.Status, he.Status, he.Reason(), tt.wantReason)
			}
		})
	}
}

// TestErrorsHideSecrets checks that neither the URL nor a header value
// reaches an error or the way the notifier prints, on every error path.
func TestErrorsHideSecrets(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		closed bool
		cancel bool
	}{
		{name: "connection refused", closed: true},
		{name: "canceled", answer: answer{Status: 200}, cancel: true},
		{name: "redirect", answer: answer{Status: 302, Header: map[string]string{"Location": secretPath + "/next"}}},
		{name: "forbidden", answer: answer{Status: 403}},
		{name: "server error", answer: answer{Status: 500}},
		{name: "rate limited", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.answer)
			u := srv.URL + secretPath + "?token=s3cr3tQu3ry"
			n := newNotifier(t, Config{URL: u, Headers: map[string]notifiers.Secret{"Authorization": notifiers.NewSecret(secretToken)}})
			if tt.closed {
				srv.Close()
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			err := n.Notify(ctx, testMessage)
			if err == nil {
				t.Fatal("Notify() = nil, want an error")
			}
			printed := err.Error() + "\n" + fmt.Sprintf("%+v %#v %v %s", err, n, n, n)
			if strings.Contains(printed, "s3cr3t") {
				t.Errorf("Notify() error or notifier printed a secret:\n%s", printed)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want notifiers.Templates
	}{
		{name: "default", cfg: Config{}, want: notifiers.Templates{Text: DefaultBody, TextFormat: notifiers.Plain,
			Digest: notifiers.DigestTemplates{Text: DefaultDigestBody}}},
		{name: "set", cfg: Config{Body: "{{ json . }}", DigestBody: "{{ .Count }}"}, want: notifiers.Templates{Text: "{{ json . }}",
			TextFormat: notifiers.Plain, Digest: notifiers.DigestTemplates{Text: "{{ .Count }}"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.cfg.Templates()); diff != "" {
				t.Errorf("Templates() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
