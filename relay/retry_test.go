package relay

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
	p := policy{maxAttempts: 5, maxAge: time.Hour, backoff: 2 * time.Second, maxBackoff: time.Minute,
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
		want decision
	}{
		{name: "transient: first retry after backoff",
			job: fresh, err: boom,
			want: decision{verdict: retry, at: now.Add(2 * time.Second), reason: "boom", label: "other"}},
		{name: "transient: backoff doubles",
			job: third, err: boom,
			want: decision{verdict: retry, at: now.Add(8 * time.Second), reason: "boom", label: "other"}},
		{name: "transient: never past max_age",
			job: nearlyOld, err: boom,
			want: decision{verdict: retry, at: now.Add(3 * time.Second), reason: "boom", label: "other"}},
		{name: "permanent: dead at once",
			job: fresh, err: notifiers.Permanent(errors.New("channel_not_found")),
			want: decision{verdict: dead, reason: "channel_not_found", label: "rejected"}},
		{name: "unrenderable: dead at once",
			job: fresh, err: fmt.Errorf("%w: no recipients", errRender),
			want: decision{verdict: dead, reason: "render message: no recipients", label: "template"}},
		{name: "Retry-After: waits that long and pauses the notifier",
			job: fresh, err: notifiers.RetryAfter(errors.New("429"), 30*time.Second),
			want: decision{verdict: retry, at: now.Add(30 * time.Second), pause: now.Add(30 * time.Second), reason: "429", label: "rate_limited"}},
		{name: "Retry-After: capped at max_backoff",
			job: fresh, err: notifiers.RetryAfter(errors.New("429"), 4294967295*time.Second),
			want: decision{verdict: retry, at: now.Add(time.Minute), pause: now.Add(time.Minute), reason: "429", label: "rate_limited",
				note: "Retry-After 1193046h28m15s capped at delivery.max_backoff 1m0s"}},
		{name: "Retry-After: never past max_age",
			job: nearlyOld, err: notifiers.RetryAfter(errors.New("429"), 30*time.Second),
			want: decision{verdict: retry, at: now.Add(3 * time.Second), pause: now.Add(3 * time.Second), reason: "429", label: "rate_limited"}},
		{name: "max_attempts: the last attempt failed",
			job: last, err: boom,
			want: decision{verdict: dead, reason: "gave up after 5 attempts: boom", label: "other"}},
		{name: "max_age: passed",
			job: old, err: boom,
			want: decision{verdict: dead, reason: "gave up after delivery.max_age 1h0m0s: boom", label: "other"}},
		{name: "interrupted by shutdown: released",
			job: last, err: fmt.Errorf("%w: %w", errInterrupted, context.Canceled),
			want: decision{verdict: release, reason: "send interrupted by shutdown: context canceled", label: "interrupted"}},
		{name: "timeout: transient",
			job: fresh, err: fmt.Errorf("send took longer than the notifier's timeout 10s: %w", context.DeadlineExceeded),
			want: decision{verdict: retry, at: now.Add(2 * time.Second), reason: "send took longer than the notifier's timeout 10s: context deadline exceeded", label: "timeout"}},
		{name: "network: transient",
			job: fresh, err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
			want: decision{verdict: retry, at: now.Add(2 * time.Second), reason: "dial tcp: connection refused", label: "network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.next(tt.job, tt.err, now)
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
			got := backoff(n, time.Second, time.Minute, func() float64 { return j })
			ceiling := time.Minute
			if n < 7 {
				ceiling = time.Second << (n - 1)
			}
			if got < 100*time.Millisecond || got > ceiling {
				t.Errorf("backoff(%d, jitter %v) = %v, want within [100ms, %v]", n, j, got, ceiling)
			}
		}
	}
}
