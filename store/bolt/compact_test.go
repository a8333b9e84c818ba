package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

// TestOpenVersion3Keys: a file of version 3 kept dedupe keys plain, with an
// expiry index; at open they are hashed, the index is dropped, and they
// still dedupe (and still expire).
func TestOpenVersion3Keys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hooknote.db")
	exp := t0.Add(time.Hour)
	writeBolt(t, path, func(tx *bbolt.Tx) error {
		for _, name := range append(allBuckets(), legacyBucketExpiry) {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		plain := plainKey(seenWebhook, "w1")
		idx := binary.BigEndian.AppendUint64(nil, sortable(nanos(exp)))
		return errorsJoin(
			tx.Bucket([]byte(bucketMeta)).Put([]byte(keyVersion), []byte{3}),
			tx.Bucket([]byte(bucketSeen)).Put(plain, encodeNanos(nanos(exp))),
			tx.Bucket([]byte(legacyBucketExpiry)).Put(append(idx, plain...), nil),
		)
	})
	d := openAt(t, path, Options{})
	if res := mustEnqueue(t, d, hook("w1", "ev9", "failed", t0, "r/slack")); !res.Duplicate {
		t.Errorf("Enqueue(w1) after the upgrade = %+v, want a duplicate", res)
	}
	if res := mustEnqueue(t, d, hook("w1", "ev9", "failed", exp, "r/slack")); res.Duplicate {
		t.Errorf("Enqueue(w1) after its key expired = %+v, want accepted", res)
	}
	_ = d.bolt.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte(legacyBucketExpiry)) != nil {
			t.Errorf("the expiry index is still there")
		}
		return nil
	})
}

// TestCompactAfterDrain: once a backlog has drained, Sweep gives the file's
// free pages back, keeping what is live (dedupe keys, dead letters), and a
// reopen finds the same.
func TestCompactAfterDrain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hooknote.db")
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 8192)
	ctx := context.Background()
	const n = 6000 // about 60 MB of bodies
	var wg sync.WaitGroup
	for w := range 32 { // concurrent writers share commits
		wg.Go(func() {
			for i := w; i < n; i += 32 {
				wh := hook(fmt.Sprintf("w%d", i), fmt.Sprintf("ev%d", i), "failed", t0, "r/slack")
				wh.Body = body
				if _, err := d.Enqueue(ctx, wh); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	jobs := mustClaim(t, d, t0, n)
	for w := range 32 {
		wg.Go(func() {
			for i := w; i < len(jobs); i += 32 {
				var err error
				if j := jobs[i]; j.EventID == "ev7" {
					err = d.Kill(ctx, j.ID, store.Kill{Reason: "kept", At: t0})
				} else {
					err = d.Complete(ctx, j.ID, store.Done{})
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	before := fileSize(path)
	if _, err := d.Sweep(ctx, t0); err != nil {
		t.Fatal(err)
	}
	after := fileSize(path)
	t.Logf("file %d MB before, %d MB after compacting", before>>20, after>>20)
	if before < compactMinSize || after > before/4 {
		t.Errorf("file %d bytes before Sweep, %d after, want it compacted to under a quarter", before, after)
	}
	check := func(d *DB) {
		t.Helper()
		if res := mustEnqueue(t, d, hook("w5", "ev5", "failed", t0, "r/slack")); !res.Duplicate {
			t.Errorf("Enqueue(w5) after compacting = %+v, want a duplicate", res)
		}
		dead, err := d.Dead(ctx)
		if err != nil || len(dead) != 1 || dead[0].EventID != "ev7" {
			t.Errorf("Dead() after compacting = %v, %v, want ev7's", dead, err)
		}
	}
	check(d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	check(openAt(t, path, Options{}))
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
