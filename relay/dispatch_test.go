package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/store/bolt"
)

// bubble is a relay running inside a synctest bubble: time is fake, so
// backoff, Retry-After, pacing and max_age are tested without real sleeps.
type bubble struct {
	t     *testing.T
	r     *Relay
	st    *bolt.DB
	fakes map[string]*fakeNotifier // by text|token: "a|", "b|"
	stop  func()
}

const dispatchConfig = `
[replicate]
secret = "` + testSecret + `"
[delivery]
backoff = "1s"
max_backoff = "8s"
max_attempts = %d
max_age = %q
on_dead = "b"
[notifiers.a]
type = "fake"
text = "a"
rate = %q
[notifiers.b]
type = "fake"
text = "b"
[[rules]]
name = "all"
notify = ["a"]
`

func startBubble(t *testing.T, maxAttempts int, maxAge, rate string) *bubble {
	t.Helper()
	fakes := map[string]*fakeNotifier{}
	src := fmt.Sprintf(dispatchConfig, maxAttempts, maxAge, rate)
	cfg, err := LoadText("c.toml", src, testEnv(t, nil), LoadOptions{Builders: fakeBuilders(fakes)})
	if err != nil {
		t.Fatal(err)
	}
	r, st, stop := runRelay(t, cfg, filepath.Join(t.TempDir(), "s.db"), nil)
	return &bubble{t: t, r: r, st: st, fakes: fakes, stop: stop}
}

// runRelay runs a relay with cfg over the bolt file at path (seen through
// wrap, when not nil); stop ends it and closes the file.
func runRelay(t *testing.T, cfg *Config, path string, wrap func(store.Store) store.Store) (r *Relay, st *bolt.DB, stop func()) {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s store.Store = st
	if wrap != nil {
		s = wrap(st)
	}
	r = New(cfg, s, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	return r, st, func() { cancel(); <-done; st.Close() }
}

// post sends a signed webhook for a fresh event id through intake.
func (b *bubble) post(id string) {
	b.t.Helper()
	body, _ := os.ReadFile("../testdata/samples/prediction-failed.json")
	body = []byte(strings.ReplaceAll(string(body), "r8p2kq5t9hrj00cm4x3z1w7v6e", id))
	w := httptest.NewRecorder()
	b.r.IntakeHandler().ServeHTTP(w, signedRequest(b.t, "/webhooks/replicate?customId=batch-7", "msg_"+id, body))
	if w.Code != 200 {
		b.t.Fatalf("post %s = %d %s", id, w.Code, w.Body)
	}
}

func gaps(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

var errBoom = errors.New("boom")

// TestBackoff: transient failures are retried with exponential backoff and
// jitter: each wait is at most backoff·2^(n-1) (capped) and at least a tenth
// of backoff.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, 10, "24h", "1000/s")
		defer b.stop()
		a := b.fakes["a|"]
		a.answer = func(_ notifiers.Message, n int) error {
			if n <= 5 {
				return errBoom
			}
			return nil
		}
		b.post("e1")
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := len(a.messages()); got != 1 {
			t.Fatalf("delivered %d, want 1 after 5 failures", got)
		}
		for i, g := range gaps(a.callTimes()) {
			ceiling := min(time.Second<<i, 8*time.Second)
			if g < 100*time.Millisecond || g > ceiling {
				t.Errorf("wait before attempt %d = %v, want within [100ms, %v]", i+2, g, ceiling)
			}
		}
	})
}

// TestRetryAfterPausesNotifier: a Retry-After answer delays the next attempt
// by at least that long, and pauses every other job of that notifier too.
func TestRetryAfterPausesNotifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, 10, "24h", "1000/s")
		defer b.stop()
		a := b.fakes["a|"]
		a.answer = func(m notifiers.Message, n int) error {
			if strings.HasPrefix(m.ID, "e1.") && n == 1 {
				return notifiers.RetryAfter(errors.New("429"), 5*time.Second)
			}
			return nil
		}
		start := time.Now()
		b.post("e1")
		synctest.Wait()
		b.post("e2")
		time.Sleep(time.Minute)
		synctest.Wait()
		ts := a.callTimes()
		if len(ts) != 3 || len(a.messages()) != 2 {
			t.Fatalf("calls = %d, delivered = %d, want 3 and 2", len(ts), len(a.messages()))
		}
		for i, c := range ts[1:] {
			if c.Sub(start) < 5*time.Second {
				t.Errorf("call %d at +%v, want ≥ +5s (Retry-After)", i+2, c.Sub(start))
			}
		}
	})
}

// TestPacing: rate = "1/s" spaces sends at least a second apart.
func TestPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, 10, "24h", "1/s")
		defer b.stop()
		for i := range 4 {
			b.post(fmt.Sprintf("e%d", i))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		a := b.fakes["a|"]
		if len(a.messages()) != 4 {
			t.Fatalf("delivered %d, want 4", len(a.messages()))
		}
		for i, g := range gaps(a.callTimes()) {
			if g < time.Second-time.Millisecond {
				t.Errorf("gap %d = %v, want ≥ 1s", i, g)
			}
		}
	})
}

