package relay

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/notifiers/slack"
	"github.com/hooknote/hooknote/notifiers/slack/standin"
)

// liveConfig routes every prediction to a live Slack notifier of the
// stand-in at %s, through two rules (one update per webhook all the same).
const liveConfig = `
[replicate]
secret = "` + testSecret + `"
[delivery]
backoff = "50ms"
max_backoff = "200ms"
[notifiers.live]
type = "slack"
token = "xoxb-test"
channel = "#ml"
api_url = "%s/api/"
mode = "live"
%s
[[rules]]
name = "every"
notify = ["live"]
[[rules]]
name = "also"
kind = "prediction"
notify = ["live"]
`

// liveRig is a relay with a live Slack notifier and the Slack stand-in it
// talks to, running with real time (the stand-in is real HTTP).
type liveRig struct {
	t     *testing.T
	r     *Relay
	slack *standin.Server
	n     int // webhooks posted
}

func startLive(t *testing.T, extra string) *liveRig {
	t.Helper()
	sl := standin.New("xoxb-test")
	srv := httptest.NewServer(sl)
	t.Cleanup(srv.Close)
	cfg, err := LoadText("c.toml", fmt.Sprintf(liveConfig, srv.URL, extra), testEnv(t, nil),
		LoadOptions{Builders: map[string]Builder{"slack": Build(slack.New)}})
	if err != nil {
		t.Fatal(err)
	}
	r, _, stop := runRelay(t, cfg, filepath.Join(t.TempDir(), "s.db"), nil)
	t.Cleanup(stop)
	return &liveRig{t: t, r: r, slack: sl}
}

// post sends the sample of status for event id, signed with a fresh
// webhook id, through intake.
func (l *liveRig) post(id, status string) {
	l.t.Helper()
	l.n++
	l.postAs(id, status, fmt.Sprintf("msg_%s_%d", id, l.n))
}

// postAs sends it with the given webhook id (a redelivery when repeated).
func (l *liveRig) postAs(id, status, webhookID string) {
	l.t.Helper()
	body, err := os.ReadFile("../testdata/samples/prediction-" + status + ".json")
	if err != nil {
		l.t.Fatal(err)
	}
	body = []byte(strings.ReplaceAll(string(body), "r8p2kq5t9hrj00cm4x3z1w7v6e", id))
	w := httptest.NewRecorder()
	l.r.IntakeHandler().ServeHTTP(w, signedRequest(l.t, "/webhooks/replicate?customId=batch-7", webhookID, body))
	if w.Code != 200 {
		l.t.Fatalf("post %s %s = %d %s", id, status, w.Code, w.Body)
	}
}

// settle waits until the queue is empty and every outcome recorded.
func (l *liveRig) settle() {
	l.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := l.r.store.Stats(l.t.Context())
		if err != nil {
			l.t.Fatal(err)
		}
		if st.Pending == 0 {
			if l.r.recorder.wait(time.Second) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.t.Fatalf("the queue did not drain; calls: %+v", l.slack.Calls())
}

// calls lists the stand-in's calls (standin.Call.String), errors
// included: what one prediction cost in Slack API calls.
func (l *liveRig) calls() []string {
	var out []string
	for _, c := range l.slack.Calls() {
		out = append(out, c.String())
	}
	return out
}

func statusWords(versions []string) []string {
	var out []string
	for _, v := range versions {
		word := "?"
		for _, s := range []string{"Starting", "Processing", "Succeeded", "Failed", "Canceled"} {
			if strings.Contains(v, "*"+s+"*") {
				word = strings.ToLower(s)
			}
		}
		out = append(out, word)
	}
	return out
}

// TestLiveUpdatesInPlace: one message per prediction, posted by its first
// webhook and updated by each later one (by channel ID and ts), a thread
// reply once on its final status; two rules make one update per webhook.
func TestLiveUpdatesInPlace(t *testing.T) {
	l := startLive(t, "")
	for _, s := range []string{"starting", "processing", "processing", "processing", "succeeded"} {
		l.post("p1", s)
		l.settle()
	}
	want := []string{"chat.postMessage", "chat.update", "chat.update", "chat.update", "chat.update", "chat.postMessage (thread)"}
	if diff := cmp.Diff(want, l.calls()); diff != "" {
		// the three processing webhooks carry the same sample: updates
		// that change nothing are skipped
		want = []string{"chat.postMessage", "chat.update", "chat.update", "chat.postMessage (thread)"}
		if diff2 := cmp.Diff(want, l.calls()); diff2 != "" {
			t.Errorf("Slack calls (-want +got):\n%s", diff2)
		}
	}
	msgs := l.slack.Messages()
	if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
		t.Fatalf("messages = %+v, want the message and a reply in its thread", msgs)
	}
	if got := statusWords(msgs[0].Versions); !cmp.Equal(got, []string{"starting", "processing", "succeeded"}) {
		t.Errorf("the message went %v, want starting → processing → succeeded", got)
	}
	// A redelivered final (new webhook-id) changes nothing: no update, no
	// second reply.
	before := len(l.slack.Calls())
	l.post("p1", "succeeded")
	l.settle()
	if after := len(l.slack.Calls()); after != before {
		t.Errorf("a repeated final made %d more calls: %v", after-before, l.calls()[before:])
	}
}

