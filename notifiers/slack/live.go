package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	slackgo "github.com/slack-go/slack"

	"github.com/hooknote/hooknote/notifiers"
)

var (
	_ notifiers.Live    = (*Notifier)(nil)
	_ notifiers.Checker = (*Notifier)(nil)
)

// ref is where a posted message is: the channel ID and ts that
// chat.postMessage returned (chat.update refuses a channel name).
type ref struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

func parseRef(b []byte) (ref, error) {
	var r ref
	if err := json.Unmarshal(b, &r); err != nil || r.Channel == "" || r.TS == "" {
		return ref{}, notifiers.Permanent(fmt.Errorf("slack message reference %q is not a channel and ts", b))
	}
	return r, nil
}

// Post posts m as a new message (live mode) and returns its channel ID
// and ts; see notifiers.Live.
func (n *Notifier) Post(ctx context.Context, m notifiers.Message) ([]byte, error) {
	if n.api == nil {
		return nil, notifiers.Permanent(errors.New("live messages need a bot token"))
	}
	r, err := n.post(ctx, m, "")
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(r) // two strings
	return b, nil
}

// Update replaces the text and blocks of the message at ref with m's
// (chat.update). An error wraps notifiers.ErrGone when Slack says the
// message is gone (message_not_found, cant_update_message,
// edit_window_closed); see notifiers.Live.
func (n *Notifier) Update(ctx context.Context, rb []byte, m notifiers.Message) error {
	if n.api == nil {
		return notifiers.Permanent(errors.New("live messages need a bot token"))
	}
	r, err := parseRef(rb)
	if err != nil {
		return err
	}
	send := func(blocks []slackgo.Block) error {
		_, _, _, err := n.api.UpdateMessageContext(ctx, r.Channel, r.TS, n.options(m, blocks, true)...)
		return err
	}
	blocks := blocksOf(m)
	err = send(blocks)
	if err != nil && blocks != nil && isBlocksRefused(err) {
		err = send(nil)
	}
	if err == nil {
		return nil
	}
	var apiErr slackgo.SlackErrorResponse
	if errors.As(err, &apiErr) {
		switch apiErr.Err {
		case "message_not_found", "cant_update_message", "edit_window_closed":
			return fmt.Errorf("update slack message %s in %s: %w: %w", r.TS, r.Channel, notifiers.ErrGone, classify(err))
		}
	}
	return fmt.Errorf("update slack message %s in %s: %w", r.TS, r.Channel, classify(err))
}

// Reply posts m in the thread of the message at ref; see notifiers.Live.
func (n *Notifier) Reply(ctx context.Context, rb []byte, m notifiers.Message) error {
	if n.api == nil {
		return notifiers.Permanent(errors.New("live messages need a bot token"))
	}
	r, err := parseRef(rb)
	if err != nil {
		return err
	}
	m.Channel = r.Channel
	_, err = n.post(ctx, m, r.TS)
	return err
}
