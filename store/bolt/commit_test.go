package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// enqueueAll enqueues n webhooks concurrently, one job each, and returns
// the number of jobs accepted.
func enqueueAll(t *testing.T, d *DB, n int) int {
	t.Helper()
	var mu sync.Mutex
	accepted := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := d.Enqueue(context.Background(), hook(fmt.Sprint("w", i), fmt.Sprint("ev", i), "failed", t0, "r/slack"))
			if err != nil {
				t.Errorf("Enqueue(%d) = %v", i, err)
			}
			mu.Lock()
			accepted += res.Accepted
			mu.Unlock()
		})
	}
	wg.Wait()
	return accepted
}

// TestGroupCommitRatio reports how 64 concurrent callers shared commits when
// nothing holds the committer (timing-dependent: logged, not asserted).
func TestGroupCommitRatio(t *testing.T) {
	d := openTest(t, Options{})
	const n = 64
	if got := enqueueAll(t, d, n); got != n {
		t.Errorf("accepted = %d, want %d", got, n)
	}
	commits := d.commits.Load()
	t.Logf("%d requests in %d commits (%.1f per commit)", n, commits, float64(n)/float64(commits))
}

// TestGroupCommit holds the first of 64 commits while 63 more callers
// queue: they must all share the second.
func TestGroupCommit(t *testing.T) {
	d := openTest(t, Options{})
	g := gate(d)
	first := make(chan error, 1)
	go func() {
		_, err := d.Enqueue(context.Background(), hook("blocker", "ev", "failed", t0, "r/email"))
		first <- err
	}()
	g.held()
	done := make(chan int)
	go func() { done <- enqueueAll(t, d, 63) }()
	g.release(63)
	if err := <-first; err != nil {
		t.Fatalf("Enqueue(blocker) = %v", err)
	}
	if got := <-done; got != 63 {
		t.Errorf("accepted = %d, want 63", got)
	}
	if got := d.commits.Load(); got != 2 {
		t.Errorf("commits = %d, want 2", got)
	}
	if got := keyCount(t, d, bucketJobs); got != 64 {
		t.Errorf("jobs = %d, want 64", got)
	}
}

// TestEnqueueContextEnds checks that a caller whose ctx ends before its
// commit starts gets the ctx error and nothing is recorded.
func TestEnqueueContextEnds(t *testing.T) {
	d := openTest(t, Options{})
	g := gate(d)
	first := make(chan error, 1)
	go func() {
		_, err := d.Enqueue(context.Background(), hook("w1", "ev1", "failed", t0, "r/slack"))
		first <- err
	}()
	g.held()
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := d.Enqueue(ctx, hook("w2", "ev2", "failed", t0, "r/slack"))
		second <- err
	}()
	g.queued(1) // w2 waits behind the held commit
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("Enqueue(canceled) = %v, want %v", err, context.Canceled)
	}
	g.release(0)
	if err := <-first; err != nil {
		t.Errorf("Enqueue(w1) = %v", err)
	}
	// w2 was abandoned: a later commit skips it.
	mustEnqueue(t, d, hook("w3", "ev3", "starting", t0))
	jobs := mustClaim(t, d, t0, 10)
	if len(jobs) != 1 || jobs[0].WebhookID != "w1" {
		t.Errorf("Claim() = %+v, want only w1's job", jobs)
	}
	if _, err := d.Enqueue(ctx, hook("w4", "ev4", "failed", t0, "r/slack")); !errors.Is(err, context.Canceled) {
		t.Errorf("Enqueue(done ctx) = %v, want %v", err, context.Canceled)
	}
}

// TestJobOpsShareCommits: Complete and Retry go through the committer and
// share a transaction with webhooks; a missing job fails only its caller.
func TestJobOpsShareCommits(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{})
	mustEnqueue(t, d, hook("w1", "ev1", "failed", t0, "r/a", "r/b"))
	jobs := mustClaim(t, d, t0, 10)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d jobs, want 2", len(jobs))
	}
	before := d.commits.Load()
	g := gate(d)
	first := make(chan error, 1)
	go func() {
		_, err := d.Enqueue(ctx, hook("blocker", "ev0", "failed", t0, "r/a"))
		first <- err
	}()
	g.held()
	errs := make(chan error, 3)
	go func() { errs <- d.Complete(ctx, jobs[0].ID, store.Done{}) }()
	go func() { errs <- d.Retry(ctx, jobs[1].ID, t0.Add(time.Minute), "503") }()
	go func() { errs <- d.Complete(ctx, 9999, store.Done{}) }()
	g.release(3)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	var notFound, ok int
	for range 3 {
		switch err := <-errs; {
		case errors.Is(err, store.ErrNotFound):
			notFound++
		case err == nil:
			ok++
		default:
			t.Errorf("op error = %v", err)
		}
	}
	if ok != 2 || notFound != 1 {
		t.Errorf("ok = %d, not found = %d, want 2 and 1", ok, notFound)
	}
	if got := d.commits.Load() - before; got != 2 {
		t.Errorf("commits = %d, want 2 (the blocker, then the three ops together)", got)
	}
	if got := keyCount(t, d, bucketJobs); got != 2 { // the retried one and the blocker's
		t.Errorf("jobs = %d, want 2", got)
	}
}
