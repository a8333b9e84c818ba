package relay

import (
	"context"
	"time"
)

// sharedPauseCheck is how often a lane without a pace asks the shared
// store whether another instance paused its notifier (Retry-After).
const sharedPauseCheck = time.Second

// passShared asks the shared store (several instances on one database)
// how much of each lane's quota it may send now: a paced notifier gets at
// most one send per call, from one pace that all instances share; a
// notifier paused by any instance gets none. A lane without a pace asks at
// most every sharedPauseCheck. It trims quota in place and returns when to
// look again.
func (r *Relay) passShared(ctx context.Context, cfg *Config, quota map[string]int, lanes map[string]*lane, now, wake time.Time) time.Time {
	for n, q := range quota {
		var every time.Duration
		if lim := rateOf(cfg, n); lim > 0 {
			every = time.Duration(float64(time.Second) / float64(lim))
		}
		l := lanes[n]
		if every == 0 && now.Sub(l.sharedAt) < sharedPauseCheck {
			continue
		}
		l.sharedAt = now
		sctx, cancel := context.WithTimeout(ctx, storeTimeout)
		got, at, err := r.shared.Pass(sctx, n, now, q, every)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				r.log.Error("ask the shared pace", "notifier", n, "error", err)
			}
			delete(quota, n)
			wake = earliest(wake, now.Add(time.Second))
		case got <= 0:
			delete(quota, n)
			wake = earliest(wake, at)
		default:
			quota[n] = min(q, got)
		}
	}
	return wake
}

// sharePause pauses notifier for every instance sharing the store.
func (r *Relay) sharePause(ctx context.Context, notifier string, until time.Time) {
	if r.shared == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := r.shared.Pause(sctx, notifier, until); err != nil {
		r.log.Error("share a Retry-After pause", "notifier", notifier, "error", err)
	}
}
