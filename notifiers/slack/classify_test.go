package slack

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

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
		{name: "rate limited with a date", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "Sun, 01 Jun 2025 12:00:30 GMT"}}, want: "retry after 30s"},
		{name: "rate limited for ages", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "4294967295"}}, want: "retry after 24h0m0s"},
		{name: "rate limited until 9999", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}}, want: "retry after 24h0m0s"},
		{name: "server error", answer: answer{Status: 500}, want: "transient"},
		{name: "bad gateway", answer: answer{Status: 502}, want: "transient"},
		{name: "unavailable", answer: answer{Status: 503}, want: "transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.answer)
			n := webhookNotifier(t, srv)
			n.now = func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }
			err := n.Notify(t.Context(), fixedMessage)
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
		{name: "rate limited for ages", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "4294967295"}}, want: "retry after 24h0m0s"},
		{name: "rate limited past overflow", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "99999999999"}}, want: "retry after 24h0m0s"},
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

// TestNotifyErrorText checks what a dead letter reads: Slack's own reason,
// from the incoming webhook's answer or the Web API's error code.
func TestNotifyErrorText(t *testing.T) {
	apiError := func(code string) answer {
		return answer{Status: http.StatusOK, Header: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":false,"error":"` + code + `"}`}
	}
	tests := []struct {
		name   string
		token  bool
		answer answer
		want   string
	}{
		{name: "webhook archived", answer: answer{Status: 404, Body: "channel_is_archived"}, want: "post to slack webhook: status 404: channel_is_archived"},
		{name: "webhook 404", answer: answer{Status: 404, Body: "no_service"}, want: "post to slack webhook: status 404: no_service"},
		{name: "webhook 400", answer: answer{Status: 400, Body: "invalid_payload"}, want: "post to slack webhook: status 400: invalid_payload"},
		{name: "webhook 403", answer: answer{Status: 403, Body: "invalid_token\n"}, want: "post to slack webhook: status 403: invalid_token"},
		{name: "webhook 410", answer: answer{Status: 410, Body: "channel_is_archived"}, want: "post to slack webhook: status 410: channel_is_archived"},
		{name: "webhook 500", answer: answer{Status: 500, Body: "<html>\n<body>Oops</body>\n</html>"}, want: "post to slack webhook: status 500: <html> <body>Oops</body> </html>"},
		{name: "webhook redirect", answer: answer{Status: 302, Body: "see elsewhere"}, want: "post to slack webhook: redirects are not followed: status 302"},
		{name: "webhook bad Retry-After", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "x"}, Body: "rate_limited"}, want: "post to slack webhook: status 429: rate_limited"},
		{name: "api error", token: true, answer: apiError("channel_not_found"), want: `post to slack channel "#ml": channel_not_found`},
		{name: "api archived", token: true, answer: apiError("is_archived"), want: `post to slack channel "#ml": is_archived`},
		{name: "api auth", token: true, answer: apiError("invalid_auth"), want: `post to slack channel "#ml": invalid_auth`},
		{name: "api transient", token: true, answer: apiError("internal_error"), want: `post to slack channel "#ml": internal_error`},
		{name: "api scope", token: true, answer: answer{Status: 200, Body: `{"ok":false,"error":"missing_scope","needed":"chat:write"}`}, want: `post to slack channel "#ml": token needs scope "chat:write": missing_scope`},
		{name: "api rate limit", token: true, answer: answer{Status: 429, Header: map[string]string{"Retry-After": "2"}}, want: `post to slack channel "#ml": slack rate limit exceeded, retry after 2s`},
		{name: "api bad Retry-After", token: true, answer: answer{Status: 429, Header: map[string]string{"Retry-After": "x"}}, want: `post to slack channel "#ml": rate limited with an unreadable Retry-After: strconv.ParseInt: parsing "x": invalid syntax`},
		{name: "api 403", token: true, answer: answer{Status: 403}, want: `post to slack channel "#ml": rejected: slack server error: 403 Forbidden`},
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

// TestNotifyWebhookHTTPError checks that relay finds the status and a
// reason for its metrics in what an incoming webhook's Notify returns.
func TestNotifyWebhookHTTPError(t *testing.T) {
	tests := []struct {
		name       string
		answer     answer
		wantStatus int
		wantBody   string
		wantReason string
	}{
		{name: "archived", answer: answer{Status: 410, Body: "channel_is_archived"}, wantStatus: 410, wantBody: "channel_is_archived", wantReason: "client_error"},
		{name: "rate limited", answer: answer{Status: 429, Header: map[string]string{"Retry-After": "2"}}, wantStatus: 429, wantReason: "rate_limited"},
		{name: "redirect", answer: answer{Status: 301}, wantStatus: 301, wantReason: "redirect"},
		{name: "unavailable", answer: answer{Status: 503, Body: "down"}, wantStatus: 503, wantBody: "down", wantReason: "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.answer)
			err := webhookNotifier(t, srv).Notify(t.Context(), fixedMessage)
			var he *notifiers.HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("Notify() = %v, want an *notifiers.HTTPError", err)
			}
			if he.Status != tt.wantStatus || he.Body != tt.wantBody || he.Reason() != tt.wantReason {
				t.Errorf("Notify() = HTTPError{%d, %q}, reason %q; want {%d, %q}, reason %q", he.Status, he.Body, he.Reason(), tt.wantStatus, tt.wantBody, tt.wantReason)
			}
		})
	}
}
