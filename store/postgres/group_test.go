package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestGroupCommit: a group is committed together, each call gets its own
// answer, and a webhook the database refuses (a NUL byte in its query)
// fails alone: the rest of its group is recorded.
func TestGroupCommit(t *testing.T) {
	d := openClosed(t, newSchema(t), Options{})
	ctx := t.Context()
	var group []*enqueueCall
	for i := range 5 {
		w := webhook(fmt.Sprintf("w%d", i), fmt.Sprintf("ev%d", i), at(0), "r/n")
		if i == 2 {
			w.Query = "customId=a\x00b"
		}
		group = append(group, &enqueueCall{ctx: ctx, args: d.enqueueArgs(w), done: make(chan enqueueResult, 1)})
	}
	again := &enqueueCall{ctx: ctx, args: group[0].args, done: make(chan enqueueResult, 1)} // w0 twice
	group = append(group, again)
	d.commitGroup(group)
	for i, call := range group {
		r := <-call.done
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
