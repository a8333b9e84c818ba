package notifiers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkNow is the clock of every CheckHTTP test.
var checkNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// body is a response body that counts what is read from it and whether it
// was closed.
type body struct {
	r      io.Reader
	read   int
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *body) Close() error {
	b.closed = true
	return nil
}

// response builds the answer to a POST to rawURL with the given headers.
func response(status int, header map[string]string, text string, rawURL string, reqHeader map[string]string) (*http.Response, *body) {
	b := &body{r: strings.NewReader(text)}
	resp := &http.Response{StatusCode: status, Header: make(http.Header), Body: b}
	for k, v := range header {
		resp.Header.Set(k, v)
	}
	if rawURL != "" {
		req, err := http.NewRequest(http.MethodPost, rawURL, nil)
		if err != nil {
			panic(err)
		}
		for k, v := range reqHeader {
			req.Header.Set(k, v)
		}
		resp.Request = req
	}
	return resp, b
}

// classOf names the class relay's retry loop sees in err.
func classOf(err error) string {
	if err == nil {
		return "ok"
	}
	if d, ok := RetryAfterOf(err); ok {
		return fmt.Sprintf("retry after %s", d)
	}
	if IsPermanent(err) {
		return "permanent"
	}
	return "transient"
}

func TestCheckHTTP(t *testing.T) {
	retryAfter := func(v string) map[string]string { return map[string]string{"Retry-After": v} }
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		want       string // class
		wantErr    string // "" for nil
		wantReason string
	}{
		{name: "200", status: 200, body: "ok", want: "ok"},
		{name: "201", status: 201, want: "ok"},
		{name: "204", status: 204, want: "ok"},
		{name: "299", status: 299, body: "odd but fine", want: "ok"},
		{name: "301", status: 301, header: map[string]string{"Location": "https://elsewhere.example/"}, body: `<a href="https://elsewhere.example/">Moved</a>`, want: "permanent", wantErr: "redirects are not followed: status 301", wantReason: "redirect"},
		{name: "302", status: 302, want: "permanent", wantErr: "redirects are not followed: status 302", wantReason: "redirect"},
		{name: "304", status: 304, want: "permanent", wantErr: "redirects are not followed: status 304", wantReason: "redirect"},
		{name: "400", status: 400, body: "no_service", want: "permanent", wantErr: "status 400: no_service", wantReason: "client_error"},
		{name: "401", status: 401, want: "permanent", wantErr: "status 401", wantReason: "client_error"},
		{name: "403", status: 403, body: "invalid_token\n", want: "permanent", wantErr: "status 403: invalid_token", wantReason: "client_error"},
		{name: "404", status: 404, body: "channel_is_archived", want: "permanent", wantErr: "status 404: channel_is_archived", wantReason: "client_error"},
		{name: "408", status: 408, body: "slow", want: "transient", wantErr: "status 408: slow", wantReason: "client_error"},
		{name: "409", status: 409, want: "permanent", wantErr: "status 409", wantReason: "client_error"},
		{name: "410", status: 410, body: "channel_is_archived", want: "permanent", wantErr: "status 410: channel_is_archived", wantReason: "client_error"},
		{name: "429 seconds", status: 429, header: retryAfter("2"), body: "rate_limited", want: "retry after 2s", wantErr: "status 429: rate_limited", wantReason: "rate_limited"},
		{name: "429 date", status: 429, header: retryAfter(checkNow.Add(90 * time.Second).Format(http.TimeFormat)), want: "retry after 1m30s", wantErr: "status 429", wantReason: "rate_limited"},
		{name: "429 huge seconds", status: 429, header: retryAfter("4294967295"), want: "retry after 24h0m0s", wantReason: "rate_limited"},
		{name: "429 year 9999", status: 429, header: retryAfter("Fri, 31 Dec 9999 23:59:59 GMT"), want: "retry after 24h0m0s", wantReason: "rate_limited"},
		{name: "429 past date", status: 429, header: retryAfter(checkNow.Add(-time.Hour).Format(http.TimeFormat)), want: "transient", wantReason: "rate_limited"},
		{name: "429 zero", status: 429, header: retryAfter("0"), want: "transient", wantReason: "rate_limited"},
		{name: "429 unreadable", status: 429, header: retryAfter("soon"), want: "transient", wantReason: "rate_limited"},
		{name: "429 without Retry-After", status: 429, body: "slow down", want: "transient", wantErr: "status 429: slow down", wantReason: "rate_limited"},
		{name: "500", status: 500, body: "<html><body>\n<h1>Internal Server Error</h1>\n</body></html>", want: "transient", wantErr: "status 500: <html><body> <h1>Internal Server Error</h1> </body></html>", wantReason: "server_error"},
		{name: "502", status: 502, want: "transient", wantErr: "status 502", wantReason: "server_error"},
		{name: "503", status: 503, header: retryAfter("2"), want: "transient", wantErr: "status 503", wantReason: "server_error"},
		{name: "599", status: 599, want: "transient", wantReason: "server_error"},
		{name: "600", status: 600, want: "transient", wantReason: "server_error"},
		{name: "100", status: 100, want: "transient", wantReason: "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := response(tt.status, tt.header, tt.body, "", nil)
			err := CheckHTTP(resp, checkNow)
			if got := classOf(err); got != tt.want {
				t.Errorf("CheckHTTP(%d) = %v (%s), want %s", tt.status, err, got, tt.want)
			}
			if !b.closed {
				t.Errorf("CheckHTTP(%d) left the body open", tt.status)
			}
			if err == nil {
				return
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("CheckHTTP(%d) = %q, want %q", tt.status, err, tt.wantErr)
			}
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("CheckHTTP(%d) = %#v, want it to wrap an *HTTPError", tt.status, err)
			}
			if he.Status != tt.status || he.Reason() != tt.wantReason {
				t.Errorf("CheckHTTP(%d): HTTPError{Status: %d}.Reason() = %q, want status %d, reason %q", tt.status, he.Status, he.Reason(), tt.status, tt.wantReason)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{in: "2", want: 2 * time.Second, wantOK: true},
		{in: " 120 ", want: 2 * time.Minute, wantOK: true},
		{in: "86400", want: 24 * time.Hour, wantOK: true},
		{in: "86401", want: 24 * time.Hour, wantOK: true},
		{in: "4294967295", want: 24 * time.Hour, wantOK: true},
		{in: "9223372036", want: 24 * time.Hour, wantOK: true},
		{in: "18446744073709551615", want: 24 * time.Hour, wantOK: true},
		{in: "99999999999999999999", want: 24 * time.Hour, wantOK: true},
		{in: "0"},
		{in: "-5"},
		{in: "+5"},
		{in: ""},
		{in: "1.5"},
		{in: "1e3"},
		{in: "soon"},
		{in: "Sun, 01 Jun 2025 12:00:30 GMT", want: 30 * time.Second, wantOK: true},
		{in: "Sunday, 01-Jun-25 12:01:00 GMT", want: time.Minute, wantOK: true},
		{in: "Sun Jun  1 12:00:05 2025", want: 5 * time.Second, wantOK: true},
		{in: "Mon, 02 Jun 2025 12:00:00 GMT", want: 24 * time.Hour, wantOK: true},
		{in: "Wed, 04 Jun 2025 12:00:00 GMT", want: 24 * time.Hour, wantOK: true},
		{in: "Fri, 31 Dec 9999 23:59:59 GMT", want: 24 * time.Hour, wantOK: true},
		{in: "Sun, 01 Jun 2025 12:00:00 GMT"},
		{in: "Sun, 01 Jun 2025 11:00:00 GMT"},
		{in: "Mon, 01 Jan 0001 00:00:00 GMT"},
	}
	for _, tt := range tests {
		d, ok := parseRetryAfter(tt.in, checkNow)
		if d != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v, want %v, %v", tt.in, d, ok, tt.want, tt.wantOK)
		}
	}
}

