package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	now        func() time.Time // reads Retry-After dates
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
		now:        time.Now,
	}
	if !c.Token.IsZero() {
		opts := []slackgo.Option{slackgo.OptionHTTPClient(n.client)}
		if c.APIURL != "" {
			opts = append(opts, slackgo.OptionAPIURL(apiBase(c.APIURL)))
		}
		n.api = slackgo.New(c.Token.Reveal(), opts...)
	}
	return n, nil
}

// apiBase returns the Web API base url ending in '/', as slack-go joins it
// with the method name.
func apiBase(url string) string {
	if strings.HasSuffix(url, "/") {
		return url
	}
	return url + "/"
}

// Notify makes one attempt to post m to the incoming webhook, or, with a
// bot token, to m.Channel: m.Text (cut to Slack's limit), with m.Blocks
// when they are set and within Slack's limits. Blocks that Slack refuses
// (invalid_blocks) are dropped and the text sent alone, within the same
// attempt: a notification is never lost to a block. A returned error is
// marked notifiers.Permanent when Slack rejected the message,
// notifiers.RetryAfter when Slack asked for a pause, and is otherwise
// transient. Its text keeps Slack's reason: the incoming webhook's answer
// ("status 404: channel_is_archived", from a *notifiers.HTTPError) or the
// Web API's error code ("channel_not_found").
func (n *Notifier) Notify(ctx context.Context, m notifiers.Message) error {
	if n.api == nil {
		return n.postWebhook(ctx, m)
	}
	_, err := n.post(ctx, m, "")
	return err
}

// Check reports whether Slack would refuse m's blocks (not JSON, over
// Block Kit's limits); see notifiers.Checker.
func (n *Notifier) Check(m notifiers.Message) error {
	if m.Blocks == "" {
		return nil
	}
	_, err := parseBlocks(m.Blocks)
	return err
}

// blocksOf returns m's blocks, or nil when it has none or they would be
// refused (the text is then sent alone; relay has logged why).
func blocksOf(m notifiers.Message) []slackgo.Block {
	if m.Blocks == "" {
		return nil
	}
	b, err := parseBlocks(m.Blocks)
	if err != nil {
		return nil
	}
	return b
}

// post posts m to m.Channel with the Web API, in the thread of threadTS
// when it is not empty, and returns where the message went.
func (n *Notifier) post(ctx context.Context, m notifiers.Message, threadTS string) (ref, error) {
	if strings.TrimSpace(m.Channel) == "" {
		return ref{}, notifiers.Permanent(errors.New("post to slack: channel template rendered empty"))
	}
	send := func(blocks []slackgo.Block) (string, string, error) {
		opts := n.options(m, blocks, false)
		if n.username != "" {
			opts = append(opts, slackgo.MsgOptionUsername(n.username))
		}
		if n.iconEmoji != "" {
			opts = append(opts, slackgo.MsgOptionIconEmoji(n.iconEmoji))
		}
		if threadTS != "" {
			opts = append(opts, slackgo.MsgOptionTS(threadTS))
		}
		return n.api.PostMessageContext(ctx, m.Channel, opts...)
	}
	blocks := blocksOf(m)
	channel, ts, err := send(blocks)
	if err != nil && blocks != nil && isBlocksRefused(err) {
		channel, ts, err = send(nil)
	}
	if err != nil {
		return ref{}, fmt.Errorf("post to slack channel %q: %w", m.Channel, classify(err))
	}
	return ref{Channel: channel, TS: ts}, nil
}

// options are the text and blocks of a post or an update. An update
// without blocks sends an empty list, which clears the blocks the message
// had; a post without blocks sends none.
func (n *Notifier) options(m notifiers.Message, blocks []slackgo.Block, update bool) []slackgo.MsgOption {
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(truncate(m.Text, maxTextRunes), false)}
	if blocks != nil || update {
		opts = append(opts, slackgo.MsgOptionBlocks(blocks...))
	}
	return opts
}

// postWebhook posts m to the incoming webhook as JSON: text, and blocks
// when m has valid ones (refused by Slack, the text is posted alone).
// notifiers.CheckHTTP classifies the answer and keeps what Slack said, so a
// dead letter reads "status 404: channel_is_archived".
func (n *Notifier) postWebhook(ctx context.Context, m notifiers.Message) error {
	blocks := blocksOf(m)
	err := n.postWebhookBody(ctx, m.Text, blocks)
	if err != nil && blocks != nil && isBlocksRefused(err) {
		err = n.postWebhookBody(ctx, m.Text, nil)
	}
	return err
}

func (n *Notifier) postWebhookBody(ctx context.Context, text string, blocks []slackgo.Block) error {
	msg := struct {
		Text      string          `json:"text"`
		Blocks    []slackgo.Block `json:"blocks,omitempty"`
		Username  string          `json:"username,omitempty"`
		IconEmoji string          `json:"icon_emoji,omitempty"`
	}{truncate(text, maxTextRunes), blocks, n.username, n.iconEmoji}
	body, err := json.Marshal(&msg)
	if err != nil { // unreachable: strings and validated JSON only
		return notifiers.Permanent(fmt.Errorf("post to slack webhook: encode message: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.webhookURL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("post to slack webhook: %w", notifiers.RedactURL(err)))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hooknote")
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to slack webhook: %w", notifiers.RedactURL(err))
	}
	if err := notifiers.CheckHTTP(resp, n.now()); err != nil {
		return fmt.Errorf("post to slack webhook: %w", err)
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

// classify strips URLs from an error of slack-go's chat.postMessage and
// marks it for relay's retry loop. Slack's error code (channel_not_found)
// stays the text of an `ok:false` answer.
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
		// slack-go multiplies the seconds without checking for overflow:
		// a huge Retry-After can come out negative or absurd.
		if rateLimited.RetryAfter <= 0 {
			return err
		}
		return notifiers.RetryAfter(err, min(rateLimited.RetryAfter, notifiers.MaxRetryAfter))
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
