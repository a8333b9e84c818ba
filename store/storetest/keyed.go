package storetest

import (
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// keyed builds webhook id of event at status with one job for notifier,
// ordered under key.
func keyed(id, event, status string, when time.Time, notifier, key string) store.Webhook {
	w := hook(id, event, status, when)
	w.Jobs = []store.NewJob{{Rule: "r", Notifier: notifier, Key: key, NoDedupe: status == "starting" || status == "processing"}}
	return w
}

// testKeyOrder: of the jobs of one Key, only the earliest pending one is
// claimable, one at a time; a job waiting for its retry holds the later
// ones back; a dead letter does not; other keys go on meanwhile.
func testKeyOrder(t *testing.T, o opener) {
	s := o.store(t)
	ctx := t.Context()
	enqueue(t, s, keyed("w1", "ev1", "starting", at(0), "live", "ev1/live"))
	enqueue(t, s, keyed("w2", "ev1", "processing", at(time.Second), "live", "ev1/live"))
	enqueue(t, s, keyed("w3", "ev1", "succeeded", at(2*time.Second), "live", "ev1/live"))
	enqueue(t, s, keyed("w4", "ev2", "starting", at(3*time.Second), "live", "ev2/live"))
	now := at(time.Hour)
	jobs := claim(t, s, now, 10)
	if got := statuses(jobs); len(jobs) != 2 || got["ev1"] != "starting" || got["ev2"] != "starting" {
		t.Fatalf("Claim() = %v, want the first job of each key only", routes(jobs))
	}
	first := jobOf(jobs, "ev1")
	if first.Key != "ev1/live" || first.Later != 2 {
		t.Errorf("Claim() gave Key %q, Later %d, want %q, 2", first.Key, first.Later, "ev1/live")
	}
	if more := claim(t, s, now, 10); len(more) != 0 {
		t.Errorf("Claim() while each key's job is leased = %v, want none", routes(more))
	}
	// A retry holds the key until it is due again.
	must(t, "Retry", s.Retry(ctx, first.ID, at(2*time.Hour), "503"))
	if more := claim(t, s, now, 10); len(more) != 0 {
		t.Errorf("Claim() while the key's first job waits for its retry = %v, want none", routes(more))
	}
	again := claimOneOf(t, s, at(2*time.Hour), "live")
	if again.ID != first.ID || again.Later != 2 {
		t.Fatalf("Claim() after the retry fell due = %v (Later %d), want the first job again", routes([]store.Job{again}), again.Later)
	}
	// Killed, it no longer holds the key.
	must(t, "Kill", s.Kill(ctx, again.ID, store.Kill{Reason: "gone", At: at(2 * time.Hour)}))
	next := claimOneOf(t, s, at(2*time.Hour), "live")
	if next.Status != "processing" || next.Later != 1 {
		t.Fatalf("Claim() after the first was killed = %s (Later %d), want processing (Later 1)", next.Status, next.Later)
	}
	must(t, "Complete", s.Complete(ctx, next.ID, store.Done{}))
	last := claimOneOf(t, s, at(2*time.Hour), "live")
	if last.Status != "succeeded" || last.Later != 0 {
		t.Errorf("Claim() of the last = %s (Later %d), want succeeded (Later 0)", last.Status, last.Later)
	}
}

// testLive: Complete keeps the live record of the job's Key, and every
// later job of that Key is claimed with it; Done.Then is enqueued in the
// same transaction, under the same Key; records survive a reopen.
func testLive(t *testing.T, o opener) {
	s := o.store(t)
	ctx := t.Context()
	enqueue(t, s, keyed("w1", "ev1", "starting", at(0), "live", "ev1/live"))
	enqueue(t, s, keyed("w2", "ev1", "succeeded", at(time.Second), "live", "ev1/live"))
	enqueue(t, s, keyed("w3", "ev2", "starting", at(0), "other", "ev2/other"))
	now := at(time.Minute)
	j := claimOneOf(t, s, now, "live")
	if j.Live != nil {
		t.Fatalf("first job of a key: Live = %+v, want nil", j.Live)
	}
	rec := &store.Live{Ref: []byte(`{"channel":"C1","ts":"1.1"}`), Rank: 0}
	must(t, "Complete", s.Complete(ctx, j.ID, store.Done{Live: rec}))
	s = o.reopen(t, s)
	var final store.Job
	for _, job := range claim(t, s, now, 10) {
		if job.EventID == "ev1" {
			final = job
		} else if job.Live != nil {
			t.Errorf("job of another key: Live = %+v, want nil", job.Live)
		}
	}
	if final.Live == nil || string(final.Live.Ref) != string(rec.Ref) || final.Live.Rank != 0 {
		t.Fatalf("next job of the key after a reopen: Live = %+v, want %+v", final.Live, rec)
	}
	thread := &store.NewJob{Rule: "r", Notifier: "live", NoDedupe: true, Extra: []byte("thread")}
	must(t, "Complete", s.Complete(ctx, final.ID, store.Done{Live: &store.Live{Ref: rec.Ref, Rank: 2}, Then: thread}))
	reply := claimOneOf(t, s, now, "live")
	if reply.EventID != "ev1" || reply.Status != "succeeded" || string(reply.Extra) != "thread" || reply.Key != "ev1/live" ||
		reply.Live == nil || reply.Live.Rank != 2 || string(reply.Body) != string(final.Body) {
		t.Errorf("Done.Then = %+v, want ev1's succeeded webhook, Extra thread, Key ev1/live, Live rank 2", reply)
	}
}

// testLiveExpiry: a live record expires with the dedupe window, swept.
func testLiveExpiry(t *testing.T, o opener) {
	s := o.store(t)
	ctx := t.Context()
	enqueue(t, s, keyed("w1", "ev1", "starting", at(0), "live", "ev1/live"))
	j := claimOne(t, s, at(0))
	must(t, "Complete", s.Complete(ctx, j.ID, store.Done{Live: &store.Live{Ref: []byte("r"), Rank: 0}}))
	if _, err := s.Sweep(ctx, at(DedupeFor+time.Hour)); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, keyed("w2", "ev1", "processing", at(DedupeFor+2*time.Hour), "live", "ev1/live"))
	if j := claimOne(t, s, at(DedupeFor+2*time.Hour)); j.Live != nil {
		t.Errorf("after the record expired: Live = %+v, want nil", j.Live)
	}
}

func statuses(jobs []store.Job) map[string]string {
	m := map[string]string{}
	for _, j := range jobs {
		m[j.EventID] = j.Status
	}
	return m
}

func jobOf(jobs []store.Job, event string) store.Job {
	for _, j := range jobs {
		if j.EventID == event {
			return j
		}
	}
	return store.Job{}
}
