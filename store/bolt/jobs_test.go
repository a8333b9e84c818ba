package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/store"
)

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{})
	w := hook("w1", "ev1", "succeeded", t0, "r/slack", "r/email", "s/hook")
	mustEnqueue(t, d, w)
	if diff := cmp.Diff(map[uint64]uint64{1: 3}, bodyRefs(t, d)); diff != "" {
		t.Errorf("body refs after enqueue (-want +got):\n%s", diff)
	}
	got := mustClaim(t, d, t0, 10)
	var want []store.Job
	for i, nj := range w.Jobs {
		want = append(want, store.Job{
			ID: uint64(i + 1), EventID: "ev1", Status: "succeeded", Rule: nj.Rule, Notifier: nj.Notifier,
			WebhookID: "w1", Query: "customId=7", ReceivedAt: t0, FirstAt: t0, NextAt: t0, Body: w.Body,
		})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Claim() (-want +got):\n%s", diff)
	}

	// The body is shared, and deleted with its last user.
	steps := []struct {
		name     string
		do       func() error
		wantRefs map[uint64]uint64
	}{
		{"complete 1", func() error { return d.Complete(ctx, 1) }, map[uint64]uint64{1: 2}},
		{"kill 2", func() error { return d.Kill(ctx, 2, store.Kill{Attempted: true, Reason: "boom", At: t0, Then: nil}) }, map[uint64]uint64{1: 2}},
		{"complete 3", func() error { return d.Complete(ctx, 3) }, map[uint64]uint64{1: 1}},
		{"drop 2", func() error { return d.Drop(ctx, 2) }, map[uint64]uint64{}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if diff := cmp.Diff(s.wantRefs, bodyRefs(t, d)); diff != "" {
			t.Errorf("body refs after %s (-want +got):\n%s", s.name, diff)
		}
	}
	for _, b := range []string{bucketJobs, bucketDue, bucketDead, bucketBodies, bucketRefs} {
		if n := keyCount(t, d, b); n != 0 {
			t.Errorf("bucket %s has %d keys, want 0", b, n)
		}
	}
}

func TestClaim(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{})
	for i, at := range []time.Duration{2 * time.Second, 0, time.Second} {
		mustEnqueue(t, d, hook(fmt.Sprint("w", i), fmt.Sprint("ev", i), "failed", t0.Add(at), "r/slack"))
	}
	nextDue := func(want time.Time, wantOK bool) {
		t.Helper()
		got, ok, err := d.NextDue(ctx)
		if err != nil || ok != wantOK || !got.Equal(want) {
			t.Errorf("NextDue() = %v, %t, %v, want %v, %t", got, ok, err, want, wantOK)
		}
	}
	claims := []struct {
		now  time.Time
		max  int
		want []uint64
	}{
		{t0.Add(-time.Nanosecond), 10, nil},
		{t0.Add(time.Second), 0, nil},
		{t0.Add(time.Second), 10, []uint64{2, 3}}, // oldest due first
		{t0.Add(time.Hour), 10, []uint64{1}},      // 2 and 3 are leased
		{t0.Add(time.Hour), 10, nil},
	}
	nextDue(t0, true)
	for _, c := range claims {
		if diff := cmp.Diff(c.want, ids(mustClaim(t, d, c.now, c.max))); diff != "" {
			t.Errorf("Claim(%v, %d) ids (-want +got):\n%s", c.now, c.max, diff)
		}
	}
	nextDue(time.Time{}, false)

	if err := d.Release(ctx, 3); err != nil {
		t.Fatalf("Release(3) = %v", err)
	}
	nextDue(t0.Add(time.Second), true)
	next := t0.Add(time.Minute)
	if err := d.Retry(ctx, 2, next, "503 from slack"); err != nil {
		t.Fatalf("Retry(2) = %v", err)
	}
	nextDue(t0.Add(time.Second), true)
	if got := ids(mustClaim(t, d, next.Add(-time.Nanosecond), 10)); !cmp.Equal(got, []uint64{3}) {
		t.Errorf("Claim(before retry) ids = %v, want [3]", got)
	}
	nextDue(next, true)
	got := mustClaim(t, d, next, 10)
	if len(got) != 1 || got[0].ID != 2 || got[0].Attempts != 1 || got[0].LastError != "503 from slack" ||
		!got[0].NextAt.Equal(next) || !got[0].FirstAt.Equal(t0) {
		t.Errorf("Claim(after retry) = %+v, want job 2 with 1 attempt, its error, due %v", got, next)
	}

	later := next.Add(time.Hour)
	if err := d.Postpone(ctx, 2, later); err != nil {
		t.Fatalf("Postpone(2) = %v", err)
	}
	if got := ids(mustClaim(t, d, later.Add(-time.Nanosecond), 10)); len(got) != 0 {
		t.Errorf("Claim(before postponed time) ids = %v, want none", got)
	}
	got = mustClaim(t, d, later, 10)
	if len(got) != 1 || got[0].ID != 2 || got[0].Attempts != 1 || got[0].LastError != "503 from slack" {
		t.Errorf("Claim(after postpone) = %+v, want job 2, attempts and error unchanged", got)
	}
}

