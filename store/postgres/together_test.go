package postgres

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// TestEnqueueTogether: two processes recording the same webhook at once,
// from many goroutines each, record it once.
func TestEnqueueTogether(t *testing.T) {
	schema := newSchema(t)
	dbs := []*DB{openClosed(t, schema, Options{}), openClosed(t, schema, Options{})}
	const goroutines = 20
	w := webhook("w1", "ev1", at(0), "r/slack", "r/email")
	results := make(chan store.Enqueued, 2*goroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, d := range dbs {
		for range goroutines {
			wg.Go(func() {
				<-start
				res, err := d.Enqueue(t.Context(), w)
				if err != nil {
					t.Errorf("Enqueue() = %v", err)
				}
				results <- res
			})
		}
	}
	close(start)
	wg.Wait()
	close(results)
	accepted, duplicates := 0, 0
	for res := range results {
		switch res {
		case store.Enqueued{Accepted: 2}:
			accepted++
		case store.Enqueued{Duplicate: true}:
			duplicates++
		default:
			t.Errorf("Enqueue() = %+v, want 2 accepted or a duplicate", res)
		}
	}
	if accepted != 1 || duplicates != 2*goroutines-1 {
		t.Errorf("accepted %d times, duplicate %d times, want 1 and %d", accepted, duplicates, 2*goroutines-1)
	}
	if st, err := dbs[1].Stats(t.Context()); err != nil || st.Pending != 2 {
		t.Errorf("Stats() = %+v, %v, want 2 pending", st, err)
	}
}

// TestKeyTogether: two processes, each with several workers, claiming and
// completing the jobs of a few Keys never hold two jobs of one Key at
// once, and complete them in order.
func TestKeyTogether(t *testing.T) {
	schema := newSchema(t)
	dbs := []*DB{openClosed(t, schema, Options{}), openClosed(t, schema, Options{})}
	const keys, perKey, workers = 3, 8, 3
	for i := range perKey {
		for k := range keys {
			w := webhook(fmt.Sprintf("w%d-%d", k, i), fmt.Sprintf("ev%d", k), at(time.Duration(i)), "r/live")
			w.Status, w.Terminal = fmt.Sprint("status", i), false
			w.Jobs[0].Key = fmt.Sprint("key", k)
			if _, err := dbs[0].Enqueue(t.Context(), w); err != nil {
				t.Fatal(err)
			}
		}
	}
	kt := keyTracker{holder: map[string]uint64{}, done: map[string][]uint64{}}
	var wg sync.WaitGroup
	for _, d := range dbs {
		for range workers {
			wg.Go(func() {
				for !t.Failed() && kt.finished() < keys*perKey {
					jobs, err := d.Claim(t.Context(), at(time.Hour), 2, nil)
					if err != nil {
						t.Errorf("Claim() = %v", err)
						return
					}
					if len(jobs) == 0 {
						time.Sleep(time.Millisecond) // another worker holds what is left
					}
					kt.claimed(t, jobs)
					for _, j := range jobs {
						kt.completing(j)
						if err := d.Complete(t.Context(), j.ID, store.Done{}); err != nil {
							t.Errorf("Complete(%d) = %v", j.ID, err)
						}
					}
				}
			})
		}
	}
	wg.Wait()
	for key, ids := range kt.done {
		if !slices.IsSorted(ids) {
			t.Errorf("jobs of %s completed in the order %v, want ascending", key, ids)
		}
	}
}

// keyTracker follows which job of each Key is held by the workers of
// TestKeyTogether.
type keyTracker struct {
	mu     sync.Mutex
	holder map[string]uint64   // Key → the job held now
	done   map[string][]uint64 // Key → jobs completed, in order
}

// claimed records jobs as held, failing t if one of their Key already is.
func (k *keyTracker) claimed(t *testing.T, jobs []store.Job) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, j := range jobs {
		if other, ok := k.holder[j.Key]; ok {
			t.Errorf("job %d of %s claimed while job %d of it is held", j.ID, j.Key, other)
		}
		k.holder[j.Key] = j.ID
	}
}

