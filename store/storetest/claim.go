package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hooknote/hooknote/store"
)

// testClaim: Claim returns at most max jobs due at or before now, oldest
// due first, and never a leased job.
func testClaim(t *testing.T, o opener) {
	s := o.store(t)
	// Enqueued out of due order: ev1, ev3, ev2, ev4, ev0.
	for i, due := range []time.Duration{4 * time.Second, 0, 2 * time.Second, time.Second, 3 * time.Second} {
		enqueue(t, s, hook(fmt.Sprint("w", i), fmt.Sprint("ev", i), "failed", at(due), "r/slack"))
	}
	claims := []struct {
		name string
		now  time.Time
		max  int
		want []string // event ids
	}{
		{name: "nothing due yet", now: at(-time.Microsecond), max: 10},
		{name: "max zero", now: at(time.Hour), max: 0},
		{name: "max two: the oldest due first", now: at(2 * time.Second), max: 2, want: []string{"ev1", "ev3"}},
		{name: "due at now, the others leased", now: at(2 * time.Second), max: 10, want: []string{"ev2"}},
		{name: "the rest, oldest due first", now: at(time.Hour), max: 10, want: []string{"ev4", "ev0"}},
		{name: "all leased", now: at(time.Hour), max: 10},
	}
	for _, c := range claims {
		got := []string{}
		for _, j := range claim(t, s, c.now, c.max) {
			got = append(got, j.EventID)
		}
		if d := diff(c.want, got); d != "" {
			t.Errorf("%s: Claim(%v, %d) events mismatch (-want +got):\n%s", c.name, c.now, c.max, d)
		}
	}
}

// testLease: a leased job is not claimed again until its lease ends, and
// each way of ending it leaves the job where the contract says.
func testLease(t *testing.T, o opener) {
	tests := []struct {
		name         string
		end          func(s store.Store, t *testing.T, id uint64) error
		wantClaim    bool // the job is claimable again
		wantAttempts int
	}{
		{name: "Complete", end: func(s store.Store, t *testing.T, id uint64) error { return s.Complete(t.Context(), id, store.Done{}) }},
		{name: "Retry", wantClaim: true, wantAttempts: 1, end: func(s store.Store, t *testing.T, id uint64) error {
			return s.Retry(t.Context(), id, at(time.Second), "503")
		}},
		{name: "Postpone", wantClaim: true, end: func(s store.Store, t *testing.T, id uint64) error {
			return s.Postpone(t.Context(), id, at(time.Second))
		}},
		{name: "Kill", end: func(s store.Store, t *testing.T, id uint64) error {
			return s.Kill(t.Context(), id, store.Kill{Reason: "gone", Attempted: true, At: at(time.Second)})
		}},
		{name: "Release", wantClaim: true, end: func(s store.Store, t *testing.T, id uint64) error { return s.Release(t.Context(), id) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := o.store(t)
			enqueue(t, s, hook("w1", "ev1", "failed", at(0), "r/slack"))
			job := claimOne(t, s, at(0))
			if got := claim(t, s, at(time.Hour), 10); len(got) != 0 {
				t.Errorf("Claim() of a leased job = %v, want none", routes(got))
			}
			must(t, tt.name+"()", tt.end(s, t, job.ID))
			got := claim(t, s, at(time.Hour), 10)
			if !tt.wantClaim {
				if len(got) != 0 {
					t.Errorf("Claim() after %s = %v, want none", tt.name, routes(got))
				}
				return
			}
			if len(got) != 1 || got[0].ID != job.ID || got[0].Attempts != tt.wantAttempts {
				t.Errorf("Claim() after %s = %+v, want job %d with %d attempts", tt.name, got, job.ID, tt.wantAttempts)
			}
		})
	}
}

