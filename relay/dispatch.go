package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/store"
)

// ShutdownGrace bounds how long sends in progress may run after shutdown
// begins (below systemd's default TimeoutStopSec of 90s).
const ShutdownGrace = 10 * time.Second

// maxInlineWait is the longest a worker waits for its notifier's pace or
// pause; a longer wait postpones the job in the store instead.
const maxInlineWait = time.Second

// maxIdle bounds how long the dispatcher sleeps without looking at the store.
const maxIdle = time.Minute

// Run dispatches due jobs with delivery.workers workers, and sweeps expired
// dedupe keys, until ctx ends. Then it stops claiming, lets sends in
// progress finish within ShutdownGrace, and returns. What was not sent stays
// in the store for the next start.
func (r *Relay) Run(ctx context.Context) error {
	workers := r.cfg.Load().File.Delivery.Workers
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()

	jobs := make(chan store.Job)
	var busy atomic.Int32
	idle := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				r.deliver(sendCtx, j)
				busy.Add(-1)
				select {
				case idle <- struct{}{}:
				default:
				}
			}
		})
	}
	wg.Go(func() { r.sweep(ctx) })

	r.claimLoop(ctx, jobs, &busy, workers, idle)
	close(jobs)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(ShutdownGrace):
		r.log.Warn("shutdown: sends still in progress after grace period; cancelling them")
		cancelSends()
		<-done
	}
	return nil
}

func (r *Relay) claimLoop(ctx context.Context, jobs chan<- store.Job, busy *atomic.Int32, workers int, idle <-chan struct{}) {
	for ctx.Err() == nil {
		free := workers - int(busy.Load())
		var claimed []store.Job
		if free > 0 {
			var err error
			claimed, err = r.store.Claim(ctx, r.now(), free)
			if err != nil && ctx.Err() == nil {
				r.log.Error("claim jobs", "error", err)
			}
		}
		for _, j := range claimed {
			busy.Add(1)
			jobs <- j
		}
		if len(claimed) > 0 && len(claimed) == free {
			continue
		}
		wait := maxIdle
		if free > 0 {
			if next, ok, err := r.store.NextDue(ctx); err == nil && ok {
				wait = min(max(next.Sub(r.now()), 0), maxIdle)
			}
		}
		if wait == 0 && len(claimed) == 0 {
			wait = 10 * time.Millisecond // due jobs exist but are leased or just released
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-idle:
		case <-t.C:
		case reply := <-r.ping:
			close(reply)
		}
		t.Stop()
	}
}

// deliver makes one attempt at a job and records the outcome. This is the
// one retry loop of hooknote: notifiers never retry.
func (r *Relay) deliver(ctx context.Context, j store.Job) {
	cfg := r.cfg.Load()
	log := r.log.With("job_id", j.ID, "event_id", j.EventID, "status", j.Status, "rule", j.Rule, "notifier", j.Notifier, "attempt", j.Attempts+1)
	e, ok := cfg.notifiers[j.Notifier]
	if !ok {
		r.kill(ctx, cfg, j, false, fmt.Sprintf("notifier %q is no longer configured", j.Notifier), log)
		return
	}
	now := r.now()
	d := cfg.File.Delivery
	if now.Sub(j.FirstAt) > d.MaxAge.Duration {
		r.kill(ctx, cfg, j, false, fmt.Sprintf("gave up after delivery.max_age %s; last error: %s", d.MaxAge.Duration, j.LastError), log)
		return
	}
	wait, ok := r.lane(e).reserve(now, maxInlineWait)
	if !ok {
		// Paused or paced for a while: give the worker back to other
		// notifiers' jobs; this one is due again when its slot comes.
		if err := r.store.Postpone(context.WithoutCancel(ctx), j.ID, now.Add(wait)); err != nil {
			log.Error("postpone job", "error", err)
		}
		return
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			r.release(j, log)
			return
		case <-t.C:
		}
	}
	msg, happened, err := r.message(ctx, e, j, log)
	if err != nil {
		r.kill(ctx, cfg, j, false, err.Error(), log)
		return
	}
	sctx, cancel := context.WithTimeoutCause(ctx, e.timeout, fmt.Errorf("send took longer than timeout %s", e.timeout))
	start := r.now()
	err = e.n.Notify(sctx, msg)
	cancel()
	took := r.now().Sub(start)
	if err == nil {
		if cerr := r.store.Complete(context.WithoutCancel(ctx), j.ID); cerr != nil {
			log.Error("record delivery", "error", cerr)
		}
		r.metrics.attempt(e.name, "delivered", took)
		r.metrics.delivered(e.name, happened, r.now())
		log.Info("delivered", "took", took)
		return
	}
	r.metrics.attempt(e.name, r.failed(ctx, cfg, e, j, err, log), took)
}

