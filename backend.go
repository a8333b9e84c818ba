package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/store/bolt"
	"github.com/hooknote/hooknote/store/postgres"
)

// connectTimeout bounds connecting to (and migrating) a PostgreSQL store at
// start: serve fails with one line rather than hang.
const connectTimeout = 30 * time.Second

// openStore opens the backend [state] names: the one place that knows
// every backend (DESIGN §2). Its metrics (store latency, connections) go
// on reg.
func openStore(f *config.File, log *slog.Logger, reg prometheus.Registerer) (store.Store, error) {
	s := f.State
	switch s.Backend {
	case config.BackendPostgres:
		ops := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hooknote_store_duration_seconds",
			Help:    "Time one store operation took (claim, complete, enqueue, …), by backend and operation, whatever its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"backend", "op"})
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		db, err := postgres.Open(ctx, postgres.Options{
			DSN: s.DSN.Reveal(), DedupeFor: s.DedupeFor.Duration, Lease: s.LeaseOrDefault(), Logger: log,
			Observe: func(op string, d time.Duration) { ops.WithLabelValues("postgres", op).Observe(d.Seconds()) },
		})
		if err != nil {
			return nil, err
		}
		reg.MustRegister(ops, poolCollector{db})
		return db, nil
	default:
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("create state dir: %w", err)
		}
		return bolt.Open(filepath.Join(s.Dir, "hooknote.db"), bolt.Options{DedupeFor: s.DedupeFor.Duration, Logger: log})
	}
}

// poolCollector reports a PostgreSQL store's connections at scrape time.
type poolCollector struct{ db *postgres.DB }

var poolDesc = prometheus.NewDesc("hooknote_store_connections",
	"Connections of the PostgreSQL store's pool, by state: in_use, idle, max.", []string{"state"}, nil)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- poolDesc }

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	inUse, idle, max := c.db.PoolStat()
	ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(inUse), "in_use")
	ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(idle), "idle")
	ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(max), "max")
}
