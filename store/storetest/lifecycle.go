package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// testSweep: Sweep deletes the dedupe keys and terminal marks expired by
// now, counts them, and keeps the live ones and every job.
func testSweep(t *testing.T, o opener) {
	s := o.store(t)
	t0, expired := at(0), at(DedupeFor)
	// 4 keys expiring at t0+DedupeFor: webhook id, terminal mark, two jobs.
	enqueue(t, s, hook("w1", "ev1", "succeeded", t0, "r/slack", "r/email"))
	// w2's key is written again after it expired, to expire a window later.
	enqueue(t, s, hook("w2", "ev2", "starting", t0))
	enqueue(t, s, hook("w2", "ev2", "starting", expired.Add(time.Hour)))

	sweeps := []struct {
		now  time.Time
		want int
	}{
		{now: expired.Add(-time.Second), want: 0},
		{now: expired.Add(time.Second), want: 4},
		{now: expired.Add(time.Second), want: 0},
	}
	for _, sw := range sweeps {
		if got, err := s.Sweep(t.Context(), sw.now); err != nil || got != sw.want {
			t.Errorf("Sweep(%v) = %d, %v, want %d, nil", sw.now, got, err, sw.want)
		}
	}
	if got, want := stats(t, s), (store.Stats{Pending: 2}); got != want {
		t.Errorf("Stats() after Sweep() = %+v, want %+v", got, want)
	}
	// Sent again at times their keys would still be live at: only the
	// sweep made the difference.
	resends := []struct {
		name string
		w    store.Webhook
		want store.Enqueued
	}{
		{name: "terminal mark swept", w: hook("w3", "ev1", "processing", at(time.Hour), "r/slack"), want: store.Enqueued{Accepted: 1}},
		{name: "webhook id and job keys swept", w: hook("w1", "ev1", "succeeded", t0, "r/slack", "r/email"), want: store.Enqueued{Accepted: 2}},
		{name: "live webhook id kept", w: hook("w2", "ev2", "starting", expired.Add(2*time.Hour), "r/slack"), want: store.Enqueued{Duplicate: true}},
	}
	for _, r := range resends {
		if got := enqueue(t, s, r.w); got != r.want {
			t.Errorf("%s: Enqueue(%q) = %+v, want %+v", r.name, r.w.WebhookID, got, r.want)
		}
	}
}

// testStats: Pending counts jobs waiting or leased, Dead the dead letters.
func testStats(t *testing.T, o opener) {
	s := o.store(t)
	ctx := t.Context()
	var jobs []store.Job
	steps := []struct {
		name string
		do   func() error
		want store.Stats
	}{
		{name: "empty", do: func() error { return nil }},
		{name: "three jobs", do: func() error {
			enqueue(t, s, hook("w1", "ev1", "failed", at(0), "r/a", "r/b", "r/c"))
			return nil
		}, want: store.Stats{Pending: 3}},
		{name: "two leased", do: func() error { jobs = claim(t, s, at(0), 2); return nil }, want: store.Stats{Pending: 3}},
		{name: "one completed", do: func() error { return s.Complete(ctx, jobs[0].ID, store.Done{}) }, want: store.Stats{Pending: 2}},
		{name: "one killed with a notice", do: func() error {
			return s.Kill(ctx, jobs[1].ID, store.Kill{Reason: "gone", At: at(0), Then: &store.NewJob{Rule: "on_dead", Notifier: "ops"}})
		}, want: store.Stats{Pending: 2, Dead: 1}},
		{name: "revived", do: func() error { return s.Revive(ctx, jobs[1].ID, at(time.Hour)) }, want: store.Stats{Pending: 3}},
		{name: "killed again and dropped", do: func() error {
			claim(t, s, at(time.Hour), 10)
			must(t, "Kill()", s.Kill(ctx, jobs[1].ID, store.Kill{Reason: "gone", At: at(time.Hour)}))
			return s.Drop(ctx, jobs[1].ID)
		}, want: store.Stats{Pending: 2}},
	}
	for _, st := range steps {
		must(t, st.name, st.do())
		if got := stats(t, s); got != st.want {
			t.Errorf("%s: Stats() = %+v, want %+v", st.name, got, st.want)
		}
	}
}

