// Package storetest owns the conformance suite of the store contract: the
// tests, written against the store.Store interface only, that every backend
// (store/bolt, store/postgres) must pass unchanged. A backend runs it from its
// own tests with Run.
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// DedupeFor is the dedupe window the stores given to Run must have:
// hooknote's default (dedupe_for = "168h"). The suite checks expiry with
// webhooks received more than DedupeFor apart.
const DedupeFor = 168 * time.Hour

// Run runs the conformance suite against the stores open returns, one
// t.Run subtest per part of the contract, and fails t where the store does
// not keep the contract of package store.
//
// The contract of open:
//   - open(t) returns a store over storage private to that t (a subtest):
//     it starts empty, and no other t sees it. It reports its own failures
//     with t.Fatal; it never returns nil.
//   - Calling open again with the same t, after the store it returned
//     before was closed, reopens the SAME storage: that is how the suite
//     checks durability (what a nil error acknowledged survives a restart)
//     and that leases do not survive one.
//   - The store has the dedupe window DedupeFor.
//   - open is called from parallel subtests, so it must be safe for
//     concurrent use with different t.
//
// Run closes every store it gets from open before its t ends (a second
// Close, returning store.ErrClosed, is harmless if open also arranges one).
// Every time the suite passes to the store is explicit, derived from one
// fixed instant and whole microseconds apart (so a backend with microsecond
// resolution, like PostgreSQL's timestamptz, passes); the store is never
// asked about the wall clock, and the suite never sleeps.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	o := opener(open)
	tests := []struct {
		name string
		test func(*testing.T, opener)
	}{
		{"Enqueue", testEnqueue},
		{"EnqueueStale", testEnqueueStale},
		{"EnqueueExpiry", testEnqueueExpiry},
		{"EnqueueConcurrently", testEnqueueConcurrently},
		{"Claim", testClaim},
		{"Lease", testLease},
		{"ClaimConcurrently", testClaimConcurrently},
		{"Heads", testHeads},
		{"ClaimPerNotifier", testClaimPerNotifier},
		{"Complete", testComplete},
		{"Retry", testRetry},
		{"Postpone", testPostpone},
		{"Kill", testKill},
		{"Dead", testDead},
		{"DeadLetter", testDeadLetter},
		{"Revive", testRevive},
		{"Drop", testDrop},
		{"NotFound", testNotFound},
		{"Sweep", testSweep},
		{"Stats", testStats},
		{"RoundTrip", testRoundTrip},
		{"SharedBody", testSharedBody},
		{"Canceled", testCanceled},
		{"Closed", testClosed},
		{"CloseWaits", testCloseWaits},
		{"Reopen", testReopen},
		{"KeyOrder", testKeyOrder},
		{"Live", testLive},
		{"LiveExpiry", testLiveExpiry},
		{"DigestQuiet", testDigestQuiet},
		{"DigestLimits", testDigestLimits},
		{"DigestLatest", testDigestLatest},
		{"DigestDurable", testDigestDurable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, o)
		})
	}
}

// opener is Run's open func.
type opener func(t *testing.T) store.Store

// store opens t's storage (again), and closes the store when t ends.
func (o opener) store(t *testing.T) store.Store {
	t.Helper()
	s := o(t)
	if s == nil {
		t.Fatal("open() = nil, want a store")
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return s
}

// reopen closes s and opens t's storage again.
func (o opener) reopen(t *testing.T, s store.Store) store.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	return o.store(t)
}
