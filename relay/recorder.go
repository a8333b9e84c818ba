package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hooknote/hooknote/store"
)

// The recorder retries a failed record after recordBackoff, doubling up to
// recordMaxBackoff.
const (
	recordBackoff    = 500 * time.Millisecond
	recordMaxBackoff = 30 * time.Second
)

// recorder writes the outcome of each attempt (delivered, retry, dead
// letter, released) to the store in the background: the worker and its
// notifier's lane move on at once, while the job stays leased until the
// write lands (the store ends the lease only then). A write that fails is
// tried again with backoff, never given up while the process runs: the job
// stays leased meanwhile and is not sent again (no resend storm); after a
// restart it is, which is the at-least-once promise.
type recorder struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	stopped bool // shutdown's grace has passed: retries give up
}

// record runs write in a goroutine of its own, with retries; landed, when
// not nil, runs once the write has landed.
func (rc *recorder) record(what string, log *slog.Logger, write func(context.Context) error, landed func()) {
	rc.wg.Go(func() {
		wait := recordBackoff
		var last string
		for {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			err := write(ctx)
			cancel()
			switch {
			case err == nil:
				if last != "" {
					log.Info(what+": recorded after failing", "previous_error", last)
				}
				if landed != nil {
					landed()
				}
				return
			case errors.Is(err, store.ErrNotFound):
				log.Warn(what+": the job is gone", "error", err)
				return
			}
			if err.Error() != last {
				log.Error(what+"; will try again", "error", err)
				last = err.Error()
			}
			if rc.stop() {
				return
			}
			time.Sleep(wait)
			wait = min(2*wait, recordMaxBackoff)
		}
	})
}

func (rc *recorder) stop() bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.stopped
}

// wait waits up to d for the writes in progress, then tells the ones still
// failing to give up, and reports whether all had landed.
func (rc *recorder) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() { rc.wg.Wait(); close(done) }()
	if waitFor(done, d) {
		return true
	}
	rc.mu.Lock()
	rc.stopped = true
	rc.mu.Unlock()
	<-done
	return false
}
