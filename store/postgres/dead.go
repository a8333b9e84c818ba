package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooknote/hooknote/store"
)

// Dead lists the dead letters, oldest first, without bodies; see
// store.Store.
func (d *DB) Dead(ctx context.Context) ([]store.Job, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	defer d.observed("dead", time.Now())
	var jobs []store.Job
	err = d.tx(ctx, func(tx pgx.Tx) error {
		jobs, err = loadJobs(ctx, tx, false, time.Time{}, "j.dead_at IS NOT NULL ORDER BY j.dead_at, j.id")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return jobs, nil
}

// DeadLetter returns dead letter id without its body; see store.Store.
func (d *DB) DeadLetter(ctx context.Context, id uint64) (store.Job, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return store.Job{}, err
	}
	defer leave()
	defer d.observed("dead_letter", time.Now())
	var jobs []store.Job
	err = d.tx(ctx, func(tx pgx.Tx) error {
		jobs, err = loadJobs(ctx, tx, false, time.Time{}, "j.id = $1 AND j.dead_at IS NOT NULL", int64(id))
		return err
	})
	if err == nil && len(jobs) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("read dead letter %d: %w", id, err)
	}
	return jobs[0], nil
}

// Revive queues dead letter id again, due at now; see store.Store.
func (d *DB) Revive(ctx context.Context, id uint64, now time.Time) error {
	return d.deadLetter(ctx, "revive", id, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs SET dead_at = NULL, attempts = 0, first_at = $2, next_at = $2,
				claim = NULL, lease_until = NULL
			WHERE id = $1 AND dead_at IS NOT NULL`, int64(id), now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return d.notify(ctx, tx)
	})
}

// Drop deletes dead letter id; see store.Store.
func (d *DB) Drop(ctx context.Context, id uint64) error {
	return d.deadLetter(ctx, "drop", id, func(tx pgx.Tx) error {
		var hook, digest *int64
		err := tx.QueryRow(ctx, "DELETE FROM jobs WHERE id = $1 AND dead_at IS NOT NULL RETURNING hook, digest",
			int64(id)).Scan(&hook, &digest)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return d.drop(ctx, tx, hook, digest)
	})
}

// deadLetter runs fn, the transaction of op on dead letter id.
func (d *DB) deadLetter(ctx context.Context, op string, id uint64, fn func(pgx.Tx) error) error {
	leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	defer d.observed(op, time.Now())
	if err := d.tx(ctx, fn); err != nil {
		return fmt.Errorf("%s dead letter %d: %w", op, id, err)
	}
	return nil
}
