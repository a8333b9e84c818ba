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
// concurrent use. A nil error from a method that writes means the write is on
// disk (fsynced) — the caller may acknowledge on the strength of it.
type Store interface {
	// Enqueue records one received webhook in ONE durable transaction:
	//   1. if w.WebhookID was seen within its dedupe window: Duplicate, nothing written;
	//   2. if a terminal status was already recorded for w.EventID and
	//      w.Terminal is false: Stale, nothing but the webhook-id key written;
	//   3. each job whose (EventID, Status, Rule, Notifier) key was already
	//      recorded is dropped; if every job was dropped (and there was at
	//      least one): Duplicate;
	//   4. otherwise the webhook-id key, the terminal mark (when w.Terminal),
	//      the remaining jobs' keys, the body and the jobs are written, due at
	//      w.ReceivedAt.
	// Keys expire at w.ReceivedAt + the store's dedupe window.
	// Concurrent calls share commits (group commit); each call returns only
	// after the commit that holds it. An error means nothing was recorded.
	Enqueue(ctx context.Context, w Webhook) (Enqueued, error)

	// Claim returns up to max pending jobs due at or before now, oldest due
	// first, and leases them to the caller: they are not returned by Claim
	// again until the lease ends with Complete, Retry, Kill or Release, or
	// the process restarts (a crash mid-send means the job is sent again).
	Claim(ctx context.Context, now time.Time, max int) ([]Job, error)

	// NextDue returns the earliest due time among pending jobs not leased,
	// and false when there are none.
	NextDue(ctx context.Context) (time.Time, bool, error)

	// Complete records a leased job as delivered and deletes it (and the
	// body, when no other job or dead letter refers to it).
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

	// Kill moves a leased job to the dead letters with its final error
	// (Attempts+1 when attempted is true). When notice is non-nil, that job
	// is enqueued in the same transaction (relay's on_dead notification),
	// due at now.
	Kill(ctx context.Context, id uint64, attempted bool, lastErr string, now time.Time, notice *NewJob) error

	// Dead lists the dead letters, oldest first.
	Dead(ctx context.Context) ([]Job, error)

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
	// Notice, when non-zero, makes this job an on_dead notice about the dead
	// letter with this id; it has no dedupe key.
	Notice uint64
}

// Enqueued is the result of Enqueue.
type Enqueued struct {
	Accepted  int  // jobs written
	Duplicate bool // the webhook (or every one of its jobs) was already recorded
	Stale     bool // a non-terminal webhook after a terminal one: ignored
}

// Job is a unit of delivery: one webhook body to one notifier for one rule.
type Job struct {
	ID         uint64    `json:"id"`
	EventID    string    `json:"event_id"`
	Status     string    `json:"status"`
	Rule       string    `json:"rule"`
	Notifier   string    `json:"notifier"`
	Notice     uint64    `json:"notice,omitempty"`
	WebhookID  string    `json:"webhook_id"`
	Query      string    `json:"query,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	FirstAt    time.Time `json:"first_at"` // when it entered the queue (max_age counts from here)
	NextAt     time.Time `json:"next_at"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error,omitempty"`
	DeadAt     time.Time `json:"dead_at,omitzero"`
	Body       []byte    `json:"-"` // the raw webhook body
}

// Stats is a snapshot of the store's size.
type Stats struct {
	Pending int // jobs waiting or leased
	Dead    int // dead letters
}
