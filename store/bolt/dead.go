package bolt

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

// Dead lists the dead letters by DeadAt, then id. Their Body is nil: a
// listing of large training webhooks would not fit in memory.
func (d *DB) Dead(ctx context.Context) ([]store.Job, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	var jobs []store.Job
	err = d.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucketDead)).ForEach(func(k, v []byte) error {
			r, err := decodeRecord(beID(k), v)
			if err != nil {
				return err
			}
			jobs = append(jobs, r.Job)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	slices.SortStableFunc(jobs, func(a, b store.Job) int {
		return cmp.Or(a.DeadAt.Compare(b.DeadAt), cmp.Compare(a.ID, b.ID))
	})
	return jobs, nil
}

// DeadLetter returns dead letter id, without its body; see store.Store.
func (d *DB) DeadLetter(ctx context.Context, id uint64) (store.Job, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return store.Job{}, err
	}
	defer leave()
	var r record
	err = d.bolt.View(func(tx *bbolt.Tx) error {
		r, err = openTxn(tx).get(tx.Bucket([]byte(bucketDead)), id)
		return err
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("dead letter %d: %w", id, err)
	}
	return r.Job, nil
}

// Revive moves dead letter id back to the queue under the same id; see
// store.Store.
func (d *DB) Revive(ctx context.Context, id uint64, now time.Time) error {
	return d.deadLetter(ctx, "revive", id, counts{pending: 1, dead: -1}, func(t *txn, r *record) error {
		r.Attempts = 0
		r.FirstAt, r.NextAt, r.DeadAt = now, now, time.Time{}
		return t.putJob(r)
	})
}

// Drop deletes dead letter id; see store.Store.
func (d *DB) Drop(ctx context.Context, id uint64) error {
	return d.deadLetter(ctx, "drop", id, counts{dead: -1}, func(t *txn, r *record) error {
		return t.derefAll(r)
	})
}

// deadLetter deletes dead letter id and runs fn on it, in one write
// transaction.
func (d *DB) deadLetter(ctx context.Context, op string, id uint64, delta counts, fn func(*txn, *record) error) error {
	leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	err = d.bolt.Update(func(tx *bbolt.Tx) error {
		t := openTxn(tx)
		r, err := t.get(t.dead, id)
		if err != nil {
			return err
		}
		if err := t.dead.Delete(itob(id)); err != nil {
			return err
		}
		return fn(t, &r)
	})
	if err != nil {
		return fmt.Errorf("%s dead letter %d: %w", op, id, err)
	}
	d.count(delta)
	return nil
}
