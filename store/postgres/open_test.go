package postgres

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/store/postgres/migrations"
)

// closedPort returns a port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestOpenErrors: Open fails with one line saying where and why, never
// with the password.
func TestOpenErrors(t *testing.T) {
	const secret = "s3cr3t-pw"
	port := closedPort(t)
	tests := []struct {
		name string
		opts Options
		want string // the whole error
	}{
		{name: "connection refused", opts: Options{DSN: fmt.Sprintf("postgres://root:%s@127.0.0.1:%d/hooknote", secret, port)},
			want: fmt.Sprintf(`connect to postgres at 127.0.0.1:%d database "hooknote": connection refused`, port)},
		{name: "key=value refused", opts: Options{DSN: fmt.Sprintf("host=127.0.0.1 port=%d dbname=x user=u password=%s", port, secret)},
			want: fmt.Sprintf(`connect to postgres at 127.0.0.1:%d database "x": connection refused`, port)},
		{name: "bad port", opts: Options{DSN: "postgres://root:" + secret + "@127.0.0.1:port/x"},
			want: "open store: invalid postgres dsn: invalid port"},
		{name: "unparseable", opts: Options{DSN: "what " + secret},
			want: "open store: invalid postgres dsn: failed to parse as keyword/value (invalid keyword/value)"},
		{name: "bad sslmode", opts: Options{DSN: "postgres://root:" + secret + "@127.0.0.1/x?sslmode=sometimes"},
			want: "open store: invalid postgres dsn: failed to configure TLS (sslmode is invalid)"},
		{name: "no dsn", want: "open store: no postgres dsn"},
		{name: "short lease", opts: Options{DSN: "postgres://127.0.0.1/x", Lease: time.Millisecond},
			want: "open store: lease 1ms is shorter than 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Open(t.Context(), tt.opts)
			if err == nil {
				d.Close()
				t.Fatalf("Open() = nil error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Open() = %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
				t.Errorf("Open() = %q shows the password", err)
			}
		})
	}
}

// TestOpenServerErrors: what the server refuses is said in one line too.
func TestOpenServerErrors(t *testing.T) {
	needPG(t)
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{name: "no such database", params: map[string]string{"dbname": "hooknote_nope"},
			want: `database "hooknote_nope": database "hooknote_nope" does not exist`},
		{name: "no such schema", params: map[string]string{"search_path": "nope"},
			want: "no schema to create tables in: the search_path names none that exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Open(t.Context(), Options{DSN: withParams(testDSN, tt.params)})
			if err == nil {
				d.Close()
				t.Fatalf("Open() = nil error, want %q", tt.want)
			}
			if !strings.HasSuffix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Open() = %q, want one line ending %q", err, tt.want)
			}
		})
	}
}

// TestSchemaNewer: a schema of a version this hooknote does not know is
// refused.
func TestSchemaNewer(t *testing.T) {
	schema := newSchema(t)
	open(t, schema, Options{}).Close()
	exec(t, "UPDATE "+schema+".schema_version SET version = 99")
	d, err := Open(t.Context(), Options{DSN: schemaDSN(schema)})
	if err == nil {
		d.Close()
		t.Fatal("Open() of a newer schema = nil error")
	}
	latest, _ := migrations.Latest()
	want := fmt.Sprintf("schema version 99 is newer than this hooknote knows (%d): upgrade hooknote", latest)
	if !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Open() = %q, want it to end %q", err, want)
	}
}

// TestOpenTogether: processes starting at once wait for the one that
// holds the schema lock, then find the schema made once.
func TestOpenTogether(t *testing.T) {
	schema := newSchema(t)
	lock := lockKey(schema, "migrate")
	holder, err := testPool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock($1)", lock); err != nil {
		t.Fatal(err)
	}
	const n = 3
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			d, err := Open(t.Context(), Options{DSN: schemaDSN(schema)})
			if err == nil {
				err = d.Close()
			}
			errs <- err
		})
	}
	// Advisory locks show as classid (high half of the key), objid (low).
	eventually(t, "the Opens to wait for the schema lock", func() bool {
		var waiting int
		err := testPool.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND classid::bigint = $1 AND objid::bigint = $2`,
			uint64(lock)>>32, uint64(lock)&(1<<32-1)).Scan(&waiting)
		return err == nil && waiting == n
	})
	select {
	case err := <-errs:
		t.Fatalf("Open() returned (%v) while another held the schema lock", err)
	default:
	}
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_unlock($1)", lock); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Open() = %v", err)
		}
	}
	var versions int
	if err := testPool.QueryRow(t.Context(), "SELECT count(*) FROM "+schema+".schema_version").Scan(&versions); err != nil || versions != 1 {
		t.Errorf("schema_version rows = %d, %v, want 1", versions, err)
	}
}

// TestPing: Ping answers while open, ErrClosed after Close.
func TestPing(t *testing.T) {
	d := open(t, newSchema(t), Options{})
	if err := d.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
	if inUse, idle, max := d.PoolStat(); inUse != 0 || idle < 1 || max < 1 {
		t.Errorf("PoolStat() = %d, %d, %d, want 0 in use, some idle, a max", inUse, idle, max)
	}
	must(t, "Close()", d.Close())
	if err := d.Ping(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Ping() after Close() = %v, want %v", err, store.ErrClosed)
	}
}

// TestObserve: every method reports its duration under its name.
func TestObserve(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	d := openClosed(t, newSchema(t), Options{Observe: func(op string, _ time.Duration) {
		mu.Lock()
		seen[op]++
		mu.Unlock()
	}})
	ctx := t.Context()
	for i := range 2 {
		if _, err := d.Enqueue(ctx, webhook("w"+strconv.Itoa(i), "e"+strconv.Itoa(i), at(0), "r/n")); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := d.Claim(ctx, at(0), 10, nil)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("Claim() = %d jobs, %v", len(jobs), err)
	}
	must(t, "Complete()", d.Complete(ctx, jobs[0].ID, store.Done{}))
	must(t, "Retry()", d.Retry(ctx, jobs[1].ID, at(time.Second), "503"))
	if _, err := d.FlushDigests(ctx, at(0)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"enqueue": 2, "claim": 1, "complete": 1, "retry": 1, "flush": 1}
	for op, n := range want {
		if seen[op] != n {
			t.Errorf("Observe(%q) called %d times, want %d (all: %v)", op, seen[op], n, seen)
		}
	}
}

// must fails t when err, the result of op, is not nil.
func must(t *testing.T, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v", op, err)
	}
}

// TestCloseStopsGoroutines: once Close returns, no goroutine of the store
// (renewer, clock, listener) is left.
func TestCloseStopsGoroutines(t *testing.T) {
	d := open(t, newSchema(t), Options{Lease: time.Second})
	if _, err := d.Enqueue(t.Context(), webhook("w1", "ev1", at(0), "r/n")); err != nil {
		t.Fatal(err)
	}
	if jobs, err := d.Claim(t.Context(), at(0), 1, nil); err != nil || len(jobs) != 1 {
		t.Fatalf("Claim() = %d jobs, %v", len(jobs), err)
	}
	must(t, "Close()", d.Close())
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "store/postgres.(*DB).") {
			t.Errorf("goroutine left after Close():\n%s", g)
		}
	}
}
