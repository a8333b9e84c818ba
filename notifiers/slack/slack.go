package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/hooknote/hooknote/notifiers"
)

// Notifier posts messages to Slack. It is safe for concurrent use.
type Notifier struct {
	client     *http.Client
	webhookURL notifiers.Secret // set in webhook mode
	api        *slackgo.Client  // set in token mode
	username   string
	iconEmoji  string
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
		return nil, fmt.Errorf("new slack notifier: %w", notifiers.ErrNoHTTPClient)
	}
	n := &Notifier{
		client:     d.HTTP,
		webhookURL: c.WebhookURL,
		username:   c.Username,
		iconEmoji:  c.IconEmoji,
	}
	if !c.Token.IsZero() {
		opts := []slackgo.Option{slackgo.OptionHTTPClient(n.client)}
		if c.APIURL != "" {
			opts = append(opts, slackgo.OptionAPIURL(c.APIURL))
		}
		n.api = slackgo.New(c.Token.Reveal(), opts...)
	}
	return n, nil
}

// Notify makes one attempt to post m.Text (cut to Slack's limit) to the
// incoming webhook, or, with a bot token, to m.Channel. A returned error is
// marked notifiers.Permanent when Slack rejected the message,
// notifiers.RetryAfter when Slack asked for a pause, and is otherwise
// transient.
func (n *Notifier) Notify(ctx context.Context, m notifiers.Message) error {
	text := truncate(m.Text, maxTextRunes)
	if n.api == nil {
		msg := &slackgo.WebhookMessage{Text: text, Username: n.username, IconEmoji: n.iconEmoji}
		err := slackgo.PostWebhookCustomHTTPContext(ctx, n.webhookURL.Reveal(), n.client, msg)
		if err != nil {
			return fmt.Errorf("post to slack webhook: %w", classify(err))
		}
		return nil
	}
	if strings.TrimSpace(m.Channel) == "" {
		return notifiers.Permanent(errors.New("post to slack: channel template rendered empty"))
	}
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(text, false)}
	if n.username != "" {
		opts = append(opts, slackgo.MsgOptionUsername(n.username))
	}
	if n.iconEmoji != "" {
		opts = append(opts, slackgo.MsgOptionIconEmoji(n.iconEmoji))
	}
	if _, _, err := n.api.PostMessageContext(ctx, m.Channel, opts...); err != nil {
		return fmt.Errorf("post to slack channel %q: %w", m.Channel, classify(err))
	}
	return nil
}

// String describes n without its secrets.
func (n *Notifier) String() string {
	if n.api == nil {
		return "slack.Notifier(webhook)"
	}
	return "slack.Notifier(token)"
}

// GoString describes n without its secrets (the %#v verb).
func (n *Notifier) GoString() string { return n.String() }

// isTransientAPIError reports whether a Web API `ok:false` error is worth
// retrying; any other is a permanent rejection (invalid_auth,
// channel_not_found, …).
func isTransientAPIError(code string) bool {
	switch code {
	case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return true
	}
	return false
}

// classify strips URLs from err and marks it for relay's retry loop.
func classify(err error) error {
	err = notifiers.RedactURL(err)
	var (
		rateLimited *slackgo.RateLimitedError
		badNumber   *strconv.NumError
		status      slackgo.StatusCodeError
		apiErr      slackgo.SlackErrorResponse
	)
	switch {
	case errors.As(err, &rateLimited):
		if rateLimited.RetryAfter <= 0 {
			return err
		}
		return notifiers.RetryAfter(err, rateLimited.RetryAfter)
	case errors.As(err, &badNumber):
		// slack-go could not parse a 429's Retry-After: back off instead.
		return fmt.Errorf("rate limited with an unreadable Retry-After: %w", err)
	case errors.As(err, &status):
		return classifyStatus(status.Code, err)
	case errors.As(err, &apiErr):
		if isTransientAPIError(apiErr.Err) {
			return err
		}
		if apiErr.Needed != "" {
			err = fmt.Errorf("token needs scope %q: %w", apiErr.Needed, err)
		}
		return notifiers.Permanent(err)
	}
	return err // network errors, timeouts, unreadable answers: transient
}

// classifyStatus marks err, an HTTP status other than 200, by its code.
func classifyStatus(code int, err error) error {
	switch {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return err
	case code >= 300 && code < 400:
		return notifiers.Permanent(fmt.Errorf("redirects are not followed: %w", err))
	}
	return notifiers.Permanent(fmt.Errorf("rejected: %w", err))
}
