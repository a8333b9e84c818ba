package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

// Limits of one group commit. A batch always holds at least one request.
const (
	maxBatch      = 1024     // requests
	maxBatchBytes = 64 << 20 // bytes of webhook bodies
)

// States of a commitReq.
const (
	reqPending   int32 = iota // in the channel or a batch, not yet decided
	reqTaken                  // in a transaction: the caller waits for its commit
	reqAbandoned              // the caller's ctx ended first: never written
)

// commitReq is one write handed to the committer: either a webhook to
// record (an Enqueue call: w and its keys, built by the caller's goroutine,
// off the committer's path) or a job operation (op: complete, retry,
// postpone, kill). Both kinds share the committer's transactions.
type commitReq struct {
	ctx   context.Context
	op    func(*txn) error // a job operation; nil for a webhook
	w     *store.Webhook   // the webhook; nil for a job operation
	wkey  []byte           // webhook-id key; nil when the webhook has no id
	tkey  []byte           // terminal mark of the event
	jkeys [][]byte         // per job; nil for a job without a dedupe key
	state atomic.Int32
	res   chan commitResult // buffered: the committer never blocks on it
}

// commitResult answers a commitReq: the Enqueue result of a webhook and
// how it changed the counts, and the error of either kind.
type commitResult struct {
	enq   store.Enqueued
	delta counts
	err   error
}

// Enqueue records w and its jobs; see store.Store. A webhook with an empty
// WebhookID is deduplicated by its jobs' keys only.
func (d *DB) Enqueue(ctx context.Context, w store.Webhook) (store.Enqueued, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return store.Enqueued{}, err
	}
	defer leave()
	res, err := d.enqueue(ctx, &w)
	if err != nil {
		return store.Enqueued{}, fmt.Errorf("enqueue webhook %q: %w", w.WebhookID, err)
	}
	d.count(res.delta)
	return res.enq, nil
}

func (d *DB) enqueue(ctx context.Context, w *store.Webhook) (commitResult, error) {
	r, err := newWebhookReq(ctx, w)
	if err != nil {
		return commitResult{}, err
	}
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		return commitResult{}, ctx.Err()
	}
	select {
	case res := <-r.res:
		return res, res.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqAbandoned) {
			return commitResult{}, ctx.Err()
		}
		res := <-r.res // taken: its commit decides
		return res, res.err
	}
}

// submit runs a job operation in the committer's next transaction, so that
// completing, retrying and killing jobs share fsyncs with intake. op must
// return store.ErrNotFound (or wrap it) before it writes anything; that error is
// its caller's alone, any other error fails the whole transaction.
func (d *DB) submit(ctx context.Context, op func(*txn) error) error {
	r := &commitReq{ctx: ctx, op: op, res: make(chan commitResult, 1)}
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case res := <-r.res:
		return res.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqAbandoned) {
			return ctx.Err()
		}
		return (<-r.res).err // taken: its commit decides
	}
}

// size is the body bytes a request adds to a batch.
func (r *commitReq) size() int {
	if r.w == nil {
		return 0
	}
	return len(r.w.Body)
}

// newWebhookReq checks w against bbolt's limits and builds its keys.
func newWebhookReq(ctx context.Context, w *store.Webhook) (*commitReq, error) {
	if w.ReceivedAt.IsZero() {
		return nil, errors.New("zero ReceivedAt")
	}
	if int64(len(w.Body)) > bbolt.MaxValueSize {
		return nil, fmt.Errorf("body of %d bytes is too large", len(w.Body))
	}
	r := &commitReq{
		ctx:   ctx,
		w:     w,
		tkey:  seenKey(seenTerminal, w.EventID),
		jkeys: make([][]byte, len(w.Jobs)),
		res:   make(chan commitResult, 1),
	}
	if w.WebhookID != "" {
		r.wkey = seenKey(seenWebhook, w.WebhookID)
	}
	for i, j := range w.Jobs {
		if !j.NoDedupe {
			r.jkeys[i] = seenKey(seenJob, w.EventID, w.Status, j.Rule, j.Notifier)
		}
	}
	return r, nil
}

// commitLoop is the committer: it takes every request waiting, commits them
// in one transaction and answers each, until Close.
func (d *DB) commitLoop() {
	defer close(d.done)
	var batch []*commitReq
	last := 0 // the size of the previous batch
	wait := time.NewTimer(0)
	for {
		select {
		case <-d.quit:
			return
		case r := <-d.reqs:
			batch = d.gather(append(batch[:0], r), last, wait)
			last = len(batch)
			d.commit(batch)
			clear(batch) // drop references to bodies
		}
	}
}

// gatherWait is the longest the committer waits for more requests before a
// commit, and only under concurrent load (the previous batch had several):
// a commit costs two fdatasyncs whatever it holds, so on a fast disk the
// batches would stay small and each webhook pay most of a commit. A lone
// request is committed at once.
const gatherWait = 200 * time.Microsecond

