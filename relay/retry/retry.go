// Package retry is hooknote's one retry policy (DESIGN §4, [delivery]): a
// pure function from a failed attempt (the job, the error, the time) to what
// follows it — retried when, dead-lettered why, or released untouched — and
// the class of the failure for metrics. It reads the clock of no one and
// imports config (the [delivery] table), notifiers (error classes,
// Retry-After) and store (the job) only.
package retry

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

// ErrInterrupted marks a send that shutdown cut short: not the
// destination's fault, so the job goes back to the queue as it was.
var ErrInterrupted = errors.New("send interrupted by shutdown")

// ErrRender marks a message that cannot be rendered at all (its
// recipients failed): retrying cannot help.
var ErrRender = errors.New("render message")

// Policy is the one retry policy of hooknote ([delivery]).
type Policy struct {
	maxAttempts int
	maxAge      time.Duration
	backoff     time.Duration // before the first retry; doubles
	maxBackoff  time.Duration // longest wait, also the cap on Retry-After
	jitter      func() float64
}

// New is the policy of the [delivery] table d; jitter returns a number in
// [0, 1) (rand.Float64).
func New(d config.Delivery, jitter func() float64) Policy {
	return Policy{maxAttempts: d.MaxAttempts, maxAge: d.MaxAge.Duration,
		backoff: d.Backoff.Duration, maxBackoff: d.MaxBackoff.Duration, jitter: jitter}
}

// Verdict is what happens to a job after a failed attempt.
type Verdict int

const (
	Retry   Verdict = iota // due again at Decision.At
	Dead                   // a dead letter, with Decision.Reason
	Release                // back to the queue untouched (interrupted)
)

// Decision is the policy's answer for one failed attempt.
type Decision struct {
	Verdict Verdict
	At      time.Time // retry: when the job is due again
	Pause   time.Time // the notifier sends nothing before this (Retry-After); zero for none
	Reason  string    // the error to record: the attempt's, or why the job is dead
	Label   string    // the failure's class for metrics (ReasonLabel)
	Note    string    // what the policy changed and should be logged (a capped Retry-After)
}

// Next decides what follows a failed attempt of j at now that ended in err:
//   - interrupted by shutdown: released, no attempt counted;
//   - permanent (or unrenderable): dead at once;
//   - the job's max_age has passed, or this was attempt max_attempts: dead;
//   - otherwise retried after Retry-After (capped at max_backoff) or after
//     exponential backoff with jitter, never later than its max_age, when
//     it is dead-lettered.
func (p Policy) Next(j store.Job, err error, now time.Time) Decision {
	d := Decision{Label: ReasonLabel(err), Reason: err.Error()}
	deadline := j.FirstAt.Add(p.maxAge)
	switch {
	case errors.Is(err, ErrInterrupted):
		d.Verdict = Release
		return d
	case notifiers.IsPermanent(err) || errors.Is(err, ErrRender):
		d.Verdict = Dead
		return d
	case !now.Before(deadline):
		d.Verdict = Dead
		d.Reason = fmt.Sprintf("gave up after delivery.max_age %s: %s", p.maxAge, err)
		return d
	case j.Attempts+1 >= p.maxAttempts:
		d.Verdict = Dead
		d.Reason = fmt.Sprintf("gave up after %d attempts: %s", j.Attempts+1, err)
		return d
	}
	d.Verdict = Retry
	wait := Backoff(j.Attempts+1, p.backoff, p.maxBackoff, p.jitter)
	if after, ok := notifiers.RetryAfterOf(err); ok {
		if after > p.maxBackoff {
			d.Note = fmt.Sprintf("Retry-After %s capped at delivery.max_backoff %s", after, p.maxBackoff)
			after = p.maxBackoff
		}
		wait = max(after, 0)
		d.Pause = now.Add(wait)
	}
	d.At = now.Add(wait)
	if d.At.After(deadline) {
		d.At = deadline // wake at max_age to dead-letter it, not later
	}
	if d.Pause.After(deadline) {
		d.Pause = deadline
	}
	return d
}

// Expired reports whether j has outlived max_age: it is dead-lettered
// without another attempt.
func (p Policy) Expired(j store.Job, now time.Time) bool {
	return !now.Before(j.FirstAt.Add(p.maxAge))
}

// Backoff is the wait before attempt n+1 after n failed attempts:
// exponential from base, capped at max, with full jitter (uniform in
// [0, cap]) but never under a tenth of base, so a failing destination is
// not hammered.
func Backoff(n int, base, maxWait time.Duration, rnd func() float64) time.Duration {
	d := maxWait
	if n-1 < 62 {
		if b := base << (n - 1); b > 0 && b < maxWait {
			d = b
		}
	}
	return max(time.Duration(rnd()*float64(d)), base/10)
}

// ReasonLabel classifies a failed attempt for the reason label of
// hooknote_notifications_total: rate_limited, client_error, server_error,
// redirect (HTTP answers), timeout, network, template, interrupted,
// rejected (another permanent refusal, such as an SMTP 5xx) or other.
func ReasonLabel(err error) string {
	var reasoned interface{ Reason() string }
	var netErr net.Error
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, ErrInterrupted):
		return "interrupted"
	case errors.Is(err, ErrRender):
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
