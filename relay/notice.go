package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/relay/retry"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/templates"
)

// onDeadRule is the rule name of on_dead notices (no [[rules]] may use it).
const onDeadRule = config.ReservedRuleName

// notice is what an on_dead notice says about its dead letter, kept in the
// notice job's Extra when the dead letter is made.
type notice struct {
	ID       uint64 `json:"id"`
	Rule     string `json:"rule"`
	Notifier string `json:"notifier"`
	Error    string `json:"error"`
	Attempts int    `json:"attempts"`
}

func isNotice(j store.Job) bool { return j.Rule == onDeadRule }

// encodeNotice describes dead letter j, killed as k, for its notice.
func encodeNotice(j store.Job, k store.Kill) []byte {
	n := notice{ID: j.ID, Rule: j.Rule, Notifier: j.Notifier, Error: k.Reason, Attempts: j.Attempts}
	if k.Attempted {
		n.Attempts++
	}
	b, err := json.Marshal(n)
	if err != nil {
		panic(err) // strings and numbers always marshal
	}
	return b
}

// decodeNotice reads a notice job's Extra; a notice queued by a version
// that kept only the dead letter's id has no details.
func decodeNotice(j store.Job) notice {
	var n notice
	if err := json.Unmarshal(j.Extra, &n); err != nil {
		return notice{Rule: "?", Notifier: "?", Error: "(details unavailable)"}
	}
	return n
}

// message renders the job's message; a failing template falls back to the
// built-in message (logged). It also returns the job's event (nil for a
// digest) and when it happened (its completed_at, else its receipt; a
// digest's last join), for the end-to-end latency. An error wraps
// retry.ErrRender: the job cannot be sent (no recipients, a stored body that no
// longer decodes).
func (r *Relay) message(e *notifierEntry, j store.Job, log *slog.Logger) (notifiers.Message, *replicate.Event, time.Time, error) {
	if j.Digest != nil {
		d, skipped := r.digestOf(j)
		if len(skipped) > 0 {
			log.Error("digest events left out: their stored bodies no longer decode", "error", errors.Join(skipped...))
		}
		m, fatal := e.tmpl.renderDigest(d, fmt.Sprintf("digest.%d.%s.%s", j.ID, j.Rule, j.Notifier))
		if m.Fallback != nil {
			r.metrics.Fallback(e.name)
			log.Error("digest template failed; sending the built-in fallback", "error", m.Fallback)
		}
		if fatal != nil {
			return m.Message, nil, j.Digest.Last, fmt.Errorf("%w: %w", retry.ErrRender, fatal)
		}
		return m.Message, nil, j.Digest.Last, nil
	}
	ev, err := r.events.decode(j)
	if err != nil {
		return notifiers.Message{}, nil, time.Time{}, fmt.Errorf("%w: decode stored body: %w", retry.ErrRender, err)
	}
	happened := ev.CompletedAt
	if happened.IsZero() {
		happened = ev.ReceivedAt
	}
	ev.Rule, ev.Notifier = j.Rule, j.Notifier
	id := messageID(ev, j.Rule, j.Notifier)
	if isNotice(j) {
		m, err := noticeMessage(e.tmpl, ev, decodeNotice(j), id)
		return m, ev, happened, err
	}
	out, fatal := e.tmpl.render(ev, id)
	if out.Fallback != nil {
		r.metrics.Fallback(e.name)
		log.Error("template failed; sending the built-in fallback", "error", out.Fallback)
	}
	m := out.Message
	if fatal != nil {
		return m, ev, happened, fmt.Errorf("%w: %w", retry.ErrRender, fatal)
	}
	if e.checker != nil && m.Blocks != "" {
		if err := e.checker.Check(m); err != nil {
			r.metrics.Fallback(e.name)
			log.Error("blocks would be refused; sending the text alone", "error", err)
			m.Blocks = ""
		}
	}
	return m, ev, happened, nil
}

// noticeMessage is the built-in on_dead notice about dead letter dead,
// addressed with the notifier's own recipient templates.
func noticeMessage(c *messageTemplates, ev *replicate.Event, dead notice, id string) (notifiers.Message, error) {
	to, fatal := (&messageTemplates{to: c.to, cc: c.cc, bcc: c.bcc, channel: c.channel}).render(ev, id)
	m := to.Message
	if fatal != nil {
		return m, fmt.Errorf("%w: %w", retry.ErrRender, fatal)
	}
	m.Subject = templates.OneLine(fmt.Sprintf("[hooknote] notification lost: %s %s (%s) via %s", ev.Kind, ev.ID, ev.Status, dead.Notifier))
	f := c.format
	m.Text = fmt.Sprintf("hooknote could not deliver a notification and dead-lettered it.\n"+
		"rule: %s\nnotifier: %s\nevent: %s %s (%s), model %s\nattempts: %d\nlast error: %s\n"+
		"Inspect and retry with: hooknote dead list; hooknote dead retry %d",
		value(f, dead.Rule), value(f, dead.Notifier), value(f, ev.Kind), value(f, ev.ID), value(f, ev.Status),
		value(f, ev.Model), dead.Attempts, value(f, dead.Error), dead.ID)
	return m, nil
}
