package bolt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/hooknote/hooknote/store"
)

var _ store.Store = (*DB)(nil)

const (
	// DefaultDedupeFor is the dedupe window when Options.DedupeFor is zero.
	DefaultDedupeFor = 168 * time.Hour
	// DefaultLockTimeout is the lock wait when Options.LockTimeout is zero.
	DefaultLockTimeout = time.Second
)

// sweepChunk bounds the deletions of one Sweep transaction.
const sweepChunk = 1000

// Options configure Open. The zero value is usable.
type Options struct {
	// DedupeFor is how long dedupe keys and terminal marks are kept after
	// the webhook that wrote them was received; default DefaultDedupeFor.
	DedupeFor time.Duration
	// Logger receives debug and warning events; nil discards them.
	Logger *slog.Logger
	// LockTimeout bounds the wait for the file lock held by another
	// process; default DefaultLockTimeout.
	LockTimeout time.Duration
}

// DB is the embedded store.Store, one bbolt file. Enqueue calls and job
// operations (complete, retry, postpone, kill) share commits through one
// committer goroutine; leases live in memory only.
type DB struct {
	bolt      *bbolt.DB
	dedupeFor time.Duration
	log       *slog.Logger

	// closeMu is held shared by every method for its whole duration and
	// exclusively by Close, which therefore waits for them.
	closeMu sync.RWMutex
	closed  bool

	reqs chan *commitReq // to the committer
	quit chan struct{}   // closed by Close: the committer exits
	done chan struct{}   // closed by the committer when it has exited

	commits      atomic.Uint64 // committed batches (tests)
	beforeCommit func(n int)   // test hook: called with each batch's size before its transaction
	failCommit   func() error  // test hook: an error fails the transaction, as a full disk would

	mu     sync.Mutex // guards leased; held across Claim's scan
	leased map[uint64]struct{}

	// pending, dead and digests count jobs, dead letters and open
	// digests, kept in step with every commit that changes them.
	pending, dead, digests atomic.Int64
	opts                   Options // as given to Open, for opening the file again

	compactKick   chan struct{} // the queue has emptied: compact if worth it
	compactorDone chan struct{} // closed when the compactor has exited
}

