package relay

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// digestConfig gathers failed and succeeded predictions per customId into
// digests of notifier d (quiet 2m, max wait 5m, at most 4 events), and
// sends every event to notifier e too, without a digest.
const digestConfig = `
[replicate]
secret = "` + testSecret + `"
[notifiers.d]
type = "fake"
text = "d"
[notifiers.e]
type = "fake"
text = "e"
[[rules]]
name = "batch"
notify = ["d"]
digest = "2m"
digest_max_wait = "5m"
digest_max = 4
group_by = ["query.customId"]
[[rules]]
name = "each"
notify = ["e"]
`

// digestRig is a relay with digestConfig in a synctest bubble, over a
// state file that survives restart.
type digestRig struct {
	t     *testing.T
	path  string
	fakes map[string]*fakeNotifier
	r     *Relay
	stop  func()
}

func startDigests(t *testing.T) *digestRig {
	d := &digestRig{t: t, path: filepath.Join(t.TempDir(), "s.db")}
	d.start()
	return d
}

// start runs a relay over d's state file (again, after stop: a restart).
func (d *digestRig) start() {
	d.t.Helper()
	d.fakes = map[string]*fakeNotifier{}
	cfg, err := LoadText("c.toml", digestConfig, testEnv(d.t, nil), LoadOptions{Builders: fakeBuilders(d.fakes)})
	if err != nil {
		d.t.Fatal(err)
	}
	d.r, _, d.stop = runRelay(d.t, cfg, d.path, nil)
}

// post sends event id at status with customId batch through intake.
func (d *digestRig) post(id, status, batch string) {
	d.t.Helper()
	body, err := os.ReadFile("../testdata/samples/prediction-" + status + ".json")
	if err != nil {
		d.t.Fatal(err)
	}
	body = []byte(strings.ReplaceAll(strings.ReplaceAll(string(body), "r8p2kq5t9hrj00cm4x3z1w7v6e", id), "batch-7", batch))
	w := httptest.NewRecorder()
	d.r.IntakeHandler().ServeHTTP(w, signedRequest(d.t, "/webhooks/replicate?customId="+batch, "msg_"+id+status, body))
	if w.Code != 200 {
		d.t.Fatalf("post %s = %d %s", id, w.Code, w.Body)
	}
}

// digests returns the texts notifier d sent.
func (d *digestRig) digests() []string {
	var out []string
	for _, m := range d.fakes["d|"].messages() {
		out = append(out, m.Text)
	}
	return out
}

// at sleeps (fake time) until since+offset, then lets the bubble settle.
func at(since time.Time, offset time.Duration) {
	time.Sleep(time.Until(since.Add(offset)))
	synctest.Wait()
}

// TestDigestQuiet: events join one digest, nothing is sent while they keep
// coming; it is sent once no event joined for digest (2m), as one message;
// the rule without digest notifies per event meanwhile.
func TestDigestQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDigests(t)
		defer d.stop()
		start := time.Now()
		for i := range 3 {
			d.post(fmt.Sprintf("e%d", i), "failed", "batch-7")
			at(start, time.Duration(i+1)*30*time.Second)
		}
		if got := len(d.fakes["e|"].messages()); got != 3 {
			t.Errorf("the rule without digest sent %d, want 3 at once", got)
		}
		at(start, 60*time.Second+2*time.Minute-time.Second) // the last joined at 60s
		if got := d.digests(); len(got) != 0 {
			t.Fatalf("sent before the quiet time: %q", got)
		}
		at(start, 60*time.Second+2*time.Minute+time.Second)
		if diff := cmp.Diff([]string{"digest 3: e0=failed e1=failed e2=failed"}, d.digests()); diff != "" {
			t.Errorf("digests (-want +got):\n%s", diff)
		}
	})
}

// TestDigestMaxWait: a digest that keeps getting events is sent when its
// first has waited digest_max_wait (5m).
func TestDigestMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDigests(t)
		defer d.stop()
		start := time.Now()
		d.post("a", "failed", "batch-7")
		for i, id := range []string{"b", "c"} {
			at(start, time.Duration(i+1)*100*time.Second)
			d.post(id, "failed", "batch-7")
		}
		at(start, 5*time.Minute-time.Second)
		if got := d.digests(); len(got) != 0 {
			t.Fatalf("sent before max wait: %q", got)
		}
		at(start, 5*time.Minute+time.Second)
		if diff := cmp.Diff([]string{"digest 3: a=failed b=failed c=failed"}, d.digests()); diff != "" {
			t.Errorf("digests (-want +got):\n%s", diff)
		}
	})
}

// TestDigestMax: a digest is sent as soon as it holds digest_max events;
// the next event starts a new one.
func TestDigestMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDigests(t)
		defer d.stop()
		start := time.Now()
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			d.post(id, "failed", "batch-7")
		}
		synctest.Wait()
		if diff := cmp.Diff([]string{"digest 4: a=failed b=failed c=failed d=failed"}, d.digests()); diff != "" {
			t.Errorf("digests at once (-want +got):\n%s", diff)
		}
		at(start, 3*time.Minute)
		if got := d.digests(); len(got) != 2 || got[1] != "digest 1: e=failed" {
			t.Errorf("digests = %q, want the full one then e's", got)
		}
	})
}

// TestDigestLatestAndGroups: an event that arrives again is in its digest
// once, with its latest status; groups gather apart.
func TestDigestLatestAndGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDigests(t)
		defer d.stop()
		start := time.Now()
		d.post("a", "processing", "batch-7")
		d.post("b", "failed", "batch-8")
		d.post("a", "succeeded", "batch-7")
		at(start, 3*time.Minute)
		got := d.digests()
		want := []string{"digest 1: a=succeeded", "digest 1: b=failed"}
		if len(got) == 2 && got[0] > got[1] {
			got[0], got[1] = got[1], got[0]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("digests (-want +got):\n%s", diff)
		}
	})
}

// TestDigestDurable: a stop does not send an open digest early, and a
// restart keeps its deadline (neither lost nor reset); one overdue at
// start is sent at once.
func TestDigestDurable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := startDigests(t)
		start := time.Now()
		d.post("a", "failed", "batch-7")
		d.post("b", "failed", "batch-7")
		at(start, time.Minute)
		d.stop() // SIGTERM mid-window
		if got := d.digests(); len(got) != 0 {
			t.Fatalf("sent at the stop: %q", got)
		}
		d.start()
		at(start, 2*time.Minute-time.Second)
		if got := d.digests(); len(got) != 0 {
			t.Fatalf("sent before its deadline after a restart: %q", got)
		}
		d.post("c", "failed", "batch-8")
		at(start, 2*time.Minute+time.Second)
		if diff := cmp.Diff([]string{"digest 2: a=failed b=failed"}, d.digests()); diff != "" {
			t.Errorf("after a restart (-want +got):\n%s", diff)
		}
		d.stop()
		at(start, time.Hour) // batch-8's digest falls due while stopped
		d.start()
		defer d.stop()
		synctest.Wait()
		if diff := cmp.Diff([]string{"digest 1: c=failed"}, d.digests()); diff != "" {
			t.Errorf("an overdue digest at start (-want +got):\n%s", diff)
		}
	})
}