func TestKill(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name         string
		attempted    bool
		notice       *store.NewJob
		wantAttempts int
	}{
		{name: "attempted, no notice", attempted: true, wantAttempts: 1},
		{name: "not attempted, notice", notice: &store.NewJob{Rule: "on_dead", Notifier: "ops", Extra: []byte("notice")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTest(t, Options{})
			w := hook("w1", "ev1", "failed", t0, "r/slack")
			mustEnqueue(t, d, w)
			job := mustClaim(t, d, t0, 1)[0]
			deadAt := t0.Add(time.Minute)
			if err := d.Kill(ctx, job.ID, store.Kill{Attempted: tt.attempted, Reason: "channel_not_found", At: deadAt, Then: tt.notice}); err != nil {
				t.Fatalf("Kill() = %v", err)
			}
			dead, err := d.Dead(ctx)
			if err != nil {
				t.Fatalf("Dead() = %v", err)
			}
			wantDead := job
			wantDead.Body = nil
			wantDead.Attempts, wantDead.LastError, wantDead.DeadAt = tt.wantAttempts, "channel_not_found", deadAt
			if diff := cmp.Diff([]store.Job{wantDead}, dead); diff != "" {
				t.Errorf("Dead() (-want +got):\n%s", diff)
			}
			var want []store.Job
			if tt.notice != nil {
				want = []store.Job{{
					ID: 2, EventID: "ev1", Status: "failed", Rule: "on_dead", Notifier: "ops", Extra: []byte("notice"),
					WebhookID: "w1", Query: "customId=7", ReceivedAt: t0, FirstAt: deadAt, NextAt: deadAt, Body: w.Body,
				}}
			}
			if diff := cmp.Diff(want, mustClaim(t, d, deadAt, 10)); diff != "" {
				t.Errorf("Claim() after Kill (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeadLetters(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{})
	mustEnqueue(t, d, hook("w1", "ev1", "failed", t0, "r/slack", "r/email", "r/hook"))
	// Killed out of id order, without claiming: leases are not required.
	for _, k := range []struct {
		id uint64
		at time.Time
	}{{3, t0.Add(time.Second)}, {1, t0.Add(2 * time.Second)}} {
		if err := d.Kill(ctx, k.id, store.Kill{Attempted: true, Reason: "nope", At: k.at, Then: nil}); err != nil {
			t.Fatalf("Kill(%d) = %v", k.id, err)
		}
	}
	dead, err := d.Dead(ctx)
	if err != nil || !cmp.Equal(ids(dead), []uint64{3, 1}) {
		t.Errorf("Dead() ids = %v, %v, want [3 1] (oldest death first)", ids(dead), err)
	}
	now := t0.Add(time.Hour)
	if err := d.Revive(ctx, 3, now); err != nil {
		t.Fatalf("Revive(3) = %v", err)
	}
	got := mustClaim(t, d, now, 10)
	want := []uint64{2, 3}
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Fatalf("Claim() after Revive (-want +got):\n%s", diff)
	}
	r := got[1]
	if r.Attempts != 0 || !r.FirstAt.Equal(now) || !r.NextAt.Equal(now) || !r.DeadAt.IsZero() || r.LastError != "nope" {
		t.Errorf("revived job = %+v, want 0 attempts, first and next at %v, not dead, last error kept", r, now)
	}
	if err := d.Drop(ctx, 1); err != nil {
		t.Fatalf("Drop(1) = %v", err)
	}
	s, err := d.Stats(ctx)
	if err != nil || s != (store.Stats{Pending: 2}) {
		t.Errorf("store.Stats() = %+v, %v, want {Pending:2}", s, err)
	}
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{})
	mustEnqueue(t, d, hook("w1", "ev1", "failed", t0, "r/slack")) // job 1, pending
	tests := []struct {
		name string
		do   func() error
	}{
		{"Complete", func() error { return d.Complete(ctx, 99) }},
		{"Retry", func() error { return d.Retry(ctx, 99, t0, "x") }},
		{"Release", func() error { return d.Release(ctx, 99) }},
		{"Postpone", func() error { return d.Postpone(ctx, 99, t0) }},
		{"Kill", func() error {
			return d.Kill(ctx, 99, store.Kill{Attempted: true, Reason: "x", At: t0, Then: &store.NewJob{Rule: "r", Notifier: "n"}})
		}},
		{"Revive", func() error { return d.Revive(ctx, 99, t0) }},
		{"Drop", func() error { return d.Drop(ctx, 99) }},
		{"Revive pending", func() error { return d.Revive(ctx, 1, t0) }},
		{"Drop pending", func() error { return d.Drop(ctx, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s = %v, want %v", tt.name, err, store.ErrNotFound)
			}
		})
	}
	if s, err := d.Stats(ctx); err != nil || s != (store.Stats{Pending: 1}) {
		t.Errorf("store.Stats() = %+v, %v, want {Pending:1}", s, err)
	}
}

// TestClaimConcurrently has workers claim and complete while webhooks
// arrive: every job is claimed exactly once.
func TestClaimConcurrently(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{})
	const n, workers = 200, 8
	var (
		mu      sync.Mutex
		claimed = make(map[uint64]int)
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		for i := range n {
			if _, err := d.Enqueue(ctx, hook(fmt.Sprint("w", i), fmt.Sprint("ev", i), "failed", t0, "r/slack")); err != nil {
				t.Errorf("Enqueue(%d) = %v", i, err)
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				done := len(claimed) == n
				mu.Unlock()
				if done || t.Failed() {
					return
				}
				jobs, err := d.Claim(ctx, t0, 3)
				if err != nil {
					t.Errorf("Claim() = %v", err)
				}
				for _, j := range jobs {
					mu.Lock()
					claimed[j.ID]++
					mu.Unlock()
					if err := d.Complete(ctx, j.ID); err != nil {
						t.Errorf("Complete(%d) = %v", j.ID, err)
					}
				}
			}
		})
	}
	wg.Wait()
	for id, c := range claimed {
		if c != 1 {
			t.Errorf("job %d claimed %d times, want 1", id, c)
		}
	}
	if got := bodyRefs(t, d); len(got) != 0 {
		t.Errorf("bodies left = %v, want none", got)
	}
}