// Open opens (creating with mode 0600) the state file at path and starts
// the committer. Another process holding the file makes Open fail after
// opts.LockTimeout.
func Open(path string, opts Options) (*DB, error) {
	if opts.DedupeFor < 0 {
		return nil, fmt.Errorf("open store: negative dedupe window %s", opts.DedupeFor)
	}
	if opts.DedupeFor == 0 {
		opts.DedupeFor = DefaultDedupeFor
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := openFile(path, opts)
	if err != nil {
		return nil, err
	}
	d := &DB{
		bolt:      b,
		dedupeFor: opts.DedupeFor,
		log:       opts.Logger,
		reqs:      make(chan *commitReq, maxBatch),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		leased:    make(map[uint64]struct{}),
		opts:      opts,

		compactKick:   make(chan struct{}, 1),
		compactorDone: make(chan struct{}),
	}
	if d.worthCompacting() && countEmpty(b) {
		size := fileSize(path)
		nb, err := compactFile(b, path, opts)
		if nb == nil {
			return nil, fmt.Errorf("open store %q: %w", path, err)
		}
		d.bolt = nb
		if err != nil {
			opts.Logger.Warn("compact state file: kept the file as it was", "error", err)
		} else {
			opts.Logger.Info("compacted state file", "file", path, "bytes_before", size, "bytes_after", fileSize(path))
		}
	}
	c, err := countRecords(d.bolt)
	if err != nil {
		_ = d.bolt.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	d.count(c)
	go d.commitLoop()
	go d.compactor()
	return d, nil
}

// openFile opens the bbolt file at path, after reading all of it once: a
// file that is empty, truncated or has pages that cannot be read is
// refused with a *DamagedError, never a crash.
func openFile(path string, opts Options) (*bbolt.DB, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	if err := verifyFile(path, opts.LockTimeout); err != nil {
		return nil, err
	}
	return openBolt(path, opts)
}

// openBolt opens the bbolt file at path for writing, brought up to date.
func openBolt(path string, opts Options) (*bbolt.DB, error) {
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: opts.LockTimeout,
		// The freelist is rebuilt at open (walking the pages verifyFile
		// has just read) instead of written at every commit: fewer pages
		// per fsync. The map freelist stays fast as the file grows, and a
		// larger first mmap means fewer remaps (each of which waits for
		// every reader).
		NoFreelistSync:  true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: 64 << 20,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store: state file %q is locked by another hooknote?: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	if err := b.Update(initBuckets); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	return b, nil
}

// initBuckets creates the buckets and checks the file version; a file of
// an older version is brought up to date.
func initBuckets(tx *bbolt.Tx) error {
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	meta := tx.Bucket([]byte(bucketMeta))
	v := meta.Get([]byte(keyVersion))
	switch {
	case v == nil:
	case len(v) == 1 && v[0] >= 1 && v[0] < fileVersion:
		if v[0] < 3 {
			if err := rebuildDue(tx); err != nil {
				return fmt.Errorf("upgrade from version %d: %w", v[0], err)
			}
		}
		if err := hashSeen(tx); err != nil {
			return fmt.Errorf("upgrade from version %d: %w", v[0], err)
		}
	case len(v) == 1 && v[0] == fileVersion:
		return nil
	default:
		return fmt.Errorf("unsupported format version %v", v)
	}
	return meta.Put([]byte(keyVersion), []byte{fileVersion})
}

// hashSeen replaces the dedupe keys of a file of version 3 or before, kept
// plain with an expiry index, by their hashes (version 4).
func hashSeen(tx *bbolt.Tx) error {
	old := tx.Bucket([]byte(bucketSeen))
	keys := map[string][]byte{}
	if err := old.ForEach(func(k, v []byte) error {
		keys[string(hashKey(k))] = append([]byte(nil), v...)
		return nil
	}); err != nil {
		return err
	}
	if err := tx.DeleteBucket([]byte(bucketSeen)); err != nil {
		return err
	}
	if err := tx.DeleteBucket([]byte(legacyBucketExpiry)); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return err
	}
	seen, err := tx.CreateBucket([]byte(bucketSeen))
	if err != nil {
		return err
	}
	for k, v := range keys {
		if err := seen.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// legacyBucketExpiry indexed dedupe keys by expiry until version 4.
const legacyBucketExpiry = "expiry"

// rebuildDue replaces the due index with one built from the jobs: files of
// version 1 and 2 indexed jobs by due time alone.
func rebuildDue(tx *bbolt.Tx) error {
	if err := tx.DeleteBucket([]byte(bucketDue)); err != nil {
		return err
	}
	due, err := tx.CreateBucket([]byte(bucketDue))
	if err != nil {
		return err
	}
	return tx.Bucket([]byte(bucketJobs)).ForEach(func(k, v []byte) error {
		r, err := decodeRecord(beID(k), v)
		if err != nil {
			return err
		}
		return due.Put(dueKey(r.Notifier, nanos(r.NextAt), r.ID), nil)
	})
}

// Path returns the file the store lives in.
func (d *DB) Path() string { return d.bolt.Path() }

// Close waits for the methods in progress, stops the committer and closes the
// file. Later calls of any method return store.ErrClosed.
func (d *DB) Close() error {
	d.closeMu.Lock()
	if d.closed {
		d.closeMu.Unlock()
		return store.ErrClosed
	}
	d.closed = true
	close(d.quit)
	<-d.done
	d.closeMu.Unlock()
	<-d.compactorDone // it may be waiting for closeMu, to find the store closed
	if err := d.bolt.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// enter starts a method: it fails once the store is closed or ctx has
// ended, and otherwise holds Close off until the returned func is called.
func (d *DB) enter(ctx context.Context) (func(), error) {
	d.closeMu.RLock()
	if d.closed {
		d.closeMu.RUnlock()
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		d.closeMu.RUnlock()
		return nil, err
	}
	return d.closeMu.RUnlock, nil
}

// Stats returns the number of pending jobs and dead letters.
func (d *DB) Stats(ctx context.Context) (store.Stats, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return store.Stats{}, err
	}
	defer leave()
	return store.Stats{Pending: int(d.pending.Load()), Dead: int(d.dead.Load()), OpenDigests: int(d.digests.Load())}, nil
}

// Sweep deletes the dedupe keys, terminal marks and live records that
// expired at or before now, looking at sweepChunk keys per transaction, in
// one pass over all of them, until done or ctx ends. Then, when the queue
// is empty and most of the file is free pages (a backlog has drained), it
// compacts the file.
func (d *DB) Sweep(ctx context.Context, now time.Time) (int, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, bucket := range []string{bucketSeen, bucketLive} {
		var from []byte
		for {
			if err := ctx.Err(); err != nil {
				leave()
				return total, err
			}
			n, next, err := d.sweepChunk(bucket, from, nanos(now))
			total += n
			if err != nil {
				leave()
				return total, fmt.Errorf("sweep %s: %w", bucket, err)
			}
			if next == nil {
				break
			}
			from = next
		}
	}
	d.log.Debug("swept expired keys", "count", total)
	leave()
	if err := d.compactIfDrained(ctx); err != nil {
		return total, err
	}
	return total, nil
}

// sweepChunk looks at up to sweepChunk keys of bucket (whose values start
// with their expiry) from from on, deletes the expired ones, and returns
// where to go on (nil at the end).
func (d *DB) sweepChunk(bucket string, from []byte, now int64) (n int, next []byte, err error) {
	err = d.bolt.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		var expired [][]byte
		c := b.Cursor()
		k, v := c.Seek(from)
		for looked := 0; k != nil && looked < sweepChunk; k, v = c.Next() {
			looked++
			if len(v) < 8 || decodeNanos(v[:8]) <= now {
				expired = append(expired, append([]byte(nil), k...))
			}
		}
		if k != nil {
			next = append([]byte(nil), k...)
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return n, next, nil
}
