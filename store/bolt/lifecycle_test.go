package bolt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
