package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// call is one method call of the store for the error tables; what it
// returns besides the error is not looked at.
type call struct {
	name string
	do   func(ctx context.Context) error
}

// allCalls returns one call of each method but Close, on the pending job
// pendingID and the dead letter deadID, with w for Enqueue.
func allCalls(s store.Store, w store.Webhook, pendingID, deadID uint64) []call {
	then := &store.NewJob{Rule: "on_dead", Notifier: "ops"}
	return []call{
		{"Enqueue", func(ctx context.Context) error { _, err := s.Enqueue(ctx, w); return err }},
		{"Claim", func(ctx context.Context) error { _, err := s.Claim(ctx, at(time.Hour), 10, nil); return err }},
		{"Heads", func(ctx context.Context) error { _, err := s.Heads(ctx); return err }},
		{"Complete", func(ctx context.Context) error { return s.Complete(ctx, pendingID, store.Done{}) }},
		{"Retry", func(ctx context.Context) error { return s.Retry(ctx, pendingID, at(time.Hour), "x") }},
		{"Release", func(ctx context.Context) error { return s.Release(ctx, pendingID) }},
		{"Postpone", func(ctx context.Context) error { return s.Postpone(ctx, pendingID, at(time.Hour)) }},
		{"Kill", func(ctx context.Context) error {
			return s.Kill(ctx, pendingID, store.Kill{Reason: "x", Attempted: true, At: at(time.Hour), Then: then})
		}},
		{"Dead", func(ctx context.Context) error { _, err := s.Dead(ctx); return err }},
		{"DeadLetter", func(ctx context.Context) error { _, err := s.DeadLetter(ctx, deadID); return err }},
		{"Revive", func(ctx context.Context) error { return s.Revive(ctx, deadID, at(time.Hour)) }},
		{"Drop", func(ctx context.Context) error { return s.Drop(ctx, deadID) }},
		{"Sweep", func(ctx context.Context) error { _, err := s.Sweep(ctx, at(100*DedupeFor)); return err }},
		{"Stats", func(ctx context.Context) error { _, err := s.Stats(ctx); return err }},
	}
}

// setupErrors fills s for the error tests: webhook w1 with job a (leased,
// due at t0) and job b (a dead letter), and webhook w2 with job c
// (pending, not leased, due at t0+1s). It returns the three jobs as
// claimed (b before it was killed) and the dead letter.
func setupErrors(t *testing.T, s store.Store) (a, b, c, deadB store.Job) {
	t.Helper()
	enqueue(t, s, hook("w1", "ev1", "failed", at(0), "r/a", "r/b"))
	enqueue(t, s, hook("w2", "ev2", "failed", at(time.Second), "r/c"))
	jobs := sorted(claim(t, s, at(0), 10))
	if len(jobs) != 2 {
		t.Fatalf("Claim() = %v, want 2 jobs", routes(jobs))
	}
	a, b = jobs[0], jobs[1]
	must(t, "Kill()", s.Kill(t.Context(), b.ID, store.Kill{Reason: "gone", Attempted: true, At: at(time.Minute)}))
	c = claimOne(t, s, at(time.Second))
	must(t, "Release()", s.Release(t.Context(), c.ID))
	deadB, err := s.DeadLetter(t.Context(), b.ID)
	must(t, "DeadLetter()", err)
	return a, b, c, deadB
}

// checkUnchanged checks that s holds what setupErrors left, with job a
// still leased.
func checkUnchanged(t *testing.T, s store.Store, a, c, deadB store.Job) {
	t.Helper()
	if got, want := stats(t, s), (store.Stats{Pending: 2, Dead: 1}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if d := diff([]store.Job{deadB}, deadLetters(t, s)); d != "" {
		t.Errorf("Dead() mismatch (-want +got):\n%s", d)
	}
	if d := diff([]store.Job{c}, claim(t, s, at(time.Hour), 10)); d != "" {
		t.Errorf("Claim() of the jobs not leased mismatch (-want +got):\n%s", d)
	}
	must(t, "Release()", s.Release(t.Context(), a.ID))
	if d := diff([]store.Job{a}, claim(t, s, at(time.Hour), 10)); d != "" {
		t.Errorf("Claim() of the released job mismatch (-want +got):\n%s", d)
	}
}

// testNotFound: every job operation on an id that is not a pending job,
// and every dead-letter operation on an id that is not a dead letter,
// returns store.ErrNotFound and writes nothing.
func testNotFound(t *testing.T, o opener) {
	s := o.store(t)
	a, b, c, deadB := setupErrors(t, s)
	unknown := unknownID(a.ID, b.ID, c.ID)
	var calls []call
	for _, target := range []struct {
		name             string
		pending, deadLet uint64
	}{
		{"unknown id", unknown, unknown},
		{"wrong kind", b.ID, a.ID}, // a dead letter is not pending, a pending job not dead
	} {
		for _, cl := range allCalls(s, store.Webhook{}, target.pending, target.deadLet) {
			switch cl.name {
			case "Complete", "Retry", "Release", "Postpone", "Kill", "DeadLetter", "Revive", "Drop":
				calls = append(calls, call{cl.name + " " + target.name, cl.do})
			}
		}
	}
	for _, cl := range calls {
		t.Run(cl.name, func(t *testing.T) {
			if err := cl.do(t.Context()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s = %v, want %v", cl.name, err, store.ErrNotFound)
			}
		})
	}
	checkUnchanged(t, s, a, c, deadB)
}

// testCanceled: every method called with a ctx already ended returns the
// ctx's error and writes nothing (nor leases, nor ends a lease).
func testCanceled(t *testing.T, o opener) {
	s := o.store(t)
	a, _, c, deadB := setupErrors(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	w := hook("w3", "ev3", "failed", at(0), "r/a")
	for _, cl := range allCalls(s, w, a.ID, deadB.ID) {
		t.Run(cl.name, func(t *testing.T) {
			if err := cl.do(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("%s(canceled ctx) = %v, want %v", cl.name, err, context.Canceled)
			}
		})
	}
	checkUnchanged(t, s, a, c, deadB)
	// Neither w3 nor a sweep was recorded: w3 is new, w1 still a duplicate.
	if got, want := enqueue(t, s, w), (store.Enqueued{Accepted: 1}); got != want {
		t.Errorf("Enqueue(%q) = %+v, want %+v", w.WebhookID, got, want)
	}
	if got, want := enqueue(t, s, hook("w1", "ev1", "failed", at(0))), (store.Enqueued{Duplicate: true}); got != want {
		t.Errorf("Enqueue(%q) again = %+v, want %+v", "w1", got, want)
	}
}

// testClosed: after Close, every method returns store.ErrClosed, Close
// included.
func testClosed(t *testing.T, o opener) {
	s := o.store(t)
	a, _, _, deadB := setupErrors(t, s)
	must(t, "Close()", s.Close())
	calls := append(allCalls(s, hook("w3", "ev3", "failed", at(0), "r/a"), a.ID, deadB.ID),
		call{"Close", func(context.Context) error { return s.Close() }})
	for _, cl := range calls {
		t.Run(cl.name, func(t *testing.T) {
			if err := cl.do(t.Context()); !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s after Close() = %v, want %v", cl.name, err, store.ErrClosed)
			}
		})
	}
}
