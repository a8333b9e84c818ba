package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// lease is what this store keeps of a job it holds: the claim token, and
// for a plain job (one of a webhook, without a Key or a digest), its
// webhook's row id, which lets Complete end it in one round trip.
type lease struct {
	tok   token
	plain int64 // the webhook of a plain job; 0 for any other
}

// hold records the leases of jobs this store has claimed: the renewer
// keeps them until they end.
func (d *DB) hold(held map[uint64]lease) {
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	for id, tok := range held {
		d.leases[id] = tok
	}
}

// take removes the lease of job id from those renewed, as a method is
// about to end it, and returns it (with a zero token when this store does
// not hold the job: no claim token is zero).
func (d *DB) take(id uint64) lease {
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	l := d.leases[id]
	delete(d.leases, id)
	return l
}

// held returns the leases this store holds.
func (d *DB) held() (ids []int64, toks []token) {
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	for id, l := range d.leases {
		ids, toks = append(ids, int64(id)), append(toks, l.tok)
	}
	return ids, toks
}

// renewLeases renews the leases this store holds every third of the
// lease, until ctx ends.
func (d *DB) renewLeases(ctx context.Context) {
	defer d.bg.Done()
	tick := time.NewTicker(d.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := d.renew(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("renew leases", "error", err)
			}
		}
	}
}

// renew extends the leases this store holds to Lease from the database's
// now, and forgets those it lost: another process may hold the job now,
// and ending it will fail with ErrLeaseLost.
func (d *DB) renew(ctx context.Context) error {
	ids, toks := d.held()
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.lease/3)
	defer cancel()
	rows, err := d.pool.Query(ctx, `UPDATE jobs SET lease_until = statement_timestamp() + $3::interval
		FROM unnest($1::bigint[], $2::uuid[]) AS h(id, claim)
		WHERE jobs.id = h.id AND jobs.claim = h.claim AND jobs.dead_at IS NULL
		RETURNING jobs.id`, ids, toks, d.lease)
	if err != nil {
		return err
	}
	renewed, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	kept := make(map[int64]bool, len(renewed))
	for _, id := range renewed {
		kept[id] = true
	}
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	for i, id := range ids {
		// A lease ended meanwhile by a method is gone from d.leases.
		if !kept[id] && d.leases[uint64(id)].tok == toks[i] {
			delete(d.leases, uint64(id))
			d.log.Warn("lease lost", "job", id)
		}
	}
	return nil
}

// unlease ends the leases of jobs $1 held under tokens $2.
const unlease = `UPDATE jobs SET claim = NULL, lease_until = NULL
	FROM unnest($1::bigint[], $2::uuid[]) AS h(id, claim)
	WHERE jobs.id = h.id AND jobs.claim = h.claim`

// releaseAll ends the leases this store holds, at Close.
func (d *DB) releaseAll() error {
	ids, toks := d.held()
	d.leaseMu.Lock()
	clear(d.leases)
	d.leaseMu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := d.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, unlease, ids, toks)
		if err != nil {
			return err
		}
		return d.notify(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("release %d leases: %w", len(ids), err)
	}
	return nil
}
