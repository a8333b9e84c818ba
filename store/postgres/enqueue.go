package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooknote/hooknote/store"
)

// Kinds of dedupe keys.
const (
	kindWebhook  = 'w' // a webhook id
	kindTerminal = 't' // a terminal status seen for an event
	kindJob      = 'j' // (event, status, rule, notifier)
)

// seenKey is the stored dedupe key of kind and parts: 16 bytes of the
// SHA-256 of the kind and the length-prefixed parts, so that parts never
// run together.
func seenKey(kind byte, parts ...string) []byte {
	h := sha256.New()
	h.Write([]byte{kind})
	for _, p := range parts {
		h.Write(binary.AppendUvarint(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return h.Sum(nil)[:16]
}

// Enqueue records w in one transaction; see store.Store. Its dedupe keys
// are unique keys of the database, so that two processes recording the
// same webhook at once record it once.
func (d *DB) Enqueue(ctx context.Context, w store.Webhook) (store.Enqueued, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return store.Enqueued{}, err
	}
	defer leave()
	defer d.observed("enqueue", time.Now())
	var res store.Enqueued
	if slices.ContainsFunc(w.Jobs, func(nj store.NewJob) bool { return nj.Digest != nil }) {
		select {
		case d.intake <- struct{}{}:
			defer func() { <-d.intake }()
		case <-ctx.Done():
			return store.Enqueued{}, fmt.Errorf("enqueue webhook %q: %w", w.WebhookID, ctx.Err())
		}
		err = d.tx(ctx, func(tx pgx.Tx) error {
			res, err = d.enqueue(ctx, tx, w)
			return err
		})
	} else {
		res, err = d.enqueueAtOnce(ctx, w)
	}
	if err != nil {
		return store.Enqueued{}, fmt.Errorf("enqueue webhook %q: %w", w.WebhookID, err)
	}
	return res, nil
}

// enqueueAtOnce is the statement that records a webhook none of whose
// jobs joins a digest, in one round trip: each step of Enqueue's contract
// is a part of it that runs only if the ones before let it.
const enqueueAtOnce = `WITH
	wk AS (INSERT INTO seen (key, expires_at) SELECT k, $3 FROM unnest($1::bytea[]) AS k
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE seen.expires_at <= $2
		RETURNING key),
	fresh AS (SELECT cardinality($1::bytea[]) = 0 OR EXISTS (SELECT 1 FROM wk) AS ok),
	live AS (SELECT (SELECT ok FROM fresh)
		AND ($4 OR NOT EXISTS (SELECT 1 FROM seen WHERE key = $5 AND expires_at > $2)) AS ok),
	jk AS (INSERT INTO seen (key, expires_at) SELECT k, $3 FROM unnest($10::bytea[]) AS k
		WHERE k IS NOT NULL AND (SELECT ok FROM live)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE seen.expires_at <= $2
		RETURNING key),
	sel AS (SELECT u.* FROM unnest($6::text[], $7::text[], $8::text[], $9::bytea[], $10::bytea[])
			WITH ORDINALITY AS u(rule, notifier, key, extra, dkey, ord)
		WHERE (SELECT ok FROM live) AND (u.dkey IS NULL OR u.dkey IN (SELECT key FROM jk))),
	tm AS (INSERT INTO seen (key, expires_at) SELECT $5, $3
		WHERE $4 AND (SELECT ok FROM live) AND (cardinality($6::text[]) = 0 OR EXISTS (SELECT 1 FROM sel))
		ON CONFLICT (key) DO UPDATE SET expires_at = greatest(seen.expires_at, excluded.expires_at)),
	h AS (INSERT INTO webhooks (webhook_id, event_id, status, query, received_at, body, refs)
		SELECT $11, $12, $13, $14, $2, $15, count(*) FROM sel HAVING count(*) > 0
		RETURNING id),
	j AS (INSERT INTO jobs (hook, rule, notifier, key, extra, first_at, next_at)
		SELECT h.id, sel.rule, sel.notifier, sel.key, sel.extra, $2, $2 FROM h CROSS JOIN sel ORDER BY sel.ord
		RETURNING 1),
	n AS (SELECT pg_notify($16, $17) FROM h)
SELECT (SELECT ok FROM fresh), (SELECT ok FROM live), (SELECT count(*) FROM sel), (SELECT count(*) FROM n)`

// enqueueAtOnce records w, none of whose jobs joins a digest, with one
// statement, committed with those of concurrent calls (see grouped).
func (d *DB) enqueueAtOnce(ctx context.Context, w store.Webhook) (store.Enqueued, error) {
	res := d.grouped(ctx, d.enqueueArgs(w))
	if res.err != nil {
		return store.Enqueued{}, res.err
	}
	switch {
	case !res.fresh:
		return store.Enqueued{Duplicate: true}, nil
	case !res.live:
		return store.Enqueued{Stale: true}, nil
	case len(w.Jobs) > 0 && res.accepted == 0:
		return store.Enqueued{Duplicate: true}, nil
	}
	return store.Enqueued{Accepted: res.accepted}, nil
}

// enqueueArgs are the arguments of enqueueAtOnce for w.
func (d *DB) enqueueArgs(w store.Webhook) []any {
	at, expires := w.ReceivedAt, w.ReceivedAt.Add(d.dedupeFor)
	// Arrays, never NULL (which a nil slice would be): SQL's cardinality
	// of NULL is NULL.
	webhookKeys := [][]byte{}
	if w.WebhookID != "" {
		webhookKeys = [][]byte{seenKey(kindWebhook, w.WebhookID)}
	}
	rules, notifiers, keys := []string{}, []string{}, []string{}
	extras, dedupe := [][]byte{}, [][]byte{}
	for _, nj := range w.Jobs {
		var k []byte
		if !nj.NoDedupe {
			k = seenKey(kindJob, w.EventID, w.Status, nj.Rule, nj.Notifier)
			if slices.ContainsFunc(dedupe, func(o []byte) bool { return bytes.Equal(o, k) }) {
				continue // a duplicate of a job before it in w
			}
		}
		rules, notifiers, keys = append(rules, nj.Rule), append(notifiers, nj.Notifier), append(keys, nj.Key)
		extras, dedupe = append(extras, nj.Extra), append(dedupe, k)
	}
	return []any{webhookKeys, at, expires, w.Terminal, seenKey(kindTerminal, w.EventID),
		rules, notifiers, keys, extras, dedupe,
		w.WebhookID, w.EventID, w.Status, w.Query, notNil(w.Body), d.channel, d.instance}
}

// enqueue is Enqueue's transaction.
func (d *DB) enqueue(ctx context.Context, tx pgx.Tx, w store.Webhook) (store.Enqueued, error) {
	at, expires := w.ReceivedAt, w.ReceivedAt.Add(d.dedupeFor)
	if w.WebhookID != "" {
		fresh, err := markSeen(ctx, tx, [][]byte{seenKey(kindWebhook, w.WebhookID)}, at, expires)
		if err != nil {
			return store.Enqueued{}, fmt.Errorf("record webhook id: %w", err)
		}
		if len(fresh) == 0 {
			return store.Enqueued{Duplicate: true}, nil
		}
	}
	terminal := seenKey(kindTerminal, w.EventID)
	if !w.Terminal {
		var stale bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM seen WHERE key = $1 AND expires_at > $2)", terminal, at).Scan(&stale)
		if err != nil {
			return store.Enqueued{}, fmt.Errorf("look up terminal mark: %w", err)
		}
		if stale {
			return store.Enqueued{Stale: true}, nil
		}
	}
	jobs, err := newJobs(ctx, tx, w, at, expires)
	if err != nil {
		return store.Enqueued{}, err
	}
	if len(w.Jobs) > 0 && len(jobs) == 0 {
		return store.Enqueued{Duplicate: true}, nil
	}
	if w.Terminal {
		_, err := tx.Exec(ctx, `INSERT INTO seen (key, expires_at) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET expires_at = greatest(seen.expires_at, excluded.expires_at)`, terminal, expires)
		if err != nil {
			return store.Enqueued{}, fmt.Errorf("record terminal mark: %w", err)
		}
	}
	if len(jobs) == 0 {
		return store.Enqueued{}, nil
	}
	if err := d.queue(ctx, tx, w, jobs); err != nil {
		return store.Enqueued{}, err
	}
	return store.Enqueued{Accepted: len(jobs)}, nil
}

// queue stores w with jobs, the ones not dropped: each joins its digest
// (which may send a full one), or is queued due at w.ReceivedAt.
func (d *DB) queue(ctx context.Context, tx pgx.Tx, w store.Webhook, jobs []store.NewJob) error {
	hook, err := insertWebhook(ctx, tx, w, len(jobs))
	if err != nil {
		return err
	}
	var queued []store.NewJob
	sent := 0 // digests sent by joins that found them full
	for _, nj := range jobs {
		if nj.Digest == nil {
			queued = append(queued, nj)
			continue
		}
		n, err := joinDigest(ctx, tx, w, hook, nj)
		if err != nil {
			return err
		}
		sent += n
	}
	if len(queued) > 0 {
		if err := insertJobs(ctx, tx, hook, w.ReceivedAt, queued); err != nil {
			return err
		}
	}
	if len(queued) == 0 && sent == 0 {
		return nil
	}
	return d.notify(ctx, tx)
}

// markSeen records the dedupe keys that are absent, or expired at at, to
// expire at expires, and returns those it recorded; the others were seen.
func markSeen(ctx context.Context, tx pgx.Tx, keys [][]byte, at, expires time.Time) ([][]byte, error) {
	rows, err := tx.Query(ctx, `INSERT INTO seen (key, expires_at) SELECT k, $2 FROM unnest($1::bytea[]) AS k
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE seen.expires_at <= $3
		RETURNING key`, keys, expires, at)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[[]byte])
}

