package retry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/store"
)

// TestPolicyNext is the retry policy's table: what follows each kind of
// failed attempt.
func TestPolicyNext(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	p := Policy{maxAttempts: 5, maxAge: time.Hour, backoff: 2 * time.Second, maxBackoff: time.Minute,
		jitter: func() float64 { return 1 }} // the top of each jitter range
	fresh := store.Job{FirstAt: now.Add(-time.Minute)}
	third := store.Job{FirstAt: now.Add(-time.Minute), Attempts: 2}
	last := store.Job{FirstAt: now.Add(-time.Minute), Attempts: 4}
	old := store.Job{FirstAt: now.Add(-time.Hour)}
	nearlyOld := store.Job{FirstAt: now.Add(-time.Hour + 3*time.Second), Attempts: 3}
	boom := errors.New("boom")
	tests := []struct {
		name string
		job  store.Job
		err  error
		want Decision
	}{
		{name: "transient: first retry after backoff",
			job: fresh, err: boom,
			want: Decision{Verdict: Retry, At: now.Add(2 * time.Second), Reason: "boom", Label: "other"}},
		{name: "transient: backoff doubles",
			job: third, err: boom,
			want: Decision{Verdict: Retry, At: now.Add(8 * time.Second), Reason: "boom", Label: "other"}},
		{name: "transient: never past max_age",
			job: nearlyOld, err: boom,
			want: Decision{Verdict: Retry, At: now.Add(3 * time.Second), Reason: "boom", Label: "other"}},
		{name: "permanent: dead at once",
			job: fresh, err: notifiers.Permanent(errors.New("channel_not_found")),
			want: Decision{Verdict: Dead, Reason: "channel_not_found", Label: "rejected"}},
		{name: "unrenderable: dead at once",
			job: fresh, err: fmt.Errorf("%w: no recipients", ErrRender),
			want: Decision{Verdict: Dead, Reason: "render message: no recipients", Label: "template"}},
		{name: "Retry-After: waits that long and pauses the notifier",
			job: fresh, err: notifiers.RetryAfter(errors.New("429"), 30*time.Second),
			want: Decision{Verdict: Retry, At: now.Add(30 * time.Second), Pause: now.Add(30 * time.Second), Reason: "429", Label: "rate_limited"}},
		{name: "Retry-After: capped at max_backoff",
			job: fresh, err: notifiers.RetryAfter(errors.New("429"), 4294967295*time.Second),
			want: Decision{Verdict: Retry, At: now.Add(time.Minute), Pause: now.Add(time.Minute), Reason: "429", Label: "rate_limited",
				Note: "Retry-After 1193046h28m15s capped at delivery.max_backoff 1m0s"}},
		{name: "Retry-After: never past max_age",
			job: nearlyOld, err: notifiers.RetryAfter(errors.New("429"), 30*time.Second),
			want: Decision{Verdict: Retry, At: now.Add(3 * time.Second), Pause: now.Add(3 * time.Second), Reason: "429", Label: "rate_limited"}},
		{name: "max_attempts: the last attempt failed",
			job: last, err: boom,
			want: Decision{Verdict: Dead, Reason: "gave up after 5 attempts: boom", Label: "other"}},
		{name: "max_age: passed",
			job: old, err: boom,
			want: Decision{Verdict: Dead, Reason: "gave up after delivery.max_age 1h0m0s: boom", Label: "other"}},
		{name: "interrupted by shutdown: released",
			job: last, err: fmt.Errorf("%w: %w", ErrInterrupted, context.Canceled),
			want: Decision{Verdict: Release, Reason: "send interrupted by shutdown: context canceled", Label: "interrupted"}},
		{name: "timeout: transient",
			job: fresh, err: fmt.Errorf("send took longer than the notifier's timeout 10s: %w", context.DeadlineExceeded),
			want: Decision{Verdict: Retry, At: now.Add(2 * time.Second), Reason: "send took longer than the notifier's timeout 10s: context deadline exceeded", Label: "timeout"}},
		{name: "network: transient",
			job: fresh, err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
			want: Decision{Verdict: Retry, At: now.Add(2 * time.Second), Reason: "dial tcp: connection refused", Label: "network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Next(tt.job, tt.err, now)
			if got != tt.want {
				t.Errorf("next(attempts %d, %q) =\n%+v\nwant\n%+v", tt.job.Attempts, tt.err, got, tt.want)
			}
		})
	}
}

// TestBackoffBounds: each wait is within [base/10, min(base·2^(n-1), max)]
// whatever the jitter, and large attempt counts do not overflow.
func TestBackoffBounds(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 63, 64, 1000} {
		for _, j := range []float64{0, 0.5, 1} {
			got := Backoff(n, time.Second, time.Minute, func() float64 { return j })
			ceiling := time.Minute
			if n < 7 {
				ceiling = time.Second << (n - 1)
			}
			if got < 100*time.Millisecond || got > ceiling {
				t.Errorf("Backoff(%d, jitter %v) = %v, want within [100ms, %v]", n, j, got, ceiling)
			}
		}
	}
}
