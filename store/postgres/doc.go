// Package postgres is the store.Store for several hooknote processes
// sharing one PostgreSQL database (pgx v5): every promise of package store
// holds across them, and it also implements store.Shared (one clock, one
// pace and pause per notifier, LISTEN/NOTIFY to wake each other).
//
// The schema is created and migrated at Open, under an advisory lock, from
// the versioned SQL files of package migrations; a database of a newer
// version is refused. Enqueue is one transaction whose dedupe keys and terminal marks
// are unique keys, so two processes recording the same delivery record it
// once. Claim leases jobs with SELECT … FOR UPDATE SKIP LOCKED under a
// random claim token; the process renews its leases in the background
// while it holds them, and Complete, Retry, Postpone, Release and Kill check
// the token, so a process whose lease ended cannot finish a job another
// process holds now (ErrLeaseLost). Claims of all processes take turns
// under an advisory lock, so that each sees the leases of the ones before
// it: two processes never hold jobs of one Key at once. Leases are judged
// by the database's clock; due times by the times the caller passes.
//
// The hot paths take one round trip each. Enqueue of a webhook whose jobs
// join no digest is one statement, and Complete of a job of a webhook
// without a Key, a Then or a Live two; those of the calls waiting at the
// same time are committed together (one batch, one transaction, one commit
// for the group). Claim sends its lock and its statement together (one
// implicit transaction), which returns the jobs with their bodies.
// Statements are planned once per connection (generic plans).
//
// Several stores may share one database in different schemas: tables are
// created in the first schema of the search_path (set it in the DSN, e.g.
// "?search_path=hooknote"), and advisory locks and the NOTIFY channel are
// per schema.
//
// It implements the contract of package store and passes store/storetest;
// it imports nothing else of hooknote.
package postgres
