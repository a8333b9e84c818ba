package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// relayConfig is the end-to-end config: Slack for trainings, email for
// failed batch predictions. %s: state dir, slack URL, smtp host, port, CA file.
const relayConfig = `
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
max_attempts = 1000
[notifiers.slack]
type = "slack"
webhook_url = "${E2E_SLACK_URL}"
[notifiers.mail]
type = "email"
host = %q
port = %s
ca_file = %q
username = "relay@example.com"
password = "${E2E_SMTP_PASSWORD}"
from = "hooknote <relay@example.com>"
to = ["oncall@example.com"]
[[rules]]
name = "trainings-finished"
kind = "training"
status = ["terminal"]
notify = ["slack"]
[[rules]]
name = "failed-batch"
kind = "prediction"
status = ["failed"]
query = { customId = "batch-*" }
notify = ["mail"]
`

type relayEnv struct {
	dir    string
	slack  *slackRecorder
	box    *mailbox
	config string
	env    []string
}

// newRelayEnv starts the Slack stand-in on slackAddr and an SMTP server, and
// writes the config.
func newRelayEnv(t *testing.T, slackAddr string) *relayEnv {
	t.Helper()
	l, err := net.Listen("tcp", slackAddr)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	e := newRelayEnvUnstarted(t, l.Addr().String())
	serveOn(t, l.Addr().String(), e.slack)
	return e
}

func (e *relayEnv) mails() []receivedMail {
	e.box.mu.Lock()
	defer e.box.mu.Unlock()
	return append([]receivedMail(nil), e.box.mails...)
}

