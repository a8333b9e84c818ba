package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hooknote/hooknote/notifiers/slack/standin"
)

// digestE2EConfig: failed batch predictions gathered per customId into
// digests sent to Slack and email; every failure also to Slack one by one.
// %s: state dir, digest, the stand-in's address, smtp host, port, CA file.
const digestE2EConfig = `
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
[notifiers.digests]
type = "slack"
webhook_url = "http://%[3]s/services/T/B/digests"
[notifiers.each]
type = "slack"
webhook_url = "http://%[3]s/services/T/B/each"
[notifiers.mail]
type = "email"
host = %[4]q
port = %[5]s
ca_file = %[6]q
username = "relay@example.com"
password = "${E2E_SMTP_PASSWORD}"
from = "hooknote <relay@example.com>"
to = ["oncall@example.com"]
[[rules]]
name = "batch-failures"
kind = "prediction"
status = ["failed"]
digest = %[2]q
group_by = ["query.customId"]
notify = ["digests", "mail"]
[[rules]]
name = "each-failure"
kind = "prediction"
status = ["failed"]
notify = ["each"]
`

type digestEnv struct {
	slack  *standin.Server
	box    *mailbox
	config string
	env    []string
}

func newDigestEnv(t *testing.T, digest string) *digestEnv {
	t.Helper()
	e := &digestEnv{slack: standin.New("")}
	addr, _ := serveOn(t, "127.0.0.1:0", e.slack)
	e.box = &mailbox{user: "relay@example.com", pass: "smtp-pass-digest", got: make(chan struct{}, 256)}
	srv, smtpAddr, caPEM, err := startMailbox(e.box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(smtpAddr)
	e.config = writeConfig(t, dir, fmt.Sprintf(digestE2EConfig, filepath.Join(dir, "state"), digest, addr, host, port, caFile))
	e.env = []string{"E2E_SECRET=" + e2eSecret, "E2E_SMTP_PASSWORD=" + e.box.pass}
	return e
}

// sent returns the texts Slack got on the webhook named name.
func (e *digestEnv) sent(name string) []string {
	var out []string
	for _, m := range e.slack.Messages() {
		if strings.HasSuffix(m.Channel, "/"+name) {
			out = append(out, m.Text)
		}
	}
	return out
}

func (e *digestEnv) mails() []string {
	e.box.mu.Lock()
	defer e.box.mu.Unlock()
	var out []string
	for _, m := range e.box.mails {
		out = append(out, string(m.data))
	}
	return out
}

// failure posts a failed prediction of batch with a fresh id.
func failure(t *testing.T, d *daemonProc, id, batch string) {
	t.Helper()
	body := strings.ReplaceAll(string(sample(t, "prediction-failed.json")), "r8p2kq5t9hrj00cm4x3z1w7v6e", id)
	body = strings.ReplaceAll(body, "batch-7", batch)
	if code, answer := d.post(t, []byte(body), "customId="+batch, "msg_"+id); code != 200 || !strings.Contains(answer, `"accepted":3`) {
		t.Fatalf("post %s = %d %s, want 3 accepted (the digest to Slack and email, and each)", id, code, answer)
	}
}

var digestIDRE = regexp.MustCompile(`dg-[a-z0-9]+-\d+`)

// idsIn returns the distinct event ids a digest text names.
func idsIn(text string) map[string]bool {
	ids := map[string]bool{}
	for _, id := range digestIDRE.FindAllString(text, -1) {
		ids[id] = true
	}
	return ids
}

// TestDigestE2E: 12 failures of one customId and 3 of another make
// exactly 2 digests on Slack and 2 by email, with the right counts, while
// the rule without digest notifies per event.
func TestDigestE2E(t *testing.T) {
	e := newDigestEnv(t, "2s")
	d := startBinary(t, e.config, e.env...)
	for i := range 12 {
		failure(t, d, fmt.Sprintf("dg-one-%d", i), "batch-one")
	}
	for i := range 3 {
		failure(t, d, fmt.Sprintf("dg-two-%d", i), "batch-two")
	}
	eventually(t, "two digests on Slack and by email", 20*time.Second, func() bool {
		return len(e.sent("digests")) >= 2 && len(e.mails()) >= 2
	})
	d.waitDrained(t, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // nothing more is due; make a stray third visible
	digests := e.sent("digests")
	if len(digests) != 2 {
		t.Fatalf("Slack digests = %d, want 2:\n%s", len(digests), strings.Join(digests, "\n---\n"))
	}
	for _, text := range digests {
		switch {
		case strings.Contains(text, "batch-one") && strings.Contains(text, "12"):
		case strings.Contains(text, "batch-two") && strings.Contains(text, "3") && len(idsIn(text)) == 3:
		default:
			t.Errorf("a digest that is not batch-one's 12 nor batch-two's 3:\n%s", text)
		}
	}
	if n := len(e.mails()); n != 2 {
		t.Errorf("email digests = %d, want 2", n)
	}
	for _, m := range e.mails() {
		if !strings.Contains(m, "batch-one") && !strings.Contains(m, "batch-two") {
			t.Errorf("an email digest without its group:\n%.600s", m)
		}
	}
	if n := len(e.sent("each")); n != 15 {
		t.Errorf("per-event notifications = %d, want 15", n)
	}
	t.Logf("Slack digest of batch-one:\n%s", digests[0])
}

// TestDigestKill9E2E: 5 failures acknowledged, kill -9, restart, 3 more:
// one digest of 8, nothing lost, nothing twice.
func TestDigestKill9E2E(t *testing.T) {
	e := newDigestEnv(t, "6s")
	d := startBinary(t, e.config, e.env...)
	for i := range 5 {
		failure(t, d, fmt.Sprintf("dg-k-%d", i), "batch-k")
	}
	// The per-event notifications recorded (a kill mid-send may repeat
	// one: at least once), the 5 events wait in the open digest.
	d.waitDrained(t, 10*time.Second)
	if n := len(e.sent("digests")); n != 0 {
		t.Fatalf("a digest was sent before the kill")
	}
	d.kill()
	d = startBinary(t, e.config, e.env...)
	for i := 5; i < 8; i++ {
		failure(t, d, fmt.Sprintf("dg-k-%d", i), "batch-k")
	}
	eventually(t, "the digest", 30*time.Second, func() bool { return len(e.sent("digests")) >= 1 && len(e.mails()) >= 1 })
	d.waitDrained(t, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	digests := e.sent("digests")
	if len(digests) != 1 || len(idsIn(digests[0])) != 8 {
		t.Fatalf("digests = %q, want one of 8 events", digests)
	}
	if n := len(e.mails()); n != 1 {
		t.Errorf("email digests = %d, want 1", n)
	}
	if n := len(e.sent("each")); n != 8 {
		t.Errorf("per-event notifications = %d, want 8 (none lost to the kill, none twice)", n)
	}
}

// TestDigestSIGTERME2E: a SIGTERM mid-window sends nothing early; the
// digest is sent after the next start, when it falls due.
func TestDigestSIGTERME2E(t *testing.T) {
	e := newDigestEnv(t, "3s")
	d := startBinary(t, e.config, e.env...)
	for i := range 4 {
		failure(t, d, fmt.Sprintf("dg-s-%d", i), "batch-s")
	}
	stopped := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("hooknote did not exit on SIGTERM")
	}
	if got := e.sent("digests"); len(got) != 0 {
		t.Fatalf("sent at the stop: %q", got)
	}
	startBinary(t, e.config, e.env...)
	eventually(t, "the digest after the restart", 20*time.Second, func() bool { return len(e.sent("digests")) == 1 })
	if since := time.Since(stopped); since < 2*time.Second {
		t.Errorf("the digest came %v after the stop, before its quiet time", since)
	}
	if ids := idsIn(e.sent("digests")[0]); len(ids) != 4 {
		t.Errorf("the digest names %d events, want 4: %q", len(ids), e.sent("digests")[0])
	}
}

// TestDigest500E2E: a batch of 500 predictions, 37 of which fail (30 for
// one error, 7 for another), with a rule that gathers every final status:
// one Slack digest and one email, and how long after the last event's
// acknowledgement the digest arrived (its quiet time, then the send).
func TestDigest500E2E(t *testing.T) {
	if testing.Short() {
		t.Skip("500 webhooks")
	}
	e := newDigestEnv(t, "3s")
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), `status = ["failed"]
digest =`, `status = ["terminal"]
digest =`, 1)
	text = strings.Replace(text, `digest = "3s"`, "digest = \"3s\"\ndigest_max = 1000", 1)
	if err := os.WriteFile(e.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startBinary(t, e.config, e.env...)
	failed := string(sample(t, "prediction-failed.json"))
	succeeded := string(sample(t, "prediction-succeeded.json"))
	var last time.Time
	for i := range 500 {
		body := succeeded
		if i%13 == 5 && i < 13*37 {
			body = failed
			if k := (i - 5) / 13; k%5 == 0 && k < 35 { // 7 of the 37
				body = errorField.ReplaceAllString(body, `"error": "NSFW content detected"`)
			} else {
				body = errorField.ReplaceAllString(body, `"error": "CUDA out of memory. Tried to allocate 2.00 GiB"`)
			}
		}
		id := fmt.Sprintf("b500%023d", i)
		body = strings.ReplaceAll(strings.ReplaceAll(body, "r8p2kq5t9hrj00cm4x3z1w7v6e", id), "batch-7", "batch-500")
		if code, answer := d.post(t, []byte(body), "customId=batch-500", "msg_"+id); code != 200 {
			t.Fatalf("post %d = %d %s", i, code, answer)
		}
		last = time.Now()
	}
	eventually(t, "the digest", 60*time.Second, func() bool { return len(e.sent("digests")) >= 1 && len(e.mails()) >= 1 })
	slackAfter := time.Since(last)
	d.waitDrained(t, 30*time.Second)
	digests := e.sent("digests")
	if len(digests) != 1 || !strings.Contains(digests[0], "37 failed") || !strings.Contains(digests[0], "463 succeeded") {
		t.Fatalf("digests = %d, want one saying 37 failed, 463 succeeded:\n%s", len(digests), strings.Join(digests, "\n---\n"))
	}
	header, mailBody := mailText([]byte(e.mails()[0]))
	t.Logf("Slack digest arrived %v after the last event's acknowledgement (quiet time 3s):\n%s", slackAfter.Round(time.Millisecond), digests[0])
	t.Logf("email digest:\n%s\n%s", header, mailBody)
}

var errorField = regexp.MustCompile(`"error": "[^"]*"`)
