package slack

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/hooknote/hooknote/notifiers"
)

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

// classCase is a stand-in's answer and the class Notify must give it.
type classCase struct {
	name   string
	answer answer
	want   string
}

func TestNotifyWebhookClassification(t *testing.T) {
	tests := []classCase{
		{name: "ok", answer: answer{Status: 200, Body: "ok"}, want: "ok"},
		{name: "invalid payload", answer: answer{Status: 400, Body: "invalid_payload"}, want: "permanent"},
		{name: "invalid token", answer: answer{Status: 403, Body: "invalid_token"}, want: "permanent"},
		{name: "no service", answer: answer{Status: 404, Body: "no_service"}, want: "permanent"},
		{name: "channel not found", answer: answer{Status: 404, Body: "channel_not_found"}, want: "permanent"},
		{name: "archived", answer: answer{Status: 410, Body: "channel_is_archived"}, want: "permanent"},
		{name: "redirect", answer: answer{Status: 301, Header: map[string]string{"Location": "https://example.com/"}}, want: "permanent"},
		{name: "request timeout", answer: answer{Status: 408}, want: "transient"},
		{name: "rate limited", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "2"}}, want: "retry after 2s"},
		{name: "rate limited without Retry-After", answer: answer{Status: 429}, want: "transient"},
		{name: "rate limited with bad Retry-After", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "soon"}}, want: "transient"},
		{name: "rate limited with zero Retry-After", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "0"}}, want: "transient"},
		{name: "server error", answer: answer{Status: 500}, want: "transient"},
		{name: "bad gateway", answer: answer{Status: 502}, want: "transient"},
		{name: "unavailable", answer: answer{Status: 503}, want: "transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.answer)
			err := webhookNotifier(t, srv).Notify(t.Context(), fixedMessage)
			if got := classOf(err); got != tt.want {
				t.Errorf("Notify() answered %d %q = %v (%s), want %s", tt.answer.Status, tt.answer.Body, err, got, tt.want)
			}
		})
	}
}

func TestNotifyPostMessageClassification(t *testing.T) {
	apiError := func(code string) answer {
		return answer{Status: http.StatusOK, Header: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":false,"error":"` + code + `"}`}
	}
	tests := []classCase{
		{name: "ok", answer: answer{Status: 200, Body: `{"ok":true,"channel":"C1","ts":"1.2"}`}, want: "ok"},
		{name: "rate limited", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "2"}}, want: "retry after 2s"},
		{name: "rate limited without Retry-After", answer: answer{Status: 429}, want: "transient"},
		{name: "rate limited with bad Retry-After", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}}, want: "transient"},
		{name: "server error", answer: answer{Status: 500}, want: "transient"},
		{name: "unavailable", answer: answer{Status: 503}, want: "transient"},
		{name: "forbidden", answer: answer{Status: 403}, want: "permanent"},
		{name: "not json", answer: answer{Status: 200, Body: "<html>proxy</html>"}, want: "transient"},
		{name: "scope diagnostics", answer: answer{Status: 200, Body: `{"ok":false,"error":"missing_scope","needed":"chat:write","provided":"users:read"}`}, want: "permanent"},
	}
	for _, code := range []string{"invalid_auth", "not_authed", "account_inactive", "channel_not_found", "not_in_channel", "is_archived", "no_service", "invalid_token", "invalid_payload", "msg_too_long", "no_text", "token_revoked", "missing_scope", "restricted_action", "a_future_error"} {
		tests = append(tests, classCase{name: code, answer: apiError(code), want: "permanent"})
	}
	for _, code := range []string{"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"} {
		tests = append(tests, classCase{name: code, answer: apiError(code), want: "transient"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.answer)
			err := tokenNotifier(t, srv).Notify(t.Context(), fixedMessage)
			if got := classOf(err); got != tt.want {
				t.Errorf("Notify() answered %d %q = %v (%s), want %s", tt.answer.Status, tt.answer.Body, err, got, tt.want)
			}
		})
	}
}

func TestNotifyErrorText(t *testing.T) {
	tests := []struct {
		name   string
		token  bool
		answer answer
		want   string
	}{
		{name: "webhook 404", answer: answer{Status: 404, Body: "no_service"}, want: "post to slack webhook: rejected: slack server error: 404 Not Found"},
		{name: "webhook redirect", answer: answer{Status: 302}, want: "post to slack webhook: redirects are not followed: slack server error: 302 Found"},
		{name: "webhook bad Retry-After", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "x"}}, want: `post to slack webhook: rate limited with an unreadable Retry-After: strconv.ParseInt: parsing "x": invalid syntax`},
		{name: "api error", token: true, answer: answer{Status: 200, Body: `{"ok":false,"error":"channel_not_found"}`}, want: `post to slack channel "#ml": channel_not_found`},
		{name: "api scope", token: true, answer: answer{Status: 200, Body: `{"ok":false,"error":"missing_scope","needed":"chat:write"}`}, want: `post to slack channel "#ml": token needs scope "chat:write": missing_scope`},
		{name: "api rate limit", token: true, answer: answer{Status: 429, Header: map[string]string{"Retry-After": "2"}}, want: `post to slack channel "#ml": slack rate limit exceeded, retry after 2s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.answer)
			n := webhookNotifier(t, srv)
			if tt.token {
				n = tokenNotifier(t, srv)
			}
			err := n.Notify(t.Context(), fixedMessage)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Notify() = %v, want %q", err, tt.want)
			}
		})
	}
}
