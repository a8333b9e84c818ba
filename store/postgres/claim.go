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
// leased under a new token each, and returned with their webhooks, in
// the order scanClaimed reads.
const leaseJobs = `,
	u AS (UPDATE jobs SET claim = gen_random_uuid(), lease_until = statement_timestamp() + $3::interval
		FROM c WHERE jobs.id = c.id
		RETURNING jobs.id, jobs.claim, jobs.hook, jobs.digest, jobs.rule, jobs.notifier, jobs.key, jobs.extra,
			jobs.first_at, jobs.next_at, jobs.attempts, jobs.last_error)
	SELECT u.id, u.claim, u.hook, u.digest, u.rule, u.notifier, u.key, u.extra, u.first_at, u.next_at,
		u.attempts, u.last_error, coalesce(w.webhook_id, ''), coalesce(w.event_id, ''),
		coalesce(w.status, ''), coalesce(w.query, ''), w.received_at, w.body
	FROM u LEFT JOIN webhooks w ON w.id = u.hook ORDER BY u.next_at, u.id`

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
// lock), so that two never hold jobs of one Key at once.
//
// The lock and the claim go to the database together, in one round trip
// and one (implicit) transaction, so that the lock is held only while the
// claim statement runs. The digests of digest jobs, and the Later and Live
// of jobs with a Key, are read after it, from the rows the leases now
// keep; should that fail, the leases are ended and the jobs left to the
// next claim. Jobs of one webhook claimed together share one Body slice,
// which callers must not modify.
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
	jobs, held, digests, err := d.claim(ctx, query, args)
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	// What the claim statement leaves out (no query when there is none):
	// the digests digest jobs carry, and the Later and Live of jobs with a
	// Key.
	err = withDigests(ctx, d.pool, jobs, digests, true)
	if err == nil {
		err = withKeys(ctx, d.pool, jobs, now)
	}
	if err != nil {
		d.giveBack(held)
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	d.hold(held)
	return jobs, nil
}

// claim sends the claim lock and query together and reads the jobs
// leased, with their claim tokens and the digest each carries (or nil). A try that fails because the
// connection was lost before anything was read is made again, up to
// txAttempts in all: it may have leased jobs nobody knows of, which come
// back when their lease ends.
func (d *DB) claim(ctx context.Context, query string, args []any) ([]store.Job, map[uint64]lease, []*int64, error) {
	for attempt := 1; ; attempt++ {
		jobs, held, digests, err := d.tryClaim(ctx, query, args)
		if err == nil || attempt == txAttempts || ctx.Err() != nil || !d.lostConn(err) {
			return jobs, held, digests, err
		}
	}
}

func (d *DB) tryClaim(ctx context.Context, query string, args []any) ([]store.Job, map[uint64]lease, []*int64, error) {
	var b pgx.Batch
	b.Queue("SELECT pg_advisory_xact_lock($1)", d.locks.claim)
	b.Queue(query, args...)
	br := d.pool.SendBatch(ctx, &b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, nil, nil, fmt.Errorf("wait for the claim lock: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, nil, nil, err
	}
	var (
		jobs         []store.Job
		held         = map[uint64]lease{}
		digests      []*int64
		j            store.Job
		id           int64
		tok          token
		hook, digest *int64
		receivedAt   *time.Time
		body         []byte
		bodies       = map[int64][]byte{}
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &tok, &hook, &digest, &j.Rule, &j.Notifier, &j.Key, &j.Extra,
		&j.FirstAt, &j.NextAt, &j.Attempts, &j.LastError, &j.WebhookID, &j.EventID, &j.Status, &j.Query,
		&receivedAt, &body}, func() error {
		j.ID, j.ReceivedAt, j.Body = uint64(id), deref(receivedAt), nil
		if hook != nil {
			if b, ok := bodies[*hook]; ok {
				j.Body = b
			} else {
				j.Body, bodies[*hook] = body, body
			}
		}
		l := lease{tok: tok}
		if hook != nil && digest == nil && j.Key == "" {
			l.plain = *hook
		}
		held[j.ID] = l
		jobs = append(jobs, j)
		digests = append(digests, digest)
		body = nil // scanned into afresh
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return jobs, held, digests, br.Close()
}

// giveBack ends the leases of held, best effort: jobs claimed that the
// caller will not get. A lease not ended here ends by itself.
func (d *DB) giveBack(held map[uint64]lease) {
	ids, toks := make([]int64, 0, len(held)), make([]token, 0, len(held))
	for id, l := range held {
		ids, toks = append(ids, int64(id)), append(toks, l.tok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_, err := d.pool.Exec(ctx, unlease, ids, toks)
	if err != nil {
		d.log.Warn("end the leases of jobs not handed out; they end by themselves", "jobs", len(ids), "error", err)
	}
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
func withDigests(ctx context.Context, tx querier, jobs []store.Job, digests []*int64, bodies bool) error {
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
func withKeys(ctx context.Context, tx querier, jobs []store.Job, now time.Time) error {
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

// querier is what reads need of a transaction or the pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// deref is *t, or the zero time for nil.
func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
