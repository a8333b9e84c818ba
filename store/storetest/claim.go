package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

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
		{name: "Complete", end: func(s store.Store, t *testing.T, id uint64) error { return s.Complete(t.Context(), id) }},
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

// testNextDue: the earliest due time among the pending jobs not leased.
func testNextDue(t *testing.T, o opener) {
	s := o.store(t)
	ctx := t.Context()
	var first, second store.Job
	steps := []struct {
		name   string
		do     func() error
		want   time.Time
		wantOK bool
	}{
		{name: "empty store", do: func() error { return nil }},
		{name: "two jobs", do: func() error {
			enqueue(t, s, hook("w2", "ev2", "failed", at(2*time.Second), "r/slack"))
			enqueue(t, s, hook("w1", "ev1", "failed", at(time.Second), "r/slack"))
			return nil
		}, want: at(time.Second), wantOK: true},
		{name: "first leased", do: func() error { first = claimOne(t, s, at(time.Second)); return nil },
			want: at(2 * time.Second), wantOK: true},
		{name: "both leased", do: func() error { second = claimOne(t, s, at(time.Hour)); return nil }},
		{name: "first released", do: func() error { return s.Release(ctx, first.ID) }, want: at(time.Second), wantOK: true},
		{name: "first postponed", do: func() error {
			claimOne(t, s, at(time.Second))
			return s.Postpone(ctx, first.ID, at(time.Hour))
		}, want: at(time.Hour), wantOK: true},
		{name: "second retried sooner", do: func() error { return s.Retry(ctx, second.ID, at(time.Minute), "503") },
			want: at(time.Minute), wantOK: true},
		{name: "second killed", do: func() error {
			claimOne(t, s, at(time.Minute))
			return s.Kill(ctx, second.ID, store.Kill{Reason: "gone", At: at(time.Minute)})
		}, want: at(time.Hour), wantOK: true},
		{name: "first completed", do: func() error {
			claimOne(t, s, at(time.Hour))
			return s.Complete(ctx, first.ID)
		}},
	}
	for _, st := range steps {
		must(t, st.name, st.do())
		got, ok, err := s.NextDue(ctx)
		if err != nil || ok != st.wantOK || !got.Equal(st.want) {
			t.Errorf("%s: NextDue() = %v, %t, %v, want %v, %t, nil", st.name, got, ok, err, st.want, st.wantOK)
		}
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
	must(t, "Complete()", s.Complete(t.Context(), jobs[0].ID))
	if got, want := stats(t, s), (store.Stats{Pending: 1}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if err := s.Complete(t.Context(), jobs[0].ID); !errors.Is(err, store.ErrNotFound) {
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
