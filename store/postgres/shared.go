package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// clockEvery is how often the offset to the database's clock is
	// measured again.
	clockEvery = 30 * time.Second
	// listenBackoff and listenMaxBackoff pace the listener's reconnection
	// attempts.
	listenBackoff, listenMaxBackoff = 100 * time.Millisecond, 10 * time.Second
)

// Now returns the database's clock, read through an offset to the local
// clock measured at Open and every 30s, to the microsecond (as the
// database keeps times); see store.Shared.
func (d *DB) Now() time.Time {
	return time.Now().Add(time.Duration(d.offset.Load())).Truncate(time.Microsecond)
}

// readClock measures the offset of the database's clock to the local one,
// keeping the reading with the shortest round trip of a few.
func (d *DB) readClock(ctx context.Context) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("read the database's clock: %w", err)
	}
	defer conn.Release()
	best := time.Duration(math.MaxInt64)
	for range 3 {
		var dbNow time.Time
		start := time.Now()
		if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&dbNow); err != nil {
			return fmt.Errorf("read the database's clock: %w", err)
		}
		if rtt := time.Since(start); rtt < best {
			best = rtt
			d.offset.Store(int64(dbNow.Sub(start.Add(rtt / 2))))
		}
	}
	return nil
}

// followClock measures the offset to the database's clock again every
// clockEvery until ctx ends.
func (d *DB) followClock(ctx context.Context) {
	defer d.bg.Done()
	tick := time.NewTicker(clockEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			rctx, cancel := context.WithTimeout(ctx, clockEvery/2)
			if err := d.readClock(rctx); err != nil && ctx.Err() == nil {
				d.log.Warn("follow the database's clock", "error", err)
			}
			cancel()
		}
	}
}

// Pass asks to send up to n jobs of notifier at now, paced at one per
// every; see store.Shared. The pace and pause live in the database, read
// and taken in one short transaction that locks the notifier's row, so
// that every process shares them.
func (d *DB) Pass(ctx context.Context, notifier string, now time.Time, n int, every time.Duration) (int, time.Time, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer leave()
	defer d.observed("pass", time.Now())
	if n <= 0 {
		return 0, time.Time{}, nil
	}
	var got int
	var when time.Time
	err = d.tx(ctx, func(tx pgx.Tx) error {
		got, when = 0, time.Time{}
		if every <= 0 {
			var paused *time.Time
			err := tx.QueryRow(ctx, "SELECT paused_until FROM pace WHERE notifier = $1", notifier).Scan(&paused)
			switch {
			case err != nil && !errors.Is(err, pgx.ErrNoRows):
				return err
			case paused != nil && paused.After(now):
				when = *paused
			default:
				got = n
			}
			return nil
		}
		if _, err := tx.Exec(ctx, "INSERT INTO pace (notifier) VALUES ($1) ON CONFLICT DO NOTHING", notifier); err != nil {
			return err
		}
		var slot, paused *time.Time
		err := tx.QueryRow(ctx, "SELECT next_slot, paused_until FROM pace WHERE notifier = $1 FOR UPDATE",
			notifier).Scan(&slot, &paused)
		switch {
		case err != nil:
			return err
		case paused != nil && paused.After(now):
			when = *paused
			return nil
		case slot != nil && slot.After(now):
			when = *slot
			return nil
		}
		if _, err := tx.Exec(ctx, "UPDATE pace SET next_slot = $2 WHERE notifier = $1", notifier, now.Add(every)); err != nil {
			return err
		}
		got = 1
		return nil
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("pace %q: %w", notifier, err)
	}
	return got, when, nil
}

// Pause pauses notifier until until for every process; a later pause
// wins. See store.Shared.
func (d *DB) Pause(ctx context.Context, notifier string, until time.Time) error {
	leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	defer d.observed("pause", time.Now())
	err = d.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO pace (notifier, paused_until) VALUES ($1, $2)
			ON CONFLICT (notifier) DO UPDATE SET paused_until = greatest(pace.paused_until, excluded.paused_until)`,
			notifier, until)
		return err
	})
	if err != nil {
		return fmt.Errorf("pause %q: %w", notifier, err)
	}
	return nil
}

// Woken receives a value when another process has queued jobs or ended
// leases; see store.Shared. It listens on a connection of its own, and
// reconnects when that connection is lost (with a value sent then, as a
// notification may have been missed): the relay should still look for
// work every few seconds on its own. The channel is never closed.
func (d *DB) Woken() <-chan struct{} { return d.woken }

// wake sends on d.woken without blocking.
func (d *DB) wake() {
	select {
	case d.woken <- struct{}{}:
	default:
	}
}

// connectListener opens the connection that listens for the
// notifications of the store's channel.
func (d *DB) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{d.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}

// listen wakes d.woken on each notification of another process, on conn
// and on the connections that replace it when it is lost, until ctx ends.
func (d *DB) listen(ctx context.Context, conn *pgx.Conn) {
	defer d.bg.Done()
	backoff := listenBackoff
	for {
		if conn == nil {
			c, err := d.connectListener(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				d.log.Warn("reconnect to listen for other processes", "error", err, "retry_in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, listenMaxBackoff)
				continue
			}
			conn, backoff = c, listenBackoff
			d.wake() // one may have been missed meanwhile
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			closeConn(conn)
			conn = nil
			if ctx.Err() != nil {
				return
			}
			d.log.Warn("lost the connection listening for other processes", "error", err)
			continue
		}
		if n.Payload != d.instance {
			d.wake()
		}
	}
}

// closeConn closes conn, waiting a little for the server to hear it.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
