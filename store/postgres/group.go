package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Concurrent Enqueue calls share commits: a committer takes the calls
// waiting and sends their statements as one batch, which PostgreSQL runs
// as one (implicit) transaction: one round trip and one commit for the
// group. A group that fails for another reason than a lost connection
// (one webhook the database refuses, a deadlock) is sent again one call
// at a time, so that one call's failure is its own.
const (
	maxGroup     = 64               // calls per group at most
	groupTimeout = 10 * time.Second // bounds a group's round trip
)

// enqueueCall is one Enqueue waiting for a committer.
type enqueueCall struct {
	ctx  context.Context
	args []any // enqueueAtOnce's
	done chan enqueueResult
}

// enqueueResult is what enqueueAtOnce returned for a call.
type enqueueResult struct {
	fresh, live bool
	accepted    int
	err         error
}

// grouped runs enqueueAtOnce with args in the next group. An error after
// the call was handed over (ctx ended meanwhile) leaves its outcome unknown.
func (d *DB) grouped(ctx context.Context, args []any) enqueueResult {
	call := &enqueueCall{ctx: ctx, args: args, done: make(chan enqueueResult, 1)}
	select {
	case d.calls <- call:
	case <-ctx.Done():
		return enqueueResult{err: ctx.Err()}
	}
	select {
	case res := <-call.done:
		return res
	case <-ctx.Done():
		return enqueueResult{err: ctx.Err()}
	}
}

// commit takes the calls waiting, up to maxGroup, and commits them
// together, until ctx ends. Each group holds an intake token.
func (d *DB) commit(ctx context.Context) {
	defer d.bg.Done()
	for {
		var group []*enqueueCall
		select {
		case call := <-d.calls:
			group = append(group, call)
		case <-ctx.Done():
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case call := <-d.calls:
				group = append(group, call)
			default:
				break more
			}
		}
		d.intake <- struct{}{}
		d.commitGroup(group)
		<-d.intake
	}
}

// commitGroup commits group and answers each of its calls.
func (d *DB) commitGroup(group []*enqueueCall) {
	live := group[:0]
	for _, call := range group {
		if err := call.ctx.Err(); err != nil {
			call.done <- enqueueResult{err: err} // not handed to a commit
			continue
		}
		live = append(live, call)
	}
	if len(live) > 1 {
		var results []enqueueResult
		var err error
		for attempt := 1; attempt <= txAttempts; attempt++ {
			if results, err = d.sendGroup(live); err == nil || !d.lostConn(err) {
				break
			}
		}
		if err == nil {
			for i, call := range live {
				call.done <- results[i]
			}
			return
		}
	}
	for _, call := range live {
		call.done <- d.enqueueOne(call)
	}
}

// sendGroup sends the statements of group as one batch.
func (d *DB) sendGroup(group []*enqueueCall) ([]enqueueResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	var b pgx.Batch
	for _, call := range group {
		b.Queue(enqueueAtOnce, call.args...)
	}
	br := d.pool.SendBatch(ctx, &b)
	defer br.Close()
	results := make([]enqueueResult, len(group))
	for i := range results {
		r := &results[i]
		if err := br.QueryRow().Scan(&r.fresh, &r.live, &r.accepted, new(int)); err != nil {
			return nil, err
		}
	}
	return results, br.Close()
}

// enqueueOne runs call's statement alone, sent again (up to txAttempts in
// all) when its connection was lost: had it been committed, the webhook id
// makes it a Duplicate.
func (d *DB) enqueueOne(call *enqueueCall) enqueueResult {
	var r enqueueResult
	for attempt := 1; ; attempt++ {
		r.err = d.pool.QueryRow(call.ctx, enqueueAtOnce, call.args...).Scan(&r.fresh, &r.live, &r.accepted, new(int))
		if r.err == nil || attempt == txAttempts || call.ctx.Err() != nil || !d.lostConn(r.err) {
			return r
		}
	}
}
