package bolt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// TestDamagedFile: a state file that was emptied, truncated or corrupted
// is refused at Open with a *DamagedError naming the file and the recovery
// step, never a crash and never a fresh empty store.
func TestDamagedFile(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{name: "zero bytes", damage: func(t *testing.T, path string) { truncate(t, path, 0) }, want: "is empty (0 bytes)"},
		{name: "truncated", damage: func(t *testing.T, path string) { truncate(t, path, inUse(t, path)/2) }, want: "is truncated"},
		{name: "last page cut", damage: func(t *testing.T, path string) { truncate(t, path, inUse(t, path)-100) }, want: "is truncated"},
		{name: "truncated to one page", damage: func(t *testing.T, path string) { truncate(t, path, 4096) }, want: "is truncated"},
		{name: "both meta pages overwritten", damage: func(t *testing.T, path string) { scribble(t, path, 0, 2) }, want: "has no valid meta page"},
		{name: "data pages overwritten", damage: func(t *testing.T, path string) { scribble(t, path, 4, size(t, path)/4096-4) }, want: "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hooknote.db")
			fill(t, path)
			tt.damage(t, path)
			d, err := Open(path, Options{})
			if err == nil {
				d.Close()
				t.Fatalf("Open(damaged: %s) = a store, want a *DamagedError", tt.name)
			}
			var de *DamagedError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(damaged: %s) = %v, want a *DamagedError saying %q", tt.name, err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, RecoveryStep) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("Open() error %q: want one line naming %s and %s", msg, path, RecoveryStep)
			}
		})
	}
}

// fill writes a store with 300 jobs of 2 KB bodies (a few hundred pages).
func fill(t *testing.T, path string) {
	t.Helper()
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := range 300 {
		w := store.Webhook{WebhookID: fmt.Sprintf("msg_%d", i), EventID: fmt.Sprintf("ev%d", i), Status: "failed", Terminal: true,
			Body: []byte(strings.Repeat("x", 2048)), ReceivedAt: t0, Jobs: []store.NewJob{{Rule: "r", Notifier: "n"}}}
		if _, err := d.Enqueue(context.Background(), w); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// inUse is the size the file's meta page says its pages take (the file
// itself may be longer: bbolt grows it ahead).
func inUse(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, ok := readMeta(f, 0)
	if m1, ok1 := readMeta(f, int64(m.pageSize)); !ok || (ok1 && m1.txid > m.txid) {
		m = m1
	}
	return int64(m.pgid) * int64(m.pageSize)
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

// scribble overwrites n pages from page first with random bytes.
func scribble(t *testing.T, path string, first, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(uint64(first), uint64(n)))
	page := make([]byte, 4096)
	for p := first; p < first+n; p++ {
		for i := range page {
			page[i] = byte(r.Uint32())
		}
		if _, err := f.WriteAt(page, p*4096); err != nil {
			t.Fatal(err)
		}
	}
}
