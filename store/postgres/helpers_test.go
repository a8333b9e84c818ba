package postgres

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hooknote/hooknote/store"
)

// defaultAdminDSN is where the tests look for PostgreSQL when
// HOOKNOTE_TEST_PG is not set: a role that may create databases.
const defaultAdminDSN = "postgres://root@127.0.0.1:5432/root?sslmode=disable"

// The database of this test run, created by TestMain and dropped at its
// end; every test works in schemas of its own in it.
var (
	testDSN  string        // the test database
	testPool *pgxpool.Pool // to it, for the tests' own SQL
	noPG     error         // why there is none
	schemas  atomic.Int64  // schemas made so far, to name the next
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests creates the test database, runs the tests and drops it.
func runTests(m *testing.M) int {
	admin := cmp.Or(os.Getenv("HOOKNOTE_TEST_PG"), defaultAdminDSN)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		noPG = err
		return m.Run()
	}
	defer conn.Close(context.Background())
	name := "hooknote_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		noPG = fmt.Errorf("create database %s: %w", name, err)
		return m.Run()
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "drop database %s: %v\n", name, err)
		}
	}()
	testDSN = withParams(admin, map[string]string{"dbname": name})
	if testPool, err = pgxpool.New(ctx, testDSN); err != nil {
		noPG = err
		return m.Run()
	}
	defer testPool.Close()
	return m.Run()
}

// needPG skips t when no PostgreSQL answers, or fails it when CI=true.
func needPG(t *testing.T) {
	t.Helper()
	if noPG == nil {
		return
	}
	msg := fmt.Sprintf("no PostgreSQL for the tests (HOOKNOTE_TEST_PG, default %s): %v", defaultAdminDSN, noPG)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; .ci/pg starts one")
	}
	t.Skip(msg)
}

// withParams returns dsn (a URL or key=value string) with params set;
// "dbname" replaces the database, "host" and "port" the server.
func withParams(dsn string, params map[string]string) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		for k, v := range params {
			dsn += fmt.Sprintf(" %s='%s'", k, v)
		}
		return dsn
	}
	q := u.Query()
	for k, v := range params {
		switch k {
		case "dbname":
			u.Path = "/" + v
		case "host":
			u.Host = v + ":" + u.Port()
		case "port":
			u.Host = u.Hostname() + ":" + v
		default:
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// newSchema creates an empty schema in the test database and returns its
// name.
func newSchema(t *testing.T) string {
	t.Helper()
	needPG(t)
	name := fmt.Sprintf("s%d", schemas.Add(1))
	if _, err := testPool.Exec(t.Context(), "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	return name
}

// schemaDSN is the DSN of a store in schema: its connections name the
// schema as their application_name too, for terminateStore.
func schemaDSN(schema string) string {
	return withParams(testDSN, map[string]string{"search_path": schema, "application_name": schema})
}

// open opens a store in schema with opts (DSN set here unless given),
// failing t on error.
func open(t *testing.T, schema string, opts Options) *DB {
	t.Helper()
	if opts.DSN == "" {
		opts.DSN = schemaDSN(schema)
	}
	d, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("Open(%s) = %v", schema, err)
	}
	return d
}

// openClosed is open, with d closed when t ends.
func openClosed(t *testing.T, schema string, opts Options) *DB {
	t.Helper()
	d := open(t, schema, opts)
	t.Cleanup(func() {
		if err := d.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close() = %v", err)
		}
	})
	return d
}

// exec runs sql in the test database, failing t on error.
func exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := testPool.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// terminateStore ends the server sessions of every store in schema (see
// schemaDSN), as a restart of the server would, and returns how many.
func terminateStore(t *testing.T, schema string) int {
	t.Helper()
	var n int
	err := testPool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, schema).Scan(&n)
	if err != nil {
		t.Fatalf("terminate the sessions of %s: %v", schema, err)
	}
	return n
}

// eventually calls cond until it returns true, failing t if that takes
// more than 20s: for what another process (or goroutine) does in its own
// time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitWoken waits for a value from d.Woken(), failing t after 20s.
func waitWoken(t *testing.T, d *DB, what string) {
	t.Helper()
	select {
	case <-d.Woken():
	case <-time.After(20 * time.Second):
		t.Fatalf("waited 20s for Woken() after %s", what)
	}
}

// at is the tests' reference instant plus d.
func at(d time.Duration) time.Time {
	return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC).Add(d)
}

// webhook builds webhook id of event (failed) with one job per
// "rule/notifier" route, received at when.
func webhook(id, event string, when time.Time, routes ...string) store.Webhook {
	w := store.Webhook{
		WebhookID: id, EventID: event, Status: "failed", Terminal: true,
		Body: fmt.Appendf(nil, `{"id":%q}`, event), ReceivedAt: when,
	}
	for _, r := range routes {
		rule, notifier, _ := strings.Cut(r, "/")
		w.Jobs = append(w.Jobs, store.NewJob{Rule: rule, Notifier: notifier})
	}
	return w
}