// completing records j as done, just before its Complete: its lease lasts
// until that commits, so no other job of its Key can be claimed before.
func (k *keyTracker) completing(j store.Job) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.holder, j.Key)
	k.done[j.Key] = append(k.done[j.Key], j.ID)
}

// finished counts the jobs done.
func (k *keyTracker) finished() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, ids := range k.done {
		n += len(ids)
	}
	return n
}

// TestLeaseLost: when a lease has ended and another process claimed the
// job, the first cannot finish it.
func TestLeaseLost(t *testing.T) {
	schema := newSchema(t)
	a, b := openClosed(t, schema, Options{Lease: time.Hour}), openClosed(t, schema, Options{Lease: time.Hour})
	ctx := t.Context()
	if _, err := a.Enqueue(ctx, webhook("w1", "ev1", at(0), "r/n")); err != nil {
		t.Fatal(err)
	}
	first, err := a.Claim(ctx, at(0), 1, nil)
	if err != nil || len(first) != 1 {
		t.Fatalf("Claim() = %d jobs, %v", len(first), err)
	}
	if got, err := b.Claim(ctx, at(0), 1, nil); err != nil || len(got) != 0 {
		t.Fatalf("Claim() of a leased job = %d jobs, %v, want none", len(got), err)
	}
	exec(t, "UPDATE "+schema+".jobs SET lease_until = now() - interval '1 second'")
	second, err := b.Claim(ctx, at(0), 1, nil)
	if err != nil || len(second) != 1 || second[0].ID != first[0].ID {
		t.Fatalf("Claim() after the lease ended = %v, %v, want job %d", second, err, first[0].ID)
	}
	ends := []struct {
		name string
		end  func() error
	}{
		{"Complete", func() error { return a.Complete(ctx, first[0].ID, store.Done{}) }},
		{"Retry", func() error { return a.Retry(ctx, first[0].ID, at(time.Hour), "late") }},
		{"Release", func() error { return a.Release(ctx, first[0].ID) }},
		{"Postpone", func() error { return a.Postpone(ctx, first[0].ID, at(time.Hour)) }},
		{"Kill", func() error { return a.Kill(ctx, first[0].ID, store.Kill{Reason: "late", At: at(time.Hour)}) }},
	}
	for _, e := range ends {
		if err := e.end(); !errors.Is(err, ErrLeaseLost) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s() by the process that lost the lease = %v, want %v (a %v)", e.name, err, ErrLeaseLost, store.ErrNotFound)
		}
	}
	must(t, "Complete() by the holder", b.Complete(ctx, second[0].ID, store.Done{}))
}

// TestLeaseRenewed: the process holding a job renews its lease.
func TestLeaseRenewed(t *testing.T) {
	schema := newSchema(t)
	d := openClosed(t, schema, Options{Lease: time.Second})
	ctx := t.Context()
	if _, err := d.Enqueue(ctx, webhook("w1", "ev1", at(0), "r/n")); err != nil {
		t.Fatal(err)
	}
	jobs, err := d.Claim(ctx, at(0), 1, nil)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Claim() = %d jobs, %v", len(jobs), err)
	}
	leaseUntil := func() (until time.Time) {
		if err := testPool.QueryRow(ctx, "SELECT lease_until FROM "+schema+".jobs").Scan(&until); err != nil {
			t.Fatal(err)
		}
		return until
	}
	first := leaseUntil()
	eventually(t, "the lease to be renewed", func() bool { return leaseUntil().After(first) })
	must(t, "Complete()", d.Complete(ctx, jobs[0].ID, store.Done{}))
}

