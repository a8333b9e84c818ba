package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hooknote/hooknote/store"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hooknote.db")
	openAt(t, path, Options{})
	_, err := Open(path, Options{LockTimeout: time.Millisecond})
	if !errors.Is(err, bolterrors.ErrTimeout) || !strings.Contains(err.Error(), "locked by another hooknote") {
		t.Errorf("second Open(%q) = %v, want a lock error", path, err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		opts    Options
		wantErr string
	}{
		{name: "defaults", path: filepath.Join(dir, "a.db")},
		{name: "negative window", path: filepath.Join(dir, "b.db"), opts: Options{DedupeFor: -time.Hour}, wantErr: "negative dedupe window"},
		{name: "missing directory", path: filepath.Join(dir, "nope", "c.db"), wantErr: "no such file"},
		{name: "not a bbolt file", path: writeFile(t, filepath.Join(dir, "d.db"), "hello, world"), wantErr: "open store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Open(tt.path, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Open(%q) = %v, want an error containing %q", tt.path, err, tt.wantErr)
				}
				if d != nil {
					_ = d.Close()
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q) = %v", tt.path, err)
			}
			defer d.Close()
			fi, err := os.Stat(tt.path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("state file mode = %v, %v, want 0600", fi.Mode().Perm(), err)
			}
			if d.dedupeFor != DefaultDedupeFor {
				t.Errorf("dedupe window = %v, want %v", d.dedupeFor, DefaultDedupeFor)
			}
		})
	}
}

// writeFile writes content to path and returns path.
func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFormatVersion checks the version in the meta bucket at Open: a new
// file and files of versions 1 and 2 are marked version 3, anything else
// is refused.
func TestFormatVersion(t *testing.T) {
	tests := []struct {
		name    string
		version []byte // nil: no meta bucket (a new file)
		wantErr string
	}{
		{name: "new file"},
		{name: "version 1 is upgraded", version: []byte{formatVersionV1}},
		{name: "version 2 is upgraded", version: []byte{2}},
		{name: "version 3", version: []byte{fileVersion}},
		{name: "a later version", version: []byte{fileVersion + 1}, wantErr: "unsupported format version"},
		{name: "two bytes", version: []byte{fileVersion, 0}, wantErr: "unsupported format version"},
		{name: "empty", version: []byte{}, wantErr: "unsupported format version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hooknote.db")
			if tt.version != nil {
				writeBolt(t, path, func(tx *bbolt.Tx) error {
					meta, err := tx.CreateBucket([]byte(bucketMeta))
					if err != nil {
						return err
					}
					return meta.Put([]byte(keyVersion), tt.version)
				})
			}
			d, err := Open(path, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Open() = %v, want an error containing %q", err, tt.wantErr)
				}
				if d != nil {
					_ = d.Close()
				}
				return
			}
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			defer d.Close()
			var got []byte
			_ = d.bolt.View(func(tx *bbolt.Tx) error {
				got = append(got, tx.Bucket([]byte(bucketMeta)).Get([]byte(keyVersion))...)
				return nil
			})
			if !bytes.Equal(got, []byte{fileVersion}) {
				t.Errorf("version after Open() = %v, want [%d]", got, fileVersion)
			}
		})
	}
}

// TestOpenVersion1File opens a file written by format version 1, with a
// pending job whose record is version 1: the job is claimed as it was.
func TestOpenVersion1File(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hooknote.db")
	body := []byte(`{"id":"ev1"}`)
	rec := record{bodyID: 1, Job: store.Job{ID: 1, EventID: "ev1", Status: "failed", Rule: "r", Notifier: "slack",
		WebhookID: "w1", ReceivedAt: t0, FirstAt: t0, NextAt: t0}}
	writeBolt(t, path, func(tx *bbolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		tn := openTxn(tx)
		return errors.Join(
			tx.Bucket([]byte(bucketMeta)).Put([]byte(keyVersion), []byte{formatVersionV1}),
			tn.jobs.Put(itob(1), encodeV1(rec, 9)),
			tn.due.Put(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, sortable(nanos(t0))), 1), nil), // version 1's due key
			tn.bodies.Put(itob(1), body),
			tn.setRefs(1, 1),
		)
	})
	d := openAt(t, path, Options{})
	want := rec.Job
	want.Body = body
	if diff := cmp.Diff([]store.Job{want}, mustClaim(t, d, t0, 10)); diff != "" {
		t.Errorf("Claim() (-want +got):\n%s", diff)
	}
}

// TestCloseStopsCommitter: Close returns after the committer has exited.
func TestCloseStopsCommitter(t *testing.T) {
	d := openTest(t, Options{})
	mustEnqueue(t, d, hook("w1", "ev1", "failed", t0, "r/slack"))
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	select {
	case <-d.done:
	default:
		t.Errorf("committer still running after Close()")
	}
}

// writeBolt runs fn in a write transaction of a bbolt file at path,
// created if need be, and closes it.
func writeBolt(t *testing.T, path string, fn func(*bbolt.Tx) error) {
	t.Helper()
	b, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt.Open(%q) = %v", path, err)
	}
	if err := b.Update(fn); err != nil {
		t.Fatalf("write %q: %v", path, err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("close %q: %v", path, err)
	}
}

// TestFailedRecordKeepsLease: when recording the end of an attempt fails,
// the job stays leased — it is not handed out again at once (a resend
// storm) — and the record can be tried again.
func TestFailedRecordKeepsLease(t *testing.T) {
	for _, op := range []struct {
		name string
		do   func(d *DB, id uint64) error
	}{
		{"Complete", func(d *DB, id uint64) error { return d.Complete(context.Background(), id, store.Done{}) }},
		{"Retry", func(d *DB, id uint64) error { return d.Retry(context.Background(), id, t0, "boom") }},
		{"Postpone", func(d *DB, id uint64) error { return d.Postpone(context.Background(), id, t0) }},
		{"Kill", func(d *DB, id uint64) error {
			return d.Kill(context.Background(), id, store.Kill{Reason: "gone", At: t0})
		}},
	} {
		t.Run(op.name, func(t *testing.T) {
			d := openTest(t, Options{})
			mustEnqueue(t, d, hook("w1", "ev1", "failed", t0, "r/slack"))
			jobs := mustClaim(t, d, t0, 10)
			d.failCommit = func() error { return errors.New("disk full") }
			if err := op.do(d, jobs[0].ID); err == nil {
				t.Fatalf("%s() with a failing commit = nil, want an error", op.name)
			}
			if got := mustClaim(t, d, t0.Add(time.Hour), 10); len(got) != 0 {
				t.Fatalf("Claim() after a failed %s = %v, want none: the job is still leased", op.name, ids(got))
			}
			d.failCommit = nil
			if err := op.do(d, jobs[0].ID); err != nil {
				t.Fatalf("%s() again = %v, want nil", op.name, err)
			}
		})
	}
}
