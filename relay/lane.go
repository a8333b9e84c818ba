package relay

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

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
