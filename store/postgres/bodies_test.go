package postgres

import (
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// TestBodiesFreed: a stored webhook is deleted with its last job, dead
// letter or digest entry, whichever way each goes: an entry replaced or
// moved to another digest, a job completed, killed with a notice and
// dropped, a digest sent, killed, revived and completed.
func TestBodiesFreed(t *testing.T) {
	schema := newSchema(t)
	d := openClosed(t, schema, Options{})
	ctx := t.Context()
	count := func(table string) (n int) {
		t.Helper()
		if err := testPool.QueryRow(ctx, "SELECT count(*) FROM "+schema+"."+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	join := func(id, event, status, group string) {
		t.Helper()
		w := webhook(id, event, at(0))
		w.Status, w.Terminal = status, false
		w.Jobs = []store.NewJob{{Rule: "r", Notifier: "n", Digest: &store.DigestJoin{
			Group: group, Quiet: time.Minute, MaxWait: time.Hour, Max: 100}}}
		if _, err := d.Enqueue(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Enqueue(ctx, webhook("w1", "ev1", at(0), "r/a", "r/b")); err != nil {
		t.Fatal(err)
	}
	join("w2", "ev2", "starting", "g")
	join("w3", "ev2", "processing", "g") // replaces w2
	join("w4", "ev3", "starting", "h")
	join("w5", "ev3", "processing", "k") // moves out of h, which is dropped
	if n := count("webhooks"); n != 3 {
		t.Errorf("webhooks stored after two replaced entries = %d, want 3", n)
	}

	jobs, err := d.Claim(ctx, at(0), 10, nil)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("Claim() = %d jobs, %v, want 2", len(jobs), err)
	}
	must(t, "Complete()", d.Complete(ctx, jobs[0].ID, store.Done{}))
	notice := &store.NewJob{Rule: "on_dead", Notifier: "ops", NoDedupe: true}
	must(t, "Kill()", d.Kill(ctx, jobs[1].ID, store.Kill{Reason: "gone", At: at(0), Then: notice}))
	must(t, "Drop()", d.Drop(ctx, jobs[1].ID))
	completeAll(t, d, at(0), 1)

	if sent, err := d.FlushDigests(ctx, at(time.Hour)); err != nil || sent["quiet"] != 2 {
		t.Fatalf("FlushDigests() = %v, %v, want 2 sent", sent, err)
	}
	digests, err := d.Claim(ctx, at(time.Hour), 10, nil)
	if err != nil || len(digests) != 2 {
		t.Fatalf("Claim() = %d digest jobs, %v, want 2", len(digests), err)
	}
	must(t, "Complete()", d.Complete(ctx, digests[0].ID, store.Done{}))
	must(t, "Kill()", d.Kill(ctx, digests[1].ID, store.Kill{Reason: "gone", At: at(time.Hour)}))
	must(t, "Revive()", d.Revive(ctx, digests[1].ID, at(time.Hour)))
	completeAll(t, d, at(time.Hour), 1)

	for _, table := range []string{"webhooks", "jobs", "digests", "digest_events"} {
		if n := count(table); n != 0 {
			t.Errorf("rows left in %s = %d, want 0", table, n)
		}
	}
}

// completeAll claims the want jobs due at now and completes them.
func completeAll(t *testing.T, d *DB, now time.Time, want int) {
	t.Helper()
	jobs, err := d.Claim(t.Context(), now, 10, nil)
	if err != nil || len(jobs) != want {
		t.Fatalf("Claim() = %d jobs, %v, want %d", len(jobs), err, want)
	}
	for _, j := range jobs {
		must(t, "Complete()", d.Complete(t.Context(), j.ID, store.Done{}))
	}
}
