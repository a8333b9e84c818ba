package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooknote/hooknote/store"
)

// joinDigest makes webhook hook (w) join the open digest of nj's rule,
// notifier and group, in Enqueue's transaction, and returns how many
// digests it sent (queued as jobs). First the event's entry in any open
// digest of that rule and notifier leaves it (a digest left empty is
// dropped); then a group's digest that holds Max events already is sent,
// reason "max", and another started; the quiet time restarts.
func joinDigest(ctx context.Context, tx pgx.Tx, w store.Webhook, hook int64, nj store.NewJob) (int, error) {
	// The digests are locked first: one being sent meanwhile keeps its
	// events (FOR UPDATE sees it closed and leaves it out).
	rows, err := tx.Query(ctx, `WITH d AS (
			SELECT d.id FROM digests d JOIN digest_events e ON e.digest = d.id
			WHERE d.open AND d.rule = $1 AND d.notifier = $2 AND e.event_id = $3
			FOR UPDATE OF d)
		DELETE FROM digest_events e USING d WHERE e.digest = d.id AND e.event_id = $3
		RETURNING e.digest, e.hook`, nj.Rule, nj.Notifier, w.EventID)
	if err != nil {
		return 0, fmt.Errorf("move event out of its digest: %w", err)
	}
	var left, hooks []int64
	var from, ref int64
	_, err = pgx.ForEachRow(rows, []any{&from, &ref}, func() error {
		left, hooks = append(left, from), append(hooks, ref)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("move event out of its digest: %w", err)
	}
	if err := refreshDigests(ctx, tx, left); err != nil {
		return 0, err
	}
	if err := unref(ctx, tx, hooks); err != nil {
		return 0, err
	}
	id, sent, err := openDigest(ctx, tx, w.ReceivedAt, nj)
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec(ctx, "INSERT INTO digest_events (digest, event_id, hook) VALUES ($1, $2, $3)", id, w.EventID, hook)
	if err != nil {
		return 0, fmt.Errorf("join digest: %w", err)
	}
	return sent, refreshDigests(ctx, tx, []int64{id})
}

// openDigest returns the open digest of nj's rule, notifier and group,
// locked, with its last join at at: the one there is, unless it holds Max
// events already, in which case it is sent (queued due at at; sent is 1)
// and another made; a new one if there is none.
func openDigest(ctx context.Context, tx pgx.Tx, at time.Time, nj store.NewJob) (id int64, sent int, err error) {
	j := nj.Digest
	for {
		// Locked by the insert or the update: its count is the latest.
		var full bool
		err := tx.QueryRow(ctx, `INSERT INTO digests AS d
				(rule, notifier, grp, quiet, max_wait, max_events, extra, first_at, last_at, due_at)
			VALUES ($1, $2, $3, $4, $5, greatest($6, 1), $7, $8, $8, $8)
			ON CONFLICT (rule, notifier, grp) WHERE open DO UPDATE SET last_at = CASE
				WHEN d.events >= d.max_events THEN d.last_at ELSE greatest(d.last_at, excluded.last_at) END
			RETURNING id, events >= max_events`,
			nj.Rule, nj.Notifier, j.Group, j.Quiet, j.MaxWait, j.Max, j.Extra, at).Scan(&id, &full)
		if err != nil {
			return 0, 0, fmt.Errorf("open digest of %s/%s: %w", nj.Rule, nj.Notifier, err)
		}
		if !full {
			return id, sent, nil
		}
		if _, err := sendDigests(ctx, tx, at, "SELECT $2::bigint", id); err != nil {
			return 0, 0, fmt.Errorf("send full digest: %w", err)
		}
		sent++
	}
}

// sendDigests sends the open digests that choose selects (and locks),
// each closed with its reason and carried by one job queued due at at
// ($1 in choose; args are $2, …). It returns how many it sent by reason.
func sendDigests(ctx context.Context, tx pgx.Tx, at time.Time, choose string, args ...any) (map[string]int, error) {
	rows, err := tx.Query(ctx, `WITH closed AS (
			UPDATE digests d SET open = false, reason = CASE
				WHEN d.events >= d.max_events THEN 'max'
				WHEN d.first_at + d.max_wait < d.last_at + d.quiet THEN 'max_wait'
				ELSE 'quiet' END
			WHERE d.id IN (`+choose+`)
			RETURNING d.id, d.rule, d.notifier, d.reason),
		queued AS (
			INSERT INTO jobs (digest, rule, notifier, first_at, next_at)
			SELECT id, rule, notifier, $1, $1 FROM closed ORDER BY id)
		SELECT reason, count(*) FROM closed GROUP BY reason`, append([]any{at}, args...)...)
	if err != nil {
		return nil, err
	}
	sent := map[string]int{}
	var reason string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&reason, &n}, func() error { sent[reason] = n; return nil }); err != nil {
		return nil, err
	}
	return sent, nil
}