// testHeads: per notifier, the earliest due time among its pending jobs
// not leased.
func testHeads(t *testing.T, o opener) {
	s := o.store(t)
	ctx := t.Context()
	var first, second store.Job
	steps := []struct {
		name string
		do   func() error
		want map[string]time.Time
	}{
		{name: "empty store", do: func() error { return nil }, want: map[string]time.Time{}},
		{name: "two jobs of one notifier", do: func() error {
			enqueue(t, s, hook("w2", "ev2", "failed", at(2*time.Second), "r/slack"))
			enqueue(t, s, hook("w1", "ev1", "failed", at(time.Second), "r/slack"))
			return nil
		}, want: map[string]time.Time{"slack": at(time.Second)}},
		{name: "first leased", do: func() error { first = claimOne(t, s, at(time.Second)); return nil },
			want: map[string]time.Time{"slack": at(2 * time.Second)}},
		{name: "another notifier", do: func() error {
			enqueue(t, s, hook("w3", "ev3", "failed", at(3*time.Second), "r/mail"))
			return nil
		}, want: map[string]time.Time{"slack": at(2 * time.Second), "mail": at(3 * time.Second)}},
		{name: "both slack jobs leased", do: func() error {
			second = claimOneOf(t, s, at(2*time.Second), "slack")
			return nil
		}, want: map[string]time.Time{"mail": at(3 * time.Second)}},
		{name: "first released", do: func() error { return s.Release(ctx, first.ID) },
			want: map[string]time.Time{"slack": at(time.Second), "mail": at(3 * time.Second)}},
		{name: "first postponed", do: func() error {
			claimOneOf(t, s, at(time.Second), "slack")
			return s.Postpone(ctx, first.ID, at(time.Hour))
		}, want: map[string]time.Time{"slack": at(time.Hour), "mail": at(3 * time.Second)}},
		{name: "second retried sooner", do: func() error { return s.Retry(ctx, second.ID, at(time.Minute), "503") },
			want: map[string]time.Time{"slack": at(time.Minute), "mail": at(3 * time.Second)}},
		{name: "second killed", do: func() error {
			claimOneOf(t, s, at(time.Minute), "slack")
			return s.Kill(ctx, second.ID, store.Kill{Reason: "gone", At: at(time.Minute)})
		}, want: map[string]time.Time{"slack": at(time.Hour), "mail": at(3 * time.Second)}},
		{name: "first completed", do: func() error {
			claimOneOf(t, s, at(time.Hour), "slack")
			return s.Complete(ctx, first.ID, store.Done{})
		}, want: map[string]time.Time{"mail": at(3 * time.Second)}},
	}
	for _, st := range steps {
		must(t, st.name, st.do())
		got, err := s.Heads(ctx)
		if err != nil {
			t.Fatalf("%s: Heads() = %v", st.name, err)
		}
		if d := cmp.Diff(st.want, got, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
			t.Errorf("%s: Heads() mismatch (-want +got):\n%s", st.name, d)
		}
	}
}

// testClaimPerNotifier: with a quota per notifier, Claim takes only the
// notifiers named, at most their quota each, oldest due first, and max in
// all.
func testClaimPerNotifier(t *testing.T, o opener) {
	s := o.store(t)
	for i := range 4 {
		for _, n := range []string{"slack", "mail", "hook"} {
			id := fmt.Sprintf("%s-%d", n, i)
			enqueue(t, s, hook("w-"+id, "ev-"+id, "failed", at(time.Duration(i)*time.Second), "r/"+n))
		}
	}
	count := func(jobs []store.Job) map[string]int {
		c := map[string]int{}
		for _, j := range jobs {
			c[j.Notifier]++
		}
		return c
	}
	jobs, err := s.Claim(t.Context(), at(time.Hour), 100, map[string]int{"slack": 2, "mail": 1, "gone": 5})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{"slack": 2, "mail": 1}, count(jobs)); d != "" {
		t.Errorf("Claim(slack 2, mail 1) per notifier mismatch (-want +got):\n%s", d)
	}
	for _, j := range jobs {
		if j.Notifier == "slack" && j.EventID != "ev-slack-0" && j.EventID != "ev-slack-1" {
			t.Errorf("Claim(slack 2) took %s, want the two oldest", j.EventID)
		}
	}
	jobs, err = s.Claim(t.Context(), at(time.Hour), 3, map[string]int{"slack": 10, "hook": 10})
	if err != nil {
		t.Fatal(err)
	}
	got := count(jobs)
	if len(jobs) != 3 || got["mail"] != 0 {
		t.Errorf("Claim(max 3; slack, hook) = %v, want 3 jobs of slack and hook", got)
	}
	if jobs, err = s.Claim(t.Context(), at(time.Hour), 10, map[string]int{"mail": 0}); err != nil || len(jobs) != 0 {
		t.Errorf("Claim(mail 0) = %v, %v, want none", routes(jobs), err)
	}
}

