package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooknote/hooknote/notifiers/slack/standin"
)

// liveE2EConfig: every prediction to a live Slack message through the
// stand-in's Web API. %s: state dir, API URL.
const liveE2EConfig = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[replicate]
secret = "${E2E_SECRET}"
[state]
dir = %q
[delivery]
backoff = "100ms"
max_backoff = "500ms"
[notifiers.live]
type = "slack"
token = "xoxb-e2e"
channel = "#ml"
api_url = %q
mode = "live"
format = "blocks"
[[rules]]
name = "predictions"
kind = "prediction"
notify = ["live"]
`

// livePrediction returns the sample of status for prediction id, its logs
// ending with marker (so each processing webhook shows something new).
func livePrediction(t *testing.T, id, status, marker string) []byte {
	b := strings.ReplaceAll(string(sample(t, "prediction-"+status+".json")), "r8p2kq5t9hrj00cm4x3z1w7v6e", id)
	if marker != "" {
		b = strings.Replace(b, `"logs": "`, `"logs": "`+marker+`\n`, 1)
	}
	return []byte(b)
}

// apiCalls describes the stand-in's calls (standin.Call.String).
func apiCalls(s *standin.Server) []string {
	var out []string
	for _, c := range s.Calls() {
		out = append(out, c.String())
	}
	return out
}

// TestLiveMessageE2E: the built binary keeps one Slack message per
// prediction: posted at starting, updated by each processing webhook and
// by the final one, whose thread gets one reply. A kill -9 between
// processing and succeeded changes nothing (the restarted daemon updates
// the SAME message); redelivered webhooks make no extra call; a second
// prediction interleaved gets its own message.
func TestLiveMessageE2E(t *testing.T) {
	slack := standin.New("xoxb-e2e")
	addr, _ := serveOn(t, "127.0.0.1:0", slack)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(liveE2EConfig, filepath.Join(dir, "state"), "http://"+addr+"/api/"))
	env := []string{"E2E_SECRET=" + e2eSecret}
	d := startBinary(t, cfg, env...)

	calls := func() int { return len(slack.Calls()) }
	send := func(d *daemonProc, id, status, marker, webhookID string) {
		t.Helper()
		if code, answer := d.post(t, livePrediction(t, id, status, marker), "customId=batch-7", webhookID); code != 200 {
			t.Fatalf("post %s %s = %d %s", id, status, code, answer)
		}
	}
	step := func(d *daemonProc, id, status, marker, webhookID string) {
		t.Helper()
		before := calls()
		send(d, id, status, marker, webhookID)
		eventually(t, id+" "+status+" to reach Slack", 10*time.Second, func() bool { return calls() > before })
		d.waitDrained(t, 10*time.Second)
	}
	step(d, "live-a", "starting", "", "msg_a1")
	step(d, "live-b", "starting", "", "msg_b1")
	for i := range 3 {
		step(d, "live-a", "processing", fmt.Sprintf("step %d", i), fmt.Sprintf("msg_a2_%d", i))
	}
	step(d, "live-b", "processing", "b step", "msg_b2")

	d.kill() // between processing and succeeded
	d = startBinary(t, cfg, env...)
	step(d, "live-a", "succeeded", "", "msg_a3")
	step(d, "live-b", "failed", "", "msg_b3")
	eventually(t, "both thread replies", 10*time.Second, func() bool {
		n := 0
		for _, m := range slack.Messages() {
			if m.ThreadTS != "" {
				n++
			}
		}
		return n == 2
	})

	// Replicate's retries (same webhook-id) and a fresh delivery of the
	// final status: nothing more reaches Slack.
	before := calls()
	send(d, "live-a", "succeeded", "", "msg_a3")
	send(d, "live-a", "succeeded", "", "msg_a3_again")
	send(d, "live-a", "processing", "late", "msg_a_late")
	d.waitDrained(t, 10*time.Second)
	if extra := apiCalls(slack)[before:]; len(extra) != 0 {
		t.Errorf("redelivered and late webhooks made calls: %v", extra)
	}

	var roots []standin.Message
	for _, m := range slack.Messages() {
		if m.ThreadTS == "" {
			roots = append(roots, m)
		}
	}
	if len(roots) != 2 {
		t.Fatalf("root messages = %d, want 2 (one per prediction):\n%+v", len(roots), slack.Messages())
	}
	for _, m := range roots {
		id := "live-a"
		if strings.Contains(m.Versions[0], "live-b") {
			id = "live-b"
		}
		for _, v := range m.Versions {
			if !strings.Contains(v, id) {
				t.Errorf("%s's message shows another prediction: %q", id, v)
			}
		}
		if m.Blocks == "" {
			t.Errorf("%s's message has no blocks (format = blocks)", id)
		}
	}
	var aCalls []string
	for _, c := range slack.Calls() {
		m := findMessage(slack, c.TS)
		if c.ThreadTS != "" {
			m = findMessage(slack, c.ThreadTS)
		}
		if m != nil && strings.Contains(m.Versions[0], "live-a") {
			aCalls = append(aCalls, c.String())
		}
	}
	want := []string{"chat.postMessage", "chat.update", "chat.update", "chat.update", "chat.update", "chat.postMessage (thread)"}
	if strings.Join(aCalls, " ") != strings.Join(want, " ") {
		t.Errorf("live-a's Slack calls = %v, want %v", aCalls, want)
	}
	t.Logf("Slack API calls for live-a (starting, processing ×3, kill -9, succeeded, redeliveries): %s", strings.Join(aCalls, ", "))
	t.Logf("all calls: %s", strings.Join(apiCalls(slack), ", "))
}

func findMessage(s *standin.Server, ts string) *standin.Message {
	for _, m := range s.Messages() {
		if m.TS == ts {
			return &m
		}
	}
	return nil
}
