package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// withID returns the training sample with its event id replaced.
func withID(t *testing.T, id string) []byte {
	return []byte(strings.ReplaceAll(string(sample(t, "training-succeeded.json")), "zz4ibbonubfz7carwiefibzgga", id))
}

const trainingQuery = "kind=training&customId=faces-v2"

// TestExactlyOnce: the same delivery five times, then the same event under a
// fresh webhook-id: one notification.
func TestExactlyOnce(t *testing.T) {
	e := newRelayEnv(t, "127.0.0.1:0")
	d := startBinary(t, e.config, e.env...)
	body := withID(t, "once-1")
	var answers []string
	for range 5 {
		_, a := d.post(t, body, trainingQuery, "msg_once")
		answers = append(answers, a)
	}
	_, a := d.post(t, body, trainingQuery, "msg_once_fresh")
	answers = append(answers, a)
	want := []string{`{"accepted":1,"duplicate":false}`}
	for range 5 {
		want = append(want, `{"accepted":0,"duplicate":true}`)
	}
	if strings.Join(answers, "\n") != strings.Join(want, "\n") {
		t.Errorf("answers:\n%s\nwant:\n%s", strings.Join(answers, "\n"), strings.Join(want, "\n"))
	}
	eventually(t, "the notification", 10*time.Second, func() bool { return len(e.slack.delivered()) >= 1 })
	d.waitDrained(t, 10*time.Second)
	if n := len(e.slack.delivered()); n != 1 {
		t.Errorf("Slack got %d notifications, want exactly 1", n)
	}
}

var killIDRE = regexp.MustCompile(`kill9-\d{3}`)

// TestKill9NoLoss: 100 webhooks acknowledged while Slack answers 503,
// kill -9, restart, Slack back: every one delivered, none twice.
func TestKill9NoLoss(t *testing.T) {
	e := newRelayEnv(t, "127.0.0.1:0")
	var mu sync.Mutex
	slackUp := false
	e.slack.answer = func(int) (int, http.Header, string) {
		mu.Lock()
		defer mu.Unlock()
		if slackUp {
			return http.StatusOK, nil, ""
		}
		return http.StatusServiceUnavailable, nil, "service_unavailable"
	}
	d := startBinary(t, e.config, e.env...)
	const n = 100
	acked := 0
	var wg sync.WaitGroup
	var ackMu sync.Mutex
	var postErrs []error
	for i := range n {
		id := fmt.Sprintf("kill9-%03d", i)
		body := withID(t, id)
		wg.Go(func() {
			status, answer, err := d.tryPost(body, trainingQuery, "msg_"+id)
			ackMu.Lock()
			defer ackMu.Unlock()
			switch {
			case err != nil:
				postErrs = append(postErrs, err)
			case status == 200 && strings.Contains(answer, `"accepted":1`):
				acked++
			}
		})
	}
	wg.Wait()
	for _, err := range postErrs {
		t.Errorf("post: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // let some attempts fail against the 503s
	d.kill()

	mu.Lock()
	slackUp = true
	mu.Unlock()
	d2 := startBinary(t, e.config, e.env...)
	eventually(t, "all deliveries", 60*time.Second, func() bool { return len(uniqueIDs(e.slack.delivered())) >= acked })
	d2.waitDrained(t, 10*time.Second)
	got := e.slack.delivered()
	unique := uniqueIDs(got)
	lost, dup := acked-len(unique), len(got)-len(unique)
	e.slack.mu.Lock()
	attempts := len(e.slack.attempts)
	e.slack.mu.Unlock()
	t.Logf("kill -9 test: acked=%d delivered=%d lost=%d duplicate=%d (Slack saw %d attempts, %d of them 503)", acked, len(unique), lost, dup, attempts, attempts-len(got))
	fmt.Printf("kill -9 test: acked=%d delivered=%d lost=%d duplicate=%d\n", acked, len(unique), lost, dup)
	if acked != n || lost != 0 || dup != 0 {
		t.Errorf("acked=%d (want %d) lost=%d duplicate=%d, want no loss and no duplicate", acked, n, lost, dup)
	}
}

func uniqueIDs(bodies []string) map[string]bool {
	ids := map[string]bool{}
	for _, b := range bodies {
		var m struct{ Text string }
		json.Unmarshal([]byte(b), &m)
		if id := killIDRE.FindString(m.Text); id != "" {
			ids[id] = true
		}
	}
	return ids
}

// TestRetryAfterHonoured: a 429 with Retry-After: 2 delays the next attempt
// by at least two seconds (Retry-After is honoured up to max_backoff, which
// this test raises above it).
func TestRetryAfterHonoured(t *testing.T) {
	e := newRelayEnv(t, "127.0.0.1:0")
	raiseMaxBackoff(t, e.config, "5s")
	e.slack.answer = func(n int) (int, http.Header, string) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}, "rate_limited"
		}
		return http.StatusOK, nil, ""
	}
	d := startBinary(t, e.config, e.env...)
	d.post(t, withID(t, "ratelimited-1"), trainingQuery, "msg_rl")
	eventually(t, "the delivery after the 429", 15*time.Second, func() bool { return len(e.slack.delivered()) == 1 })
	e.slack.mu.Lock()
	at := append([]time.Time(nil), e.slack.attempts...)
	e.slack.mu.Unlock()
	if len(at) != 2 {
		t.Fatalf("Slack saw %d attempts, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 2*time.Second {
		t.Errorf("second attempt %v after the 429, want ≥ 2s (Retry-After)", gap)
	} else {
		t.Logf("second attempt %v after the 429 with Retry-After: 2", gap.Round(time.Millisecond))
	}
}

