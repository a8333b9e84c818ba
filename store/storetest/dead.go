package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// A dead letter's NextAt is left out of comparisons: the contract does not
// say what it is.
const deadNextAt = "NextAt"

// testKill: the job becomes a dead letter (Attempts+1 when attempted, the
// reason, DeadAt), and k.Then is enqueued for its webhook, due at k.At.
func testKill(t *testing.T, o opener) {
	then := &store.NewJob{Rule: "on_dead", Notifier: "ops", NoDedupe: true, Extra: []byte("notice\x00\xff")}
	tests := []struct {
		name         string
		retries      int // failed attempts recorded before the kill
		attempted    bool
		then         *store.NewJob
		wantAttempts int
	}{
		{name: "attempted", attempted: true, wantAttempts: 1},
		{name: "not attempted", wantAttempts: 0},
		{name: "attempted after retries", retries: 2, attempted: true, wantAttempts: 3},
		{name: "not attempted after retries, then a notice", retries: 2, then: then, wantAttempts: 2},
		{name: "attempted, then a notice", attempted: true, then: then, wantAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := o.store(t)
			w := hook("w1", "ev1", "failed", at(0), "r/slack")
			w.Jobs[0].Extra = []byte("job extra")
			enqueue(t, s, w)
			job := claimOne(t, s, at(0))
			for i := range tt.retries {
				must(t, "Retry()", s.Retry(t.Context(), job.ID, at(0), fmt.Sprint("error ", i)))
				job = claimOne(t, s, at(0))
			}
			deadAt := at(time.Minute)
			k := store.Kill{Reason: "channel_not_found", Attempted: tt.attempted, At: deadAt, Then: tt.then}
			must(t, "Kill()", s.Kill(t.Context(), job.ID, k))

			want := dead(job, tt.wantAttempts, k.Reason, deadAt)
			if d := diff([]store.Job{want}, deadLetters(t, s), deadNextAt); d != "" {
				t.Errorf("Dead() mismatch (-want +got):\n%s", d)
			}
			var wantThen []store.Job
			if tt.then != nil {
				n := pending(w, *tt.then)
				n.FirstAt, n.NextAt = deadAt, deadAt
				wantThen = append(wantThen, n)
			}
			got := claim(t, s, deadAt, 10)
			if d := diff(wantThen, got, "ID"); d != "" {
				t.Errorf("Claim() after Kill() mismatch (-want +got):\n%s", d)
			}
			if len(got) == 1 && got[0].ID == job.ID {
				t.Errorf("Then job has the dead letter's id %d", job.ID)
			}
		})
	}
}

// testDead: dead letters listed by DeadAt, oldest first, without bodies.
func testDead(t *testing.T, o opener) {
	s := o.store(t)
	if got := deadLetters(t, s); len(got) != 0 {
		t.Errorf("Dead() of an empty store = %v, want none", routes(got))
	}
	enqueue(t, s, hook("w1", "ev1", "failed", at(0), "r/a", "r/b"))
	enqueue(t, s, hook("w2", "ev2", "failed", at(time.Second), "r/c"))
	jobs := sorted(claim(t, s, at(time.Second), 10)) // r/a, r/b, r/c
	if len(jobs) != 3 {
		t.Fatalf("Claim() = %v, want 3 jobs", routes(jobs))
	}
	// Killed in claim order, dead in another: c first, then a, then b.
	deadAt := []time.Time{at(2 * time.Hour), at(3 * time.Hour), at(time.Hour)}
	for i, j := range jobs {
		must(t, "Kill()", s.Kill(t.Context(), j.ID, store.Kill{Reason: fmt.Sprint("reason ", i), At: deadAt[i]}))
	}
	want := []store.Job{
		dead(jobs[2], 0, "reason 2", deadAt[2]),
		dead(jobs[0], 0, "reason 0", deadAt[0]),
		dead(jobs[1], 0, "reason 1", deadAt[1]),
	}
	// want has no bodies: a body in the listing is a difference.
	if d := diff(want, deadLetters(t, s), deadNextAt); d != "" {
		t.Errorf("Dead() mismatch (-want +got):\n%s", d)
	}
}

