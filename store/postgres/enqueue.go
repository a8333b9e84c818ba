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
	args, jobs := d.enqueueArgs(w)
	var r enqueueResult
	if slices.ContainsFunc(jobs, func(nj store.NewJob) bool { return nj.Digest != nil }) {
		r, err = d.enqueueJoining(ctx, w, args, jobs)
	} else {
		r = d.grouped(ctx, args)
		err = r.err
	}
	if err != nil {
		return store.Enqueued{}, fmt.Errorf("enqueue webhook %q: %w", w.WebhookID, err)
	}
	switch {
	case !r.fresh:
		return store.Enqueued{Duplicate: true}, nil
	case !r.live:
		return store.Enqueued{Stale: true}, nil
	case len(w.Jobs) > 0 && r.accepted == 0:
		return store.Enqueued{Duplicate: true}, nil
	}
	return store.Enqueued{Accepted: r.accepted}, nil
}

// enqueueAtOnce is the statement that records a webhook in one round trip:
// each step of Enqueue's contract is a part of it that runs only if the
// ones before let it. It queues the jobs kept, except those that join a
// digest ($18): it returns their positions, and the webhook's row, for
// joinDigest to follow in the same transaction. Keys are recorded in one
// order, so that transactions sharing some never deadlock.
const enqueueAtOnce = `WITH
	wk AS (INSERT INTO seen (key, expires_at) SELECT k, $3 FROM unnest($1::bytea[]) AS k
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE seen.expires_at <= $2
		RETURNING key),
	fresh AS (SELECT cardinality($1::bytea[]) = 0 OR EXISTS (SELECT 1 FROM wk) AS ok),
	live AS (SELECT (SELECT ok FROM fresh)
		AND ($4 OR NOT EXISTS (SELECT 1 FROM seen WHERE key = $5 AND expires_at > $2)) AS ok),
	jk AS (INSERT INTO seen (key, expires_at) SELECT k, $3 FROM unnest($10::bytea[]) AS k
		WHERE k IS NOT NULL AND (SELECT ok FROM live) ORDER BY k
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE seen.expires_at <= $2
		RETURNING key),
	sel AS (SELECT u.* FROM unnest($6::text[], $7::text[], $8::text[], $9::bytea[], $10::bytea[], $18::bool[])
			WITH ORDINALITY AS u(rule, notifier, key, extra, dkey, joins, ord)
		WHERE (SELECT ok FROM live) AND (u.dkey IS NULL OR u.dkey IN (SELECT key FROM jk))),
	tm AS (INSERT INTO seen (key, expires_at) SELECT $5, $3
		WHERE $4 AND (SELECT ok FROM live) AND (cardinality($6::text[]) = 0 OR EXISTS (SELECT 1 FROM sel))
		ON CONFLICT (key) DO UPDATE SET expires_at = greatest(seen.expires_at, excluded.expires_at)),
	h AS (INSERT INTO webhooks (webhook_id, event_id, status, query, received_at, body, refs)
		SELECT $11, $12, $13, $14, $2, $15, count(*) FROM sel HAVING count(*) > 0
		RETURNING id),
	j AS (INSERT INTO jobs (hook, rule, notifier, key, extra, first_at, next_at)
		SELECT h.id, sel.rule, sel.notifier, sel.key, sel.extra, $2, $2 FROM h CROSS JOIN sel
		WHERE NOT sel.joins ORDER BY sel.ord
		RETURNING 1),
	n AS (SELECT pg_notify($16, $17) FROM h WHERE EXISTS (SELECT 1 FROM sel WHERE NOT sel.joins))
SELECT (SELECT ok FROM fresh), (SELECT ok FROM live), (SELECT count(*) FROM sel), (SELECT count(*) FROM n),
	(SELECT id FROM h), ARRAY(SELECT ord FROM sel WHERE sel.joins ORDER BY ord)`

// enqueueArgs are the arguments of enqueueAtOnce for w, and the jobs they
// name: w's, less those whose dedupe key one before them in w has.
func (d *DB) enqueueArgs(w store.Webhook) ([]any, []store.NewJob) {
	at, expires := w.ReceivedAt, w.ReceivedAt.Add(d.dedupeFor)
	// Arrays, never NULL (which a nil slice would be): SQL's cardinality
	// of NULL is NULL.
	webhookKeys := [][]byte{}
	if w.WebhookID != "" {
		webhookKeys = [][]byte{seenKey(kindWebhook, w.WebhookID)}
	}
	rules, notifiers, keys := []string{}, []string{}, []string{}
	extras, dedupe, joins := [][]byte{}, [][]byte{}, []bool{}
	var jobs []store.NewJob
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
		joins, jobs = append(joins, nj.Digest != nil), append(jobs, nj)
	}
	return []any{webhookKeys, at, expires, w.Terminal, seenKey(kindTerminal, w.EventID),
		rules, notifiers, keys, extras, dedupe,
		w.WebhookID, w.EventID, w.Status, w.Query, notNil(w.Body), d.channel, d.instance, joins}, jobs
}

// enqueueJoining records w, some of whose jobs join digests, in one
// transaction: enqueueAtOnce, then each job kept joins its digest (which
// may send a full one). It holds an intake token.
func (d *DB) enqueueJoining(ctx context.Context, w store.Webhook, args []any, jobs []store.NewJob) (enqueueResult, error) {
	select {
	case d.intake <- struct{}{}:
		defer func() { <-d.intake }()
	case <-ctx.Done():
		return enqueueResult{}, ctx.Err()
	}
	var r enqueueResult
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var hook *int64
		var joining []int64
		err := tx.QueryRow(ctx, enqueueAtOnce, args...).Scan(&r.fresh, &r.live, &r.accepted, new(int), &hook, &joining)
		if err != nil {
			return err
		}
		sent := 0 // digests sent by joins that found them full
		for _, ord := range joining {
			n, err := joinDigest(ctx, tx, w, *hook, jobs[ord-1])
			if err != nil {
				return err
			}
			sent += n
		}
		if sent > 0 {
			return d.notify(ctx, tx)
		}
		return nil
	})
	return r, err
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