// TestPermanentErrorDeadLetter: a permanent Slack error is tried once and
// then listed by `hooknote dead list`; `dead retry` delivers it.
func TestPermanentErrorDeadLetter(t *testing.T) {
	e := newRelayEnv(t, "127.0.0.1:0")
	var mu sync.Mutex
	gone := true
	e.slack.answer = func(int) (int, http.Header, string) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			return http.StatusNotFound, nil, "no_service"
		}
		return http.StatusOK, nil, ""
	}
	d := startBinary(t, e.config, e.env...)
	d.post(t, withID(t, "perm-1"), trainingQuery, "msg_perm")
	admin := strings.TrimPrefix(d.admin, "http://")
	var out string
	eventually(t, "a dead letter", 10*time.Second, func() bool {
		_, out, _ = runCLI(t, nil, "dead", "-admin", admin, "list")
		return strings.Contains(out, "perm-1")
	})
	for _, want := range []string{"trainings-finished", "slack", "404"} {
		if !strings.Contains(out, want) {
			t.Errorf("dead list lacks %q:\n%s", want, out)
		}
	}
	e.slack.mu.Lock()
	attempts := len(e.slack.attempts)
	e.slack.mu.Unlock()
	if attempts != 1 {
		t.Errorf("Slack saw %d attempts, want 1", attempts)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	mu.Lock()
	gone = false
	mu.Unlock()
	if code, out, errOut := runCLI(t, nil, "dead", "-admin", admin, "retry", id); code != 0 {
		t.Fatalf("dead retry = %d %s %s", code, out, errOut)
	}
	eventually(t, "delivery after dead retry", 10*time.Second, func() bool { return len(e.slack.delivered()) == 1 })
	if _, out, _ := runCLI(t, nil, "dead", "-admin", admin, "list"); !strings.Contains(out, "no dead letters") {
		t.Errorf("dead list after retry:\n%s", out)
	}
}

// raiseMaxBackoff rewrites the config at path with delivery.max_backoff d.
func raiseMaxBackoff(t *testing.T, path, d string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), `max_backoff = "500ms"`, `max_backoff = "`+d+`"`, 1)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}
