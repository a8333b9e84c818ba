package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooknote/hooknote/store"
)

// free is the SQL condition on a pending job j that it may be claimed,
// due or not: its lease (if any) has ended by the database's clock, and
// when it has a Key, it is the earliest pending job of its Key and none of
// them is leased.
const free = `(j.lease_until IS NULL OR j.lease_until <= statement_timestamp())
	AND (j.key = '' OR NOT EXISTS (
		SELECT 1 FROM jobs o WHERE o.key = j.key AND o.key <> '' AND o.dead_at IS NULL AND o.id <> j.id
			AND (o.id < j.id OR o.lease_until > statement_timestamp())))`

// leaseJobs is the end of both claim queries: the jobs chosen in c are
// leased under a new token each.
const leaseJobs = `
	UPDATE jobs SET claim = gen_random_uuid(), lease_until = statement_timestamp() + $3::interval
	FROM c WHERE jobs.id = c.id RETURNING jobs.id, jobs.claim`

// claimAny chooses up to $2 jobs due at $1, oldest due first.
const claimAny = `WITH c AS (
		SELECT j.id FROM jobs j WHERE j.dead_at IS NULL AND j.next_at <= $1 AND ` + free + `
		ORDER BY j.next_at, j.id LIMIT $2 FOR UPDATE SKIP LOCKED)` + leaseJobs

// claimPer chooses up to $2 jobs due at $1, oldest due first, at most
// quota $5[i] of notifier $4[i].
const claimPer = `WITH c AS (
		SELECT p.id FROM unnest($4::text[], $5::int[]) AS q(notifier, quota)
		CROSS JOIN LATERAL (
			SELECT j.id, j.next_at FROM jobs j
			WHERE j.notifier = q.notifier AND j.dead_at IS NULL AND j.next_at <= $1 AND ` + free + `
			ORDER BY j.next_at, j.id LIMIT q.quota FOR UPDATE SKIP LOCKED) AS p
		ORDER BY p.next_at, p.id LIMIT $2)` + leaseJobs