// testDeadLetter: one dead letter by id, without its body; ErrNotFound
// for a pending job or an unknown id.
func testDeadLetter(t *testing.T, o opener) {
	s := o.store(t)
	enqueue(t, s, hook("w1", "ev1", "failed", at(0), "r/a", "r/b"))
	jobs := sorted(claim(t, s, at(0), 10))
	if len(jobs) != 2 {
		t.Fatalf("Claim() = %v, want 2 jobs", routes(jobs))
	}
	must(t, "Kill()", s.Kill(t.Context(), jobs[0].ID, store.Kill{Reason: "gone", Attempted: true, At: at(time.Minute)}))
	got, err := s.DeadLetter(t.Context(), jobs[0].ID)
	if err != nil {
		t.Fatalf("DeadLetter(%d) = %v, want nil error", jobs[0].ID, err)
	}
	if d := diff(dead(jobs[0], 1, "gone", at(time.Minute)), got, deadNextAt); d != "" {
		t.Errorf("DeadLetter(%d) mismatch (-want +got):\n%s", jobs[0].ID, d)
	}
	if d := diff(deadLetters(t, s), []store.Job{got}); d != "" {
		t.Errorf("DeadLetter() and Dead() disagree (-Dead +DeadLetter):\n%s", d)
	}
	for _, id := range []uint64{jobs[1].ID, unknownID(jobs[0].ID, jobs[1].ID)} {
		if _, err := s.DeadLetter(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeadLetter(%d) = %v, want %v", id, err, store.ErrNotFound)
		}
	}
}

// testRevive: the dead letter goes back to the queue under its id, due at
// now, with Attempts 0 and FirstAt now; its last error, Extra and body kept.
func testRevive(t *testing.T, o opener) {
	s := o.store(t)
	w := hook("w1", "ev1", "failed", at(0), "r/slack")
	w.Jobs[0].Extra = []byte("extra")
	enqueue(t, s, w)
	job := claimOne(t, s, at(0))
	must(t, "Retry()", s.Retry(t.Context(), job.ID, at(0), "503"))
	claimOne(t, s, at(0))
	must(t, "Kill()", s.Kill(t.Context(), job.ID, store.Kill{Reason: "gone", Attempted: true, At: at(time.Minute)}))

	now := at(time.Hour)
	must(t, "Revive()", s.Revive(t.Context(), job.ID, now))
	if got := deadLetters(t, s); len(got) != 0 {
		t.Errorf("Dead() after Revive() = %v, want none", routes(got))
	}
	if _, err := s.DeadLetter(t.Context(), job.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeadLetter(%d) after Revive() = %v, want %v", job.ID, err, store.ErrNotFound)
	}
	if got := claim(t, s, now.Add(-time.Microsecond), 10); len(got) != 0 {
		t.Errorf("Claim() before the revival = %v, want none", routes(got))
	}
	want := job
	want.Attempts, want.LastError, want.FirstAt, want.NextAt = 0, "gone", now, now
	if d := diff(want, claimOne(t, s, now)); d != "" {
		t.Errorf("Claim() after Revive() mismatch (-want +got):\n%s", d)
	}
	if err := s.Revive(t.Context(), job.ID, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Revive(%d) again = %v, want %v", job.ID, err, store.ErrNotFound)
	}
}

// testDrop: the dead letter is deleted, the others kept.
func testDrop(t *testing.T, o opener) {
	s := o.store(t)
	enqueue(t, s, hook("w1", "ev1", "failed", at(0), "r/a", "r/b"))
	jobs := sorted(claim(t, s, at(0), 10))
	if len(jobs) != 2 {
		t.Fatalf("Claim() = %v, want 2 jobs", routes(jobs))
	}
	for i, j := range jobs {
		must(t, "Kill()", s.Kill(t.Context(), j.ID, store.Kill{Reason: "gone", At: at(time.Duration(i) * time.Minute)}))
	}
	must(t, "Drop()", s.Drop(t.Context(), jobs[0].ID))
	if d := diff([]store.Job{dead(jobs[1], 0, "gone", at(time.Minute))}, deadLetters(t, s), deadNextAt); d != "" {
		t.Errorf("Dead() after Drop() mismatch (-want +got):\n%s", d)
	}
	if _, err := s.DeadLetter(t.Context(), jobs[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeadLetter(%d) after Drop() = %v, want %v", jobs[0].ID, err, store.ErrNotFound)
	}
	if err := s.Drop(t.Context(), jobs[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Drop(%d) again = %v, want %v", jobs[0].ID, err, store.ErrNotFound)
	}
	if got, want := stats(t, s), (store.Stats{Dead: 1}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if got := claim(t, s, at(time.Hour), 10); len(got) != 0 {
		t.Errorf("Claim() after Drop() = %v, want none", routes(got))
	}
}
