package bolt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

const window = time.Hour // the dedupe window of these tests

func TestEnqueue(t *testing.T) {
	notice := hook("n1", "ev1", "failed", t0)
	notice.Jobs = []store.NewJob{{Rule: "on_dead", Notifier: "slack", NoDedupe: true, Extra: []byte("7")}}
	notice2 := notice
	notice2.WebhookID = "n2"
	noID := hook("", "ev1", "failed", t0, "r/slack")

	tests := []struct {
		name        string
		hooks       []store.Webhook
		want        []store.Enqueued
		wantPending int
	}{{
		name:        "new webhook",
		hooks:       []store.Webhook{hook("w1", "ev1", "succeeded", t0, "r/slack", "r/email")},
		want:        []store.Enqueued{{Accepted: 2}},
		wantPending: 2,
	}, {
		name: "same webhook id",
		hooks: []store.Webhook{
			hook("w1", "ev1", "processing", t0, "r/slack"),
			hook("w1", "ev1", "processing", t0.Add(time.Minute), "r/slack", "r/email"),
		},
		want:        []store.Enqueued{{Accepted: 1}, {Duplicate: true}},
		wantPending: 1,
	}, {
		name: "same event status rule notifier under another webhook id",
		hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0, "r/slack"),
			hook("w2", "ev1", "failed", t0, "r/slack"),
		},
		want:        []store.Enqueued{{Accepted: 1}, {Duplicate: true}},
		wantPending: 1,
	}, {
		name: "partial duplicate",
		hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0, "r/slack"),
			hook("w2", "ev1", "failed", t0, "r/slack", "r/email"),
		},
		want:        []store.Enqueued{{Accepted: 1}, {Accepted: 1}},
		wantPending: 2,
	}, {
		name: "all jobs duplicate still records the webhook id",
		hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0, "r/slack"),
			hook("w2", "ev1", "failed", t0, "r/slack"),
			hook("w2", "ev1", "failed", t0, "r/email"),
		},
		want:        []store.Enqueued{{Accepted: 1}, {Duplicate: true}, {Duplicate: true}},
		wantPending: 1,
	}, {
		name:        "same route twice in one webhook",
		hooks:       []store.Webhook{hook("w1", "ev1", "failed", t0, "r/slack", "r/slack")},
		want:        []store.Enqueued{{Accepted: 1}},
		wantPending: 1,
	}, {
		name: "no jobs records the webhook id",
		hooks: []store.Webhook{
			hook("w1", "ev1", "starting", t0),
			hook("w1", "ev1", "starting", t0, "r/slack"),
		},
		want: []store.Enqueued{{}, {Duplicate: true}},
	}, {
		name: "terminal then non-terminal is stale",
		hooks: []store.Webhook{
			hook("w1", "ev1", "succeeded", t0, "r/slack"),
			hook("w2", "ev1", "processing", t0, "r/slack"),
			hook("w2", "ev1", "processing", t0, "r/slack"),
		},
		want:        []store.Enqueued{{Accepted: 1}, {Stale: true}, {Duplicate: true}},
		wantPending: 1,
	}, {
		name: "terminal without jobs still marks the event",
		hooks: []store.Webhook{
			hook("w1", "ev1", "succeeded", t0),
			hook("w2", "ev1", "processing", t0, "r/slack"),
		},
		want: []store.Enqueued{{}, {Stale: true}},
	}, {
		name: "non-terminal then terminal",
		hooks: []store.Webhook{
			hook("w1", "ev1", "processing", t0, "r/slack"),
			hook("w2", "ev1", "succeeded", t0, "r/slack"),
			hook("w3", "ev1", "failed", t0, "r/slack"),
		},
		want:        []store.Enqueued{{Accepted: 1}, {Accepted: 1}, {Accepted: 1}},
		wantPending: 3,
	}, {
		name:        "notices have no dedupe key",
		hooks:       []store.Webhook{notice, notice2},
		want:        []store.Enqueued{{Accepted: 1}, {Accepted: 1}},
		wantPending: 2,
	}, {
		name:        "empty webhook id dedupes by job keys",
		hooks:       []store.Webhook{noID, noID},
		want:        []store.Enqueued{{Accepted: 1}, {Duplicate: true}},
		wantPending: 1,
	}, {
		name: "webhook id just before expiry",
		hooks: []store.Webhook{
			hook("w1", "ev1", "starting", t0),
			hook("w1", "ev2", "starting", t0.Add(window-time.Nanosecond), "r/slack"),
		},
		want: []store.Enqueued{{}, {Duplicate: true}},
	}, {
		name: "expired keys count as absent",
		hooks: []store.Webhook{
			hook("w1", "ev1", "succeeded", t0, "r/slack"),
			hook("w1", "ev1", "succeeded", t0.Add(window), "r/slack"),
			hook("w2", "ev1", "processing", t0.Add(window), "r/slack"),
		},
		want:        []store.Enqueued{{Accepted: 1}, {Accepted: 1}, {Stale: true}},
		wantPending: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTest(t, Options{DedupeFor: window})
			var got []store.Enqueued
			for _, w := range tt.hooks {
				got = append(got, mustEnqueue(t, d, w))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Enqueue results (-want +got):\n%s", diff)
			}
			s, err := d.Stats(context.Background())
			if err != nil {
				t.Fatalf("store.Stats() = %v", err)
			}
			if s.Pending != tt.wantPending {
				t.Errorf("store.Stats().Pending = %d, want %d", s.Pending, tt.wantPending)
			}
		})
	}
}

