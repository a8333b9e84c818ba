package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Concurrent writes share commits: a committer takes the calls of Enqueue
// and of Complete waiting and sends their statements as one batch, which
// PostgreSQL runs as one (implicit) transaction: one round trip and one
// commit for the group. A group that fails for another reason than a lost
// connection (one webhook the database refuses, a deadlock) is sent again
// call by call, so that one call's failure is its own.
const (
	maxGroup     = 64               // calls per group at most
	groupTimeout = 10 * time.Second // bounds a group's round trip
)

// call is one method's statements waiting for a committer.
type call interface {
	context() context.Context
	order() int64                   // groups hold their calls in this order (then arrival)
	queue(b *pgx.Batch)             // adds its statements
	read(br pgx.BatchResults) error // reads their results; an error fails the group
	done(d *DB)                     // answers, the group committed
	alone(d *DB)                    // runs alone, and answers
	fail(err error)                 // answers err: not handed to a commit
}

// group hands c to the next group and waits for its answer (ask), or
// until ctx ends: then the outcome of a call handed over is unknown.
func (d *DB) group(ctx context.Context, c call) error {
	select {
	case d.calls <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commit takes the calls waiting, up to maxGroup, and commits them
// together, until ctx ends. Each group holds an intake token.
func (d *DB) commit(ctx context.Context) {
	defer d.bg.Done()
	for {
		var group []call
		select {
		case c := <-d.calls:
			group = append(group, c)
		case <-ctx.Done():
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case c := <-d.calls:
				group = append(group, c)
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
func (d *DB) commitGroup(group []call) {
	live := group[:0]
	for _, c := range group {
		if err := c.context().Err(); err != nil {
			c.fail(err)
			continue
		}
		live = append(live, c)
	}
	// One order for every group, so that two never wait for each other's
	// rows (a deadlock).
	slices.SortStableFunc(live, func(a, b call) int { return cmp.Compare(a.order(), b.order()) })
	if len(live) > 1 {
		var err error
		for attempt := 1; attempt <= txAttempts; attempt++ {
			if err = d.sendGroup(live); err == nil || !d.lostConn(err) {
				break
			}
		}
		if err == nil {
			for _, c := range live {
				c.done(d)
			}
			return
		}
	}
	for _, c := range live {
		c.alone(d)
	}
}

// sendGroup sends the statements of group as one batch and reads them.
func (d *DB) sendGroup(group []call) error {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	var b pgx.Batch
	for _, c := range group {
		c.queue(&b)
	}
	br := d.pool.SendBatch(ctx, &b)
	defer br.Close()
	for _, c := range group {
		if err := c.read(br); err != nil {
			return err
		}
	}
	return br.Close()
}

// enqueueCall is an Enqueue's statement (enqueueAtOnce) and its result.
type enqueueCall struct {
	ctx    context.Context
	args   []any
	result enqueueResult
	answer chan enqueueResult
}

// enqueueResult is what enqueueAtOnce returned for a call.
type enqueueResult struct {
	fresh, live bool
	accepted    int
	err         error
}

func newEnqueueCall(ctx context.Context, args []any) *enqueueCall {
	return &enqueueCall{ctx: ctx, args: args, answer: make(chan enqueueResult, 1)}
}

func (c *enqueueCall) context() context.Context { return c.ctx }
func (c *enqueueCall) order() int64             { return 0 }
func (c *enqueueCall) queue(b *pgx.Batch)       { b.Queue(enqueueAtOnce, c.args...) }
func (c *enqueueCall) done(*DB)                 { c.answer <- c.result }
func (c *enqueueCall) fail(err error)           { c.answer <- enqueueResult{err: err} }

func (c *enqueueCall) read(br pgx.BatchResults) error {
	r := &c.result
	return br.QueryRow().Scan(&r.fresh, &r.live, &r.accepted, new(int), new(*int64), new([]int64))
}

// alone runs the statement by itself, sent again (up to txAttempts in
// all) when its connection was lost: had it been committed, the webhook id
// makes it a Duplicate.
func (c *enqueueCall) alone(d *DB) {
	var r enqueueResult
	for attempt := 1; ; attempt++ {
		r.err = d.pool.QueryRow(c.ctx, enqueueAtOnce, c.args...).Scan(&r.fresh, &r.live, &r.accepted, new(int), new(*int64), new([]int64))
		if r.err == nil || attempt == txAttempts || c.ctx.Err() != nil || !d.lostConn(r.err) {
			c.answer <- r
			return
		}
	}
}

// grouped runs enqueueAtOnce with args in the next group.
func (d *DB) grouped(ctx context.Context, args []any) enqueueResult {
	c := newEnqueueCall(ctx, args)
	if err := d.group(ctx, c); err != nil {
		return enqueueResult{err: err}
	}
	select {
	case r := <-c.answer:
		return r
	case <-ctx.Done():
		return enqueueResult{err: ctx.Err()}
	}
}

// completeCall is the completion of a plain job (see lease): deleting it
// and releasing its webhook, which goes with its last reference.
type completeCall struct {
	ctx    context.Context
	id     int64
	tok    token
	hook   int64
	gone   bool // the job is not pending under tok
	answer chan error
}

func (c *completeCall) context() context.Context { return c.ctx }
func (c *completeCall) order() int64             { return c.hook }
func (c *completeCall) fail(err error)           { c.answer <- err }

func (c *completeCall) queue(b *pgx.Batch) {
	b.Queue(`WITH j AS (DELETE FROM jobs WHERE id = $1 AND claim = $2 AND dead_at IS NULL RETURNING hook)
		UPDATE webhooks SET refs = refs - 1 WHERE id = (SELECT hook FROM j) RETURNING id`, c.id, c.tok)
	// Sees the UPDATE above: deletes the webhook only when that took its
	// last reference.
	b.Queue("DELETE FROM webhooks WHERE id = $1 AND refs = 0", c.hook)
}

func (c *completeCall) read(br pgx.BatchResults) error {
	var hook int64
	err := br.QueryRow().Scan(&hook)
	c.gone = errors.Is(err, pgx.ErrNoRows)
	if err != nil && !c.gone {
		return err
	}
	_, err = br.Exec()
	return err
}

func (c *completeCall) done(d *DB) {
	if c.gone {
		c.answer <- missing(c.ctx, d.pool, uint64(c.id))
		return
	}
	c.answer <- nil
}

func (c *completeCall) alone(d *DB) {
	var b pgx.Batch
	c.queue(&b)
	br := d.pool.SendBatch(c.ctx, &b)
	err := c.read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if c.ctx.Err() == nil {
			d.lostConn(err)
		}
		c.answer <- err
		return
	}
	c.done(d)
}