func TestCheckHTTPBody(t *testing.T) {
	long := strings.Repeat("abcdefgh", 100) // 800 bytes
	tests := []struct {
		name string
		body string
		want string // HTTPError.Body
	}{
		{name: "empty", body: "", want: ""},
		{name: "blank", body: " \r\n\t ", want: ""},
		{name: "slack code", body: "channel_is_archived", want: "channel_is_archived"},
		{name: "json", body: "{\n  \"error\": \"no_service\"\n}\n", want: `{ "error": "no_service" }`},
		{name: "exactly 512 bytes", body: long[:512], want: long[:512]},
		{name: "longer than 512 bytes", body: long, want: long[:509] + "…"},
		{name: "cut inside a rune", body: strings.Repeat("a", 508) + "€€€", want: strings.Repeat("a", 508) + "…"},
		{name: "invalid UTF-8", body: "bad \xff\xfe byte", want: "bad \uFFFD byte"},
		{name: "control characters", body: "a\x00b\x1b[31mc\x7fd\u0085e", want: "a b [31mc d e"},
		{name: "bidi override", body: "abc\u202Egpj.exe", want: "abc gpj.exe"},
		{name: "line separator", body: "a\u2028b", want: "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := response(http.StatusBadRequest, nil, tt.body, "", nil)
			var he *HTTPError
			if err := CheckHTTP(resp, checkNow); !errors.As(err, &he) {
				t.Fatalf("CheckHTTP() = %v, want an *HTTPError", err)
			}
			if he.Body != tt.want {
				t.Errorf("Body = %q, want %q", he.Body, tt.want)
			}
			if len(he.Body) > maxErrorBody || !utf8.ValidString(he.Body) {
				t.Errorf("Body = %q (%d bytes), want at most %d bytes of valid UTF-8", he.Body, len(he.Body), maxErrorBody)
			}
		})
	}
}