// testReopen closes the store with work in every state and opens its
// storage again: nothing acknowledged is lost, and leases are gone.
func testReopen(t *testing.T, o opener) {
	s := o.store(t)
	w := hook("w1", "ev1", "succeeded", at(0), "r/a", "r/b", "r/c", "r/d")
	enqueue(t, s, w)
	enqueue(t, s, hook("w2", "ev2", "starting", at(0)))
	jobs := sorted(claim(t, s, at(0), 10)) // r/a, r/b, r/c, r/d
	if len(jobs) != 4 {
		t.Fatalf("Claim() = %v, want 4 jobs", routes(jobs))
	}
	notice := store.NewJob{Rule: "on_dead", Notifier: "ops", Extra: []byte{0, 1, 2}}
	must(t, "Complete()", s.Complete(t.Context(), jobs[0].ID, store.Done{}))
	must(t, "Kill()", s.Kill(t.Context(), jobs[1].ID, store.Kill{Reason: "gone", Attempted: true, At: at(time.Minute), Then: &notice}))
	must(t, "Retry()", s.Retry(t.Context(), jobs[3].ID, at(2*time.Minute), "503"))
	// jobs[2] stays leased: a crash mid-send.
	before := deadLetters(t, s)

	s = o.reopen(t, s)
	if got, want := stats(t, s), (store.Stats{Pending: 3, Dead: 1}); got != want {
		t.Errorf("Stats() after reopen = %+v, want %+v", got, want)
	}
	if d := diff(before, deadLetters(t, s)); d != "" {
		t.Errorf("Dead() after reopen mismatch (-before +after):\n%s", d)
	}
	n := pending(w, notice)
	n.FirstAt, n.NextAt = at(time.Minute), at(time.Minute)
	retried := jobs[3]
	retried.Attempts, retried.LastError, retried.NextAt = 1, "503", at(2*time.Minute)
	got := claim(t, s, at(time.Hour), 10)
	if len(got) == 3 {
		n.ID = got[1].ID // the notice's id is the store's choice
	}
	if d := diff([]store.Job{jobs[2], n, retried}, got); d != "" {
		t.Errorf("Claim() after reopen mismatch (-want +got):\n%s", d)
	}
	checkKeysKept(t, s, append(ids(t, got), before[0].ID))
}

// checkKeysKept checks, after testReopen's reopen, that its dedupe keys and
// terminal mark survived, and that a new job gets none of the known ids
// (those of the jobs and dead letters in the store).
func checkKeysKept(t *testing.T, s store.Store, known []uint64) {
	t.Helper()
	checks := []struct {
		w    store.Webhook
		want store.Enqueued
	}{
		{w: hook("w1", "ev1", "succeeded", at(0), "r/e"), want: store.Enqueued{Duplicate: true}},
		{w: hook("w2", "ev2", "starting", at(0), "r/a"), want: store.Enqueued{Duplicate: true}},
		{w: hook("w3", "ev1", "succeeded", at(0), "r/a"), want: store.Enqueued{Duplicate: true}},
		{w: hook("w4", "ev1", "processing", at(0), "r/a"), want: store.Enqueued{Stale: true}},
		{w: hook("w5", "ev5", "failed", at(0), "r/a"), want: store.Enqueued{Accepted: 1}},
	}
	for _, c := range checks {
		if got := enqueue(t, s, c.w); got != c.want {
			t.Errorf("Enqueue(%q) after reopen = %+v, want %+v", c.w.WebhookID, got, c.want)
		}
	}
	job := claimOne(t, s, at(0))
	if slices.Contains(known, job.ID) {
		t.Errorf("new job id %d is one of %v", job.ID, known)
	}
}
