package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/store/postgres/migrations"
)

var (
	_ store.Store  = (*DB)(nil)
	_ store.Shared = (*DB)(nil)
)

const (
	// DefaultDedupeFor is the dedupe window when Options.DedupeFor is zero.
	DefaultDedupeFor = 168 * time.Hour
	// DefaultLease is the lease when Options.Lease is zero.
	DefaultLease = 30 * time.Second
	// MinLease is the shortest lease Open accepts.
	MinLease = time.Second
)

const (
	// defaultConnectTimeout bounds each connection attempt when the DSN
	// sets no connect_timeout: a host that does not answer fails a method
	// in that time even when its ctx has no deadline.
	defaultConnectTimeout = 10 * time.Second
	// idleInTransaction ends the session of a process that stops in the
	// middle of a transaction (and so frees the locks it holds), unless the
	// DSN sets idle_in_transaction_session_timeout.
	idleInTransaction = "30s"
	// closeTimeout bounds the release of the leases at Close.
	closeTimeout = 5 * time.Second
	// minServerVersion is the oldest PostgreSQL the schema runs on (13,
	// for gen_random_uuid), as server_version_num.
	minServerVersion = 130000
	// txAttempts is how many times a transaction is tried when it fails
	// before its commit for a reason that another try may not meet: a
	// connection lost, a serialization failure or a deadlock.
	txAttempts = 3
)

// ErrLeaseLost is returned, wrapped, by Complete, Retry, Release, Postpone
// and Kill for a pending job whose lease this store does not hold (any
// more): it ended, and another process may hold the job now. It wraps
// store.ErrNotFound, as the job is no longer the caller's to finish.
var ErrLeaseLost = fmt.Errorf("lease lost: %w", store.ErrNotFound)

// Options configure Open.
type Options struct {
	// DSN is a libpq URL or key=value string. Its pool_max_conns sets the
	// size of the connection pool (default: the greater of 4 and the
	// number of CPUs), plus one connection for LISTEN; writes sharing
	// commits (Enqueue, Complete) use at most three quarters of them.
	DSN string
	// DedupeFor is how long dedupe keys, terminal marks and live records
	// are kept after the webhook that wrote them was received; default
	// DefaultDedupeFor.
	DedupeFor time.Duration
	// Lease is how long a claimed job stays with this process after it
	// stopped renewing the lease (it renews every Lease/3 while it holds
	// the job); default DefaultLease, at least MinLease.
	Lease time.Duration
	// Logger receives warnings (leases lost, the listener reconnecting);
	// nil discards them.
	Logger *slog.Logger
	// Observe, when set, is called after every method with its name
	// ("enqueue", "claim", "complete", "retry", "flush", …) and how long it
	// took, whatever its outcome.
	Observe func(op string, d time.Duration)
}

// DB is the PostgreSQL store: a store.Store and a store.Shared. Its
// methods are safe for concurrent use.
type DB struct {
	pool      *pgxpool.Pool
	dedupeFor time.Duration
	lease     time.Duration
	log       *slog.Logger
	observe   func(op string, d time.Duration)
	locks     lockKeys
	channel   string // the NOTIFY channel of the schema
	instance  string // this store's payload in its notifications

	// closeMu is held shared by every method for its whole duration and
	// exclusively by Close, which therefore waits for them.
	closeMu sync.RWMutex
	closed  bool

	offset atomic.Int64 // the database's clock minus the local clock, in ns

	leaseMu sync.Mutex
	leases  map[uint64]lease // jobs this store holds, with their claim tokens

	// intake holds a token per group of writes being committed and per
	// Enqueue transaction in progress: fewer than the pool's connections,
	// so that under a flood of webhooks claims still find one at once
	// (deliveries keep going).
	intake chan struct{}
	calls  chan call // Enqueue and Complete calls waiting for a committer

	woken chan struct{}
	stop  context.CancelFunc // ends the background goroutines
	bg    sync.WaitGroup     // the background goroutines
}

// token is a claim token (a uuid).
type token = [16]byte

// lockKeys are the advisory lock keys of one schema.
type lockKeys struct {
	migrate, claim, sweep int64
}

// Open connects to the database opts.DSN names, creates or migrates the
// schema, and starts renewing leases, following the database's clock and
// listening for other processes' notifications. A connection failure is
// one line naming the host, port and database, never the password.
func Open(ctx context.Context, opts Options) (*DB, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := poolConfig(opts.DSN)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where(cfg.ConnConfig), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, connectError(cfg.ConnConfig, err)
	}
	d := &DB{
		pool:      pool,
		dedupeFor: opts.DedupeFor,
		lease:     opts.Lease,
		log:       opts.Logger,
		observe:   opts.Observe,
		instance:  rand.Text(),
		leases:    make(map[uint64]lease),
		intake:    make(chan struct{}, intakeConns(cfg.MaxConns)),
		calls:     make(chan call),
		woken:     make(chan struct{}, 1),
	}
	listener, err := d.setup(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open %s: %w", where(cfg.ConnConfig), err)
	}
	bg, stop := context.WithCancel(context.Background())
	d.stop = stop
	d.bg.Add(3 + cap(d.intake))
	for range cap(d.intake) {
		go d.commit(bg)
	}
	go d.renewLeases(bg)
	go d.followClock(bg)
	go d.listen(bg, listener)
	return d, nil
}