// TestCheckHTTPRedacts checks that what the peer echoes of the request (the
// URL, its path and query, a credential header) never reaches the error.
func TestCheckHTTPRedacts(t *testing.T) {
	const (
		rawURL = "https://user:pw-s3cr3t@hooks.example.com/services/T0/B0/s3cr3tPath?token=s3cr3tQuery&x=1"
		bearer = "Bearer s3cr3tToken"
	)
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "url", body: "no route for " + rawURL, want: "no route for <redacted>"},
		{name: "request uri", body: "POST /services/T0/B0/s3cr3tPath?token=s3cr3tQuery&x=1 failed", want: "POST <redacted> failed"},
		{name: "path", body: `{"path":"/services/T0/B0/s3cr3tPath"}`, want: `{"path":"<redacted>"}`},
		{name: "query value", body: "bad token s3cr3tQuery", want: "bad token <redacted>"},
		{name: "header", body: "authorization: " + bearer, want: "authorization: <redacted>"},
		{name: "header after a long body", body: strings.Repeat("x ", 254) + bearer, want: strings.Repeat("x ", 254) + "<…"},
		{name: "short values stay", body: "x=1 is hooknote's Content-Type application/json", want: "x=1 is hooknote's Content-Type application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := response(http.StatusForbidden, nil, tt.body, rawURL, map[string]string{
				"Authorization": bearer, "Content-Type": "application/json", "User-Agent": "hooknote",
			})
			err := CheckHTTP(resp, checkNow)
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("CheckHTTP() = %v, want an *HTTPError", err)
			}
			if he.Body != tt.want {
				t.Errorf("Body = %q, want %q", he.Body, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("CheckHTTP() = %q, want no secret", err)
			}
		})
	}
}

// TestCheckHTTPBoundsReads checks that CheckHTTP reads a bounded amount of
// an endless answer, whatever its status, and closes it.
func TestCheckHTTPBoundsReads(t *testing.T) {
	for _, status := range []int{200, 302, 404, 429, 503} {
		b := &body{r: endless{}}
		resp := &http.Response{StatusCode: status, Header: make(http.Header), Body: b, Request: &http.Request{URL: &url.URL{Path: "/x"}}}
		_ = CheckHTTP(resp, checkNow)
		if limit := maxBodyRead + maxDrain; b.read > limit || !b.closed {
			t.Errorf("CheckHTTP(%d) read %d bytes, closed %v; want at most %d, closed", status, b.read, b.closed, limit)
		}
	}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
