package postgres

import (
	"sync"
	"testing"

	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/store/storetest"
)

// TestStore runs the conformance suite of the store contract.
func TestStore(t *testing.T) {
	needPG(t)
	storetest.Run(t, opener())
}

// opener returns storetest's open func: a schema of each test's own in
// the test database, the same one each time for the same test, so that
// opening again after Close reopens it.
func opener() func(t *testing.T) store.Store {
	var mu sync.Mutex
	schemas := make(map[*testing.T]string)
	return func(t *testing.T) store.Store {
		t.Helper()
		mu.Lock()
		schema, ok := schemas[t]
		if !ok {
			schema = newSchema(t)
			schemas[t] = schema
		}
		mu.Unlock()
		return open(t, schema, Options{DedupeFor: storetest.DedupeFor})
	}
}