func TestEnqueueInvalid(t *testing.T) {
	tests := []struct {
		name    string
		webhook store.Webhook
		want    string
	}{
		{"zero received at", hook("w1", "ev1", "failed", time.Time{}, "r/slack"), "zero ReceivedAt"},
		{"key too long", hook("w1", strings.Repeat("x", 40000), "failed", t0, "r/slack"), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTest(t, Options{})
			_, err := d.Enqueue(context.Background(), tt.webhook)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Enqueue() = %v, want an error containing %q", err, tt.want)
			}
			if n := keyCount(t, d, bucketSeen); n != 0 {
				t.Errorf("seen keys = %d, want 0", n)
			}
		})
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{DedupeFor: window})
	// 4 keys: webhook id, terminal mark, two jobs.
	mustEnqueue(t, d, hook("w1", "ev1", "succeeded", t0, "r/slack", "r/email"))
	// The webhook id of w2 is renewed at t0+window: the sweep must keep it.
	mustEnqueue(t, d, hook("w2", "ev2", "starting", t0))
	mustEnqueue(t, d, hook("w2", "ev2", "starting", t0.Add(window)))

	sweeps := []struct {
		now  time.Time
		want int
	}{
		{t0.Add(window - time.Nanosecond), 0},
		{t0.Add(window), 4},
		{t0.Add(window), 0},
	}
	for _, s := range sweeps {
		got, err := d.Sweep(ctx, s.now)
		if err != nil || got != s.want {
			t.Errorf("Sweep(%v) = %d, %v, want %d, nil", s.now, got, err, s.want)
		}
	}
	if n, m := keyCount(t, d, bucketSeen), keyCount(t, d, bucketExpiry); n != 1 || m != 1 {
		t.Errorf("seen, expiry keys = %d, %d, want 1, 1", n, m)
	}
	// With its keys gone, w1 is new again even at its old time.
	got := mustEnqueue(t, d, hook("w1", "ev1", "succeeded", t0, "r/slack", "r/email"))
	if diff := cmp.Diff(store.Enqueued{Accepted: 2}, got); diff != "" {
		t.Errorf("Enqueue after sweep (-want +got):\n%s", diff)
	}
}

func TestSweepManyChunks(t *testing.T) {
	d := openTest(t, Options{DedupeFor: window})
	const n = 2*sweepChunk + 17
	err := d.bolt.Update(func(tx *bbolt.Tx) error {
		tn := openTxn(tx)
		for i := range n {
			if err := tn.mark(seenKey(seenWebhook, fmt.Sprint(i)), nanos(t0)+int64(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed keys: %v", err)
	}
	got, err := d.Sweep(context.Background(), t0.Add(time.Hour))
	if err != nil || got != n {
		t.Errorf("Sweep() = %d, %v, want %d, nil", got, err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Sweep(ctx, t0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sweep(canceled) = %v, want %v", err, context.Canceled)
	}
}

// TestEnqueueSameEventConcurrently sends 50 webhooks of one event at once,
// all held into one batch: exactly one of them gets the jobs.
func TestEnqueueSameEventConcurrently(t *testing.T) {
	d := openTest(t, Options{})
	g := gate(d)
	first := make(chan error, 1)
	go func() {
		_, err := d.Enqueue(context.Background(), hook("blocker", "ev0", "starting", t0))
		first <- err
	}()
	g.held()
	const n = 50
	results := make([]store.Enqueued, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w := hook(fmt.Sprint("w", i), "ev1", "failed", t0, "r/slack", "r/email")
			res, err := d.Enqueue(context.Background(), w)
			if err != nil {
				t.Errorf("Enqueue(%q) = %v", w.WebhookID, err)
			}
			results[i] = res
		})
	}
	g.release(n)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("Enqueue(blocker) = %v", err)
	}
	accepted, duplicates := 0, 0
	for _, r := range results {
		accepted += r.Accepted
		if r.Duplicate {
			duplicates++
		}
	}
	if accepted != 2 || duplicates != n-1 {
		t.Errorf("accepted, duplicates = %d, %d, want 2, %d", accepted, duplicates, n-1)
	}
	if got := d.commits.Load(); got != 2 {
		t.Errorf("commits = %d, want 2", got)
	}
	if got := bodyRefs(t, d); len(got) != 1 {
		t.Errorf("bodies = %v, want one", got)
	}
}
