package notifiers

import (
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns the client an HTTP notifier keeps for its lifetime.
// maxIdlePerHost is how many idle connections it keeps to one host for
// reuse: relay passes the notifier's worker count; below 1 means 1.
//
// The per-send timeout comes with the ctx of each Notify; the client's own
// timeouts only bound a send whose ctx has none. Redirects are not
// followed: a redirected POST could carry a token or credentials to another
// host, so the client returns the 3xx answer itself, which CheckHTTP makes
// a permanent error.
func NewHTTPClient(maxIdlePerHost int) *http.Client {
	return &http.Client{
		Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   max(maxIdlePerHost, 1),
		},
	}
}
