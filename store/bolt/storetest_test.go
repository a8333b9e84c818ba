package bolt_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/store/bolt"
	"github.com/hooknote/hooknote/store/storetest"
)

// TestStore runs the conformance suite of the store contract.
func TestStore(t *testing.T) {
	storetest.Run(t, opener())
}

// opener returns storetest's open func: a bbolt file in a directory of
// each test's own, the same file each time for the same test, so that
// opening again after Close reopens it.
func opener() func(t *testing.T) store.Store {
	var mu sync.Mutex
	paths := make(map[*testing.T]string)
	return func(t *testing.T) store.Store {
		t.Helper()
		mu.Lock()
		path, ok := paths[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "hooknote.db")
			paths[t] = path
		}
		mu.Unlock()
		d, err := bolt.Open(path, bolt.Options{DedupeFor: storetest.DedupeFor})
		if err != nil {
			t.Fatalf("Open(%q) = %v", path, err)
		}
		return d
	}
}
