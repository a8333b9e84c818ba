package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

// t0 is the reference time of the tests; nothing reads the wall clock.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// openTest opens a store in a fresh directory, closed at the end of the test.
func openTest(t testing.TB, opts Options) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "hooknote.db"), opts)
}

// openAt opens the store at path, closed at the end of the test.
func openAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	d, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close() = %v", err)
		}
	})
	return d
}

// hook builds a webhook received at at, with one job per "rule/notifier".
func hook(id, event, status string, at time.Time, routes ...string) store.Webhook {
	w := store.Webhook{
		WebhookID:  id,
		EventID:    event,
		Status:     status,
		Terminal:   status == "succeeded" || status == "failed",
		Body:       []byte(`{"id":"` + event + `","status":"` + status + `"}`),
		Query:      "customId=7",
		ReceivedAt: at,
	}
	for _, r := range routes {
		rule, notifier, _ := strings.Cut(r, "/")
		w.Jobs = append(w.Jobs, store.NewJob{Rule: rule, Notifier: notifier})
	}
	return w
}

// mustEnqueue enqueues w and returns the result, failing the test on error.
func mustEnqueue(t testing.TB, d *DB, w store.Webhook) store.Enqueued {
	t.Helper()
	res, err := d.Enqueue(context.Background(), w)
	if err != nil {
		t.Fatalf("Enqueue(%q) = %v", w.WebhookID, err)
	}
	return res
}

// mustClaim claims up to max jobs due at now.
func mustClaim(t testing.TB, d *DB, now time.Time, max int) []store.Job {
	t.Helper()
	jobs, err := d.Claim(context.Background(), now, max, nil)
	if err != nil {
		t.Fatalf("Claim(%v, %d) = %v", now, max, err)
	}
	return jobs
}

// ids returns the ids of jobs.
func ids(jobs []store.Job) []uint64 {
	var out []uint64
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

// keyCount returns the number of keys in a bucket.
func keyCount(t testing.TB, d *DB, bucket string) int {
	t.Helper()
	n := 0
	err := d.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucket)).ForEach(func(k, v []byte) error {
			n++
			return nil
		})
	})
	if err != nil {
		t.Fatalf("count %s: %v", bucket, err)
	}
	return n
}

// bodyRefs returns the reference count of every stored body, and fails the
// test if bodies and refs disagree.
func bodyRefs(t testing.TB, d *DB) map[uint64]uint64 {
	t.Helper()
	refs := make(map[uint64]uint64)
	err := d.bolt.View(func(tx *bbolt.Tx) error {
		tn := openTxn(tx)
		return tn.bodies.ForEach(func(k, v []byte) error {
			refs[beID(k)] = tn.refCount(beID(k))
			return nil
		})
	})
	if err != nil {
		t.Fatalf("read bodies: %v", err)
	}
	if n := keyCount(t, d, bucketRefs); n != len(refs) {
		t.Errorf("refs has %d keys, bodies %d", n, len(refs))
	}
	return refs
}

// gated holds the committer in its first commit.
type gated struct {
	d        *DB
	entered  chan struct{} // closed when the committer is held
	released chan struct{} // closed to let it go
}

// gate makes the committer wait in its first commit until released.
func gate(d *DB) *gated {
	g := &gated{d: d, entered: make(chan struct{}), released: make(chan struct{})}
	var once sync.Once
	d.beforeCommit = func(int) {
		once.Do(func() {
			close(g.entered)
			<-g.released
		})
	}
	return g
}

// held waits until the committer is held.
func (g *gated) held() { <-g.entered }

// queued waits until n requests are queued behind the held commit.
func (g *gated) queued(n int) {
	for len(g.d.reqs) < n {
		runtime.Gosched()
	}
}

// release lets the committer go once n requests are queued: they then form
// the second batch.
func (g *gated) release(n int) {
	g.held()
	g.queued(n)
	close(g.released)
}