// TestLiveNeverBackwards: a final first is posted final; a late non-final
// after it changes nothing.
func TestLiveNeverBackwards(t *testing.T) {
	l := startLive(t, "")
	l.post("p2", "failed")
	l.settle()
	l.post("p2", "processing")
	l.post("p2", "starting")
	l.settle()
	if diff := cmp.Diff([]string{"chat.postMessage", "chat.postMessage (thread)"}, l.calls()); diff != "" {
		t.Errorf("Slack calls (-want +got):\n%s", diff)
	}
	msgs := l.slack.Messages()
	if got := statusWords(msgs[0].Versions); !cmp.Equal(got, []string{"failed"}) {
		t.Errorf("the message went %v, want failed only", got)
	}
	if !strings.Contains(msgs[1].Text, "CUDA") && !strings.Contains(msgs[1].Text, "rror") {
		t.Errorf("the thread reply of a failure = %q, want the error", msgs[1].Text)
	}
}

// TestLiveInterleaved: two predictions' webhooks interleaved make two
// messages, each updated with its own states only.
func TestLiveInterleaved(t *testing.T) {
	l := startLive(t, "")
	for _, s := range []string{"starting", "processing", "succeeded"} {
		l.post("pa", s)
		l.post("pb", s)
	}
	l.settle()
	var roots []standin.Message
	for _, m := range l.slack.Messages() {
		if m.ThreadTS == "" {
			roots = append(roots, m)
		}
	}
	if len(roots) != 2 {
		t.Fatalf("root messages = %d, want 2", len(roots))
	}
	for _, m := range roots {
		for _, v := range m.Versions {
			if strings.Contains(v, "pa") == strings.Contains(v, "pb") {
				t.Errorf("message %s shows %q: not one prediction's", m.TS, v)
			}
		}
		if got := statusWords(m.Versions); got[len(got)-1] != "succeeded" {
			t.Errorf("message %s ends %v, want succeeded", m.TS, got)
		}
	}
}

// TestLiveMessageGone: when the message was deleted, the next state is
// posted as a new message, which later states update.
func TestLiveMessageGone(t *testing.T) {
	l := startLive(t, "")
	l.post("p3", "starting")
	l.settle()
	l.slack.Delete(l.slack.Messages()[0].TS)
	l.post("p3", "processing")
	l.settle()
	l.post("p3", "succeeded")
	l.settle()
	want := []string{"chat.postMessage", "chat.update → message_not_found", "chat.postMessage", "chat.update", "chat.postMessage (thread)"}
	if diff := cmp.Diff(want, l.calls()); diff != "" {
		t.Errorf("Slack calls (-want +got):\n%s", diff)
	}
	msgs := l.slack.Messages()
	if got := statusWords(msgs[1].Versions); !cmp.Equal(got, []string{"processing", "succeeded"}) {
		t.Errorf("the new message went %v, want processing → succeeded", got)
	}
}

// TestLiveCoalesces: webhooks that queued up behind a failing send are
// not each sent: the latest state is rendered once.
func TestLiveCoalesces(t *testing.T) {
	l := startLive(t, "")
	l.slack.FailNext("chat.postMessage", "internal_error")
	l.post("p4", "starting")
	for range 3 {
		l.post("p4", "processing")
	}
	l.settle()
	want := []string{"chat.postMessage → internal_error", "chat.postMessage"}
	if diff := cmp.Diff(want, l.calls()); diff != "" {
		t.Errorf("Slack calls (-want +got):\n%s", diff)
	}
	if got := statusWords(l.slack.Messages()[0].Versions); !cmp.Equal(got, []string{"processing"}) {
		t.Errorf("the message went %v, want processing at once", got)
	}
}

// TestLiveBlocks: with format = "blocks" the message carries the blocks;
// blocks that would be refused (here: not JSON) are dropped and the text
// sent alone.
func TestLiveBlocks(t *testing.T) {
	l := startLive(t, `format = "blocks"
blocks = '[{"type":"section","text":{"type":"mrkdwn","text":"{{ .Status }}"}}{{ if eq .Status "succeeded" }},{{ end }}]'`)
	l.post("p5", "starting")
	l.settle()
	if msgs := l.slack.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Blocks, `"text":"starting"`) {
		t.Fatalf("messages = %+v, want one with the blocks", msgs)
	}
	l.post("p5", "succeeded")
	l.settle()
	msgs := l.slack.Messages()
	if got := statusWords(msgs[0].Versions); !cmp.Equal(got, []string{"starting", "succeeded"}) || msgs[0].Blocks != "" {
		t.Errorf("message = %+v, want updated to succeeded as text alone, its blocks cleared", msgs[0])
	}
}
