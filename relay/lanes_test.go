package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/store/bolt"
)

const lanesConfig = `
[replicate]
secret = "` + testSecret + `"
[delivery]
workers = 2
backoff = "1s"
max_backoff = "8s"
[notifiers.a]
type = "fake"
text = "a"
%s
[notifiers.b]
type = "fake"
text = "b"
[[rules]]
name = "all"
notify = ["a", "b"]
`

// countingStore counts the calls the dispatcher makes, and can fail
// Complete.
type countingStore struct {
	store.Store
	claims, postpones, completes atomic.Int64
	mu                           sync.Mutex
	failCompletes                int // how many Completes still fail
}

func (c *countingStore) Claim(ctx context.Context, now time.Time, max int, q map[string]int) ([]store.Job, error) {
	c.claims.Add(1)
	return c.Store.Claim(ctx, now, max, q)
}

func (c *countingStore) Postpone(ctx context.Context, id uint64, next time.Time) error {
	c.postpones.Add(1)
	return c.Store.Postpone(ctx, id, next)
}

func (c *countingStore) Complete(ctx context.Context, id uint64, done store.Done) error {
	c.completes.Add(1)
	c.mu.Lock()
	fail := c.failCompletes > 0
	if fail {
		c.failCompletes--
	}
	c.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	return c.Store.Complete(ctx, id, done)
}

// startLanes runs a relay with notifiers a (with extra config) and b, both
// fed by every webhook, over a counting store.
func startLanes(t *testing.T, aConfig string) (*bubble, *countingStore) {
	t.Helper()
	fakes := map[string]*fakeNotifier{}
	cfg, err := LoadText("c.toml", fmt.Sprintf(lanesConfig, aConfig), testEnv(t, nil), LoadOptions{Builders: fakeBuilders(fakes)})
	if err != nil {
		t.Fatal(err)
	}
	var cs *countingStore
	r, st, stop := runRelay(t, cfg, filepath.Join(t.TempDir(), "s.db"), func(st store.Store) store.Store {
		cs = &countingStore{Store: st}
		return cs
	})
	return &bubble{t: t, r: r, st: st, fakes: fakes, stop: stop}, cs
}

// TestHungNotifierHoldsOnlyItsLane: with notifier a hung (every send waits
// for its 10s timeout), notifier b's deliveries go out at once: a hung
// destination holds only its own lane's workers.
func TestHungNotifierHoldsOnlyItsLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := startLanes(t, `timeout = "10s"`)
		defer b.stop()
		b.fakes["a|"].hang = true
		start := time.Now()
		for i := range 6 {
			b.post(fmt.Sprintf("e%d", i))
		}
		synctest.Wait()
		if n := len(b.fakes["b|"].messages()); n != 6 {
			t.Fatalf("b delivered %d of 6 while a hangs, want all", n)
		}
		for i, at := range b.fakes["b|"].callTimes() {
			if d := at.Sub(start); d > time.Second { // a's sends hang for 10s
				t.Errorf("b's send %d waited %v behind a's hung sends, want no wait", i, d)
			}
		}
		if n := len(b.fakes["a|"].callTimes()); n != 2 {
			t.Errorf("a has %d sends in flight, want its 2 workers", n)
		}
	})
}

// TestPacedBacklogCostsNoCommits: a notifier paced at 2/s with a backlog
// has its jobs claimed as its pace allows, one claim per send, instead of
// every job being claimed and postponed again and again.
func TestPacedBacklogCostsNoCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, cs := startLanes(t, `rate = "2/s"`)
		defer b.stop()
		for i := range 20 {
			b.post(fmt.Sprintf("e%d", i))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(b.fakes["a|"].messages()); n != 20 {
			t.Fatalf("a delivered %d, want 20", n)
		}
		if p := cs.postpones.Load(); p != 0 {
			t.Errorf("%d Postpones, want none: a paced job waits unclaimed", p)
		}
		if c := cs.claims.Load(); c > 60 {
			t.Errorf("%d Claims for 40 sends (20 paced), want about one per send", c)
		}
	})
}

// TestFailedCompletionBacksOff: when recording a delivery fails, the job
// is not sent again at once: it stays leased while the record is tried
// again with backoff, and is sent exactly once.
func TestFailedCompletionBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, cs := startLanes(t, "")
		defer b.stop()
		cs.failCompletes = 5
		b.post("e1")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := len(b.fakes["a|"].callTimes()) + len(b.fakes["b|"].callTimes()); n != 2 {
			t.Errorf("notifiers called %d times, want 2 (one send each, however often recording failed)", n)
		}
		if c := cs.completes.Load(); c < 7 || c > 12 {
			t.Errorf("%d Complete calls in 10s, want 2 jobs × a few retries with backoff", c)
		}
		st, err := b.st.Stats(context.Background())
		if err != nil || st.Pending != 0 {
			t.Errorf("Stats() = %+v, %v, want nothing pending once the records landed", st, err)
		}
	})
}

// TestRenderCountsInTimeout: rendering runs inside the notifier's timeout:
// with a timeout shorter than any rendering, the attempt fails before the
// notifier is called, as a send that took too long would.
func TestRenderCountsInTimeout(t *testing.T) {
	fakes := map[string]*fakeNotifier{}
	cfg, err := LoadText("c.toml", fmt.Sprintf(lanesConfig, `timeout = "1ns"`), testEnv(t, nil), LoadOptions{Builders: fakeBuilders(fakes)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	b := &bubble{t: t, r: r, st: st, fakes: fakes}
	b.post("e1")
	jobs, err := st.Claim(context.Background(), time.Now().Add(time.Minute), 10, map[string]int{"a": 1})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Claim() = %v, %v", jobs, err)
	}
	r.deliver(context.Background(), jobs[0])
	if !r.recorder.wait(10 * time.Second) {
		t.Fatal("the outcome was not recorded")
	}
	if n := len(fakes["a|"].callTimes()); n != 0 {
		t.Errorf("notifier called %d times, want none: rendering used up the timeout", n)
	}
	jobs, err = st.Claim(context.Background(), time.Now().Add(time.Hour), 10, map[string]int{"a": 1})
	if err != nil || len(jobs) != 1 || !strings.Contains(jobs[0].LastError, "rendering took longer than the notifier's timeout") {
		t.Errorf("after the attempt: %+v, %v, want a retry whose error says rendering took too long", jobs, err)
	}
}

// TestSleepTakesEverySendEnded: the dispatcher, woken by a send that
// ended, takes note of every other send that ended meanwhile, so that its
// next claim takes a job for each free worker rather than one claim per
// send (each claim is a round trip and a commit on a shared database).
func TestSleepTakesEverySendEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRelay(t, nil) // not running: the test is its dispatcher
		done := make(chan sent)
		for range 3 {
			go func() { done <- sent{notifier: "a"} }()
		}
		synctest.Wait() // all three are waiting to report
		ended := 0
		r.sleep(context.Background(), time.Now().Add(time.Minute), done, func(sent) { ended++ })
		if ended != 3 {
			t.Errorf("one sleep took note of %d ended sends, want all 3", ended)
		}
	})
}
