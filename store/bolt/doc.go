// Package bolt is the embedded store.Store: one bbolt file in the state
// directory, nothing to run. Enqueue calls and job completions share commits
// through one committer goroutine (group commit: one fsync for many
// webhooks); leases live in memory, so a restart makes every job claimable
// again. Dedupe keys expire after the dedupe window and are swept in small
// transactions.
//
// It implements the contract of package store and passes store/storetest;
// it imports nothing else of hooknote.
package bolt
