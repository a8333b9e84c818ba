package relay

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hooknote/hooknote/store"
)

// ShutdownGrace bounds how long sends in progress may run after shutdown
// begins (below systemd's default TimeoutStopSec of 90s), and then how long
// their outcomes may take to be recorded.
const ShutdownGrace = 10 * time.Second

// storeTimeout bounds every store call of the dispatcher, so that a store
// that hangs (a database that stopped answering) cannot hang shutdown.
const storeTimeout = 10 * time.Second

// maxIdle bounds how long the dispatcher sleeps without looking at the store.
const maxIdle = time.Minute

// unknownLaneWorkers is the concurrency of the lane of a notifier no longer
// configured: its jobs are only dead-lettered.
const unknownLaneWorkers = 1

// sent is what a worker tells the dispatcher when its send is over.
type sent struct {
	notifier string
	pause    time.Time // Retry-After: the lane sends nothing before this
}

// Run dispatches due jobs until ctx ends: per notifier at most
// delivery.workers sends at once, paced by its rate and paused by
// Retry-After, so that notifiers do not share fate; and it sweeps expired
// dedupe keys. Then it stops claiming, lets sends in progress finish within
// ShutdownGrace, waits as long again for their outcomes to be recorded, and
// returns. What was not sent stays in the store for the next start.
func (r *Relay) Run(ctx context.Context) error {
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	var sweeper sync.WaitGroup
	sweeper.Go(func() { r.sweep(ctx) })
	defer sweeper.Wait()

	var workers sync.WaitGroup
	done := make(chan sent)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		r.dispatch(ctx, done, func(j store.Job) {
			workers.Go(func() {
				done <- sent{notifier: j.Notifier, pause: r.deliver(sendCtx, j)}
			})
		})
	}()
	<-ctx.Done()
	if !waitFor(stopped, ShutdownGrace) {
		r.log.Warn("shutdown: sends still in progress after grace period; cancelling them")
		cancelSends()
		<-stopped
	}
	workers.Wait()
	if !r.recorder.wait(ShutdownGrace) {
		r.log.Warn("shutdown: outcomes not recorded after grace period; those jobs are sent again at the next start")
	}
	return nil
}

// waitFor waits for c to close within d, reporting whether it did.
func waitFor(c <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c:
		return true
	case <-t.C:
		return false
	}
}

// dispatch is the dispatcher's loop: it claims for every lane what the lane
// may take now, hands each job to start, and sleeps until a send ends, a
// webhook arrives, a lane's pause or pace allows more, or a job falls due.
// After ctx ends it claims nothing more and returns once every send it
// started has reported on done.
func (r *Relay) dispatch(ctx context.Context, done <-chan sent, start func(store.Job)) {
	lanes := map[string]*lane{}
	ended := func(s sent) {
		l := lanes[s.notifier]
		l.busy--
		if !s.pause.IsZero() {
			l.pause(s.pause)
		}
	}
	for ctx.Err() == nil {
		now := r.now()
		quota, wake := r.quotas(ctx, lanes, now)
		if len(quota) > 0 {
			jobs, err := r.claim(ctx, now, quota)
			if err != nil && ctx.Err() == nil {
				r.log.Error("claim jobs", "error", err)
				wake = earliest(wake, now.Add(time.Second))
			}
			for _, j := range jobs {
				lanes[j.Notifier].take(now)
				start(j)
			}
			if len(jobs) > 0 {
				continue // a lane may take more, or another lane's job fell due
			}
		}
		t := time.NewTimer(min(max(wake.Sub(r.now()), 0), maxIdle))
		select {
		case <-ctx.Done():
		case <-r.wake:
		case s := <-done:
			ended(s)
		case <-t.C:
		case reply := <-r.ping:
			close(reply)
		}
		t.Stop()
	}
	for inFlight(lanes) > 0 {
		ended(<-done)
	}
}

// inFlight is the number of sends in progress in all lanes.
func inFlight(lanes map[string]*lane) int {
	n := 0
	for _, l := range lanes {
		n += l.busy
	}
	return n
}

// quotas returns how many jobs each notifier with due jobs may take now,
// and when to look again for the ones that may take none (a send ending
// wakes the loop too).
func (r *Relay) quotas(ctx context.Context, lanes map[string]*lane, now time.Time) (map[string]int, time.Time) {
	wake := now.Add(maxIdle)
	heads, err := r.heads(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("look for due jobs", "error", err)
		}
		return nil, now.Add(time.Second)
	}
	cfg := r.cfg.Load()
	quota := map[string]int{}
	for notifier, due := range heads {
		limit, most := rate.Limit(0), cfg.File.Delivery.Workers
		if e, known := cfg.notifiers[notifier]; known {
			limit = e.rate.Limit
		} else {
			most = unknownLaneWorkers
		}
		l := laneFor(lanes, notifier, limit)
		if due.After(now) {
			wake = earliest(wake, due)
			continue
		}
		if n, at := l.quota(now, most-l.busy); n > 0 {
			quota[notifier] = n
		} else if !at.IsZero() {
			wake = earliest(wake, at)
		}
	}
	return quota, wake
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (r *Relay) claim(ctx context.Context, now time.Time, quota map[string]int) ([]store.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	total := 0
	for _, n := range quota {
		total += n
	}
	return r.store.Claim(ctx, now, total, quota)
}

func (r *Relay) heads(ctx context.Context) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return r.store.Heads(ctx)
}
