package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/store"
)

// errInterrupted marks a send that shutdown cut short: not the
// destination's fault, so the job goes back to the queue as it was.
var errInterrupted = errors.New("send interrupted by shutdown")

// errRender marks a message that cannot be rendered at all (its
// recipients failed): retrying cannot help.
var errRender = errors.New("render message")

// policy is the one retry policy of hooknote ([delivery]).
type policy struct {
	maxAttempts int
	maxAge      time.Duration
	backoff     time.Duration // before the first retry; doubles
	maxBackoff  time.Duration // longest wait, also the cap on Retry-After
	jitter      func() float64
}

func newPolicy(d config.Delivery, jitter func() float64) policy {
	return policy{maxAttempts: d.MaxAttempts, maxAge: d.MaxAge.Duration,
		backoff: d.Backoff.Duration, maxBackoff: d.MaxBackoff.Duration, jitter: jitter}
}

// verdict is what happens to a job after a failed attempt.
type verdict int

const (
	retry   verdict = iota // due again at decision.at
	dead                   // a dead letter, with decision.reason
	release                // back to the queue untouched (interrupted)
)

// decision is the policy's answer for one failed attempt.
type decision struct {
	verdict verdict
	at      time.Time // retry: when the job is due again
	pause   time.Time // the notifier sends nothing before this (Retry-After); zero for none
	reason  string    // the error to record: the attempt's, or why the job is dead
	label   string    // the failure's class for metrics (reasonLabel)
	note    string    // what the policy changed and should be logged (a capped Retry-After)
}

// next decides what follows a failed attempt of j at now that ended in err:
//   - interrupted by shutdown: released, no attempt counted;
//   - permanent (or unrenderable): dead at once;
//   - the job's max_age has passed, or this was attempt max_attempts: dead;
//   - otherwise retried after Retry-After (capped at max_backoff) or after
//     exponential backoff with jitter, never later than its max_age, when
//     it is dead-lettered.
func (p policy) next(j store.Job, err error, now time.Time) decision {
	label := reasonLabel(err)
	d := decision{label: label, reason: err.Error()}
	deadline := j.FirstAt.Add(p.maxAge)
	switch {
	case errors.Is(err, errInterrupted):
		d.verdict = release
		return d
	case notifiers.IsPermanent(err) || errors.Is(err, errRender):
		d.verdict = dead
		return d
	case !now.Before(deadline):
		d.verdict = dead
		d.reason = fmt.Sprintf("gave up after delivery.max_age %s: %s", p.maxAge, err)
		return d
	case j.Attempts+1 >= p.maxAttempts:
		d.verdict = dead
		d.reason = fmt.Sprintf("gave up after %d attempts: %s", j.Attempts+1, err)
		return d
	}
	d.verdict = retry
	wait := backoff(j.Attempts+1, p.backoff, p.maxBackoff, p.jitter)
	if after, ok := notifiers.RetryAfterOf(err); ok {
		if after > p.maxBackoff {
			d.note = fmt.Sprintf("Retry-After %s capped at delivery.max_backoff %s", after, p.maxBackoff)
			after = p.maxBackoff
		}
		wait = max(after, 0)
		d.pause = now.Add(wait)
	}
	d.at = now.Add(wait)
	if d.at.After(deadline) {
		d.at = deadline // wake at max_age to dead-letter it, not later
	}
	if d.pause.After(deadline) {
		d.pause = deadline
	}
	return d
}

// expired reports whether j has outlived max_age: it is dead-lettered
// without another attempt.
func (p policy) expired(j store.Job, now time.Time) bool {
	return !now.Before(j.FirstAt.Add(p.maxAge))
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

// reasonLabel classifies a failed attempt for the reason label of
// hooknote_notifications_total: rate_limited, client_error, server_error,
// redirect (HTTP answers), timeout, network, template, interrupted,
// rejected (another permanent refusal, such as an SMTP 5xx) or other.
func reasonLabel(err error) string {
	var reasoned interface{ Reason() string }
	var netErr net.Error
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, errInterrupted):
		return "interrupted"
	case errors.Is(err, errRender):
		return "template"
	}
	if _, ok := notifiers.RetryAfterOf(err); ok {
		return "rate_limited"
	}
	switch {
	case errors.As(err, &reasoned):
		return reasoned.Reason()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &netErr):
		if netErr.Timeout() {
			return "timeout"
		}
		return "network"
	case notifiers.IsPermanent(err):
		return "rejected"
	}
	return "other"
}
