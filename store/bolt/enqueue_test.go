package bolt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

// TestEnqueueInvalid: webhooks beyond bbolt's limits (or without a
// ReceivedAt) are refused and nothing is written.
func TestEnqueueInvalid(t *testing.T) {
	tests := []struct {
		name    string
		webhook store.Webhook
		want    string
	}{
		{"zero received at", hook("w1", "ev1", "failed", time.Time{}, "r/slack"), "zero ReceivedAt"},
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

// TestLongIDsHashed: an event id of 40 KB makes a 16-byte dedupe key like
// any other, and dedupes like any other.
func TestLongIDsHashed(t *testing.T) {
	d := openTest(t, Options{})
	w := hook("w1", strings.Repeat("x", 40000), "failed", t0, "r/slack")
	if res, err := d.Enqueue(context.Background(), w); err != nil || res.Accepted != 1 {
		t.Fatalf("Enqueue(40 KB id) = %+v, %v, want 1 accepted", res, err)
	}
	w.WebhookID = "w2"
	if res, err := d.Enqueue(context.Background(), w); err != nil || !res.Duplicate {
		t.Errorf("Enqueue(40 KB id again) = %+v, %v, want a duplicate", res, err)
	}
	err := d.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucketSeen)).ForEach(func(k, _ []byte) error {
			if len(k) != seenKeyLen {
				t.Errorf("dedupe key of %d bytes, want %d", len(k), seenKeyLen)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSweepManyChunks: Sweep deletes more keys than one transaction looks
// at, and stops when its ctx ends.
func TestSweepManyChunks(t *testing.T) {
	d := openTest(t, Options{})
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
	if n := keyCount(t, d, bucketSeen); n != 0 {
		t.Errorf("dedupe keys after Sweep() = %d, want 0", n)
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
