package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooknote/hooknote/store"
)

// ShutdownGrace bounds how long sends in progress may run after shutdown
// begins (below systemd's default TimeoutStopSec of 90s).
const ShutdownGrace = 10 * time.Second

// storeTimeout bounds every store call of the dispatcher, so that a store
// that hangs (a database that stopped answering) cannot hang shutdown.
const storeTimeout = 10 * time.Second

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
	t := time.NewTimer(ShutdownGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
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
			claimed, err = r.claim(ctx, free)
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
			if next, ok, err := r.nextDue(ctx); err == nil && ok {
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

func (r *Relay) claim(ctx context.Context, n int) ([]store.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return r.store.Claim(ctx, r.now(), n)
}

func (r *Relay) nextDue(ctx context.Context) (time.Time, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return r.store.NextDue(ctx)
}

// record runs a store write about a job whose attempt is over: bounded by
// storeTimeout, and not cut short by shutdown (the attempt happened; the
// store must hear of it).
func (r *Relay) record(ctx context.Context, what string, log *slog.Logger, write func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := write(ctx); err != nil {
		log.Error(what, "error", err)
	}
}

// deliver makes one attempt at a job and records the outcome. This is the
// one retry loop of hooknote: notifiers never retry.
func (r *Relay) deliver(ctx context.Context, j store.Job) {
	cfg := r.cfg.Load()
	log := r.log.With("job_id", j.ID, "event_id", j.EventID, "status", j.Status, "rule", j.Rule, "notifier", j.Notifier, "attempt", j.Attempts+1)
	e, ok := cfg.notifiers[j.Notifier]
	if !ok {
		r.kill(ctx, cfg, j, store.Kill{Reason: fmt.Sprintf("notifier %q is no longer configured", j.Notifier)}, log)
		return
	}
	now := r.now()
	p := cfg.policy
	if p.expired(j, now) {
		r.kill(ctx, cfg, j, store.Kill{Reason: fmt.Sprintf("gave up after delivery.max_age %s; last error: %s", p.maxAge, j.LastError)}, log)
		return
	}
	wait, ok := r.lane(e).reserve(now, maxInlineWait)
	if !ok {
		// Paused or paced for a while: give the worker back to other
		// notifiers' jobs; this one is due again when its slot comes.
		r.record(ctx, "postpone job", log, func(ctx context.Context) error { return r.store.Postpone(ctx, j.ID, now.Add(wait)) })
		return
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			r.record(ctx, "release job", log, func(ctx context.Context) error { return r.store.Release(ctx, j.ID) })
			return
		case <-t.C:
		}
	}
	// The notifier's timeout covers rendering and sending: a payload that
	// is slow to render costs its own notification's time, no more.
	sctx, cancel := context.WithTimeoutCause(ctx, e.timeout, fmt.Errorf("send took longer than the notifier's timeout %s", e.timeout))
	start := r.now()
	msg, happened, err := r.message(e, j, log)
	rendered := r.now()
	r.metrics.render(e.name, rendered.Sub(start))
	if err == nil && sctx.Err() != nil {
		err = fmt.Errorf("rendering took longer than the notifier's timeout %s: %w", e.timeout, context.DeadlineExceeded)
	}
	took := time.Duration(0)
	if err == nil {
		err = e.n.Notify(sctx, msg)
		e.afterSend()
		took = r.now().Sub(rendered)
		err = sendError(ctx, sctx, err)
	}
	cancel()
	if err == nil {
		r.record(ctx, "record delivery", log, func(ctx context.Context) error { return r.store.Complete(ctx, j.ID) })
		r.metrics.attempt(e.name, "delivered", "none", took)
		r.metrics.delivered(e.name, happened, r.now())
		log.Info("delivered", "took", took)
		return
	}
	r.failed(ctx, cfg, e, j, err, took, log)
}

// sendError explains err, what a send under sctx (derived from ctx)
// returned: cut short by shutdown (ctx cancelled) it is errInterrupted; past
// the notifier's timeout it names the timeout once.
func sendError(ctx, sctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", errInterrupted, err)
	case errors.Is(sctx.Err(), context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded):
		if cause := context.Cause(sctx); cause != nil && !errors.Is(err, cause) {
			return fmt.Errorf("%w: %w", cause, err)
		}
	}
	return err
}

// failed records a failed attempt as the retry policy decides.
func (r *Relay) failed(ctx context.Context, cfg *Config, e *notifierEntry, j store.Job, err error, took time.Duration, log *slog.Logger) {
	now := r.now()
	d := cfg.policy.next(j, err, now)
	if d.note != "" {
		log.Warn(d.note)
	}
	switch d.verdict {
	case release:
		r.record(ctx, "release job", log, func(ctx context.Context) error { return r.store.Release(ctx, j.ID) })
		r.metrics.attempt(e.name, "interrupted", d.label, took)
		return
	case dead:
		r.kill(ctx, cfg, j, store.Kill{Reason: d.reason, Attempted: !errors.Is(err, errRender)}, log)
		r.metrics.attempt(e.name, "dead", d.label, took)
		return
	}
	if !d.pause.IsZero() {
		r.lane(e).pause(d.pause)
	}
	// The count of failures lives in metrics; the log says when the error
	// changes.
	level := slog.LevelDebug
	if d.reason != j.LastError {
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "send failed; will retry", "error", d.reason, "retry_in", d.at.Sub(now).Round(time.Millisecond))
	r.record(ctx, "record retry", log, func(ctx context.Context) error { return r.store.Retry(ctx, j.ID, d.at, d.reason) })
	r.metrics.attempt(e.name, "retry", d.label, took)
	r.wakeDispatcher()
}

// kill dead-letters j with k (At set to now), and enqueues the on_dead
// notice about it in the same transaction, unless j is itself a notice.
func (r *Relay) kill(ctx context.Context, cfg *Config, j store.Job, k store.Kill, log *slog.Logger) {
	k.At = r.now()
	if od := cfg.File.Delivery.OnDead; od != "" && !isNotice(j) {
		k.Then = &store.NewJob{Rule: onDeadRule, Notifier: od, NoDedupe: true, Extra: encodeNotice(j, k)}
	}
	log.Error("dead letter", "error", k.Reason)
	r.record(ctx, "record dead letter", log, func(ctx context.Context) error { return r.store.Kill(ctx, j.ID, k) })
	if k.Then != nil {
		r.wakeDispatcher()
	}
}
