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

// sharedPoll bounds it when the store is shared with other instances
// (LISTEN/NOTIFY wakes it for new jobs; this is the backstop).
const sharedPoll = time.Second

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
	sweeper.Go(func() { r.digests(ctx) })
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
// It asks the store when each notifier's next job is due only when a claim
// comes up short, so that under load a send ending costs one claim.
// After ctx ends it claims nothing more and returns once every send it
// started has reported on done.
func (r *Relay) dispatch(ctx context.Context, done <-chan sent, start func(store.Job)) {
	lanes := map[string]*lane{}
	ended := func(s sent) {
		l := lanes[s.notifier]
		l.busy--
		if !s.pause.IsZero() {
			l.pause(s.pause)
			r.sharePause(ctx, s.notifier, s.pause)
		}
	}
	noted := func(now time.Time) { // jobs fell due earlier than the lanes knew
		at, all := r.due.take()
		for n, t := range at {
			l := laneFor(lanes, n, r.localRate(r.cfg.Load(), n))
			l.nextDue = earliest(l.nextDue, t)
		}
		if all {
			for _, l := range lanes {
				l.nextDue = now
			}
		}
	}
	needHeads := true
	for ctx.Err() == nil {
		now := r.now()
		cfg := r.cfg.Load()
		if needHeads {
			if err := r.refreshDue(ctx, cfg, lanes, now); err != nil {
				if ctx.Err() == nil {
					r.log.Error("look for due jobs", "error", err)
				}
				r.sleep(ctx, now.Add(time.Second), done, ended)
				continue
			}
			needHeads = false
		}
		quota, wake := quotas(cfg, lanes, now, r.localRate)
		if r.shared != nil {
			wake = r.passShared(ctx, cfg, quota, lanes, now, wake)
		}
		if len(quota) > 0 {
			jobs, err := r.claim(ctx, now, quota)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("claim jobs", "error", err)
				}
				r.sleep(ctx, now.Add(time.Second), done, ended)
				continue
			}
			got := map[string]int{}
			for _, j := range jobs {
				lanes[j.Notifier].take(now)
				got[j.Notifier]++
				start(j)
			}
			for n, q := range quota {
				if got[n] < q { // nothing more due now: when is its next job?
					needHeads = true
				}
			}
			if len(jobs) > 0 || needHeads {
				continue
			}
		}
		if r.sleep(ctx, wake, done, ended) {
			noted(r.now())
		}
	}
	for inFlight(lanes) > 0 {
		ended(<-done)
	}
}

// sleep waits until wake, a send ending (passed to ended), a ping, or ctx;
// it reports whether a webhook arrived (new jobs may be due).
func (r *Relay) sleep(ctx context.Context, wake time.Time, done <-chan sent, ended func(sent)) (arrived bool) {
	idle := maxIdle
	var woken <-chan struct{} // nil: never
	if r.shared != nil {
		woken = r.shared.Woken()
		// Another instance's retries falling due, and the leases of an
		// instance that died, wake nobody: look at least this often.
		idle = sharedPoll
	}
	t := time.NewTimer(min(max(wake.Sub(r.now()), 0), idle))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-r.wake:
		return true
	case <-woken: // another instance queued jobs or ended leases
		r.due.noteAll()
		return true
	case s := <-done:
		ended(s)
		// The other sends that ended meanwhile too: the next claim takes
		// a job for each free worker, not one claim per send.
		for more := true; more; {
			select {
			case s := <-done:
				ended(s)
			default:
				more = false
			}
		}
	case <-t.C:
		if r.shared != nil {
			r.due.noteAll()
			return true
		}
	case reply := <-r.ping:
		close(reply)
	}
	return false
}

// refreshDue asks the store when each notifier's next job is due and
// records it in its lane, making lanes for notifiers with jobs but no
// configuration (their jobs are dead-lettered).
func (r *Relay) refreshDue(ctx context.Context, cfg *Config, lanes map[string]*lane, now time.Time) error {
	heads, err := r.heads(ctx)
	if err != nil {
		return err
	}
	for n, l := range lanes {
		if _, ok := heads[n]; !ok {
			l.nextDue = now.Add(maxIdle) // no job pending: a webhook wakes the loop
		}
	}
	for n, due := range heads {
		laneFor(lanes, n, r.localRate(cfg, n)).nextDue = due
	}
	return nil
}

func rateOf(cfg *Config, notifier string) rate.Limit {
	if e, ok := cfg.notifiers[notifier]; ok {
		return e.rate.Limit
	}
	return 0
}

// localRate is the pace the lane of notifier keeps itself: its rate, or
// none when the store paces every instance together (store.Shared).
func (r *Relay) localRate(cfg *Config, notifier string) rate.Limit {
	if r.shared != nil {
		return 0
	}
	return rateOf(cfg, notifier)
}

// inFlight is the number of sends in progress in all lanes.
func inFlight(lanes map[string]*lane) int {
	n := 0
	for _, l := range lanes {
		n += l.busy
	}
	return n
}

// quotas returns how many jobs each lane may take now, and when to look
// again for the ones that may take none (a send ending wakes the loop too).
func quotas(cfg *Config, lanes map[string]*lane, now time.Time, limit func(*Config, string) rate.Limit) (map[string]int, time.Time) {
	for n := range cfg.notifiers { // every configured notifier has a lane (a new one: maybe due)
		laneFor(lanes, n, limit(cfg, n))
	}
	wake := now.Add(maxIdle)
	quota := map[string]int{}
	for notifier, l := range lanes {
		most := cfg.File.Delivery.Workers
		if _, known := cfg.notifiers[notifier]; !known {
			most = unknownLaneWorkers
		}
		if l.nextDue.After(now) {
			wake = earliest(wake, l.nextDue)
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
