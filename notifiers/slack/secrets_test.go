package slack

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hooknote/hooknote/notifiers"
)

// TestErrorsHideSecrets provokes every error path in both modes and checks
// that neither the webhook URL nor the token reaches the error or the way
// the notifier prints.
func TestErrorsHideSecrets(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		closed bool // the server is gone: connection refused
		cancel bool // the send's ctx is already done
		api    bool // only the Web API answers this way
	}{
		{name: "connection refused", closed: true},
		{name: "canceled", answer: answer{Status: 200, Body: "ok"}, cancel: true},
		{name: "forbidden", answer: answer{Status: 403, Body: "invalid_token"}},
		{name: "not found", answer: answer{Status: 404, Body: "no_service"}},
		{name: "echoes the path", answer: answer{Status: 400, Body: "invalid_payload for POST " + webhookPath}},
		{name: "server error", answer: answer{Status: 500}},
		{name: "rate limited", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "2"}}},
		{name: "rate limited, bad Retry-After", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "later"}}},
		{name: "api error", answer: answer{Status: 200, Body: `{"ok":false,"error":"invalid_auth"}`}, api: true},
	}
	modes := []struct {
		name string
		new  func(*testing.T, *httptest.Server) *Notifier
	}{
		{name: "webhook", new: webhookNotifier},
		{name: "token", new: tokenNotifier},
	}
	for _, mode := range modes {
		for _, tt := range tests {
			if tt.api && mode.name != "token" {
				continue
			}
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				srv, _ := newServer(t, tt.answer)
				n := mode.new(t, srv)
				if tt.closed {
					srv.Close()
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tt.cancel {
					cancel()
				}
				err := n.Notify(ctx, fixedMessage)
				if err == nil {
					t.Fatalf("Notify() = nil, want an error")
				}
				t.Logf("error: %v", err)
				printed := err.Error() + "\n" + fmt.Sprintf("%+v %#v %v %s", err, n, n, n)
				for _, secret := range []string{srv.URL + webhookPath, webhookPath, "s3cr3t", testToken} {
					if strings.Contains(printed, secret) {
						t.Errorf("Notify() error or notifier printed %q, want it redacted:\n%s", secret, printed)
					}
				}
			})
		}
	}
}

func TestConfigPrintsNoSecrets(t *testing.T) {
	c := Config{WebhookURL: notifiers.NewSecret("https://hooks.slack.com" + webhookPath), Token: notifiers.NewSecret(testToken)}
	printed := fmt.Sprintf("%v %+v %#v", c, c, c)
	if err := c.Validate(); err != nil {
		printed += err.Error()
	}
	for _, secret := range []string{webhookPath, testToken} {
		if strings.Contains(printed, secret) {
			t.Errorf("Config printed %q, want it redacted:\n%s", secret, printed)
		}
	}
}