// TestProcessDies: the jobs of a process that stopped renewing its leases
// (killed) are claimed by another once the leases end.
func TestProcessDies(t *testing.T) {
	schema := newSchema(t)
	a, b := open(t, schema, Options{Lease: time.Second}), openClosed(t, schema, Options{Lease: time.Second})
	ctx := t.Context()
	if _, err := a.Enqueue(ctx, webhook("w1", "ev1", at(0), "r/n")); err != nil {
		t.Fatal(err)
	}
	held, err := a.Claim(ctx, at(0), 1, nil)
	if err != nil || len(held) != 1 {
		t.Fatalf("Claim() = %d jobs, %v", len(held), err)
	}
	a.kill()
	var got []store.Job
	eventually(t, "the dead process's job to be claimed", func() bool {
		got, err = b.Claim(ctx, at(0), 1, nil)
		return err != nil || len(got) > 0
	})
	if err != nil || got[0].ID != held[0].ID || got[0].Attempts != 0 {
		t.Fatalf("Claim() = %+v, %v, want job %d again", got, err, held[0].ID)
	}
}

// kill stops d as a killed process stops: no more renewals, no release.
func (d *DB) kill() {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	d.closed = true
	d.stop()
	d.bg.Wait()
	d.pool.Close()
}

// TestFlushTogether: two processes sending the due digests at once send
// each once.
func TestFlushTogether(t *testing.T) {
	schema := newSchema(t)
	a, b := openClosed(t, schema, Options{}), openClosed(t, schema, Options{})
	ctx := t.Context()
	const digests = 20
	for i := range digests {
		w := webhook(fmt.Sprint("w", i), fmt.Sprint("ev", i), at(0))
		w.Jobs = []store.NewJob{{Rule: "r", Notifier: "n", Digest: &store.DigestJoin{
			Group: fmt.Sprint("g", i), Quiet: time.Minute, MaxWait: time.Hour, Max: 100}}}
		if _, err := a.Enqueue(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	sent := make(chan map[string]int, 2)
	var wg sync.WaitGroup
	for _, d := range []*DB{a, b} {
		wg.Go(func() {
			s, err := d.FlushDigests(ctx, at(time.Minute))
			if err != nil {
				t.Errorf("FlushDigests() = %v", err)
			}
			sent <- s
		})
	}
	wg.Wait()
	if n := (<-sent)["quiet"] + (<-sent)["quiet"]; n != digests {
		t.Errorf("FlushDigests() by two processes sent %d digests, want %d", n, digests)
	}
	jobs, err := b.Claim(ctx, at(time.Minute), 100, nil)
	if err != nil || len(jobs) != digests {
		t.Errorf("Claim() = %d digest jobs, %v, want %d", len(jobs), err, digests)
	}
}

// TestJoinTogether: processes joining one digest at once, faster than it
// is sent, lose no event and never make a digest hold more than Max.
func TestJoinTogether(t *testing.T) {
	schema := newSchema(t)
	dbs := []*DB{openClosed(t, schema, Options{}), openClosed(t, schema, Options{})}
	const perDB, max = 10, 3
	var wg sync.WaitGroup
	for i, d := range dbs {
		for k := range perDB {
			wg.Go(func() {
				w := webhook(fmt.Sprintf("w%d-%d", i, k), fmt.Sprintf("ev%d-%d", i, k), at(0))
				w.Jobs = []store.NewJob{{Rule: "r", Notifier: "n", Digest: &store.DigestJoin{
					Quiet: time.Minute, MaxWait: time.Hour, Max: max}}}
				if res, err := d.Enqueue(t.Context(), w); err != nil || res.Accepted != 1 {
					t.Errorf("Enqueue() = %+v, %v, want 1 accepted", res, err)
				}
			})
		}
	}
	wg.Wait()
	if _, err := dbs[0].FlushDigests(t.Context(), at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	jobs, err := dbs[1].Claim(t.Context(), at(time.Hour), 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]bool{}
	for _, j := range jobs {
		if n := len(j.Digest.Events); n > max || n == 0 {
			t.Errorf("digest %d holds %d events, want 1 to %d", j.ID, n, max)
		}
		for _, e := range j.Digest.Events {
			events[e.EventID] = true
		}
	}
	if len(events) != 2*perDB {
		t.Errorf("digests sent hold %d distinct events, want %d", len(events), 2*perDB)
	}
}
