// Package relay is hooknote's engine (DESIGN §1): the intake handler that
// verifies, decodes, matches and durably records each webhook before it
// answers; the dispatcher that claims due jobs, renders them and calls the
// notifiers, under the one retry policy of the program, per-notifier pacing
// and Retry-After pauses; the admin API (readiness, dead letters) and the
// Prometheus metrics. Load builds a Config from the config file: notifiers
// constructed, rules compiled, templates parsed and rendered against the
// samples; a reload swaps it atomically.
//
// Four rooms of its own hold what has no other user: relay/retry (the
// retry policy, a pure function), relay/metrics (the Prometheus
// instruments), relay/body (bounded reads of unverified bodies) and
// relay/logsample (one log line per webhook, up to 100 a second).
//
// relay imports config, rules, replicate, templates, and the store and
// notifiers contracts, never a store backend or a concrete notifier: main
// injects those (Builders, a store.Store).
package relay

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hooknote/hooknote/relay/logsample"
	"github.com/hooknote/hooknote/relay/metrics"
	"github.com/hooknote/hooknote/store"
)

// Relay ties a config, a store and the dispatcher together. Build it with
// New; serve IntakeHandler and AdminHandler; run Run until shutdown.
type Relay struct {
	cfg        atomic.Pointer[Config]
	store      store.Store
	shared     store.Shared // nil: the store is this process's alone
	log        *slog.Logger
	now        func() time.Time
	wake       chan struct{}
	digestWake chan struct{} // a digest was joined: its deadline may be earlier
	ping       chan chan struct{}
	draining   atomic.Bool
	ready      atomic.Bool
	metrics    *metrics.Set
	requests   atomic.Uint64    // numbers the webhooks received, for log lines
	events     eventCache       // decoded webhooks, shared by their jobs
	recorder   recorder         // writes the outcome of each attempt
	due        dueNotes         // jobs that fell due, for the sleeping dispatcher
	webhookLog logsample.Window // which webhooks get a log line
}

// Options are Relay's optional dependencies.
type Options struct {
	Now     func() time.Time // default processClock()
	Metrics *metrics.Set     // nil: no metrics
}

// New returns a Relay serving cfg from st.
func New(cfg *Config, st store.Store, log *slog.Logger, opts Options) *Relay {
	r := &Relay{store: st, log: log, now: opts.Now, metrics: opts.Metrics, wake: make(chan struct{}, 1),
		digestWake: make(chan struct{}, 1), ping: make(chan chan struct{})}
	r.shared, _ = st.(store.Shared)
	switch {
	case r.now != nil:
	case r.shared != nil:
		r.now = r.shared.Now // one clock for every instance: the database's
	default:
		r.now = processClock()
	}
	r.metrics.WatchStore(st)
	r.cfg.Store(cfg)
	r.ready.Store(true)
	return r
}

// processClock returns a clock that reads the wall time when it was made
// plus the monotonic time elapsed since. Due times, pauses and ages are
// stored as wall times; within the process a step of the wall clock (NTP, a
// resumed VM) then neither dead-letters pending jobs early nor delays a
// retry by the size of the step. Across a restart, the wall clock at start
// is the reference.
func processClock() func() time.Time {
	base := time.Now()
	return func() time.Time { return base.Add(time.Since(base)) }
}

// Config returns the config in force.
func (r *Relay) Config() *Config { return r.cfg.Load() }

// Reload swaps in a new config atomically: requests in flight finish with the
// old one, the next ones use the new one. Listener addresses, the state
// directory and the number of workers are fixed at start; a change to them is
// logged and takes effect at the next restart.
func (r *Relay) Reload(cfg *Config) {
	old := r.cfg.Swap(cfg)
	if old.File.Server != cfg.File.Server || old.File.State != cfg.File.State || old.File.Delivery.Workers != cfg.File.Delivery.Workers {
		r.log.Warn("reload: server, state and delivery.workers settings take effect at restart")
	}
	old.retire()
	r.anyJobsDue()
}

// Alive reports whether the dispatcher loop answers within ctx: the
// systemd watchdog is fed only while it does.
func (r *Relay) Alive(ctx context.Context) bool {
	reply := make(chan struct{})
	select {
	case r.ping <- reply:
	case <-ctx.Done():
		return false
	}
	select {
	case <-reply:
		return true
	case <-ctx.Done():
		return false
	}
}

// Drain makes intake answer 503 from now on (shutdown has begun).
func (r *Relay) Drain() { r.draining.Store(true); r.ready.Store(false) }

func (r *Relay) wakeDispatcher() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// sweepEvery is how often expired dedupe keys are swept.
const sweepEvery = 10 * time.Minute

// sweep deletes expired dedupe keys until ctx ends.
func (r *Relay) sweep(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		n, err := r.store.Sweep(ctx, r.now())
		if err != nil && ctx.Err() == nil {
			r.log.Error("sweep dedupe keys", "error", err)
		} else if n > 0 {
			r.log.Debug("swept dedupe keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
