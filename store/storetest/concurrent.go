package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/hooknote/hooknote/store"
)

// testEnqueueConcurrently sends webhooks from many goroutines at once:
// the totals are exact, and a duplicate is detected whichever goroutine
// recorded the original.
func testEnqueueConcurrently(t *testing.T, o opener) {
	s := o.store(t)
	const senders, events = 64, 8
	type result struct {
		first, again store.Enqueued
	}
	results := make([]result, senders)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			// Sender i shares its event (and so its job keys) with
			// senders/events-1 others, and sends its own webhook twice.
			w := hook(fmt.Sprint("w", i), fmt.Sprint("ev", i%events), "failed", at(0), "r/slack", "r/email")
			<-start
			for _, r := range []*store.Enqueued{&results[i].first, &results[i].again} {
				res, err := s.Enqueue(t.Context(), w)
				if err != nil {
					t.Errorf("Enqueue(%q) = %v, want nil error", w.WebhookID, err)
				}
				*r = res
			}
		})
	}
	close(start)
	wg.Wait()

	accepted, duplicates := 0, 0
	for i, r := range results {
		accepted += r.first.Accepted
		if r.first.Duplicate {
			duplicates++
		}
		if r.again != (store.Enqueued{Duplicate: true}) {
			t.Errorf("Enqueue(%q) again = %+v, want {Duplicate:true}", fmt.Sprint("w", i), r.again)
		}
	}
	if accepted != 2*events || duplicates != senders-events {
		t.Errorf("accepted, duplicates = %d, %d, want %d, %d", accepted, duplicates, 2*events, senders-events)
	}
	if got, want := stats(t, s), (store.Stats{Pending: 2 * events}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	jobs := claim(t, s, at(0), 10*senders)
	ids(t, jobs)
	keys := make(map[string]int)
	for _, j := range jobs {
		keys[j.EventID+" "+j.Rule+"/"+j.Notifier]++
	}
	if len(jobs) != 2*events || len(keys) != 2*events {
		t.Errorf("Claim() = %d jobs with %d distinct (event, route), want %d of each", len(jobs), len(keys), 2*events)
	}
}

// testClaimConcurrently has workers claim and complete while webhooks
// arrive: every job is claimed exactly once.
func testClaimConcurrently(t *testing.T, o opener) {
	s := o.store(t)
	const n, workers = 200, 8
	var (
		mu       sync.Mutex
		claimed  = make(map[uint64]int)
		enqueued = make(chan struct{}) // closed when every webhook is in
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		defer close(enqueued)
		for i := range n {
			if _, err := s.Enqueue(t.Context(), hook(fmt.Sprint("w", i), fmt.Sprint("ev", i), "failed", at(0), "r/slack")); err != nil {
				t.Errorf("Enqueue(%d) = %v, want nil error", i, err)
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for !t.Failed() {
				last := isClosed(enqueued) // then no job claimed means none left
				jobs, err := s.Claim(t.Context(), at(0), 3, nil)
				if err != nil {
					t.Errorf("Claim() = %v, want nil error", err)
				}
				if len(jobs) == 0 {
					if last {
						return
					}
					runtime.Gosched()
				}
				for _, j := range jobs {
					mu.Lock()
					claimed[j.ID]++
					again := claimed[j.ID] > 1
					mu.Unlock()
					if again {
						t.Errorf("job %d claimed again", j.ID)
					}
					if err := s.Complete(t.Context(), j.ID, store.Done{}); err != nil {
						t.Errorf("Complete(%d) = %v, want nil", j.ID, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(claimed) != n {
		t.Errorf("%d jobs claimed, want %d", len(claimed), n)
	}
	if got := stats(t, s); got != (store.Stats{}) {
		t.Errorf("Stats() = %+v, want {}", got)
	}
}

// isClosed reports whether c is closed.
func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// testCloseWaits closes the store while calls are in flight: each call
// either completes (and what it wrote is durable) or returns
// store.ErrClosed having written nothing; of two Close calls exactly one
// succeeds.
func testCloseWaits(t *testing.T, o opener) {
	s := o.store(t)
	const callers = 16
	// Callers i%4 == 0 claim, 1 read stats, 2 and 3 enqueue hookN(i, k)
	// for k = 0, 1, … until the store is closed.
	hookN := func(i, k int) store.Webhook {
		return hook(fmt.Sprintf("w%d-%d", i, k), fmt.Sprintf("ev%d-%d", i, k), "failed", at(0), "r/slack")
	}
	done := closeDuring(t, s, callers, func(i, k int) error {
		var err error
		switch i % 4 {
		case 0:
			_, err = s.Claim(t.Context(), at(0), 1, nil)
		case 1:
			_, err = s.Stats(t.Context())
		default:
			_, err = s.Enqueue(t.Context(), hookN(i, k))
		}
		return err
	})
	written := 0
	for i := 2; i < callers; i += 4 {
		written += done[i] + done[i+1]
	}
	t.Logf("%d webhooks enqueued before Close", written)

	s = o.store(t)
	if got, want := stats(t, s), (store.Stats{Pending: written}); got != want {
		t.Errorf("Stats() after reopen = %+v, want %+v", got, want)
	}
	for i := range callers {
		if i%4 < 2 {
			continue
		}
		// Sent again: the calls that succeeded are duplicates, the one
		// that returned ErrClosed wrote nothing.
		for k := 0; k <= done[i]; k++ {
			want := store.Enqueued{Duplicate: true}
			if k == done[i] {
				want = store.Enqueued{Accepted: 1}
			}
			if got := enqueue(t, s, hookN(i, k)); got != want {
				t.Errorf("Enqueue(%q) after reopen = %+v, want %+v", hookN(i, k).WebhookID, got, want)
			}
		}
	}
}

// closeDuring has n callers call call(i, 0), call(i, 1), … until it
// returns store.ErrClosed; once each has made a few calls, two Close calls
// run. Exactly one Close must succeed. It returns the number of calls of
// each caller that succeeded.
func closeDuring(t *testing.T, s store.Store, n int, call func(i, k int) error) []int {
	t.Helper()
	const warmUp = 3 // calls each caller makes before Close
	done := make([]int, n)
	closeErrs := make(chan error, 2)
	var wg, warm sync.WaitGroup
	warm.Add(n)
	for i := range n {
		wg.Go(func() {
			warmed := sync.OnceFunc(warm.Done)
			defer warmed()
			for k := 0; ; k++ {
				if k == warmUp {
					warmed()
				}
				err := call(i, k)
				if err != nil {
					if !errors.Is(err, store.ErrClosed) {
						t.Errorf("call %d.%d during Close = %v, want nil or %v", i, k, err, store.ErrClosed)
					}
					done[i] = k
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			warm.Wait()
			closeErrs <- s.Close()
		})
	}
	wg.Wait()
	if err1, err2 := <-closeErrs, <-closeErrs; (err1 == nil) == (err2 == nil) ||
		!errors.Is(errors.Join(err1, err2), store.ErrClosed) {
		t.Errorf("two Close() = %v and %v, want nil and %v", err1, err2, store.ErrClosed)
	}
	return done
}
