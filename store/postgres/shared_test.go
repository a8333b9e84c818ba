package postgres

import (
	"sync"
	"testing"
	"time"
)

// TestPassTogether: two processes asking for a paced notifier's slot at
// the same instant share one pace: one gets it, the other when to ask
// again.
func TestPassTogether(t *testing.T) {
	schema := newSchema(t)
	dbs := []*DB{openClosed(t, schema, Options{}), openClosed(t, schema, Options{})}
	const every = 100 * time.Millisecond
	now := dbs[0].Now()
	type pass struct {
		n    int
		when time.Time
	}
	got := make(chan pass, len(dbs))
	var wg sync.WaitGroup
	for _, d := range dbs {
		wg.Go(func() {
			n, when, err := d.Pass(t.Context(), "slack", now, 5, every)
			if err != nil {
				t.Errorf("Pass() = %v", err)
			}
			got <- pass{n, when}
		})
	}
	wg.Wait()
	first, second := <-got, <-got
	if first.n == 0 {
		first, second = second, first
	}
	if first.n != 1 || !first.when.IsZero() || second.n != 0 || !second.when.Equal(now.Add(every)) {
		t.Errorf("Pass() by two processes at once = %+v and %+v, want {1 0} and {0 %v}", first, second, now.Add(every))
	}
	if n, _, err := dbs[1].Pass(t.Context(), "slack", now.Add(every), 5, every); err != nil || n != 1 {
		t.Errorf("Pass() at the next slot = %d, %v, want 1", n, err)
	}
}

// TestPause: a pause holds a notifier for every process, paced or not,
// and a later pause wins over an earlier one.
func TestPause(t *testing.T) {
	schema := newSchema(t)
	a, b := openClosed(t, schema, Options{}), openClosed(t, schema, Options{})
	ctx := t.Context()
	now := a.Now()
	if n, when, err := b.Pass(ctx, "mail", now, 3, 0); err != nil || n != 3 || !when.IsZero() {
		t.Errorf("Pass(not paced) = %d, %v, %v, want 3", n, when, err)
	}
	until := now.Add(time.Minute)
	must(t, "Pause()", a.Pause(ctx, "mail", until))
	must(t, "Pause(sooner)", a.Pause(ctx, "mail", now.Add(time.Second)))
	for _, every := range []time.Duration{0, time.Second} {
		if n, when, err := b.Pass(ctx, "mail", now, 3, every); err != nil || n != 0 || !when.Equal(until) {
			t.Errorf("Pass(every %v) while paused = %d, %v, %v, want 0 until %v", every, n, when, err, until)
		}
	}
	if n, _, err := b.Pass(ctx, "mail", until, 3, 0); err != nil || n != 3 {
		t.Errorf("Pass() when the pause ends = %d, %v, want 3", n, err)
	}
	if n, _, err := b.Pass(ctx, "other", now, 3, 0); err != nil || n != 3 {
		t.Errorf("Pass() of another notifier = %d, %v, want 3", n, err)
	}
}

// TestNow: the store's clock is the database's.
func TestNow(t *testing.T) {
	d := openClosed(t, newSchema(t), Options{})
	var before, after time.Time
	if err := testPool.QueryRow(t.Context(), "SELECT clock_timestamp()").Scan(&before); err != nil {
		t.Fatal(err)
	}
	now := d.Now()
	if err := testPool.QueryRow(t.Context(), "SELECT clock_timestamp()").Scan(&after); err != nil {
		t.Fatal(err)
	}
	// The offset is measured over a round trip: allow for a slow one.
	const slack = time.Second
	if now.Before(before.Add(-slack)) || now.After(after.Add(slack)) || now.Nanosecond()%1000 != 0 {
		t.Errorf("Now() = %v, want between %v and %v, in whole microseconds", now, before, after)
	}
}

// TestWoken: a process is woken when another queues jobs, and after its
// listening connection was lost and made again.
func TestWoken(t *testing.T) {
	schema := newSchema(t)
	a, b := openClosed(t, schema, Options{}), openClosed(t, schema, Options{})
	if _, err := a.Enqueue(t.Context(), webhook("w1", "ev1", at(0), "r/n")); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, b, "another process enqueued")

	if terminateStore(t, schema) == 0 {
		t.Fatal("no session to terminate")
	}
	waitWoken(t, b, "the listener reconnected")
	if _, err := a.Enqueue(t.Context(), webhook("w2", "ev2", at(0), "r/n")); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, b, "another process enqueued after the listener reconnected")
}
