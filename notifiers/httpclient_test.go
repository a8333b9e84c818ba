package notifiers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestNewHTTPClient(t *testing.T) {
	tests := []struct {
		name           string
		maxIdlePerHost int
		want           int
	}{
		{name: "workers", maxIdlePerHost: 16, want: 16},
		{name: "one", maxIdlePerHost: 1, want: 1},
		{name: "zero", maxIdlePerHost: 0, want: 1},
		{name: "negative", maxIdlePerHost: -3, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewHTTPClient(tt.maxIdlePerHost)
			tr, ok := c.Transport.(*http.Transport)
			if !ok {
				t.Fatalf("NewHTTPClient(%d).Transport = %T, want *http.Transport", tt.maxIdlePerHost, c.Transport)
			}
			if tr.MaxIdleConnsPerHost != tt.want {
				t.Errorf("NewHTTPClient(%d): MaxIdleConnsPerHost = %d, want %d", tt.maxIdlePerHost, tr.MaxIdleConnsPerHost, tt.want)
			}
			if c.Timeout <= 0 {
				t.Errorf("NewHTTPClient(%d).Timeout = %v, want a timeout", tt.maxIdlePerHost, c.Timeout)
			}
		})
	}
}

// TestNewHTTPClientDoesNotFollowRedirects checks that a 3xx comes back to
// the caller, who turns it into a permanent error with CheckHTTP.
func TestNewHTTPClientDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			followed.Store(true)
			return
		}
		http.Redirect(w, r, "/next", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := NewHTTPClient(1)
	defer c.CloseIdleConnections()
	resp, err := c.Post(srv.URL+"/hook", "application/json", nil)
	if err != nil {
		t.Fatalf("Post() = %v", err)
	}
	err = CheckHTTP(resp, checkNow)
	var he *HTTPError
	if followed.Load() || !errors.As(err, &he) || he.Status != http.StatusTemporaryRedirect || !IsPermanent(err) {
		t.Errorf("Post() then CheckHTTP() = %v, followed %v; want a permanent 307, not followed", err, followed.Load())
	}
}