// failed records a failed attempt: dead letter for permanent errors and
// exhausted jobs; otherwise retry after Retry-After or backoff.
// It returns the outcome for metrics: "retry", "dead" or "interrupted".
func (r *Relay) failed(ctx context.Context, cfg *Config, e *notifierEntry, j store.Job, err error, log *slog.Logger) string {
	d := cfg.File.Delivery
	now := r.now()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		r.release(j, log) // shutdown cut the send short: not the destination's fault
		return "interrupted"
	}
	if notifiers.IsPermanent(err) {
		r.kill(ctx, cfg, j, true, err.Error(), log)
		return "dead"
	}
	if j.Attempts+1 >= d.MaxAttempts {
		r.kill(ctx, cfg, j, true, fmt.Sprintf("gave up after %d attempts: %s", j.Attempts+1, err), log)
		return "dead"
	}
	next := now.Add(backoff(j.Attempts+1, d.Backoff.Duration, d.MaxBackoff.Duration, rand.Float64))
	if after, ok := notifiers.RetryAfterOf(err); ok {
		r.lane(e).pause(now.Add(after))
		next = now.Add(after)
	}
	if deadline := j.FirstAt.Add(d.MaxAge.Duration); next.After(deadline) {
		next = deadline // wake at max_age to dead-letter it, not later
	}
	log.Warn("send failed; will retry", "error", err, "retry_in", next.Sub(now).Round(time.Millisecond))
	if rerr := r.store.Retry(context.WithoutCancel(ctx), j.ID, next, err.Error()); rerr != nil {
		log.Error("record retry", "error", rerr)
	}
	r.wakeDispatcher()
	return "retry"
}

func (r *Relay) kill(ctx context.Context, cfg *Config, j store.Job, attempted bool, reason string, log *slog.Logger) {
	var notice *store.NewJob
	if od := cfg.File.Delivery.OnDead; od != "" && j.Notice == 0 {
		notice = &store.NewJob{Rule: "on_dead", Notifier: od, Notice: j.ID}
	}
	log.Error("dead letter", "error", reason)
	if err := r.store.Kill(context.WithoutCancel(ctx), j.ID, attempted, reason, r.now(), notice); err != nil {
		log.Error("record dead letter", "error", err)
	}
	if notice != nil {
		r.wakeDispatcher()
	}
}

func (r *Relay) release(j store.Job, log *slog.Logger) {
	if err := r.store.Release(context.Background(), j.ID); err != nil {
		log.Error("release job", "error", err)
	}
}

// message renders the job's message; a failing template falls back to the
// built-in message (logged). It also returns when the event happened (its
// completed_at, else its receipt), for the end-to-end latency. The error is
// fatal for the job (no recipients).
func (r *Relay) message(ctx context.Context, e *notifierEntry, j store.Job, log *slog.Logger) (notifiers.Message, time.Time, error) {
	q, _ := url.ParseQuery(j.Query)
	ev, err := replicate.Decode(j.Body, q, j.ReceivedAt)
	if err != nil {
		return notifiers.Message{}, time.Time{}, fmt.Errorf("decode stored body: %w", err)
	}
	happened := ev.CompletedAt
	if happened.IsZero() {
		happened = ev.ReceivedAt
	}
	ev.Rule, ev.Notifier = j.Rule, j.Notifier
	id := messageID(ev, j.Rule, j.Notifier)
	if j.Notice != 0 {
		m, err := noticeMessage(e.tmpl, ev, r.deadInfo(ctx, j.Notice), id)
		return m, happened, err
	}
	m, tmplErr, fatal := e.tmpl.render(ev, id)
	if tmplErr != nil {
		r.metrics.fallback(e.name)
		log.Error("template failed; sending the built-in fallback", "error", tmplErr)
	}
	return m, happened, fatal
}

func (r *Relay) deadInfo(ctx context.Context, id uint64) deadInfo {
	info := deadInfo{id: id, rule: "?", notifier: "?", lastErr: "(dead letter no longer listed)"}
	dead, err := r.store.Dead(ctx)
	if err != nil {
		return info
	}
	for _, d := range dead {
		if d.ID == id {
			return deadInfo{id: id, rule: d.Rule, notifier: d.Notifier, lastErr: d.LastError, attempts: d.Attempts}
		}
	}
	return info
}

// backoff is the wait before attempt n+1 after n failed attempts:
// exponential from base, capped at max, with full jitter (uniform in
// [0, cap]) but never under a tenth of base, so a failing destination is
// not hammered.
func backoff(n int, base, maxWait time.Duration, rnd func() float64) time.Duration {
	d := maxWait
	if n-1 < 62 {
		if b := base << (n - 1); b > 0 && b < maxWait {
			d = b
		}
	}
	return max(time.Duration(rnd()*float64(d)), base/10)
}

// lane is a notifier's pacing state: its rate limiter and a pause set by
// Retry-After, shared by every job of that notifier.
type lane struct {
	mu          sync.Mutex
	limit       rate.Limit
	limiter     *rate.Limiter
	pausedUntil time.Time
}

func (r *Relay) lane(e *notifierEntry) *lane {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.lanes[e.name]
	if !ok || l.limit != e.rate.Limit {
		l = &lane{limit: e.rate.Limit}
		if e.rate.Limit > 0 {
			l.limiter = rate.NewLimiter(e.rate.Limit, 1)
		}
		if ok {
			l.pausedUntil = r.lanes[e.name].pausedUntil
		}
		r.lanes[e.name] = l
	}
	return l
}

// reserve takes a send slot and returns how long to wait for it. When the
// wait would exceed maxWait, no slot is taken (ok is false) and the wait says
// when to come back.
func (l *lane) reserve(now time.Time, maxWait time.Duration) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if paused := l.pausedUntil.Sub(now); paused > maxWait {
		return paused, false
	}
	wait = max(l.pausedUntil.Sub(now), 0)
	if l.limiter != nil {
		res := l.limiter.ReserveN(now, 1)
		if d := res.DelayFrom(now); d > maxWait {
			res.CancelAt(now)
			return d, false
		} else {
			wait = max(wait, d)
		}
	}
	return wait, true
}

func (l *lane) pause(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}
