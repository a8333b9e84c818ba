// Package notifiers is the contract between relay and the packages that
// deliver notifications: the Notifier interface, the rendered Message a
// notifier receives, the Templates a notifier asks relay to render, the error
// classes that tell relay's retry loop what to do next, and the Secret type
// every credential is held in. It also holds what the notifier packages
// share: the Deps their New takes, the FieldError their Validate reports,
// the HTTP client (NewHTTPClient) and the classification of its answers
// (CheckHTTP, HTTPError), and IsLoopback.
//
// A notifier package (slack, email, webhook) imports only this package. It
// never sees a template, a rule, a raw payload or the store.
package notifiers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Notifier delivers one rendered message to one destination.
//
// Notify makes exactly one attempt and never retries: relay owns the only
// retry loop. Its outcomes:
//   - nil: the destination accepted the message; relay records the job done.
//   - an error wrapped by Permanent: retrying cannot help (bad credentials, an
//     unknown channel, a rejected recipient); relay dead-letters the job now.
//   - an error wrapped by RetryAfter: the destination asked for a pause; relay
//     pauses this notifier for that long and then tries again.
//   - any other error: transient (network, timeout, 5xx, SMTP 4xx); relay
//     retries with backoff.
//
// ctx carries the per-send timeout and shutdown. Errors must not contain
// secrets (tokens, webhook URLs, passwords). Notify is safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// Message is a rendered notification. Which fields a notifier reads is named
// by the Templates it asks for; the others are empty.
type Message struct {
	// ID is stable across every attempt of one job: use it as an idempotency
	// key or Message-ID where the destination supports one.
	ID string
	// Subject is a single line (CR and LF already removed): an email subject.
	Subject string
	// Text is the main body: Slack mrkdwn, the email text part, or a webhook
	// request body.
	Text string
	// Blocks is a Slack Block Kit array as JSON (Slack with format =
	// "blocks"); Text is sent beside it. Empty: text alone.
	Blocks string
	// HTML is the email HTML part, escaped by html/template.
	HTML string
	// Channel is the Slack channel for bot-token notifiers (single line).
	Channel string
	// To, Cc and Bcc are email recipients, each a single line.
	To, Cc, Bcc []string
}

// Format says how values from the payload are escaped where a template
// prints them into Templates.Text.
type Format int

const (
	// Plain prints values as they are: email text parts, webhook bodies.
	Plain Format = iota
	// Slack escapes &, < and > in every value a template prints, so a payload
	// cannot ping @channel, mention users or spoof links, while the
	// template's own literal markup (<url|text>, *bold*) still works.
	Slack
)

// Templates is the template source of each Message field a notifier uses;
// relay parses them at load and renders them for every job. An empty field is
// not rendered. Subject, Channel, To, Cc and Bcc are single-line fields: CR
// and LF are removed from what they render. HTML is rendered with
// html/template. Text is rendered with TextFormat's escaping.
type Templates struct {
	Subject    string
	Text       string
	TextFormat Format
	HTML       string
	Channel    string
	To, Cc     []string
	Bcc        []string
	// Blocks renders Message.Blocks: JSON, every value Slack-escaped and
	// JSON-string-escaped.
	Blocks string
	// Live asks for one message per event, updated in place: the notifier
	// implements Live, and Thread renders the reply posted in the
	// message's thread on a final status (empty: none).
	Live   bool
	Thread string
	// Digest renders the message of a digest (its dot is the digest):
	// Subject, Text (with TextFormat's escaping) and HTML; the other
	// fields render as for an event.
	Digest DigestTemplates
}

// DigestTemplates are the templates of a digest's message.
type DigestTemplates struct {
	Subject, Text, HTML string
}

// Live is implemented by a notifier that keeps one message per event and
// updates it in place (Slack's live mode). A reference names a message the
// way the destination needs to find it again (Slack: the channel id and
// ts); relay stores it and hands it back, never reading it.
type Live interface {
	// Post posts m as a new message and returns its reference.
	Post(ctx context.Context, m Message) (ref []byte, err error)
	// Update replaces the message ref with m. An error wrapping ErrGone
	// means the message can no longer be updated (deleted, too old): relay
	// posts a new one instead.
	Update(ctx context.Context, ref []byte, m Message) error
	// Reply posts m in the thread of the message ref.
	Reply(ctx context.Context, ref []byte, m Message) error
}

// ErrGone is wrapped by Live.Update's error when the message is gone.
var ErrGone = errors.New("message can no longer be updated")

// Checker is implemented by a notifier that can tell, before sending,
// that the destination would refuse a rendered message (Slack's Block Kit
// limits). relay checks every sample rendering with it at load (`check`),
// and at send time drops what it refuses (the blocks: the text is sent
// alone) rather than lose the notification.
type Checker interface {
	Check(m Message) error
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix. It returns nil for a
// nil err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as a request from the destination to wait d before the
// next attempt (an HTTP 429 with Retry-After). It returns nil for a nil err.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, after: d}
}

// RetryAfterOf returns the pause carried by an error marked with RetryAfter.
func RetryAfterOf(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// RedactURL makes an error that may contain a secret URL (a Slack webhook)
// safe to log. If err wraps a *url.Error, it returns a new error made of
// that error's operation and cause only: the text of err's other wrappers is
// dropped too, because wrappers formatted with %w have already copied the
// URL into their own text. Other errors are returned unchanged.
func RedactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &redactedURLError{op: ue.Op, err: ue.Err}
}

type redactedURLError struct {
	op  string
	err error
}

func (e *redactedURLError) Error() string { return fmt.Sprintf("%s <redacted url>: %v", e.op, e.err) }
func (e *redactedURLError) Unwrap() error { return e.err }
