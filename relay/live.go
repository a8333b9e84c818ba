package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/store"
)

// Live messages (DESIGN §6). The jobs of one (event, live notifier) share
// a store Key, so the store hands them out one at a time, in order of
// receipt, each with the live record its predecessor left: where the
// message is, the rank of the state it shows, and a digest of what it
// says. A job's outcome and the new record are one transaction (Complete),
// so a restart continues the same message.

// liveKey is the store Key of event's jobs to live notifier.
func liveKey(event, notifier string) string { return "live\x00" + notifier + "\x00" + event }

// threadExtra marks the job that posts a live message's thread reply.
var threadExtra = []byte(`{"thread":true}`)

func isThread(j store.Job) bool { return j.Key != "" && string(j.Extra) == string(threadExtra) }

// Ranks of the states a live message shows: it never moves to a lower
// one. Every final status (and any status hooknote does not know, which
// counts as final) has the top rank.
const (
	rankStarting   = 1
	rankProcessing = 2
	rankFinal      = 3
)

func rankOf(status string) int {
	switch status {
	case replicate.Starting:
		return rankStarting
	case replicate.Processing:
		return rankProcessing
	}
	return rankFinal
}

// liveRef is the live record's Ref: the notifier's reference to the
// message and a digest of its last text and blocks (an update that would
// change nothing is skipped).
type liveRef struct {
	Ref json.RawMessage `json:"ref"`
	Sum string          `json:"sum"`
}

func decodeLiveRef(l *store.Live) (liveRef, bool) {
	if l == nil {
		return liveRef{}, false
	}
	var r liveRef
	if err := json.Unmarshal(l.Ref, &r); err != nil || len(r.Ref) == 0 {
		return liveRef{}, false
	}
	return r, true
}

func (r liveRef) encode() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a valid RawMessage and a string always marshal
	}
	return b
}

// messageSum is the digest of what a message shows.
func messageSum(m notifiers.Message) string {
	h := sha256.New()
	h.Write([]byte(m.Text))
	h.Write([]byte{0})
	h.Write([]byte(m.Blocks))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// liveOutcome is what a live job did: the record to keep, the thread
// reply to queue, and whether anything was sent.
type liveOutcome struct {
	done   store.Done
	sent   bool
	action string // posted, updated, replied, or why nothing was sent
}

// sendLive runs one live job: it posts the event's message, or updates it
// in place, or posts its thread reply; or sends nothing when the job's
// state is behind what the message shows or a later job of the event is
// waiting (a newer state supersedes it).
func (r *Relay) sendLive(ctx context.Context, e *notifierEntry, live notifiers.Live, j store.Job, m notifiers.Message, ev *replicate.Event, log *slog.Logger) (liveOutcome, error) {
	prev, posted := decodeLiveRef(j.Live)
	if isThread(j) {
		if !posted {
			return liveOutcome{action: "no message to reply to"}, nil
		}
		text, err := e.tmpl.renderThread(ev)
		if err != nil {
			r.metrics.Fallback(e.name)
			log.Error("thread template failed; no reply", "error", err)
		}
		if text == "" {
			return liveOutcome{action: "no reply (empty)"}, nil
		}
		reply := m
		reply.Text, reply.Blocks = text, ""
		if err := live.Reply(ctx, prev.Ref, reply); err != nil {
			return liveOutcome{}, err
		}
		return liveOutcome{sent: true, action: "replied"}, nil
	}
	rank := rankOf(j.Status)
	switch {
	case j.Live != nil && rank < j.Live.Rank, j.Live != nil && rank == rankFinal && j.Live.Rank == rankFinal:
		return liveOutcome{action: "behind the message (" + j.Status + ")"}, nil
	case j.Later > 0 && rank < rankFinal:
		return liveOutcome{action: "superseded by a later webhook"}, nil
	}
	sum := messageSum(m)
	out := liveOutcome{sent: true, action: "updated"}
	switch {
	case !posted:
		ref, err := live.Post(ctx, m)
		if err != nil {
			return liveOutcome{}, err
		}
		prev.Ref, out.action = ref, "posted"
	case prev.Sum == sum:
		out.sent, out.action = false, "unchanged"
	default:
		err := live.Update(ctx, prev.Ref, m)
		if errors.Is(err, notifiers.ErrGone) {
			log.Warn("live message gone; posting a new one", "error", err)
			ref, perr := live.Post(ctx, m)
			if perr != nil {
				return liveOutcome{}, perr
			}
			prev.Ref, out.action = ref, "posted again"
			err = nil
		}
		if err != nil {
			return liveOutcome{}, err
		}
	}
	prev.Sum = sum
	out.done.Live = &store.Live{Ref: liveRef{Ref: prev.Ref, Sum: sum}.encode(), Rank: max(rank, liveRank(j.Live))}
	if rank == rankFinal && e.tmpl.thread != nil {
		out.done.Then = &store.NewJob{Rule: j.Rule, Notifier: j.Notifier, NoDedupe: true, Extra: threadExtra}
	}
	return out, nil
}

func liveRank(l *store.Live) int {
	if l == nil {
		return 0
	}
	return l.Rank
}

// liveNotifier returns e's Live side when e is in live mode.
func (e *notifierEntry) liveNotifier() (notifiers.Live, bool) {
	if e.tmpl == nil || !e.tmpl.live {
		return nil, false
	}
	l, ok := e.n.(notifiers.Live)
	return l, ok
}

// errNotLive reports a live-mode notifier whose type cannot update
// messages: a config error.
var errNotLive = fmt.Errorf("live mode needs a notifier that can update its messages")