// refreshDigests counts the events of the open digests ids and sets when
// each falls due: when it holds its Max events, at its last join;
// otherwise at the earlier of its last join + Quiet and its first join +
// MaxWait. A digest left empty is dropped.
func refreshDigests(ctx context.Context, tx pgx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE digests d SET events = c.n,
			due_at = CASE WHEN c.n >= d.max_events THEN d.last_at
				ELSE least(d.last_at + d.quiet, d.first_at + d.max_wait) END
		FROM (SELECT x.id, count(e.digest) AS n
			FROM (SELECT DISTINCT unnest($1::bigint[]) AS id) AS x
			LEFT JOIN digest_events e ON e.digest = x.id GROUP BY x.id) AS c
		WHERE d.id = c.id`, ids)
	if err != nil {
		return fmt.Errorf("count digest events: %w", err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM digests WHERE id = ANY($1) AND open AND events = 0", ids); err != nil {
		return fmt.Errorf("drop empty digests: %w", err)
	}
	return nil
}

// FlushDigests sends the open digests due at or before now; see
// store.Store. A digest another process is joining or sending at that
// moment is left to it, or to the next call.
func (d *DB) FlushDigests(ctx context.Context, now time.Time) (map[string]int, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	defer d.observed("flush", time.Now())
	var sent map[string]int
	err = d.tx(ctx, func(tx pgx.Tx) error {
		sent, err = sendDigests(ctx, tx, now, "SELECT id FROM digests WHERE open AND due_at <= $1 FOR UPDATE SKIP LOCKED")
		if err != nil || len(sent) == 0 {
			return err
		}
		return d.notify(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("send digests: %w", err)
	}
	return sent, nil
}

// NextDigest returns when the earliest open digest falls due; see
// store.Store.
func (d *DB) NextDigest(ctx context.Context) (time.Time, bool, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	defer leave()
	defer d.observed("next_digest", time.Now())
	var next *time.Time
	err = d.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT min(due_at) FROM digests WHERE open").Scan(&next)
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next digest: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return *next, true, nil
}

// dropDigest deletes the sent digest id with its events, when the job
// carrying it is gone.
func dropDigest(ctx context.Context, tx pgx.Tx, id int64) error {
	rows, err := tx.Query(ctx, "DELETE FROM digest_events WHERE digest = $1 RETURNING hook", id)
	if err != nil {
		return fmt.Errorf("delete digest events: %w", err)
	}
	hooks, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("delete digest events: %w", err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM digests WHERE id = $1", id); err != nil {
		return fmt.Errorf("delete digest: %w", err)
	}
	return unref(ctx, tx, hooks)
}

// loadDigests reads the digests ids, their events oldest join first, with
// the events' bodies when bodies is true.
func loadDigests(ctx context.Context, tx querier, ids []int64, bodies bool) (map[int64]*store.Digest, error) {
	out := make(map[int64]*store.Digest, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, "SELECT id, grp, extra, reason, first_at, last_at FROM digests WHERE id = ANY($1)", ids)
	if err != nil {
		return nil, fmt.Errorf("read digests: %w", err)
	}
	var id int64
	var g store.Digest
	_, err = pgx.ForEachRow(rows, []any{&id, &g.Group, &g.Extra, &g.Reason, &g.First, &g.Last}, func() error {
		dg := g
		out[id] = &dg
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read digests: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT e.digest, w.event_id, w.status, w.query, w.received_at, CASE WHEN $2 THEN w.body END
		FROM digest_events e JOIN webhooks w ON w.id = e.hook
		WHERE e.digest = ANY($1) ORDER BY e.digest, e.seq`, ids, bodies)
	if err != nil {
		return nil, fmt.Errorf("read digest events: %w", err)
	}
	var e store.DigestEvent
	_, err = pgx.ForEachRow(rows, []any{&id, &e.EventID, &e.Status, &e.Query, &e.ReceivedAt, &e.Body}, func() error {
		if dg := out[id]; dg != nil {
			dg.Events = append(dg.Events, e)
		}
		e.Body = nil // scanned into afresh
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read digest events: %w", err)
	}
	return out, nil
}
