package email

import (
	"net/mail"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hooknote/hooknote/notifiers"
)

// templatedConfig takes its recipients from the query, fenced by allow_to.
func templatedConfig(ts *testServer) Config {
	c := testConfig(ts)
	c.To = []string{"{{ .Query.to }}"}
	c.Cc = []string{"{{ .Query.cc }}"}
	c.Bcc = []string{"{{ .Query.bcc }}"}
	c.AllowTo = []string{"*@example.com", "boss@partner.org"}
	return c
}

func TestNotifyAllowTo(t *testing.T) {
	tests := []struct {
		name         string
		to, cc, bcc  []string
		wantErr      string // empty: delivered
		wantEnvelope []string
	}{{
		name:         "inside allow_to",
		to:           []string{"Ops <ops@example.com>"},
		cc:           []string{"BOSS@Partner.ORG"},
		bcc:          []string{""}, // an optional recipient that rendered nothing
		wantEnvelope: []string{"ops@example.com", "BOSS@Partner.ORG"},
	}, {
		name:    "to outside allow_to",
		to:      []string{"x@evil.com"},
		wantErr: `send email: recipient "x@evil.com" not allowed by allow_to`,
	}, {
		name:    "cc outside allow_to",
		to:      []string{"ops@example.com"},
		cc:      []string{"Friendly Name <x@evil.com>"},
		wantErr: `send email: recipient "x@evil.com" not allowed by allow_to`,
	}, {
		name:    "bcc outside allow_to",
		to:      []string{"ops@example.com"},
		bcc:     []string{"x@example.com.evil.com"},
		wantErr: `send email: recipient "x@example.com.evil.com" not allowed by allow_to`,
	}, {
		name:    "a list in one recipient",
		to:      []string{"ops@example.com, x@evil.com"},
		wantErr: `send email: recipient "ops@example.com, x@evil.com": mail: expected single address, got ", x@evil.com"`,
	}, {
		name:    "no recipient left in to",
		to:      []string{""},
		wantErr: "send email: no recipient in to",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, serverOptions{})
			m := testMessage()
			m.To, m.Cc, m.Bcc = tt.to, tt.cc, tt.bcc
			err := newNotifier(t, templatedConfig(ts)).Notify(t.Context(), m)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !notifiers.IsPermanent(err) {
					t.Fatalf("Notify() = %v, want permanent %q", err, tt.wantErr)
				}
				if ts.Sessions() != 0 {
					t.Errorf("server saw %d sessions, want none: the check comes before connecting", ts.Sessions())
				}
				return
			}
			if err != nil {
				t.Fatalf("Notify() = %v, want nil", err)
			}
			msgs := ts.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			if diff := cmp.Diff(tt.wantEnvelope, msgs[0].To); diff != "" {
				t.Errorf("envelope recipients mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNotifyHeaderInjection shows that CR/LF in a subject or a recipient
// can add neither a recipient nor a header.
func TestNotifyHeaderInjection(t *testing.T) {
	const inject = "\r\nBcc: evil@example.com"
	tests := []struct {
		name            string
		edit            func(*notifiers.Message)
		wantPermanent   bool
		wantSubjectPart string
	}{{
		name:            "subject",
		edit:            func(m *notifiers.Message) { m.Subject = "hello" + inject },
		wantSubjectPart: "hello  Bcc: evil@example.com",
	}, {
		name:          "to",
		edit:          func(m *notifiers.Message) { m.To = []string{"oncall@example.com" + inject} },
		wantPermanent: true,
	}, {
		name:          "to as relay strips it",
		edit:          func(m *notifiers.Message) { m.To = []string{"oncall@example.comBcc: evil@example.com"} },
		wantPermanent: true,
	}, {
		name:          "display name",
		edit:          func(m *notifiers.Message) { m.Cc = []string{"Team" + inject + " <team@example.com>"} },
		wantPermanent: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, serverOptions{})
			c := testConfig(ts)
			c.AllowTo = []string{"*@example.com"}
			m := notifiers.Message{ID: "job-1", Subject: "subject", Text: "body", To: []string{"oncall@example.com"}}
			tt.edit(&m)
			err := newNotifier(t, c).Notify(t.Context(), m)
			if tt.wantPermanent {
				if !notifiers.IsPermanent(err) || ts.Sessions() != 0 {
					t.Errorf("Notify() = %v with %d sessions, want a permanent error before connecting", err, ts.Sessions())
				}
				return
			}
			if err != nil {
				t.Fatalf("Notify() = %v, want nil", err)
			}
			got := ts.Messages()[0]
			if diff := cmp.Diff([]string{"oncall@example.com"}, got.To); diff != "" {
				t.Errorf("envelope recipients mismatch (-want +got):\n%s", diff)
			}
			msg, err := mail.ReadMessage(strings.NewReader(got.Data))
			if err != nil {
				t.Fatalf("ReadMessage() = %v", err)
			}
			if v, ok := msg.Header["Bcc"]; ok {
				t.Errorf("message has a Bcc header %q", v)
			}
			subject := msg.Header.Get("Subject")
			if !strings.Contains(subject, tt.wantSubjectPart) {
				t.Errorf("Subject = %q, want it to contain %q", subject, tt.wantSubjectPart)
			}
		})
	}
}
