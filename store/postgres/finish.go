package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooknote/hooknote/store"
)

// Complete deletes the leased job id with what done says; see
// store.Store. A Done.Then is due at the job's own due time (at once: the
// job was claimed at or after it), with no dedupe key; the Then of a
// digest job has no webhook (no event, no body). An error wraps
// store.ErrNotFound when id is not a pending job, and ErrLeaseLost when
// this store does not hold its lease.
func (d *DB) Complete(ctx context.Context, id uint64, done store.Done) error {
	if done.Then == nil && done.Live == nil {
		return d.completePlain(ctx, id)
	}
	return d.end(ctx, "complete", id, func(tx pgx.Tx, tok token) error {
		return d.complete(ctx, tx, id, tok, done)
	})
}

// complete is Complete's transaction.
func (d *DB) complete(ctx context.Context, tx pgx.Tx, id uint64, tok token, done store.Done) error {

	var hook, digest *int64
	var key string
	var due time.Time
	err := tx.QueryRow(ctx, `DELETE FROM jobs WHERE id = $1 AND claim = $2 AND dead_at IS NULL
		RETURNING hook, digest, key, next_at`, int64(id), tok).Scan(&hook, &digest, &key, &due)
	if errors.Is(err, pgx.ErrNoRows) {
		return missing(ctx, tx, id)
	}
	if err != nil {
		return err
	}
	if done.Then != nil {
		then := *done.Then
		if then.Key == "" {
			then.Key = key
		}
		if err := insertThen(ctx, tx, hook, then, due); err != nil {
			return err
		}
	}
	if done.Live != nil && key != "" && hook != nil {
		_, err := tx.Exec(ctx, `INSERT INTO live (key, ref, rank, expires_at)
			SELECT $1, $2, $3, received_at + $4::interval FROM webhooks WHERE id = $5
			ON CONFLICT (key) DO UPDATE SET ref = excluded.ref, rank = excluded.rank,
				expires_at = greatest(live.expires_at, excluded.expires_at)`,
			key, notNil(done.Live.Ref), done.Live.Rank, d.dedupeFor, *hook)
		if err != nil {
			return fmt.Errorf("record live message: %w", err)
		}
	}
	if err := d.drop(ctx, tx, hook, digest); err != nil {
		return err
	}
	if done.Then != nil || key != "" { // a job queued, or the next of the Key free
		return d.notify(ctx, tx)
	}
	return nil
}

// Retry records a failed attempt of the leased job id; see store.Store.
// Errors are those of Complete.
func (d *DB) Retry(ctx context.Context, id uint64, next time.Time, lastErr string) error {
	return d.end(ctx, "retry", id, func(tx pgx.Tx, tok token) error {
		return endLease(ctx, tx, id, tok, ", attempts = attempts + 1, next_at = $3, last_error = $4", next, lastErr)
	})
}

// Release ends the lease of job id; see store.Store. Errors are those of
// Complete.
func (d *DB) Release(ctx context.Context, id uint64) error {
	return d.end(ctx, "release", id, func(tx pgx.Tx, tok token) error {
		if err := endLease(ctx, tx, id, tok, ""); err != nil {
			return err
		}
		return d.notify(ctx, tx)
	})
}

// Postpone ends the lease of job id, due again at next; see store.Store.
// Errors are those of Complete.
func (d *DB) Postpone(ctx context.Context, id uint64, next time.Time) error {
	return d.end(ctx, "postpone", id, func(tx pgx.Tx, tok token) error {
		if err := endLease(ctx, tx, id, tok, ", next_at = $3", next); err != nil {
			return err
		}
		return d.notify(ctx, tx)
	})
}

