package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooknote/hooknote/store"
)

// sweepBatch bounds the rows one statement of Sweep deletes.
const sweepBatch = 1000

// sweeps are the statements of Sweep, each deleting up to sweepBatch rows
// that expired at or before $1.
var sweeps = []struct{ what, sql string }{
	{"dedupe keys", "DELETE FROM seen WHERE key IN (SELECT key FROM seen WHERE expires_at <= $1 LIMIT $2)"},
	{"live records", "DELETE FROM live WHERE key IN (SELECT key FROM live WHERE expires_at <= $1 LIMIT $2)"},
}

// Sweep deletes the dedupe keys, terminal marks and live records that
// expired at or before now, sweepBatch rows per statement (each its own
// transaction), and returns how many it deleted; see store.Store. One
// process sweeps at a time: while another does, Sweep returns 0 at once.
func (d *DB) Sweep(ctx context.Context, now time.Time) (int, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	defer d.observed("sweep", time.Now())
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", d.locks.sweep).Scan(&locked); err != nil {
		return 0, fmt.Errorf("sweep: take the sweep lock: %w", err)
	}
	if !locked {
		return 0, nil
	}
	defer unlock(ctx, conn.Conn(), d.locks.sweep)
	total := 0
	for _, s := range sweeps {
		for {
			tag, err := conn.Exec(ctx, s.sql, now, sweepBatch)
			if err != nil {
				return total, fmt.Errorf("sweep %s: %w", s.what, err)
			}
			total += int(tag.RowsAffected())
			if tag.RowsAffected() < sweepBatch {
				break
			}
		}
	}
	return total, nil
}

// unlock releases the session advisory lock key held by conn; if it
// cannot, it closes conn, which releases it too.
func unlock(ctx context.Context, conn *pgx.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
		_ = conn.Close(ctx)
	}
}

// Stats counts the pending jobs, dead letters and open digests; see
// store.Store.
func (d *DB) Stats(ctx context.Context) (store.Stats, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return store.Stats{}, err
	}
	defer leave()
	defer d.observed("stats", time.Now())
	var st store.Stats
	err = d.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM jobs WHERE dead_at IS NULL),
			(SELECT count(*) FROM jobs WHERE dead_at IS NOT NULL),
			(SELECT count(*) FROM digests WHERE open)`).Scan(&st.Pending, &st.Dead, &st.OpenDigests)
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("read stats: %w", err)
	}
	return st, nil
}