// intakeConns is how many of a pool's max connections Enqueue may use at
// once: all but a quarter (at least one), which claims, completions and
// the other methods always find.
func intakeConns(conns int32) int {
	return int(max(1, conns-max(1, conns/4)))
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.DedupeFor < 0:
		return o, fmt.Errorf("open store: negative dedupe window %s", o.DedupeFor)
	case o.Lease != 0 && o.Lease < MinLease:
		return o, fmt.Errorf("open store: lease %s is shorter than %s", o.Lease, MinLease)
	}
	if o.DedupeFor == 0 {
		o.DedupeFor = DefaultDedupeFor
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// setup finds the schema the store lives in, migrates it, reads the
// database's clock and starts listening; it returns the listening
// connection.
func (d *DB) setup(ctx context.Context) (*pgx.Conn, error) {
	var schema *string
	var version int
	err := d.pool.QueryRow(ctx, "SELECT current_schema(), current_setting('server_version_num')::int").Scan(&schema, &version)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read schema: %w", err)
	case version < minServerVersion:
		return nil, fmt.Errorf("PostgreSQL %d is too old: hooknote needs %d or later", version/10000, minServerVersion/10000)
	case schema == nil:
		return nil, errors.New("no schema to create tables in: the search_path names none that exists")
	}
	d.locks = lockKeys{
		migrate: lockKey(*schema, "migrate"),
		claim:   lockKey(*schema, "claim"),
		sweep:   lockKey(*schema, "sweep"),
	}
	d.channel = fmt.Sprintf("hooknote_%016x", uint64(lockKey(*schema, "notify")))
	if err := migrations.Apply(ctx, d.pool, d.locks.migrate); err != nil {
		return nil, err
	}
	if err := d.readClock(ctx); err != nil {
		return nil, err
	}
	return d.connectListener(ctx)
}

// lockKey is the advisory lock key (or channel suffix) for purpose in
// schema.
func lockKey(schema, purpose string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "hooknote\x00%s\x00%s", schema, purpose)
	return int64(h.Sum64())
}

// Close waits for the methods in progress, stops the background work,
// ends the leases this store holds (so that other processes may claim
// those jobs at once) and closes the connections. Later calls of any
// method return store.ErrClosed.
func (d *DB) Close() error {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		return store.ErrClosed
	}
	d.closed = true
	d.stop()
	d.bg.Wait()
	err := d.releaseAll()
	d.pool.Close()
	if err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Ping checks that the database answers (for /readyz).
func (d *DB) Ping(ctx context.Context) error {
	leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// PoolStat returns the connections of the pool in use, idle, and the most
// it opens.
func (d *DB) PoolStat() (inUse, idle, max int) {
	s := d.pool.Stat()
	return int(s.AcquiredConns()), int(s.IdleConns()), int(s.MaxConns())
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

// observed reports the duration of op since start to Options.Observe.
func (d *DB) observed(op string, start time.Time) {
	if d.observe != nil {
		d.observe(op, time.Since(start))
	}
}

// tx runs fn in a transaction and commits it. A try that fails before the
// commit (so that nothing was written) because the connection was lost,
// or on a serialization failure or deadlock, is made again, up to
// txAttempts in all; after a lost connection the pool's idle connections
// are dropped, as they are likely broken too (the server restarted, or
// terminated them).
func (d *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err, again := d.tryTx(ctx, fn)
		if err == nil || !again || attempt == txAttempts || ctx.Err() != nil {
			return err
		}
	}
}

// tryTx is one try of tx: it reports whether a failure may be tried again.
func (d *DB) tryTx(ctx context.Context, fn func(pgx.Tx) error) (err error, again bool) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		var pgErr *pgconn.PgError
		if ctx.Err() != nil || (errors.As(err, &pgErr) && !connLost(pgErr)) {
			return err, false
		}
		d.pool.Reset()
		return err, true
	}
	if err := fn(tx); err != nil {
		lost := tx.Conn().IsClosed()
		_ = tx.Rollback(ctx)
		switch {
		case ctx.Err() != nil:
			return err, false
		case lost:
			d.pool.Reset()
			return err, true
		}
		return err, transient(err)
	}
	return tx.Commit(ctx), false
}

// transient reports whether err is a serialization failure or a deadlock:
// the transaction was rolled back and may succeed if tried again.
func transient(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// connLost reports whether the server ended the session (a shutdown, or
// pg_terminate_backend).
func connLost(pgErr *pgconn.PgError) bool {
	return pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
}

// lostConn reports whether err, of a statement run outside tx, says the
// connection was lost (the server ended the session, or the network
// failed) rather than the statement failing; if so, the pool's idle
// connections are dropped, as they are likely broken too.
func (d *DB) lostConn(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !connLost(pgErr) {
		return false
	}
	d.pool.Reset()
	return true
}

// notify wakes the other processes sharing the store, once the transaction
// commits.
func (d *DB) notify(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", d.channel, d.instance); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}
