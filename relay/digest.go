package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/rules"
	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/templates"
)

// Digests (DESIGN §6). A rule with digest makes each match join its open
// digest in the intake's own transaction; the store keeps the digests and
// their deadlines; the relay's digest loop sleeps until the earliest one
// falls due and asks the store to send it (one ordinary job carrying the
// digest), which the dispatcher then delivers like any other.

// digestJoin is the DigestJoin of ev for rule r.
func digestJoin(r *config.Rule, ev *replicate.Event) *store.DigestJoin {
	values, group := rules.Group(r.GroupBy, ev)
	extra, _ := json.Marshal(values)
	return &store.DigestJoin{Group: group, Quiet: r.Digest.Duration, MaxWait: r.MaxWait(), Max: r.MaxEvents(), Extra: extra}
}

// digestOf decodes the events of a digest job into the dot of the digest
// templates. An event whose stored body no longer decodes is left out and
// reported in skipped.
func (r *Relay) digestOf(j store.Job) (d *templates.Digest, skipped []error) {
	var group map[string]string
	if err := json.Unmarshal(j.Digest.Extra, &group); err != nil || group == nil {
		group = map[string]string{}
	}
	events := make([]*replicate.Event, 0, len(j.Digest.Events))
	for _, de := range j.Digest.Events {
		ev, err := replicate.DecodeStored(de.Body, replicate.ParseQuery(de.Query), de.ReceivedAt)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("event %s: %w", de.EventID, err))
			continue
		}
		ev.Rule, ev.Notifier = j.Rule, j.Notifier
		events = append(events, ev)
	}
	return templates.NewDigest(j.Rule, j.Notifier, group, j.Digest.First, j.Digest.Last, events), skipped
}

// digests sends the open digests as they fall due, until ctx ends: one
// that fell due while hooknote was stopped is sent at start; SIGTERM does
// not send any early (they are durable; the next start sends them).
func (r *Relay) digests(ctx context.Context) {
	for ctx.Err() == nil {
		now := r.now()
		sctx, cancel := context.WithTimeout(ctx, storeTimeout)
		sent, err := r.store.FlushDigests(sctx, now)
		var next time.Time
		var open bool
		if err == nil {
			next, open, err = r.store.NextDigest(sctx)
		}
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("send due digests", "error", err)
			}
			next, open = now.Add(time.Second), true
		}
		total := 0
		for _, n := range sent {
			total += n
		}
		if total > 0 {
			r.log.Info("digests due", "count", total)
			r.anyJobsDue()
		}
		idle := maxIdle
		if r.shared != nil { // another instance's joins wake only that instance
			idle = sharedPoll
		}
		wait := idle
		if open {
			wait = min(max(next.Sub(r.now()), 0), idle)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-r.digestWake:
		case <-t.C:
		}
		t.Stop()
	}
}

// wakeDigests tells the digest loop that a digest was joined: its
// deadline may be earlier than the loop knows (a full digest is due now).
func (r *Relay) wakeDigests() {
	select {
	case r.digestWake <- struct{}{}:
	default:
	}
}