// TestEndToEnd posts signed webhooks to the built binary and observes
// exactly the expected HTTP answers, Slack message and email.
func TestEndToEnd(t *testing.T) {
	e := newRelayEnv(t, "127.0.0.1:0")
	d := startBinary(t, e.config, e.env...)

	training := sample(t, "training-succeeded.json")
	failed := sample(t, "prediction-failed.json")
	succeeded := sample(t, "prediction-succeeded.json")
	cases := []struct {
		name       string
		body       []byte
		query      string
		sign       bool
		wantStatus int
		wantAnswer string
	}{
		{name: "training succeeded", body: training, query: "kind=training&customId=faces-v2", sign: true, wantStatus: 200, wantAnswer: `{"accepted":1,"duplicate":false}`},
		{name: "failed batch prediction", body: failed, query: "customId=batch-7", sign: true, wantStatus: 200, wantAnswer: `{"accepted":1,"duplicate":false}`},
		{name: "succeeded prediction matches nothing", body: succeeded, query: "customId=batch-7", sign: true, wantStatus: 200, wantAnswer: `{"accepted":0}`},
		{name: "bad signature", body: failed, query: "customId=batch-7", sign: false, wantStatus: 401},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var status int
			var answer string
			if tc.sign {
				status, answer = d.post(t, tc.body, tc.query, fmt.Sprintf("msg_e2e_%d", i))
			} else {
				req, _ := http.NewRequest(http.MethodPost, d.intake+"?"+tc.query, strings.NewReader(string(tc.body)))
				req.Header.Set("webhook-id", "msg_forged")
				req.Header.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
				req.Header.Set("webhook-signature", "v1,R7pEM9GNgOX18ICm9D6bcpvQwcK3yGu5UHHFtH/I7as=")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				status = resp.StatusCode
			}
			if status != tc.wantStatus {
				t.Fatalf("POST %s = %d %s, want %d", tc.name, status, answer, tc.wantStatus)
			}
			if tc.wantAnswer != "" && answer != tc.wantAnswer {
				t.Errorf("answer = %s, want %s", answer, tc.wantAnswer)
			}
		})
	}

	eventually(t, "one Slack message and one email", 15*time.Second, func() bool {
		return len(e.slack.delivered()) >= 1 && len(e.mails()) >= 1
	})
	d.waitDrained(t, 10*time.Second) // nothing more may arrive
	slack := e.slack.delivered()
	if len(slack) != 1 {
		t.Fatalf("Slack got %d messages, want 1: %q", len(slack), slack)
	}
	var msg struct{ Text string }
	if err := json.Unmarshal([]byte(slack[0]), &msg); err != nil {
		t.Fatalf("Slack body %q: %v", slack[0], err)
	}
	for _, want := range []string{"zz4ibbonubfz7carwiefibzgga", "faces-v2", "ostris/flux-dev-lora-trainer"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("Slack text lacks %q:\n%s", want, msg.Text)
		}
	}
	mails := e.mails()
	if len(mails) != 1 {
		t.Fatalf("SMTP got %d mails, want 1", len(mails))
	}
	header, text := mailText(mails[0].data)
	if got := strings.Join(mails[0].to, ","); got != "oncall@example.com" {
		t.Errorf("envelope to = %q, want oncall@example.com", got)
	}
	for _, want := range []string{"Subject:", "failed", "batch-7", "acme/upscaler"} {
		if !strings.Contains(header+text, want) {
			t.Errorf("email lacks %q:\n%s\n%s", want, header, text)
		}
	}
	for _, want := range []string{"CUDA out of memory", "r8p2kq5t9hrj00cm4x3z1w7v6e"} {
		if !strings.Contains(text, want) {
			t.Errorf("email text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(d.logs(), e.box.pass) || strings.Contains(d.logs(), "services/T/B/x") {
		t.Errorf("a secret reached the log:\n%s", d.logs())
	}
}

// TestRestartDeliversQueuedJobs: jobs acknowledged while Slack is
// unreachable are delivered after the daemon is killed and restarted.
func TestRestartDeliversQueuedJobs(t *testing.T) {
	// Reserve a port for Slack, then leave it closed: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	slackAddr := l.Addr().String()
	l.Close()
	e := newRelayEnvUnstarted(t, slackAddr)
	d := startBinary(t, e.config, e.env...)
	training := sample(t, "training-succeeded.json")
	for i := range 3 {
		body := []byte(strings.Replace(string(training), "zz4ibbonubfz7carwiefibzgga", fmt.Sprintf("restart-%d", i), 1))
		if status, answer := d.post(t, body, "kind=training&customId=faces-v2", fmt.Sprintf("msg_restart_%d", i)); status != 200 {
			t.Fatalf("POST = %d %s", status, answer)
		}
	}
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	d.kill()

	serveOn(t, slackAddr, e.slack) // Slack is back
	startBinary(t, e.config, e.env...)
	eventually(t, "3 Slack messages after restart", 20*time.Second, func() bool { return len(e.slack.delivered()) >= 3 })
	for i, m := range e.slack.delivered() {
		if !strings.Contains(m, fmt.Sprintf("restart-%d", i)) && !strings.Contains(m, "restart-") {
			t.Errorf("message %d = %s", i, m)
		}
	}
}

// newRelayEnvUnstarted is newRelayEnv with Slack not yet listening.
func newRelayEnvUnstarted(t *testing.T, slackAddr string) *relayEnv {
	t.Helper()
	e := &relayEnv{dir: t.TempDir(), slack: &slackRecorder{}}
	e.box = &mailbox{user: "relay@example.com", pass: "smtp-pass-e2e", got: make(chan struct{}, 64)}
	srv, smtpAddr, caPEM, err := startMailbox(e.box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	caFile := filepath.Join(e.dir, "ca.pem")
	os.WriteFile(caFile, caPEM, 0o600)
	host, port, _ := net.SplitHostPort(smtpAddr)
	e.config = writeConfig(t, e.dir, fmt.Sprintf(relayConfig, filepath.Join(e.dir, "state"), host, port, caFile))
	e.env = []string{"E2E_SECRET=" + e2eSecret, "E2E_SLACK_URL=http://" + slackAddr + "/services/T/B/x", "E2E_SMTP_PASSWORD=" + e.box.pass}
	return e
}
