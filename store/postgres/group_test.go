package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hooknote/hooknote/store"
)

// TestGroupCommit: a group is committed together, each call gets its own
// answer, and a webhook the database refuses (a NUL byte in its query)
// fails alone: the rest of its group is recorded.
func TestGroupCommit(t *testing.T) {
	d := openClosed(t, newSchema(t), Options{})
	ctx := t.Context()
	var group []call
	var calls []*enqueueCall
	for i := range 5 {
		w := webhook(fmt.Sprintf("w%d", i), fmt.Sprintf("ev%d", i), at(0), "r/n")
		if i == 2 {
			w.Query = "customId=a\x00b"
		}
		calls = append(calls, newEnqueueCall(ctx, enqueueArgsOnly(d, w)))
	}
	calls = append(calls, newEnqueueCall(ctx, calls[0].args)) // w0 twice
	for _, c := range calls {
		group = append(group, c)
	}
	d.commitGroup(group)
	for i, c := range calls {
		r := <-c.answer
		switch {
		case i == 2:
			if r.err == nil {
				t.Errorf("call %d (a NUL byte in the query) = %+v, want the database's refusal", i, r)
			}
		case i == 5:
			if r.err != nil || r.fresh {
				t.Errorf("w0 again = %+v, want a duplicate", r)
			}
		case r.err != nil || !r.fresh || !r.live || r.accepted != 1:
			t.Errorf("call %d = %+v, want 1 accepted", i, r)
		}
	}
	if s, err := d.Stats(ctx); err != nil || s.Pending != 4 {
		t.Errorf("Stats() = %+v, %v, want 4 pending", s, err)
	}
}

// TestGroupCommitConcurrent: many concurrent Enqueue calls, some of the
// same delivery, record each webhook once.
func TestGroupCommitConcurrent(t *testing.T) {
	d := openClosed(t, newSchema(t), Options{})
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, duplicates := 0, 0
	for i := range 300 {
		id := fmt.Sprintf("w%d", i)
		if i%10 == 0 {
			id = "same"
		}
		wg.Go(func() {
			res, err := d.Enqueue(ctx, webhook(id, "ev-"+id, at(0), "r/n"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case res.Duplicate:
				duplicates++
			default:
				accepted += res.Accepted
			}
		})
	}
	wg.Wait()
	if accepted != 271 || duplicates != 29 {
		t.Errorf("accepted %d, duplicates %d; want 271 (270 webhooks and one of the 30 sends of \"same\") and 29", accepted, duplicates)
	}
	if s, err := d.Stats(context.Background()); err != nil || s.Pending != 271 {
		t.Errorf("Stats() = %+v, %v, want 271 pending", s, err)
	}
}

// TestGroupCompletes: completions committed in one group delete their
// jobs, and each webhook with its last job, whatever the order they came
// in; a completion whose lease is not held fails alone.
func TestGroupCompletes(t *testing.T) {
	schema := newSchema(t)
	d := openClosed(t, schema, Options{})
	ctx := t.Context()
	for i := range 3 {
		if _, err := d.Enqueue(ctx, webhook(fmt.Sprintf("w%d", i), fmt.Sprintf("ev%d", i), at(0), "r/a", "r/b")); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := d.Claim(ctx, at(0), 10, nil)
	if err != nil || len(jobs) != 6 {
		t.Fatalf("Claim() = %d jobs, %v, want 6", len(jobs), err)
	}
	var group []call
	var calls []*completeCall
	for i := len(jobs) - 1; i >= 0; i-- { // the webhooks' jobs out of order
		l := d.take(jobs[i].ID)
		calls = append(calls, &completeCall{ctx: ctx, id: int64(jobs[i].ID), tok: l.tok, hook: l.plain, answer: make(chan error, 1)})
	}
	stale := &completeCall{ctx: ctx, id: int64(jobs[0].ID), tok: token{1}, hook: calls[0].hook, answer: make(chan error, 1)}
	calls = append(calls, stale)
	for _, c := range calls {
		group = append(group, c)
	}
	d.commitGroup(group)
	for i, c := range calls {
		err := <-c.answer
		if c == stale {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("completion without the lease = %v, want ErrNotFound", err)
			}
		} else if err != nil {
			t.Errorf("completion %d = %v", i, err)
		}
	}
	var hooks int
	if err := testPool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".webhooks").Scan(&hooks); err != nil || hooks != 0 {
		t.Errorf("%d webhooks left (%v), want none", hooks, err)
	}
	if s, err := d.Stats(ctx); err != nil || s.Pending != 0 {
		t.Errorf("Stats() = %+v, %v, want nothing pending", s, err)
	}
}

// enqueueArgsOnly is the arguments of enqueueAtOnce for w.
func enqueueArgsOnly(d *DB, w store.Webhook) []any {
	args, _ := d.enqueueArgs(w)
	return args
}