// newJobs records the dedupe keys of w's jobs and returns the jobs that
// are not duplicates: those whose key was not seen, the first of those
// with the same key in w, and every NoDedupe job.
func newJobs(ctx context.Context, tx pgx.Tx, w store.Webhook, at, expires time.Time) ([]store.NewJob, error) {
	keys := make([][]byte, len(w.Jobs))
	var unique [][]byte
	for i, nj := range w.Jobs {
		if nj.NoDedupe {
			continue
		}
		keys[i] = seenKey(kindJob, w.EventID, w.Status, nj.Rule, nj.Notifier)
		if !slices.ContainsFunc(unique, func(k []byte) bool { return bytes.Equal(k, keys[i]) }) {
			unique = append(unique, keys[i])
		}
	}
	var fresh [][]byte
	if len(unique) > 0 {
		// In one order, so that transactions sharing keys never deadlock.
		slices.SortFunc(unique, bytes.Compare)
		var err error
		if fresh, err = markSeen(ctx, tx, unique, at, expires); err != nil {
			return nil, fmt.Errorf("record job keys: %w", err)
		}
	}
	var jobs []store.NewJob
	for i, nj := range w.Jobs {
		if keys[i] != nil {
			j := slices.IndexFunc(fresh, func(k []byte) bool { return bytes.Equal(k, keys[i]) })
			if j < 0 {
				continue
			}
			fresh = slices.Delete(fresh, j, j+1) // the next job with this key is a duplicate
		}
		jobs = append(jobs, nj)
	}
	return jobs, nil
}

