package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The end-to-end tests of several instances on one PostgreSQL (DESIGN §9).
// The admin connection that creates and drops each test's database comes
// from HOOKNOTE_TEST_PG; with CI=true a missing PostgreSQL fails them.

const defaultTestPG = "postgres://root@127.0.0.1:5432/root?sslmode=disable"

// pgDatabase creates a fresh database for t, dropped when t ends, and
// returns its DSN.
func pgDatabase(t *testing.T) string {
	t.Helper()
	admin := cmp.Or(os.Getenv("HOOKNOTE_TEST_PG"), defaultTestPG)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no PostgreSQL (HOOKNOTE_TEST_PG, default %s): %v", defaultTestPG, err)
		}
		t.Fatalf("no PostgreSQL (HOOKNOTE_TEST_PG, default %s): %v", defaultTestPG, err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	rand.Read(b)
	name := "hooknote_e2e_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

// pgConfig: two instances' config, but for their state directories. %s:
// state dir, lease, Slack URL.
const pgConfig = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[replicate]
secret = "${E2E_SECRET}"
[state]
backend = "postgres"
dir = %q
dsn = "${E2E_DSN}"
lease = %q
[delivery]
backoff = "100ms"
max_backoff = "500ms"
max_attempts = 1000
[notifiers.slack]
type = "slack"
webhook_url = %q
[[rules]]
name = "trainings"
kind = "training"
notify = ["slack"]
`

// pgPair is two hooknote instances, A and B, on one database.
type pgPair struct {
	slack   *slackRecorder
	cfg     [2]string
	env     []string
	a, b    *daemonProc
	held    atomic.Int32  // requests Slack held
	holders atomic.Int32  // requests Slack holds now
	release chan struct{} // closed: Slack answers the requests it held
	holding atomic.Bool   // Slack holds every request until release
}

func startPair(t *testing.T, lease string) *pgPair {
	t.Helper()
	p := &pgPair{slack: &slackRecorder{}, release: make(chan struct{})}
	// Slack may hold requests (a destination that does not answer); one
	// whose sender is gone (killed) is never recorded as delivered.
	addr, _ := serveOn(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// With the body read, the server watches the connection: a sender
		// killed meanwhile cancels r's context.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if p.holding.Load() {
			p.held.Add(1)
			p.holders.Add(1)
			select {
			case <-p.release:
				p.holders.Add(-1)
			case <-r.Context().Done():
				p.holders.Add(-1)
				return
			}
			if r.Context().Err() != nil {
				return
			}
		}
		p.slack.ServeHTTP(w, r)
	}))
	p.env = []string{"E2E_SECRET=" + e2eSecret, "E2E_DSN=" + pgDatabase(t)}
	for i := range p.cfg {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		p.cfg[i] = writeConfig(t, dir, fmt.Sprintf(pgConfig, filepath.Join(dir, "state"), lease, "http://"+addr+"/services/T/B/x"))
	}
	p.a = startBinary(t, p.cfg[0], p.env...)
	p.b = startBinary(t, p.cfg[1], p.env...)
	return p
}

var pgIDRE = regexp.MustCompile(`pg-[a-z]+-\d+`)

// counts returns how many notifications Slack got per event id.
func (p *pgPair) counts() map[string]int {
	n := map[string]int{}
	for _, text := range p.slack.delivered() {
		for _, id := range pgIDRE.FindAllString(text, 1) {
			n[id]++
		}
	}
	return n
}

func trainingBody(t *testing.T, id string) []byte {
	return []byte(strings.ReplaceAll(string(sample(t, "training-succeeded.json")), "zz4ibbonubfz7carwiefibzgga", id))
}

// exactlyOnce fails t unless each of ids was notified once and nothing
// else was.
func exactlyOnce(t *testing.T, got map[string]int, ids []string) {
	t.Helper()
	lost, twice := 0, 0
	for _, id := range ids {
		switch got[id] {
		case 0:
			lost++
		case 1:
		default:
			twice++
		}
	}
	if lost > 0 || twice > 0 || len(got) != len(ids) {
		t.Errorf("%d events: %d lost, %d notified more than once, %d notifications in all for %d ids", len(ids), lost, twice, sum(got), len(got))
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestTwoInstancesExactlyOnce: webhooks spread across two instances, each
// delivery also redelivered to the other, and one delivery posted to both
// at once twenty times: one notification per event.
func TestTwoInstancesExactlyOnce(t *testing.T) {
	p := startPair(t, "30s")
	var ids []string
	for i := range 40 {
		id := fmt.Sprintf("pg-spread-%d", i)
		ids = append(ids, id)
		first, second := p.a, p.b
		if i%2 == 1 {
			first, second = second, first
		}
		body := trainingBody(t, id)
		for _, d := range []*daemonProc{first, second} {
			if code, answer := d.post(t, body, trainingQuery, "msg_"+id); code != 200 {
				t.Fatalf("post %s = %d %s", id, code, answer)
			}
		}
	}
	for i := range 20 {
		id := fmt.Sprintf("pg-race-%d", i)
		ids = append(ids, id)
		body := trainingBody(t, id)
		var wg sync.WaitGroup
		for _, d := range []*daemonProc{p.a, p.b} {
			wg.Go(func() {
				if code, answer, err := d.tryPost(body, trainingQuery, "msg_"+id); err != nil || code != 200 {
					t.Errorf("post %s = %d %s %v", id, code, answer, err)
				}
			})
		}
		wg.Wait()
	}
	eventually(t, "every notification", 30*time.Second, func() bool { return len(p.counts()) >= len(ids) })
	p.a.waitDrained(t, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	got := p.counts()
	exactlyOnce(t, got, ids)
	t.Logf("two instances: %d events posted %d times in all → %d notifications", len(ids), 2*len(ids), sum(got))
}

// TestTwoInstancesKill9: Slack hangs; 20 webhooks acknowledged by A,
// which is sending some of them when it is killed; Slack answers again:
// B delivers all 20 (those A held once their lease ends), none twice; A
// restarted resends nothing. A dead letter made on A is listed and
// retried through B's admin.
func TestTwoInstancesKill9(t *testing.T) {
	const lease = 2 * time.Second
	p := startPair(t, lease.String())
	p.b.kill() // B starts again after A acknowledged and claimed
	p.holding.Store(true)
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("pg-kill-%d", i)
		ids = append(ids, id)
		if code, answer := p.a.post(t, trainingBody(t, id), trainingQuery, "msg_"+id); code != 200 {
			t.Fatalf("post %s = %d %s", id, code, answer)
		}
	}
	eventually(t, "A to be sending", 10*time.Second, func() bool { return p.held.Load() >= 4 })
	p.a.kill()
	killed := time.Now()
	p.holding.Store(false)
	// Slack lets go of A's requests only once it has seen their sender
	// gone (else one could count as delivered: the race of a real
	// destination that got the request just before the sender died).
	eventually(t, "Slack to see A's requests dropped", 10*time.Second, func() bool { return p.holders.Load() == 0 })
	close(p.release)
	p.b = startBinary(t, p.cfg[1], p.env...)
	deadline := time.Now().Add(30 * time.Second)
	for len(p.counts()) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("B delivered %d of 20 in 30s; B's log:\n%s", len(p.counts()), p.b.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	p.b.waitDrained(t, 10*time.Second)
	if took < lease {
		t.Errorf("B delivered all 20 %v after the kill, before A's leases (%v) ended", took, lease)
	}
	p.a = startBinary(t, p.cfg[0], p.env...)
	time.Sleep(2 * lease) // anything A would resend, it resends now
	got := p.counts()
	exactlyOnce(t, got, ids)
	t.Logf("kill -9: 20 acknowledged by A (%d being sent when killed), %d delivered by B %v after the kill (lease %v), %d lost, %d twice",
		p.held.Load(), len(got), took.Round(time.Millisecond), lease, 20-len(got), sum(got)-len(got))

	// A dead letter made on A, seen and retried from B.
	p.slack.answer = func(int) (int, http.Header, string) { return http.StatusNotFound, nil, "channel_not_found" }
	if code, answer := p.a.post(t, trainingBody(t, "pg-dead-1"), trainingQuery, "msg_pg_dead_1"); code != 200 {
		t.Fatalf("post = %d %s", code, answer)
	}
	var dead []struct {
		ID      uint64 `json:"id"`
		EventID string `json:"event_id"`
	}
	eventually(t, "the dead letter, listed by B", 20*time.Second, func() bool {
		resp, err := http.Get(p.b.admin + "/dead")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		dead = nil
		return json.NewDecoder(resp.Body).Decode(&dead) == nil && len(dead) == 1
	})
	if dead[0].EventID != "pg-dead-1" {
		t.Fatalf("B lists %+v, want pg-dead-1", dead)
	}
	p.slack.answer = nil
	resp, err := http.Post(fmt.Sprintf("%s/dead/%d/retry", p.b.admin, dead[0].ID), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 204 {
		t.Fatalf("retry through B = %d", resp.StatusCode)
	}
	eventually(t, "the retried dead letter", 20*time.Second, func() bool { return p.counts()["pg-dead-1"] == 1 })
}

// TestPostgresOutage: the database's connections are terminated
// (pg_terminate_backend) over and over under load, then the database
// refuses connections for a while (ALLOW_CONNECTIONS false): intake
// answers 200 or 503 (never anything else) during the first, 503 and
// /readyz 503 during the second, 200 and /readyz 200 once it is back
// without a restart; every webhook acknowledged is delivered once.
func TestPostgresOutage(t *testing.T) {
	p := startPair(t, "5s")
	dbName := ""
	for _, kv := range p.env {
		if v, ok := strings.CutPrefix(kv, "E2E_DSN="); ok {
			cfg, err := pgx.ParseConfig(v)
			if err != nil {
				t.Fatal(err)
			}
			dbName = cfg.Database
		}
	}
	admin, err := pgx.Connect(t.Context(), cmp.Or(os.Getenv("HOOKNOTE_TEST_PG"), defaultTestPG))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())

	var mu sync.Mutex
	acked := map[string]bool{}
	answers := map[int]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("pg-outage-%d", w*100000+i)
				d := p.a
				if i%2 == 1 {
					d = p.b
				}
				code, _, err := d.tryPost(trainingBody(t, id), trainingQuery, "msg_"+id)
				mu.Lock()
				if err == nil {
					answers[code]++
					if code == 200 {
						acked[id] = true
					}
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	for range 5 {
		time.Sleep(300 * time.Millisecond)
		if _, err := admin.Exec(t.Context(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", dbName); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	// A real outage: the database refuses connections; the pools' are cut.
	if _, err := admin.Exec(t.Context(), fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS false", dbName)); err != nil {
		t.Fatal(err)
	}
	allowed := false
	allow := func() {
		if !allowed {
			allowed = true
			if _, err := admin.Exec(context.Background(), fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS true", dbName)); err != nil {
				t.Error(err)
			}
		}
	}
	defer allow()
	if _, err := admin.Exec(t.Context(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", dbName); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*daemonProc{p.a, p.b} {
		eventually(t, "readyz 503 while the database refuses connections", 10*time.Second, func() bool { return httpStatus(d.admin+"/readyz") == 503 })
		id := "pg-down-" + strings.ReplaceAll(d.admin[len(d.admin)-5:], ":", "")
		if code, answer := d.post(t, trainingBody(t, id), trainingQuery, "msg_"+id); code != 503 {
			t.Fatalf("while the database refuses connections: %d %s, want 503", code, answer)
		}
	}
	mu.Lock()
	down := answers[503]
	mu.Unlock()
	allow()
	for _, d := range []*daemonProc{p.a, p.b} {
		eventually(t, "readyz 200 once the database is back", 20*time.Second, func() bool { return httpStatus(d.admin+"/readyz") == 200 })
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if answers[503] == 0 {
		t.Errorf("answers %v: no 503 while the database refused connections", answers)
	}
	// After the outages, the instances answer 200 again.
	for _, d := range []*daemonProc{p.a, p.b} {
		id := "pg-after-" + strings.ReplaceAll(d.admin[len(d.admin)-5:], ":", "")
		if code, answer := d.post(t, trainingBody(t, id), trainingQuery, "msg_"+id); code != 200 {
			t.Fatalf("after the outages: %d %s", code, answer)
		}
		acked[id] = true
	}
	for code := range answers {
		if code != 200 && code != 503 {
			t.Errorf("answers %v: want only 200, and 503 while the database cannot commit", answers)
		}
	}
	var ids []string
	for id := range acked {
		ids = append(ids, id)
	}
	eventually(t, "every acknowledged webhook delivered", 60*time.Second, func() bool { return len(p.counts()) >= len(ids) })
	p.a.waitDrained(t, 30*time.Second)
	got := p.counts()
	for _, id := range ids {
		if got[id] == 0 {
			t.Errorf("acknowledged %s was not delivered", id)
		}
	}
	twice := 0
	for _, n := range got {
		if n > 1 {
			twice++
		}
	}
	t.Logf("outages: answers %v (%d of the 503s by the time connections were allowed again); %d acknowledged, %d delivered, %d delivered more than once (a send whose record was cut by the outage)", answers, down, len(ids), len(got), twice)
}

// httpStatus is the status of GET url, or 0 when there is no answer.
func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
