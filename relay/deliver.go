package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hooknote/hooknote/relay/retry"
	"github.com/hooknote/hooknote/store"
)

// deliver makes one attempt at a job and hands its outcome to the recorder;
// it returns when the notifier may be tried again by another job, with the
// pause Retry-After asked for (zero for none). This is the one retry loop
// of hooknote: notifiers never retry.
func (r *Relay) deliver(ctx context.Context, j store.Job) (pause time.Time) {
	cfg := r.cfg.Load()
	log := r.log.With("job_id", j.ID, "event_id", j.EventID, "status", j.Status, "rule", j.Rule, "notifier", j.Notifier, "attempt", j.Attempts+1)
	e, ok := cfg.notifiers[j.Notifier]
	if !ok {
		r.kill(cfg, j, store.Kill{Reason: fmt.Sprintf("notifier %q is no longer configured", j.Notifier)}, log)
		return time.Time{}
	}
	if cfg.policy.Expired(j, r.now()) {
		r.kill(cfg, j, store.Kill{Reason: fmt.Sprintf("gave up after delivery.max_age %s; last error: %s", cfg.File.Delivery.MaxAge.Duration, j.LastError)}, log)
		return time.Time{}
	}
	// The notifier's timeout covers rendering and sending: a payload that
	// is slow to render costs its own notification's time, no more.
	sctx, cancel := context.WithTimeoutCause(ctx, e.timeout, timeoutError{e.timeout})
	start := r.now()
	msg, ev, happened, err := r.message(e, j, log)
	rendered := r.now()
	r.metrics.Render(e.name, rendered.Sub(start))
	if err == nil && sctx.Err() != nil {
		err = fmt.Errorf("rendering took longer than the notifier's timeout %s: %w", e.timeout, context.DeadlineExceeded)
	}
	took := time.Duration(0)
	var done store.Done
	sentAny := true
	if err == nil {
		if live, ok := e.liveNotifier(); ok && j.Key != "" && j.Digest == nil && !isNotice(j) {
			var out liveOutcome
			out, err = r.sendLive(sctx, e, live, j, msg, ev, log)
			done, sentAny = out.done, out.sent
			if err == nil {
				log = log.With("live", out.action)
			}
		} else {
			err = e.n.Notify(sctx, msg)
		}
		e.afterSend()
		took = r.now().Sub(rendered)
		err = sendError(ctx, sctx, err)
	}
	cancel()
	if err == nil {
		// The jobs of the same Key after this one (a live message's next
		// states, its thread reply) may go once this is recorded: some may
		// have arrived since it was claimed (Later counts those before).
		var landed func()
		if j.Key != "" || done.Then != nil {
			landed = func() { r.jobsDue(j.Notifier, r.now()) }
		}
		r.recorder.record("record delivery", log, func(ctx context.Context) error { return r.store.Complete(ctx, j.ID, done) }, landed)
		if !sentAny {
			r.metrics.Attempt(e.name, "skipped", "none", took)
			log.Debug("nothing to send")
			return time.Time{}
		}
		r.metrics.Attempt(e.name, "delivered", "none", took)
		r.metrics.Delivered(e.name, happened, r.now())
		if j.Digest != nil {
			r.metrics.DigestsSentBy(j.Digest.Reason, 1)
		}
		log.Info("delivered", "took", took)
		return time.Time{}
	}
	return r.failed(cfg, e, j, err, took, log)
}

// sendError explains err, what a send under sctx (derived from ctx)
// returned: cut short by shutdown (ctx cancelled) it is
// retry.ErrInterrupted; past the notifier's timeout it names the timeout
// once, and is a timeout (context.DeadlineExceeded) whatever the notifier's
// library made of it (some keep only the text of the error).
func sendError(ctx, sctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", retry.ErrInterrupted, err)
	case ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded):
		if cause := context.Cause(sctx); cause != nil && !errors.Is(err, cause) {
			return fmt.Errorf("%w: %w", cause, err)
		}
	}
	return err
}

// timeoutError is the cause of a send cut off at the notifier's timeout.
type timeoutError struct{ timeout time.Duration }

func (e timeoutError) Error() string {
	return fmt.Sprintf("send took longer than the notifier's timeout %s", e.timeout)
}

// Is makes it a context.DeadlineExceeded, for errors.Is.
func (e timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// failed records a failed attempt as the retry policy decides, and returns
// the pause Retry-After asked for.
func (r *Relay) failed(cfg *Config, e *notifierEntry, j store.Job, err error, took time.Duration, log *slog.Logger) time.Time {
	now := r.now()
	d := cfg.policy.Next(j, err, now)
	if d.Note != "" {
		log.Warn(d.Note)
	}
	switch d.Verdict {
	case retry.Release:
		r.recorder.record("release job", log, func(ctx context.Context) error { return r.store.Release(ctx, j.ID) },
			func() { r.jobsDue(j.Notifier, r.now()) })
		r.metrics.Attempt(e.name, "interrupted", d.Label, took)
		return time.Time{}
	case retry.Dead:
		r.kill(cfg, j, store.Kill{Reason: d.Reason, Attempted: !errors.Is(err, retry.ErrRender)}, log)
		r.metrics.Attempt(e.name, "dead", d.Label, took)
		return time.Time{}
	}
	// The count of failures lives in metrics; the log says when the error
	// changes.
	level := slog.LevelDebug
	if d.Reason != j.LastError {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, "send failed; will retry", "error", d.Reason, "retry_in", d.At.Sub(now).Round(time.Millisecond))
	r.recorder.record("record retry", log, func(ctx context.Context) error { return r.store.Retry(ctx, j.ID, d.At, d.Reason) },
		func() { r.jobsDue(j.Notifier, d.At) })
	r.metrics.Attempt(e.name, "retry", d.Label, took)
	return d.Pause
}

// kill dead-letters j with k (At set to now), and enqueues the on_dead
// notice about it in the same transaction, unless j is itself a notice.
func (r *Relay) kill(cfg *Config, j store.Job, k store.Kill, log *slog.Logger) {
	k.At = r.now()
	if od := cfg.File.Delivery.OnDead; od != "" && !isNotice(j) {
		k.Then = &store.NewJob{Rule: onDeadRule, Notifier: od, NoDedupe: true, Extra: encodeNotice(j, k)}
	}
	log.Error("dead letter", "error", k.Reason)
	var landed func()
	if k.Then != nil || j.Key != "" {
		landed = func() {
			if k.Then != nil {
				r.jobsDue(k.Then.Notifier, k.At)
			}
			if j.Key != "" { // a dead letter no longer holds its Key's later jobs back
				r.jobsDue(j.Notifier, k.At)
			}
		}
	}
	r.recorder.record("record dead letter", log, func(ctx context.Context) error { return r.store.Kill(ctx, j.ID, k) }, landed)
}
