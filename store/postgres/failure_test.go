package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooknote/hooknote/store"
)

// proxy forwards TCP connections to PostgreSQL, and can cut them all and
// refuse new ones (the server is down), or take new ones and never answer
// (the network drops packets).
type proxy struct {
	target string
	addr   string // where it listens, the same across down and up

	mu     sync.Mutex
	l      net.Listener
	conns  []net.Conn
	silent bool // accept, but forward nothing
	wg     sync.WaitGroup
}

// newProxy starts a proxy to the test database's server, stopped when t
// ends.
func newProxy(t *testing.T) *proxy {
	t.Helper()
	cfg, err := pgx.ParseConfig(testDSN)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), addr: "127.0.0.1:0"}
	p.up(t)
	p.addr = p.l.Addr().String()
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	return p
}

// dsn is the DSN of a store in schema through the proxy.
func (p *proxy) dsn(schema string) string {
	host, port, _ := net.SplitHostPort(p.addr)
	return withParams(schemaDSN(schema), map[string]string{"host": host, "port": port})
}

// up listens (again) and forwards what it accepts.
func (p *proxy) up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.l, p.silent = l, false
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.serve(c)
		}
	})
}

// serve forwards c to the target, unless the proxy is silent.
func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
	if p.silent {
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.conns = append(p.conns, s)
	for _, pair := range [][2]net.Conn{{c, s}, {s, c}} {
		p.wg.Go(func() {
			_, _ = io.Copy(pair[0], pair[1])
			pair[0].Close()
			pair[1].Close()
		})
	}
}

// down closes the listener and every connection: new ones are refused.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.l.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// mute cuts the connections, and accepts new ones without answering.
func (p *proxy) mute() {
	p.mu.Lock()
	p.silent = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

// TestUnreachable: while the database cannot be reached, methods fail
// within their ctx; once it is back, the same store works again.
func TestUnreachable(t *testing.T) {
	schema := newSchema(t)
	p := newProxy(t)
	d := openClosed(t, schema, Options{DSN: p.dsn(schema)})
	if _, err := d.Enqueue(t.Context(), webhook("w1", "ev1", at(0), "r/n")); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(ctx context.Context) error{
		"Enqueue": func(ctx context.Context) error {
			_, err := d.Enqueue(ctx, webhook("w2", "ev2", at(0), "r/n"))
			return err
		},
		"Claim": func(ctx context.Context) error { _, err := d.Claim(ctx, at(0), 1, nil); return err },
		"Stats": func(ctx context.Context) error { _, err := d.Stats(ctx); return err },
		"Ping":  d.Ping,
	}
	p.down()
	for name, call := range calls {
		if err := call(t.Context()); err == nil {
			t.Errorf("%s() with the server down = nil error", name)
		}
	}
	p.up(t)
	p.mute()
	for name, call := range calls {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		if err := call(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s() with the server silent = %v, want %v", name, err, context.DeadlineExceeded)
		}
		cancel()
	}
	p.down()
	p.up(t)
	if res, err := d.Enqueue(t.Context(), webhook("w2", "ev2", at(0), "r/n")); err != nil || res.Accepted != 1 {
		t.Errorf("Enqueue() once the server is back = %+v, %v, want 1 accepted", res, err)
	}
	if err := d.Ping(t.Context()); err != nil {
		t.Errorf("Ping() once the server is back = %v", err)
	}
}

// TestTerminated: when the server ends every session of the store (a
// restart, pg_terminate_backend), the next calls succeed on new
// connections, without reopening the store.
func TestTerminated(t *testing.T) {
	schema := newSchema(t)
	d := openClosed(t, schema, Options{})
	ctx := t.Context()
	for i := range 3 {
		if _, err := d.Enqueue(ctx, webhook("w"+strconv.Itoa(i), "ev"+strconv.Itoa(i), at(0), "r/n")); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := d.Claim(ctx, at(0), 10, nil)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("Claim() = %d jobs, %v", len(jobs), err)
	}
	if terminateStore(t, schema) == 0 {
		t.Fatal("no session to terminate")
	}
	if res, err := d.Enqueue(ctx, webhook("w9", "ev9", at(0), "r/n")); err != nil || res.Accepted != 1 {
		t.Errorf("Enqueue() after the sessions were terminated = %+v, %v, want 1 accepted", res, err)
	}
	must(t, "Complete()", d.Complete(ctx, jobs[0].ID, store.Done{}))
	if st, err := d.Stats(ctx); err != nil || st.Pending != 3 {
		t.Errorf("Stats() = %+v, %v, want 3 pending", st, err)
	}
}

// TestSweepOneAtATime: while another process sweeps, Sweep returns 0 at
// once.
func TestSweepOneAtATime(t *testing.T) {
	schema := newSchema(t)
	d := openClosed(t, schema, Options{DedupeFor: time.Hour})
	if _, err := d.Enqueue(t.Context(), webhook("w1", "ev1", at(0))); err != nil {
		t.Fatal(err)
	}
	holder, err := testPool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	lock := lockKey(schema, "sweep")
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock($1)", lock); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Sweep(t.Context(), at(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("Sweep() while another sweeps = %d, %v, want 0, nil", n, err)
	}
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_unlock($1)", lock); err != nil {
		t.Fatal(err)
	}
	// The webhook id and the terminal mark.
	if n, err := d.Sweep(t.Context(), at(2*time.Hour)); err != nil || n != 2 {
		t.Errorf("Sweep() = %d, %v, want 2, nil", n, err)
	}
}