// insertWebhook stores w, referred to by refs jobs and digest entries, and
// returns its row id.
func insertWebhook(ctx context.Context, tx pgx.Tx, w store.Webhook, refs int) (int64, error) {
	var hook int64
	err := tx.QueryRow(ctx, `INSERT INTO webhooks (webhook_id, event_id, status, query, received_at, body, refs)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		w.WebhookID, w.EventID, w.Status, w.Query, w.ReceivedAt, notNil(w.Body), refs).Scan(&hook)
	if err != nil {
		return 0, fmt.Errorf("store webhook: %w", err)
	}
	return hook, nil
}

// insertJobs queues jobs of webhook hook, due at at, in their order.
func insertJobs(ctx context.Context, tx pgx.Tx, hook int64, at time.Time, jobs []store.NewJob) error {
	var rules, notifiers, keys []string
	var extras [][]byte
	for _, nj := range jobs {
		rules = append(rules, nj.Rule)
		notifiers = append(notifiers, nj.Notifier)
		keys = append(keys, nj.Key)
		extras = append(extras, nj.Extra)
	}
	_, err := tx.Exec(ctx, `INSERT INTO jobs (hook, rule, notifier, key, extra, first_at, next_at)
		SELECT $1, r, n, k, e, $2, $2 FROM unnest($3::text[], $4::text[], $5::text[], $6::bytea[]) AS u(r, n, k, e)`,
		hook, at, rules, notifiers, keys, extras)
	if err != nil {
		return fmt.Errorf("queue jobs: %w", err)
	}
	return nil
}

// insertThen queues nj for webhook hook (none for a digest job), due at
// at, as Done.Then and Kill.Then do: without a dedupe key.
func insertThen(ctx context.Context, tx pgx.Tx, hook *int64, nj store.NewJob, at time.Time) error {
	_, err := tx.Exec(ctx, `WITH j AS (
			INSERT INTO jobs (hook, rule, notifier, key, extra, first_at, next_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING hook)
		UPDATE webhooks SET refs = refs + 1 WHERE id = (SELECT hook FROM j)`,
		hook, nj.Rule, nj.Notifier, nj.Key, nj.Extra, at)
	if err != nil {
		return fmt.Errorf("queue %s/%s: %w", nj.Rule, nj.Notifier, err)
	}
	return nil
}

// unref drops one reference to each webhook of hooks (a webhook may
// appear several times), and deletes those left with none.
func unref(ctx context.Context, tx pgx.Tx, hooks []int64) error {
	if len(hooks) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `WITH u AS (
			UPDATE webhooks w SET refs = w.refs - c.n
			FROM (SELECT h, count(*) AS n FROM unnest($1::bigint[]) AS h GROUP BY h) AS c
			WHERE w.id = c.h RETURNING w.id, w.refs)
		SELECT id FROM u WHERE refs = 0`, hooks)
	if err != nil {
		return fmt.Errorf("release webhooks: %w", err)
	}
	gone, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("release webhooks: %w", err)
	}
	if len(gone) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM webhooks WHERE id = ANY($1)", gone); err != nil {
		return fmt.Errorf("delete webhooks: %w", err)
	}
	return nil
}

// notNil is b, or an empty slice for nil (stored as NULL otherwise).
func notNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
