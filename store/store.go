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
	//      w.ReceivedAt; a job with a Digest joins its open digest instead
	//      (see DigestJoin), and is counted in Accepted all the same.
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
	// own. Of the jobs with the same Key, only the earliest enqueued one
	// still pending is claimable, and only while none of them is leased: a
	// job waiting for its retry holds back the later ones of its Key; a dead
	// letter does not.
	Claim(ctx context.Context, now time.Time, max int, perNotifier map[string]int) ([]Job, error)

	// Heads returns, for every notifier with pending jobs not leased, the
	// earliest due time among them: when each notifier has work next, and
	// which notifiers have jobs at all (a notifier no longer configured).
	Heads(ctx context.Context) (map[string]time.Time, error)

	// Complete records a leased job as delivered and deletes it (and the
	// body, when no other job or dead letter refers to it), in one
	// transaction with what done says: the live record of the job's Key
	// and a job to enqueue after it.
	//
	// When Complete, Retry, Postpone or Kill fails to write, the job stays
	// leased to the caller, who may try again: a failed record never hands
	// the job out again at once (a resend storm).
	Complete(ctx context.Context, id uint64, done Done) error

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

	// FlushDigests sends the open digests due at or before now: each is
	// closed and ONE job carrying it (Job.Digest) is enqueued in the same
	// transaction, due at now, for its rule and notifier. A digest is due
	// when no event joined it for its Quiet, when its first event has waited
	// its MaxWait, or at once when it holds Max events. It returns how many
	// it sent, by reason ("quiet", "max_wait", "max").
	FlushDigests(ctx context.Context, now time.Time) (map[string]int, error)

	// NextDigest returns when the earliest open digest falls due, and false
	// when none is open.
	NextDigest(ctx context.Context) (time.Time, bool, error)

	// Sweep deletes dedupe keys, terminal marks and live records that
	// expired before now, in small transactions so that intake is never
	// blocked for long, and returns how many it deleted.
	Sweep(ctx context.Context, now time.Time) (int, error)

	// Stats returns queue depth and dead-letter count.
	Stats(ctx context.Context) (Stats, error)

	// Close waits for commits in progress and closes the store.
	Close() error
}

// Shared is what a store used by several processes at once
// (store/postgres) offers besides Store, so that they keep one clock, one
// pace and one pause per notifier, and wake each other. A store used by one
// process (store/bolt) does not implement it: the relay keeps these in
// memory.
type Shared interface {
	// Now returns the store's clock: the database's now(), read through an
	// offset to the local clock that the store keeps up to date, so that
	// it costs no round trip. Every time the relay passes to the store
	// comes from it.
	Now() time.Time

	// Pass asks to send up to n jobs of notifier at now, paced at one per
	// every (zero: not paced): it returns how many may be sent (a paced
	// notifier gets at most one per call, and the slot is taken), or 0 and
	// when to ask again (the notifier is paused, or its next slot). Every
	// process sharing the store shares the pace.
	Pass(ctx context.Context, notifier string, now time.Time, n int, every time.Duration) (int, time.Time, error)

	// Pause pauses notifier until until (Retry-After) for every process
	// sharing the store; a later pause wins.
	Pause(ctx context.Context, notifier string, until time.Time) error

	// Woken receives a value (without blocking the sender; one may stand
	// for several) when another process has queued jobs or ended leases
	// that may be due: the relay looks for work then, as it does when its
	// own intake queues some.
	Woken() <-chan struct{}
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
	// Key, when not empty, orders the job with the others of the same Key
	// (see Claim), and names the live record Complete keeps for them: one
	// event's messages to one live notifier.
	Key string
	// Digest, when set, makes the webhook join an open digest instead of
	// queueing a job of its own.
	Digest *DigestJoin
}

// DigestJoin names the open digest a webhook joins, and when that digest
// is sent. A digest is one per (Rule, Notifier, Group) open at a time; an
// event is in at most one open digest of a rule and notifier: when it
// arrives again (a later status), its entry moves to its current group's
// digest and is replaced there (one entry per event id, its latest
// webhook); a digest left with no event is dropped. Every join restarts
// the digest's quiet time; its max wait counts from its first join, and
// the Quiet, MaxWait and Max of the digest's first join hold for it.
// After a digest is sent, a later status of one of its events joins a new
// one. A join to a digest that holds Max events already (FlushDigests has
// not sent it yet) sends it in the same transaction, reason "max", and
// starts a new one: a digest never holds more than Max events.
type DigestJoin struct {
	Group   string        // the group within the rule and notifier ("" for one group)
	Quiet   time.Duration // sent when no event joined for this long
	MaxWait time.Duration // or when its first event has waited this long
	Max     int           // or at once when it holds this many events
	Extra   []byte        // the caller's data about the digest, kept with it
}

// Digest is what a digest job carries: the events that joined, oldest join
// first.
type Digest struct {
	Group       string
	Extra       []byte    // DigestJoin.Extra, as the digest's first join gave it
	Reason      string    // why it was sent: "quiet", "max_wait" or "max"
	First, Last time.Time // when the first and the last event joined
	Events      []DigestEvent
}

// DigestEvent is one event of a digest: its latest webhook.
type DigestEvent struct {
	EventID    string
	Status     string
	Query      string
	ReceivedAt time.Time
	Body       []byte // nil in Dead and DeadLetter listings
}

// Live is the record a live notifier keeps per job Key: where the message
// is and how far it has gone.
type Live struct {
	Ref  []byte // the notifier's reference to the message (channel, ts); opaque to the store
	Rank int    // the rank of the state the message shows
}

// Done says what else Complete records with a delivered job.
type Done struct {
	// Live, when set, replaces the live record of the job's Key; it expires
	// with the dedupe window.
	Live *Live
	// Then, when set, is enqueued for the job's webhook in the same
	// transaction, due at once (a live message's thread reply); it has the
	// job's Key unless it names another.
	Then *NewJob
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
	Body       []byte    // the raw webhook body (nil for a digest job)
	Key        string    // NewJob.Key
	// Later counts the jobs of the same Key enqueued after this one and
	// still pending when it was claimed: an update that is not its event's
	// last may be skipped for the later one.
	Later int
	// Live is the live record of the job's Key when it was claimed (nil
	// for none yet).
	Live *Live
	// Digest is the digest a digest job carries (nil for other jobs).
	Digest *Digest
}

// Stats is a snapshot of the store's size.
type Stats struct {
	Pending     int // jobs waiting or leased
	Dead        int // dead letters
	OpenDigests int // digests gathering events
}