// testComplete: a completed job is gone; its sibling is not.
func testComplete(t *testing.T, o opener) {
	s := o.store(t)
	w := hook("w1", "ev1", "succeeded", at(0), "r/slack", "r/email")
	enqueue(t, s, w)
	jobs := sorted(claim(t, s, at(0), 10))
	if len(jobs) != 2 {
		t.Fatalf("Claim() = %v, want two jobs", routes(jobs))
	}
	must(t, "Complete()", s.Complete(t.Context(), jobs[0].ID, store.Done{}))
	if got, want := stats(t, s), (store.Stats{Pending: 1}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if err := s.Complete(t.Context(), jobs[0].ID, store.Done{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Complete() again = %v, want %v", err, store.ErrNotFound)
	}
	must(t, "Release()", s.Release(t.Context(), jobs[1].ID))
	if d := diff(jobs[1], claimOne(t, s, at(0))); d != "" {
		t.Errorf("Claim() of the sibling mismatch (-want +got):\n%s", d)
	}
}

// testRetry: Attempts+1, LastError, due again at next; FirstAt unchanged.
func testRetry(t *testing.T, o opener) {
	s := o.store(t)
	enqueue(t, s, hook("w1", "ev1", "failed", at(0), "r/slack"))
	want := claimOne(t, s, at(0))
	retries := []struct {
		next    time.Time
		lastErr string
	}{
		{at(time.Minute), "503 from slack"},
		{at(3 * time.Minute), "timeout"},
	}
	for i, r := range retries {
		must(t, "Retry()", s.Retry(t.Context(), want.ID, r.next, r.lastErr))
		if got := claim(t, s, r.next.Add(-time.Microsecond), 10); len(got) != 0 {
			t.Errorf("Claim() before the retry is due = %v, want none", routes(got))
		}
		want.Attempts, want.LastError, want.NextAt = i+1, r.lastErr, r.next
		if d := diff(want, claimOne(t, s, r.next)); d != "" {
			t.Errorf("Claim() after Retry(%v, %q) mismatch (-want +got):\n%s", r.next, r.lastErr, d)
		}
	}
}

// testPostpone: due again at next; Attempts and LastError unchanged.
func testPostpone(t *testing.T, o opener) {
	s := o.store(t)
	enqueue(t, s, hook("w1", "ev1", "failed", at(0), "r/slack"))
	want := claimOne(t, s, at(0))
	must(t, "Retry()", s.Retry(t.Context(), want.ID, at(time.Minute), "429"))
	want.Attempts, want.LastError = 1, "429"
	for _, next := range []time.Time{at(time.Hour), at(30 * time.Minute)} {
		claimOne(t, s, at(time.Hour))
		must(t, "Postpone()", s.Postpone(t.Context(), want.ID, next))
		if got := claim(t, s, next.Add(-time.Microsecond), 10); len(got) != 0 {
			t.Errorf("Claim() before the postponed time = %v, want none", routes(got))
		}
		want.NextAt = next
		if d := diff(want, claimOne(t, s, next)); d != "" {
			t.Errorf("Claim() after Postpone(%v) mismatch (-want +got):\n%s", next, d)
		}
		must(t, "Release()", s.Release(t.Context(), want.ID))
	}
}