// TestMaxAgeDeadLetters: a job failing for longer than max_age is
// dead-lettered, and on_dead is told once.
func TestMaxAgeDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, 1000, "30s", "1000/s")
		defer b.stop()
		b.fakes["a|"].answer = func(notifiers.Message, int) error { return errBoom }
		start := time.Now()
		b.post("e1")
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		dead, err := b.st.Dead(context.Background())
		if err != nil || len(dead) != 1 {
			t.Fatalf("Dead() = %v, %v, want 1 dead letter", dead, err)
		}
		if !strings.Contains(dead[0].LastError, "max_age") || dead[0].DeadAt.Sub(start) < 30*time.Second || dead[0].DeadAt.Sub(start) > 31*time.Second {
			t.Errorf("dead letter = %+v (dead after %v), want max_age at ~30s", dead[0], dead[0].DeadAt.Sub(start))
		}
		notices := b.fakes["b|"].messages()
		if len(notices) != 1 || !strings.Contains(notices[0].Text, "dead-lettered") || !strings.Contains(notices[0].Text, "e1") {
			t.Errorf("on_dead notices = %+v, want one about e1", notices)
		}
	})
}

// TestPermanentDeadLetters: a permanent error dead-letters at once: one
// attempt, and max_attempts also ends retries.
func TestPermanentDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, 3, "24h", "1000/s")
		defer b.stop()
		b.fakes["a|"].answer = func(m notifiers.Message, _ int) error {
			if strings.HasPrefix(m.ID, "perm.") {
				return notifiers.Permanent(errors.New("channel_not_found"))
			}
			return errBoom
		}
		b.post("perm")
		b.post("transient")
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		dead, _ := b.st.Dead(context.Background())
		if len(dead) != 2 {
			t.Fatalf("dead letters = %d, want 2", len(dead))
		}
		got := map[string]store.Job{}
		for _, d := range dead {
			got[d.EventID] = d
		}
		if d := got["perm"]; d.Attempts != 1 || d.LastError != "channel_not_found" {
			t.Errorf("permanent: %+v, want 1 attempt, channel_not_found", d)
		}
		if d := got["transient"]; d.Attempts != 3 || !strings.Contains(d.LastError, "gave up after 3 attempts") {
			t.Errorf("transient: %+v, want 3 attempts", d)
		}
		if n := len(b.fakes["b|"].messages()); n != 2 {
			t.Errorf("on_dead notices = %d, want 2", n)
		}
		if err := b.st.Revive(context.Background(), got["perm"].ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		b.fakes["a|"].answer = nil
		b.r.anyJobsDue()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(b.fakes["a|"].messages()); n != 1 {
			t.Errorf("after revive delivered %d, want 1", n)
		}
	})
}

// TestTemplateFallback: a template that fails at send time still delivers
// the built-in message.
func TestTemplateFallback(t *testing.T) {
	ev := loadSample(t, "prediction-failed.json", "customId=batch-7")
	cfg, err := LoadText("c.toml", strings.Replace(intakeConfig, `type = "fake"`, `type = "fake"`+"\n"+`text = "{{ index .Input \"nope\" 3 }}"`, 1),
		testEnv(t, nil), LoadOptions{Builders: fakeBuilders(nil)})
	if err != nil {
		t.Fatal(err)
	}
	m, fatal := cfg.notifiers["a"].tmpl.render(ev, "id")
	if m.Fallback == nil || fatal != nil {
		t.Fatalf("render: fallback=%v fatal=%v, want a template error only", m.Fallback, fatal)
	}
	for _, want := range []string{"prediction", "r8p2kq5t9hrj00cm4x3z1w7v6e", "failed", "acme/upscaler", "https://replicate.com/p/"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("fallback text lacks %q: %s", want, m.Text)
		}
	}
}

// TestRawInTemplates: .Raw reaches any payload field, decoded on demand.
func TestRawInTemplates(t *testing.T) {
	ev := loadSample(t, "prediction-failed.json", "customId=batch-7")
	cfg, err := LoadText("c.toml", strings.Replace(intakeConfig, `type = "fake"`, `type = "fake"`+"\n"+`text = "{{ .Raw.source }} {{ index .Raw.webhook_events_filter 1 }}"`, 1),
		testEnv(t, nil), LoadOptions{Builders: fakeBuilders(nil)})
	if err != nil {
		t.Fatal(err)
	}
	m, fatal := cfg.notifiers["a"].tmpl.render(ev, "id")
	if m.Fallback != nil || fatal != nil || m.Text != "api completed" {
		t.Errorf("render = %q, %v, %v, want %q", m.Text, m.Fallback, fatal, "api completed")
	}
}