// Claim leases up to max jobs due at or before now; see store.Store. Each
// job gets a claim token and a lease of Options.Lease by the database's
// clock, renewed in the background until Complete, Retry, Postpone,
// Release or Kill ends it. Claims of all processes take turns (an advisory
// lock), so that two never hold jobs of one Key at once. Jobs of one
// webhook claimed together share one Body slice, which callers must not
// modify.
func (d *DB) Claim(ctx context.Context, now time.Time, max int, perNotifier map[string]int) ([]store.Job, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	defer d.observed("claim", time.Now())
	if max <= 0 {
		return nil, nil
	}
	query, args := claimAny, []any{now, max, d.lease}
	if perNotifier != nil {
		var names []string
		var quotas []int
		for n, q := range perNotifier {
			if q > 0 {
				names, quotas = append(names, n), append(quotas, q)
			}
		}
		if len(names) == 0 {
			return nil, nil
		}
		query, args = claimPer, append(args, names, quotas)
	}
	var jobs []store.Job
	held := map[uint64]token{}
	err = d.tx(ctx, func(tx pgx.Tx) error {
		clear(held)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", d.locks.claim); err != nil {
			return fmt.Errorf("wait for the claim lock: %w", err)
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		var id int64
		var tok token
		var ids []int64
		_, err = pgx.ForEachRow(rows, []any{&id, &tok}, func() error {
			ids, held[uint64(id)] = append(ids, id), tok
			return nil
		})
		if err != nil || len(ids) == 0 {
			jobs = nil
			return err
		}
		jobs, err = loadJobs(ctx, tx, true, now, "j.id = ANY($1) ORDER BY j.next_at, j.id", ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	d.hold(held)
	return jobs, nil
}

// Heads returns, per notifier, the earliest due time of its jobs that
// Claim could return (pending, not leased, and not held back by an
// earlier job of their Key); see store.Store.
func (d *DB) Heads(ctx context.Context) (map[string]time.Time, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	defer d.observed("heads", time.Now())
	heads := map[string]time.Time{}
	err = d.tx(ctx, func(tx pgx.Tx) error {
		clear(heads)
		rows, err := tx.Query(ctx, `SELECT j.notifier, min(j.next_at) FROM jobs j
			WHERE j.dead_at IS NULL AND `+free+` GROUP BY j.notifier`)
		if err != nil {
			return err
		}
		var n string
		var at time.Time
		_, err = pgx.ForEachRow(rows, []any{&n, &at}, func() error { heads[n] = at; return nil })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read heads: %w", err)
	}
	return heads, nil
}

// jobQuery selects the columns scanJob reads: a job and its webhook.
const jobQuery = `SELECT j.id, j.hook, j.digest, j.rule, j.notifier, j.key, j.extra, j.first_at, j.next_at,
		j.attempts, j.last_error, j.dead_at, coalesce(w.webhook_id, ''), coalesce(w.event_id, ''),
		coalesce(w.status, ''), coalesce(w.query, ''), w.received_at
	FROM jobs j LEFT JOIN webhooks w ON w.id = j.hook WHERE `

// loadJobs reads the jobs where says (a condition on j, and an order),
// with the digests they carry. For claimed jobs (claimed true), it adds
// the bodies, and for jobs with a Key, Later and the Key's live record at
// now; otherwise it leaves bodies out, also those of digest events.
func loadJobs(ctx context.Context, tx pgx.Tx, claimed bool, now time.Time, where string, args ...any) ([]store.Job, error) {
	rows, err := tx.Query(ctx, jobQuery+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	var jobs []store.Job
	var hooks, digests []*int64
	var j store.Job
	var id int64
	var hook, digest *int64
	var deadAt, receivedAt *time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &hook, &digest, &j.Rule, &j.Notifier, &j.Key, &j.Extra,
		&j.FirstAt, &j.NextAt, &j.Attempts, &j.LastError, &deadAt, &j.WebhookID, &j.EventID,
		&j.Status, &j.Query, &receivedAt}, func() error {
		j.ID, j.DeadAt, j.ReceivedAt = uint64(id), deref(deadAt), deref(receivedAt)
		jobs, hooks, digests = append(jobs, j), append(hooks, hook), append(digests, digest)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	if err := withDigests(ctx, tx, jobs, digests, claimed); err != nil {
		return nil, err
	}
	if !claimed {
		return jobs, nil
	}
	if err := withBodies(ctx, tx, jobs, hooks); err != nil {
		return nil, err
	}
	return jobs, withKeys(ctx, tx, jobs, now)
}

// withDigests sets the Digest of the jobs that carry one (digests[i] is
// the id of jobs[i]'s, or nil).
func withDigests(ctx context.Context, tx pgx.Tx, jobs []store.Job, digests []*int64, bodies bool) error {
	var ids []int64
	for _, id := range digests {
		if id != nil {
			ids = append(ids, *id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	loaded, err := loadDigests(ctx, tx, ids, bodies)
	if err != nil {
		return err
	}
	for i, id := range digests {
		if id != nil {
			jobs[i].Digest = loaded[*id]
		}
	}
	return nil
}

// withBodies sets the Body of the jobs of a webhook (hooks[i] is the
// webhook of jobs[i], or nil), reading each body once.
func withBodies(ctx context.Context, tx pgx.Tx, jobs []store.Job, hooks []*int64) error {
	var ids []int64
	for _, h := range hooks {
		if h != nil {
			ids = append(ids, *h)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, "SELECT id, body FROM webhooks WHERE id = ANY($1)", ids)
	if err != nil {
		return fmt.Errorf("read bodies: %w", err)
	}
	bodies := map[int64][]byte{}
	var id int64
	var body []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &body}, func() error { bodies[id] = body; return nil })
	if err != nil {
		return fmt.Errorf("read bodies: %w", err)
	}
	for i, h := range hooks {
		if h != nil {
			jobs[i].Body = bodies[*h]
		}
	}
	return nil
}

// withKeys sets Later and Live of the jobs with a Key: how many pending
// jobs of the Key come after each, and the Key's live record unless it
// expired by now.
func withKeys(ctx context.Context, tx pgx.Tx, jobs []store.Job, now time.Time) error {
	at := map[int64]int{}
	var ids []int64
	for i, j := range jobs {
		if j.Key != "" {
			ids, at[int64(j.ID)] = append(ids, int64(j.ID)), i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT j.id,
			(SELECT count(*) FROM jobs o WHERE o.key = j.key AND o.key <> '' AND o.dead_at IS NULL AND o.id > j.id),
			l.ref, l.rank
		FROM jobs j LEFT JOIN live l ON l.key = j.key AND l.expires_at > $2
		WHERE j.id = ANY($1)`, ids, now)
	if err != nil {
		return fmt.Errorf("read keys: %w", err)
	}
	var id int64
	var later int
	var ref []byte
	var rank *int
	_, err = pgx.ForEachRow(rows, []any{&id, &later, &ref, &rank}, func() error {
		j := &jobs[at[id]]
		j.Later = later
		if rank != nil {
			j.Live = &store.Live{Ref: ref, Rank: *rank}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read keys: %w", err)
	}
	return nil
}

// deref is *t, or the zero time for nil.
func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
