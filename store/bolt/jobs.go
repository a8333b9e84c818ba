package bolt

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

// Claim leases up to max jobs due at or before now, oldest due first,
// limited per notifier by perNotifier when it is not nil; see store.Store.
// Jobs of one webhook claimed together share one Body slice, which callers
// must not modify.
func (d *DB) Claim(ctx context.Context, now time.Time, max int, perNotifier map[string]int) ([]store.Job, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	if max <= 0 {
		return nil, nil
	}
	jobs, err := d.lease(nanos(now), max, perNotifier)
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return jobs, nil
}

// lease scans the due jobs, leases up to max of them (per notifier as
// perNotifier says) and reads their bodies, in one read transaction. It
// holds d.mu throughout, and leases end only after their transaction
// commits, so the scan never sees a job whose lease ended in a transaction
// it cannot see.
func (d *DB) lease(now int64, max int, perNotifier map[string]int) ([]store.Job, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var recs []record
	var jobs []store.Job
	err := d.bolt.View(func(tx *bbolt.Tx) error {
		t := openTxn(tx)
		heads := d.dueHeads(t, now, perNotifier)
		taken := map[string]int{}
		for len(recs) < max {
			// The notifier whose next due job is oldest goes first.
			var next *dueCursor
			for _, h := range heads {
				if h.ok && (next == nil || h.at < next.at || (h.at == next.at && h.id < next.id)) {
					next = h
				}
			}
			if next == nil {
				break
			}
			if r, err := t.get(t.jobs, next.id); err != nil {
				d.log.Warn("skipping due entry", "job", next.id, "err", err)
			} else {
				if r.Key != "" {
					r.Later = t.laterOfKey(r.Key)
					r.Live = t.liveRecord(r.Key, now)
				}
				recs = append(recs, r)
				taken[next.notifier]++
			}
			if q, limited := perNotifier[next.notifier]; limited && taken[next.notifier] >= q {
				next.ok = false
				continue
			}
			d.advance(next, now)
		}
		jobs = d.withBodies(t, recs)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		d.leased[j.ID] = struct{}{}
	}
	return jobs, nil
}

// dueCursor walks one notifier's due jobs that are not leased, nor held
// back by an earlier job of their Key.
type dueCursor struct {
	t        *txn
	c        *bbolt.Cursor
	prefix   []byte
	notifier string
	at       int64
	id       uint64
	ok       bool // at and id are the next due job
}

// dueHeads positions one cursor per notifier with due jobs (only those
// perNotifier names, when it is not nil) at its first one not leased.
func (d *DB) dueHeads(t *txn, now int64, perNotifier map[string]int) []*dueCursor {
	var heads []*dueCursor
	start := func(notifier string) {
		h := &dueCursor{t: t, c: t.due.Cursor(), prefix: duePrefix(notifier), notifier: notifier}
		k, v := h.c.Seek(h.prefix)
		d.settle(h, k, v, now)
		if h.ok {
			heads = append(heads, h)
		}
	}
	if perNotifier != nil {
		for n, q := range perNotifier {
			if q > 0 {
				start(n)
			}
		}
		return heads
	}
	c := t.due.Cursor()
	for k, _ := c.First(); k != nil; {
		n, _, _, ok := splitDueKey(k)
		if !ok {
			k, _ = c.Next()
			continue
		}
		start(n)
		k, _ = c.Seek(afterPrefix(duePrefix(n)))
	}
	return heads
}

// advance moves h past its current job.
func (d *DB) advance(h *dueCursor, now int64) {
	k, v := h.c.Next()
	d.settle(h, k, v, now)
}

// settle moves h from k (with value v) to the first key of its notifier
// that is due by now, not leased, and the first of its Key if it has one;
// or marks h done. A job that is the first of its Key and not leased means
// no job of that Key is leased.
func (d *DB) settle(h *dueCursor, k, v []byte, now int64) {
	for ; k != nil && bytes.HasPrefix(k, h.prefix); k, v = h.c.Next() {
		n, at, id, ok := splitDueKey(k)
		if !ok || n != h.notifier {
			continue
		}
		if at > now {
			break
		}
		if _, leased := d.leased[id]; leased {
			continue
		}
		if len(v) > 0 && !h.t.firstOfKey(string(v), id) {
			continue
		}
		h.at, h.id, h.ok = at, id, true
		return
	}
	h.ok = false
}

// withBodies copies the bodies of recs out of t: jobs of one webhook share
// one copy.
func (d *DB) withBodies(t *txn, recs []record) []store.Job {
	jobs := make([]store.Job, 0, len(recs))
	bodies := make(map[uint64][]byte)
	body := func(job, id uint64) []byte {
		b, ok := bodies[id]
		if !ok {
			v := t.bodies.Get(itob(id))
			if v == nil {
				d.log.Warn("job body missing", "job", job, "body", id)
			}
			b = append([]byte{}, v...)
			bodies[id] = b
		}
		return b
	}
	for _, r := range recs {
		if r.Digest != nil {
			for i, id := range r.bodyIDs {
				r.Digest.Events[i].Body = body(r.ID, id)
			}
		} else {
			r.Body = body(r.ID, r.bodyID)
		}
		jobs = append(jobs, r.Job)
	}
	return jobs
}

// unlease ends the leases of the records.
func (d *DB) unlease(recs ...record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range recs {
		delete(d.leased, r.ID)
	}
}

// Heads returns the earliest due time of each notifier's jobs not leased;
// see store.Store.
func (d *DB) Heads(ctx context.Context) (map[string]time.Time, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	d.mu.Lock()
	defer d.mu.Unlock()
	heads := map[string]time.Time{}
	err = d.bolt.View(func(tx *bbolt.Tx) error {
		for _, h := range d.dueHeads(openTxn(tx), math.MaxInt64, nil) {
			heads[h.notifier] = fromNanos(h.at)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due heads: %w", err)
	}
	return heads, nil
}

// Complete deletes a delivered job, keeping done's live record and
// enqueuing done.Then in the same transaction; see store.Store. The live
// record expires at the job's ReceivedAt + the dedupe window (or later, if
// it already did); done.Then is due when the job was.
func (d *DB) Complete(ctx context.Context, id uint64, done store.Done) error {
	delta := counts{pending: -1}
	if done.Then != nil {
		delta.pending++
	}
	return d.finish(ctx, "complete", id, delta, func(t *txn, r *record) error {
		if err := t.deleteJob(r); err != nil {
			return err
		}
		if done.Live != nil && r.Key != "" {
			if err := t.putLive(r.Key, done.Live, nanos(r.ReceivedAt)+int64(d.dedupeFor)); err != nil {
				return err
			}
		}
		if done.Then != nil {
			if err := t.addFollowing(r, done.Then, r.NextAt, cmp.Or(done.Then.Key, r.Key)); err != nil {
				return err
			}
		}
		return t.derefAll(r)
	})
}

// addFollowing enqueues nj for r's webhook under key, due at at: a thread
// reply after a live update, or an on_dead notice after a dead letter.
func (t *txn) addFollowing(r *record, nj *store.NewJob, at time.Time, key string) error {
	n := record{bodyID: r.bodyID, Job: store.Job{
		EventID: r.EventID, Status: r.Status, Rule: nj.Rule, Notifier: nj.Notifier,
		Extra: nj.Extra, WebhookID: r.WebhookID, Query: r.Query, Key: key,
		ReceivedAt: r.ReceivedAt, FirstAt: at, NextAt: at,
	}}
	if r.bodyID != 0 {
		if err := t.ref(r.bodyID); err != nil {
			return err
		}
	}
	return t.addJob(&n)
}

// Retry records a failed attempt and reschedules the job; see store.Store.
func (d *DB) Retry(ctx context.Context, id uint64, next time.Time, lastErr string) error {
	return d.finish(ctx, "retry", id, counts{}, func(t *txn, r *record) error {
		if err := t.deleteJob(r); err != nil {
			return err
		}
		r.Attempts++
		r.LastError = lastErr
		r.NextAt = next
		return t.putJob(r)
	})
}

// Postpone reschedules a job without counting an attempt; see store.Store.
func (d *DB) Postpone(ctx context.Context, id uint64, next time.Time) error {
	return d.finish(ctx, "postpone", id, counts{}, func(t *txn, r *record) error {
		if err := t.deleteJob(r); err != nil {
			return err
		}
		r.NextAt = next
		return t.putJob(r)
	})
}

// Kill moves a job to the dead letters, enqueuing k.Then for its webhook
// in the same transaction; see store.Store.
func (d *DB) Kill(ctx context.Context, id uint64, k store.Kill) error {
	delta := counts{pending: -1, dead: 1}
	if k.Then != nil {
		delta.pending++
	}
	return d.finish(ctx, "kill", id, delta, func(t *txn, r *record) error {
		if err := t.deleteJob(r); err != nil {
			return err
		}
		if k.Attempted {
			r.Attempts++
		}
		r.LastError = k.Reason
		r.DeadAt = k.At
		if err := t.dead.Put(itob(id), r.encode()); err != nil {
			return fmt.Errorf("put dead letter: %w", err)
		}
		if k.Then == nil {
			return nil
		}
		return t.addFollowing(r, k.Then, k.At, k.Then.Key)
	})
}

// finish runs fn on pending job id in the committer's next transaction
// (shared with other writes: one fsync for many), then ends the job's lease
// whatever the outcome.
func (d *DB) finish(ctx context.Context, op string, id uint64, delta counts, fn func(*txn, *record) error) error {
	leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	err = d.submit(ctx, func(t *txn) error {
		r, err := t.get(t.jobs, id)
		if err != nil {
			return err
		}
		return fn(t, &r)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// Not written: the job stays leased to the caller, who may try
		// again; handing it out now could send it again at once.
		return fmt.Errorf("%s job %d: %w", op, id, err)
	}
	d.unlease(record{Job: store.Job{ID: id}})
	if err != nil {
		return fmt.Errorf("%s job %d: %w", op, id, err)
	}
	d.count(delta)
	return nil
}

// counts is how a committed operation changes the pending jobs, dead
// letters and open digests.
type counts struct{ pending, dead, digests int64 }

func (d *DB) count(c counts) {
	if d.pending.Add(c.pending) == 0 && c.pending < 0 {
		d.drained()
	}
	d.dead.Add(c.dead)
	d.digests.Add(c.digests)
}

// Release ends the lease of a job; store.ErrNotFound if the job does not exist.
func (d *DB) Release(ctx context.Context, id uint64) error {
	leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	d.unlease(record{Job: store.Job{ID: id}})
	err = d.bolt.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte(bucketJobs)).Get(itob(id)) == nil {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release job %d: %w", id, err)
	}
	return nil
}
