package relay

import (
	"time"

	"golang.org/x/time/rate"
)

// lane is one notifier's share of the dispatcher: its sends in flight (at
// most delivery.workers), its pace (rate) and its pause (Retry-After). A
// hung or paced destination holds only its own lane: the other notifiers'
// jobs are claimed and sent meanwhile. Lanes belong to the dispatcher's
// loop and are read and written by it alone.
type lane struct {
	busy        int       // sends in flight
	nextDue     time.Time // when its next job is due, as last known
	limit       rate.Limit
	limiter     *rate.Limiter // nil: unlimited
	pausedUntil time.Time
	sharedAt    time.Time // when the shared store was last asked (store.Shared)
}

// laneFor returns the lane of notifier, made or brought in line with its
// configured rate (its pause is kept across reloads).
func laneFor(lanes map[string]*lane, notifier string, limit rate.Limit) *lane {
	l, ok := lanes[notifier]
	if !ok {
		l = &lane{}
		lanes[notifier] = l
	}
	if !ok || l.limit != limit {
		l.limit, l.limiter = limit, nil
		if limit > 0 {
			l.limiter = rate.NewLimiter(limit, 1)
		}
	}
	return l
}

// quota is how many jobs the lane may take now, at most free; when it may
// take none, wake says when to look again (zero: when a send ends).
func (l *lane) quota(now time.Time, free int) (n int, wake time.Time) {
	if free <= 0 {
		return 0, time.Time{}
	}
	if now.Before(l.pausedUntil) {
		return 0, l.pausedUntil
	}
	if l.limiter == nil {
		return free, time.Time{}
	}
	tokens := int(l.limiter.TokensAt(now))
	if tokens < 1 {
		r := l.limiter.ReserveN(now, 1)
		wait := r.DelayFrom(now)
		r.CancelAt(now)
		return 0, now.Add(wait)
	}
	return min(tokens, free), time.Time{}
}

// take counts a claimed job: one send in flight, one token of the pace.
func (l *lane) take(now time.Time) {
	l.busy++
	if l.limiter != nil {
		l.limiter.AllowN(now, 1)
	}
}

// pause stops the lane until until (Retry-After); a later pause wins.
func (l *lane) pause(until time.Time) {
	if until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}
