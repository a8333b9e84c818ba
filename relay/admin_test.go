package relay

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAdminGuards: the admin listener answers only for its own host and
// refuses state-changing requests a browser could send cross-site.
func TestAdminGuards(t *testing.T) {
	r := newTestRelay(t, nil)
	h := r.AdminHandler(nil)
	tests := []struct {
		name   string
		method string
		host   string
		header map[string]string
		want   int
	}{
		{name: "loopback IP", method: "GET", host: "127.0.0.1:9188", want: 200},
		{name: "IPv6 loopback", method: "GET", host: "[::1]:9188", want: 200},
		{name: "localhost", method: "GET", host: "localhost:9188", want: 200},
		{name: "private IP", method: "GET", host: "10.0.0.5:9188", want: 200},
		{name: "rebinding name", method: "GET", host: "evil.example:9188", want: 403},
		{name: "rebinding name without port", method: "GET", host: "attacker.test", want: 403},
		{name: "retry from the CLI", method: "POST", host: "127.0.0.1:9188", want: 404},
		{name: "cross-site retry", method: "POST", host: "127.0.0.1:9188", header: map[string]string{"Origin": "https://evil.example"}, want: 403},
		{name: "cross-site fetch metadata", method: "DELETE", host: "127.0.0.1:9188", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: 403},
		{name: "form post", method: "POST", host: "127.0.0.1:9188", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: 403},
		{name: "text/plain post", method: "POST", host: "127.0.0.1:9188", header: map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/healthz"
			if tt.method != "GET" {
				path = "/dead/999/retry"
				if tt.method == "DELETE" {
					path = "/dead/999"
				}
			}
			req := httptest.NewRequest(tt.method, path, strings.NewReader(""))
			req.Host = tt.host
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Errorf("%s %s Host %s = %d, want %d", tt.method, path, tt.host, w.Code, tt.want)
			}
		})
	}
}
