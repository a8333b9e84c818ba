package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/hooknote/hooknote/store"
)

// TestReopen closes the store with work in every state and opens the file
// again: nothing acknowledged is lost, and leases are gone.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooknote.db")
	d := openAt(t, path, Options{})
	mustEnqueue(t, d, hook("w1", "ev1", "succeeded", t0, "r/a", "r/b", "r/c", "r/d"))
	if got := ids(mustClaim(t, d, t0, 3)); !cmp.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("Claim() ids = %v, want [1 2 3]", got)
	}
	if err := d.Complete(ctx, 1); err != nil {
		t.Fatalf("Complete(1) = %v", err)
	}
	if err := d.Kill(ctx, 2, store.Kill{Attempted: true, Reason: "gone", At: t0, Then: nil}); err != nil {
		t.Fatalf("Kill(2) = %v", err)
	}
	// Job 3 stays leased (a crash mid-send), job 4 pending.
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	d = openAt(t, path, Options{})
	if got := ids(mustClaim(t, d, t0, 10)); !cmp.Equal(got, []uint64{3, 4}) {
		t.Errorf("Claim() after reopen ids = %v, want [3 4]", got)
	}
	dead, err := d.Dead(ctx)
	if err != nil || !cmp.Equal(ids(dead), []uint64{2}) || dead[0].LastError != "gone" {
		t.Errorf("Dead() after reopen = %+v, %v, want job 2 with its error", dead, err)
	}
	checks := []struct {
		w    store.Webhook
		want store.Enqueued
	}{
		{hook("w1", "ev1", "succeeded", t0, "r/e"), store.Enqueued{Duplicate: true}},
		{hook("w2", "ev1", "succeeded", t0, "r/a"), store.Enqueued{Duplicate: true}},
		{hook("w3", "ev1", "processing", t0, "r/a"), store.Enqueued{Stale: true}},
		{hook("w4", "ev2", "failed", t0, "r/a"), store.Enqueued{Accepted: 1}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, mustEnqueue(t, d, c.w)); diff != "" {
			t.Errorf("Enqueue(%q) after reopen (-want +got):\n%s", c.w.WebhookID, diff)
		}
	}
	// Ids keep increasing across restarts.
	if got := ids(mustClaim(t, d, t0, 10)); !cmp.Equal(got, []uint64{5}) {
		t.Errorf("Claim() of the new job ids = %v, want [5]", got)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	d := openTest(t, Options{})
	mustEnqueue(t, d, hook("w1", "ev1", "failed", t0, "r/slack"))
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	select {
	case <-d.done:
	default:
		t.Errorf("committer still running after Close")
	}
	calls := []struct {
		name string
		do   func() error
	}{
		{"Enqueue", func() error { _, err := d.Enqueue(ctx, hook("w2", "ev2", "failed", t0)); return err }},
		{"Claim", func() error { _, err := d.Claim(ctx, t0, 1); return err }},
		{"NextDue", func() error { _, _, err := d.NextDue(ctx); return err }},
		{"Complete", func() error { return d.Complete(ctx, 1) }},
		{"Retry", func() error { return d.Retry(ctx, 1, t0, "x") }},
		{"Release", func() error { return d.Release(ctx, 1) }},
		{"Kill", func() error { return d.Kill(ctx, 1, store.Kill{Attempted: false, Reason: "x", At: t0, Then: nil}) }},
		{"Dead", func() error { _, err := d.Dead(ctx); return err }},
		{"Revive", func() error { return d.Revive(ctx, 1, t0) }},
		{"Drop", func() error { return d.Drop(ctx, 1) }},
		{"Sweep", func() error { _, err := d.Sweep(ctx, t0); return err }},
		{"Stats", func() error { _, err := d.Stats(ctx); return err }},
		{"Close", d.Close},
	}
	for _, c := range calls {
		if err := c.do(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close = %v, want %v", c.name, err, store.ErrClosed)
		}
	}
}

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
