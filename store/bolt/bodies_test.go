package bolt

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/store"
)

// TestBodyRefs follows the reference count of a body shared by a
// webhook's jobs, the dead letters they become and a Then job: it is
// deleted with its last user, and no row is left behind. (storetest checks
// that the body survives; this checks that it does not outlive its users.)
func TestBodyRefs(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{})
	mustEnqueue(t, d, hook("w1", "ev1", "succeeded", t0, "r/slack", "r/email", "s/hook")) // jobs 1, 2, 3
	if got := ids(mustClaim(t, d, t0, 10)); !cmp.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("Claim() ids = %v, want [1 2 3]", got)
	}
	notice := &store.NewJob{Rule: "on_dead", Notifier: "ops"} // job 4
	steps := []struct {
		name     string
		do       func() error
		wantRefs map[uint64]uint64
	}{
		{name: "enqueued", do: func() error { return nil }, wantRefs: map[uint64]uint64{1: 3}},
		{name: "complete 1", do: func() error { return d.Complete(ctx, 1, store.Done{}) }, wantRefs: map[uint64]uint64{1: 2}},
		{name: "kill 2 with a notice", do: func() error {
			return d.Kill(ctx, 2, store.Kill{Attempted: true, Reason: "boom", At: t0, Then: notice})
		}, wantRefs: map[uint64]uint64{1: 3}},
		{name: "complete 3", do: func() error { return d.Complete(ctx, 3, store.Done{}) }, wantRefs: map[uint64]uint64{1: 2}},
		{name: "complete 4", do: func() error { mustClaim(t, d, t0, 10); return d.Complete(ctx, 4, store.Done{}) }, wantRefs: map[uint64]uint64{1: 1}},
		{name: "revive 2, kill it again", do: func() error {
			if err := d.Revive(ctx, 2, t0); err != nil {
				return err
			}
			mustClaim(t, d, t0, 10)
			return d.Kill(ctx, 2, store.Kill{Reason: "boom", At: t0})
		}, wantRefs: map[uint64]uint64{1: 1}},
		{name: "drop 2", do: func() error { return d.Drop(ctx, 2) }, wantRefs: map[uint64]uint64{}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if diff := cmp.Diff(s.wantRefs, bodyRefs(t, d)); diff != "" {
			t.Errorf("body refs after %s (-want +got):\n%s", s.name, diff)
		}
	}
	for _, b := range []string{bucketJobs, bucketDue, bucketDead, bucketBodies, bucketRefs} {
		if n := keyCount(t, d, b); n != 0 {
			t.Errorf("bucket %s has %d keys, want 0", b, n)
		}
	}
}
