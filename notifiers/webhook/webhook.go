package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hooknote/hooknote/notifiers"
)

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

// Notify makes one attempt to send m.Text as the request body. The answer
// is classified by notifiers.CheckHTTP: a returned error is marked
// notifiers.RetryAfter for a 429 with Retry-After, notifiers.Permanent for
// a redirect or a 4xx other than 408 and 429, and is otherwise transient. It
// wraps a *notifiers.HTTPError carrying the status and the start of the
// answer's body.
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
	if err := notifiers.CheckHTTP(resp, n.now()); err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	return nil
}

// String describes n without its URL or headers.
func (n *Notifier) String() string { return "webhook.Notifier(" + n.method + ")" }

// GoString describes n without its URL or headers (the %#v verb).
func (n *Notifier) GoString() string { return n.String() }