// gather appends the requests already waiting, within the batch limits;
// when the previous batch had several requests and this one has fewer so
// far, it waits up to gatherWait for as many.
func (d *DB) gather(batch []*commitReq, last int, wait *time.Timer) []*commitReq {
	size := batch[0].size()
	waiting := false
	defer func() {
		if waiting {
			wait.Stop() // Go 1.23 timers: no stale value is received after Stop
		}
	}()
	for len(batch) < maxBatch && size < maxBatchBytes {
		select {
		case r := <-d.reqs:
			batch = append(batch, r)
			size += r.size()
			continue
		default:
		}
		if last < 2 || len(batch) >= last {
			return batch
		}
		if !waiting {
			wait.Reset(gatherWait)
			waiting = true
		}
		select {
		case r := <-d.reqs:
			batch = append(batch, r)
			size += r.size()
		case <-wait.C:
			waiting = false
			return batch
		}
	}
	return batch
}

// commit applies the requests still wanted in one transaction, in order,
// and answers each: all with the commit's error, or each with its result.
func (d *DB) commit(batch []*commitReq) {
	taken := batch[:0:0]
	for _, r := range batch {
		if r.take() {
			taken = append(taken, r)
		}
	}
	if len(taken) == 0 {
		return
	}
	if d.beforeCommit != nil {
		d.beforeCommit(len(taken))
	}
	results := make([]commitResult, len(taken))
	err := d.bolt.Update(func(tx *bbolt.Tx) error {
		t := openTxn(tx)
		for i, r := range taken {
			if r.op != nil {
				if err := r.op(t); errors.Is(err, store.ErrNotFound) {
					results[i].err = err // nothing written: this caller's alone
				} else if err != nil {
					return err
				}
				continue
			}
			res, delta, err := d.apply(t, r)
			if err != nil {
				return err
			}
			results[i].enq, results[i].delta = res, delta
		}
		if d.failCommit != nil {
			return d.failCommit()
		}
		return nil
	})
	if err == nil {
		d.commits.Add(1)
	}
	for i, r := range taken {
		if err != nil {
			r.res <- commitResult{err: fmt.Errorf("commit: %w", err)}
			continue
		}
		r.res <- results[i]
	}
}

// take claims r for a transaction; false when its caller has given up (r
// is then answered with its ctx error, if it has not been answered yet).
func (r *commitReq) take() bool {
	if err := r.ctx.Err(); err != nil {
		if r.state.CompareAndSwap(reqPending, reqAbandoned) {
			r.res <- commitResult{err: err}
		}
		return false
	}
	return r.state.CompareAndSwap(reqPending, reqTaken)
}

// apply writes one webhook within the batch's transaction, following the
// steps documented on store.Store.Enqueue, and says how it changed the
// counts. Dedupe keys are checked against the webhook's ReceivedAt: a key
// expired by then counts as absent.
func (d *DB) apply(t *txn, r *commitReq) (store.Enqueued, counts, error) {
	w := r.w
	at := nanos(w.ReceivedAt)
	exp := at + int64(d.dedupeFor)
	if r.wkey != nil && t.recorded(r.wkey, at) {
		return store.Enqueued{Duplicate: true}, counts{}, nil
	}
	if !w.Terminal && t.recorded(r.tkey, at) {
		return store.Enqueued{Stale: true}, counts{}, t.mark(r.wkey, exp)
	}
	var res store.Enqueued
	var delta counts
	var bodyID uint64
	for i, nj := range w.Jobs {
		if k := r.jkeys[i]; k != nil {
			if t.recorded(k, at) {
				continue
			}
			if err := t.mark(k, exp); err != nil {
				return store.Enqueued{}, counts{}, err
			}
		}
		if bodyID == 0 {
			id, err := t.newBody(w.Body)
			if err != nil {
				return store.Enqueued{}, counts{}, err
			}
			bodyID = id
		}
		res.Accepted++
		if nj.Digest != nil {
			d, err := t.join(w, &nj, bodyID)
			if err != nil {
				return store.Enqueued{}, counts{}, err
			}
			delta.digests += d.digests
			delta.pending += d.pending
			continue
		}
		rec := record{bodyID: bodyID, Job: store.Job{
			EventID: w.EventID, Status: w.Status, Rule: nj.Rule, Notifier: nj.Notifier,
			Extra: nj.Extra, WebhookID: w.WebhookID, Query: w.Query, Key: nj.Key,
			ReceivedAt: w.ReceivedAt, FirstAt: w.ReceivedAt, NextAt: w.ReceivedAt,
		}}
		if err := t.addJob(&rec); err != nil {
			return store.Enqueued{}, counts{}, err
		}
		delta.pending++
	}
	if bodyID != 0 {
		if err := t.setRefs(bodyID, uint64(res.Accepted)); err != nil {
			return store.Enqueued{}, counts{}, err
		}
	}
	if err := t.mark(r.wkey, exp); err != nil {
		return store.Enqueued{}, counts{}, err
	}
	if w.Terminal {
		if err := t.mark(r.tkey, exp); err != nil {
			return store.Enqueued{}, counts{}, err
		}
	}
	res.Duplicate = len(w.Jobs) > 0 && res.Accepted == 0
	return res, delta, nil
}
