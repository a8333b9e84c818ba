// Package store is the contract of hooknote's durable queue: the Store
// interface and its types. A Store keeps accepted webhooks, the jobs they fan
// out to, the dedupe keys that make delivery exactly-once per (event, status,
// rule, notifier), and dead letters.
//
// The interface speaks in transactions of the domain — "record this webhook
// and its jobs", "claim due jobs", "complete / retry / kill a job" — never in
// buckets or rows, so that every backend can implement it: store/bolt (the
// embedded default) and store/postgres. store/storetest is the conformance
// suite they all pass. This package holds no implementation and imports
// nothing of hooknote; it knows nothing of notifiers, rules or templates.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned for a job or dead letter id that does not exist.
var ErrNotFound = errors.New("not found")

// ErrClosed is returned by every method once Close has been called.
var ErrClosed = errors.New("store closed")

// Store is a durable job queue with dedupe. Every method is safe for
// concurrent use and returns when ctx ends (an error then means the outcome
// is unknown only for a write already handed to a commit; otherwise nothing
// was written). A nil error from a method that writes means the write is
// durable (fsynced) — the caller may acknowledge on the strength of it.
type Store interface {
	// Enqueue records one received webhook in ONE durable transaction:
	//   1. if w.WebhookID was seen within its dedupe window: Duplicate, nothing written;
	//   2. if a terminal status was already recorded for w.EventID and
	//      w.Terminal is false: Stale, nothing but the webhook-id key written;
	//   3. each job whose (EventID, Status, Rule, Notifier) key was already
	//      recorded is dropped (jobs with NoDedupe have no such key); if
	//      every job was dropped (and there was at least one): Duplicate;
	//   4. otherwise the webhook-id key, the terminal mark (when w.Terminal),
	//      the remaining jobs' keys, the body and the jobs are written, due at
	//      w.ReceivedAt.
	// Keys expire at w.ReceivedAt + the store's dedupe window.
	// Concurrent calls share commits (group commit); each call returns only
	// after the commit that holds it. An error means nothing was recorded.
	Enqueue(ctx context.Context, w Webhook) (Enqueued, error)

	// Claim returns up to max pending jobs due at or before now, oldest due
	// first, and leases them to the caller: they are not returned by Claim
	// again until the lease ends with Complete, Retry, Postpone, Kill or
	// Release, or the process restarts (a crash mid-send means the job is
	// sent again). When perNotifier is not nil, only jobs of the notifiers
	// it names are claimed, at most perNotifier[n] of notifier n (and max in
	// all): so that each notifier's pace, pauses and concurrency are its
	// own.
	Claim(ctx context.Context, now time.Time, max int, perNotifier map[string]int) ([]Job, error)

	// Heads returns, for every notifier with pending jobs not leased, the
	// earliest due time among them: when each notifier has work next, and
	// which notifiers have jobs at all (a notifier no longer configured).
	Heads(ctx context.Context) (map[string]time.Time, error)

	// Complete records a leased job as delivered and deletes it (and the
	// body, when no other job or dead letter refers to it).
	//
	// When Complete, Retry, Postpone or Kill fails to write, the job stays
	// leased to the caller, who may try again: a failed record never hands
	// the job out again at once (a resend storm).
	Complete(ctx context.Context, id uint64) error

	// Retry records a failed attempt of a leased job: Attempts+1, LastError,
	// due again at next; the lease ends.
	Retry(ctx context.Context, id uint64, next time.Time, lastErr string) error

	// Release ends the lease of a job without recording an attempt (used on
	// shutdown for jobs claimed but not started).
	Release(ctx context.Context, id uint64) error

	// Postpone ends the lease of a job without recording an attempt; it is
	// due again at next (its notifier is paused or paced).
	Postpone(ctx context.Context, id uint64, next time.Time) error

	// Kill moves a leased job to the dead letters as k says, in one
	// transaction with k.Then, when set.
	Kill(ctx context.Context, id uint64, k Kill) error

	// Dead lists the dead letters, oldest first, without their bodies.
	Dead(ctx context.Context) ([]Job, error)

	// DeadLetter returns one dead letter, without its body. ErrNotFound if
	// absent.
	DeadLetter(ctx context.Context, id uint64) (Job, error)

	// Revive moves a dead letter back to the queue, due at now, with
	// Attempts reset to 0 and FirstAt set to now. ErrNotFound if absent.
	Revive(ctx context.Context, id uint64, now time.Time) error

	// Drop deletes a dead letter. ErrNotFound if absent.
	Drop(ctx context.Context, id uint64) error

	// Sweep deletes dedupe keys and terminal marks that expired before now,
	// in small transactions so that intake is never blocked for long, and
	// returns how many it deleted.
	Sweep(ctx context.Context, now time.Time) (int, error)

	// Stats returns queue depth and dead-letter count.
	Stats(ctx context.Context) (Stats, error)

	// Close waits for commits in progress and closes the store.
	Close() error
}

// Webhook is one verified, decoded webhook and the jobs its matching rules
// produced (possibly none).
type Webhook struct {
	WebhookID  string    // the webhook-id header (constant across Replicate's retries)
	EventID    string    // the payload's id
	Status     string    // the payload's status
	Terminal   bool      // whether Status is final (succeeded, failed, canceled, aborted, …)
	Body       []byte    // the raw body as received and verified
	Query      string    // the raw query of the request URL
	ReceivedAt time.Time // when intake received it
	Jobs       []NewJob  // one per (rule, notifier) pair that matched
}

// NewJob names a destination for a webhook.
type NewJob struct {
	Rule     string
	Notifier string
	// NoDedupe records the job without an (EventID, Status, Rule, Notifier)
	// dedupe key: it is never dropped as a duplicate.
	NoDedupe bool
	// Extra is the caller's own data about the job, kept and returned with
	// it; the store does not read it.
	Extra []byte
}

// Kill says how a job ends as a dead letter.
type Kill struct {
	Reason    string    // the final error, kept as the dead letter's LastError
	Attempted bool      // the job was sent this time: Attempts+1
	At        time.Time // becomes DeadAt
	// Then, when set, is enqueued in the same transaction for the dead
	// letter's webhook, due at At (relay's on_dead notice).
	Then *NewJob
}

// Enqueued is the result of Enqueue.
type Enqueued struct {
	Accepted  int  // jobs written
	Duplicate bool // the webhook (or every one of its jobs) was already recorded
	Stale     bool // a non-terminal webhook after a terminal one: ignored
}

// Job is a unit of delivery: one webhook body to one notifier for one rule.
type Job struct {
	ID         uint64
	EventID    string
	Status     string
	Rule       string
	Notifier   string
	WebhookID  string
	Query      string    // the raw query of the request URL
	ReceivedAt time.Time // when intake received the webhook
	FirstAt    time.Time // when the job entered the queue (max_age counts from here)
	NextAt     time.Time // when it is due
	Attempts   int       // failed attempts recorded
	LastError  string    // the last failed attempt's error
	DeadAt     time.Time // when it became a dead letter; zero for a pending job
	Extra      []byte    // NewJob.Extra
	Body       []byte    // the raw webhook body
}

// Stats is a snapshot of the store's size.
type Stats struct {
	Pending int // jobs waiting or leased
	Dead    int // dead letters
}