// Kill moves the leased job id to the dead letters; see store.Store. A
// Kill.Then has the Key it names (none by default) and no dedupe key; the
// Then of a digest job has no webhook. Errors are those of Complete.
func (d *DB) Kill(ctx context.Context, id uint64, k store.Kill) error {
	return d.end(ctx, "kill", id, func(tx pgx.Tx, tok token) error {
		attempted := 0
		if k.Attempted {
			attempted = 1
		}
		var hook *int64
		var key string
		err := tx.QueryRow(ctx, `UPDATE jobs SET claim = NULL, lease_until = NULL,
				dead_at = $3, last_error = $4, attempts = attempts + $5
			WHERE id = $1 AND claim = $2 AND dead_at IS NULL RETURNING hook, key`,
			int64(id), tok, k.At, k.Reason, attempted).Scan(&hook, &key)
		if errors.Is(err, pgx.ErrNoRows) {
			return missing(ctx, tx, id)
		}
		if err != nil {
			return err
		}
		if k.Then != nil {
			if err := insertThen(ctx, tx, hook, *k.Then, k.At); err != nil {
				return err
			}
		}
		if k.Then != nil || key != "" {
			return d.notify(ctx, tx)
		}
		return nil
	})
}

// end runs fn, the transaction that ends the lease of job id under op's
// name, with the job's claim token. The lease is not renewed meanwhile;
// when fn fails for another reason than the job being gone or not ours,
// the job stays leased to the caller, who may try again.
func (d *DB) end(ctx context.Context, op string, id uint64, fn func(pgx.Tx, token) error) error {
	return d.endWith(ctx, op, id, func(l lease) error {
		return d.tx(ctx, func(tx pgx.Tx) error { return fn(tx, l.tok) })
	})
}

// endWith runs end, which ends the lease l of job id under op's name.
func (d *DB) endWith(ctx context.Context, op string, id uint64, end func(l lease) error) error {
	leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	defer d.observed(op, time.Now())
	l := d.take(id)
	if err := end(l); err != nil {
		if !errors.Is(err, store.ErrNotFound) && l.tok != (token{}) {
			d.hold(map[uint64]lease{id: l})
		}
		return fmt.Errorf("%s job %d: %w", op, id, err)
	}
	return nil
}

// completePlain is Complete without a Then or a Live. A plain job (see
// lease) is deleted and its webhook's reference dropped in the next group
// (see commit); any other job takes Complete's general path.
func (d *DB) completePlain(ctx context.Context, id uint64) error {
	return d.endWith(ctx, "complete", id, func(l lease) error {
		if l.plain == 0 {
			return d.tx(ctx, func(tx pgx.Tx) error { return d.complete(ctx, tx, id, l.tok, store.Done{}) })
		}
		c := &completeCall{ctx: ctx, id: int64(id), tok: l.tok, hook: l.plain, answer: make(chan error, 1)}
		if err := d.group(ctx, c); err != nil {
			return err
		}
		select {
		case err := <-c.answer:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// endLease ends the lease tok of job id, setting what set says as well
// (SQL assignments, each starting with a comma, of $3, $4, … = args).
func endLease(ctx context.Context, tx pgx.Tx, id uint64, tok token, set string, args ...any) error {
	tag, err := tx.Exec(ctx, "UPDATE jobs SET claim = NULL, lease_until = NULL"+set+
		" WHERE id = $1 AND claim = $2 AND dead_at IS NULL", append([]any{int64(id), tok}, args...)...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return missing(ctx, tx, id)
	}
	return nil
}

// missing explains why job id could not be ended: store.ErrNotFound when
// it is not a pending job, ErrLeaseLost when it is one whose lease this
// store does not hold.
func missing(ctx context.Context, tx querier, id uint64) error {
	var pending bool
	err := tx.QueryRow(ctx, "SELECT dead_at IS NULL FROM jobs WHERE id = $1", int64(id)).Scan(&pending)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && !pending):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return ErrLeaseLost
}

// drop releases what a deleted job referred to: its webhook, or the digest
// it carried.
func (d *DB) drop(ctx context.Context, tx pgx.Tx, hook, digest *int64) error {
	if hook != nil {
		if err := unref(ctx, tx, []int64{*hook}); err != nil {
			return err
		}
	}
	if digest != nil {
		return dropDigest(ctx, tx, *digest)
	}
	return nil
}
