package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooknote/hooknote/notifiers"
)

// maxDrain bounds how much of a response body is read before closing it, so
// the connection can be reused without reading an endless answer.
const maxDrain = 64 << 10

// Notifier sends each message as an HTTP request. It is safe for concurrent
// use.
type Notifier struct {
	client  *http.Client
	url     string
	method  string
	headers http.Header
	now     func() time.Time // reads Retry-After dates
}

// New validates c and returns a Notifier that sends with d.HTTP for its
// lifetime. An invalid c yields Validate's error as it is, one
// *notifiers.FieldError per joined error. A nil d.HTTP is refused with
// notifiers.ErrNoHTTPClient; d.Log is not used.
func New(c Config, d notifiers.Deps) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if d.HTTP == nil {
		return nil, fmt.Errorf("new webhook notifier: %w", notifiers.ErrNoHTTPClient)
	}
	method := c.Method
	if method == "" {
		method = http.MethodPost
	}
	headers := make(http.Header, len(c.Headers))
	for name, value := range c.Headers {
		headers.Set(name, value.Reveal())
	}
	return &Notifier{client: d.HTTP, url: c.URL, method: method, headers: headers, now: time.Now}, nil
}

// Notify makes one attempt to send m.Text as the request body. A returned
// error is marked notifiers.RetryAfter for a 429 with Retry-After,
// notifiers.Permanent for a redirect or a 4xx other than 408 and 429, and is
// otherwise transient.
func (n *Notifier) Notify(ctx context.Context, m notifiers.Message) error {
	req, err := http.NewRequestWithContext(ctx, n.method, n.url, strings.NewReader(m.Text))
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("post webhook: %w", notifiers.RedactURL(err)))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hooknote")
	for name, values := range n.headers {
		req.Header[name] = values
	}
	if m.ID != "" {
		req.Header.Set("Idempotency-Key", m.ID)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", notifiers.RedactURL(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()
	return n.classify(resp)
}

// classify turns a response into nil or an error marked for relay.
func (n *Notifier) classify(resp *http.Response) error {
	code := resp.StatusCode
	err := fmt.Errorf("post webhook: status %d", code)
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), n.now()); ok {
			return notifiers.RetryAfter(err, d)
		}
		return err
	case code == http.StatusRequestTimeout || code >= 500:
		return err
	case code >= 300 && code < 400:
		return notifiers.Permanent(fmt.Errorf("post webhook: status %d: redirects are not followed", code))
	}
	return notifiers.Permanent(err)
}

// retryAfter parses a Retry-After header, in seconds or as an HTTP date,
// into a positive pause.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0, false
	}
	return d, true
}

// String describes n without its URL or headers.
func (n *Notifier) String() string { return "webhook.Notifier(" + n.method + ")" }

// GoString describes n without its URL or headers (the %#v verb).
func (n *Notifier) GoString() string { return n.String() }
