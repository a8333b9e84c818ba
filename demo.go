package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/replicate"
)

// demoConfig is the demo's config: the same format users write, pointing at
// the local stand-ins. %s: state dir, slack URL, smtp host, smtp port, CA file.
const demoConfig = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[replicate]
secret = "${DEMO_WEBHOOK_SECRET}"

[state]
dir = %q

[delivery]
backoff = "200ms"
max_backoff = "2s"

[log]
level = "warn"

[notifiers.ml-alerts]
type = "slack"
webhook_url = "${DEMO_SLACK_WEBHOOK_URL}"

[notifiers.oncall]
type = "email"
host = %q
port = %s
tls = "starttls"
ca_file = %q
username = "relay@example.com"
password = "${DEMO_SMTP_PASSWORD}"
from = "hooknote <relay@example.com>"
to = ["oncall@example.com"]

[[rules]]
name = "trainings-finished"
kind = "training"
status = ["terminal"]
notify = ["ml-alerts"]

[[rules]]
name = "failed-batch-predictions"
kind = "prediction"
status = ["failed"]
query = { customId = "batch-*" }
notify = ["oncall", "ml-alerts"]
`

// demo runs the real daemon in-process against a local Slack stand-in and a
// local SMTP server, posts signed sample webhooks, and prints what came out.
func demo(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("demo", flag.ContinueOnError)
	fl.SetOutput(stderr)
	keep := fl.Bool("keep", false, "keep serving after the demo (Ctrl-C to stop)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if err := runDemo(stdout, stderr, *keep); err != nil {
		fmt.Fprintf(stderr, "hooknote demo: %v\n", err)
		return 1
	}
	return 0
}

func runDemo(stdout, stderr io.Writer, keep bool) error {
	dir, err := os.MkdirTemp("", "hooknote-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	slackSrv := &slackStandIn{got: make(chan struct{}, 16)}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(sl, slackSrv)
	defer sl.Close()
	box := &mailbox{user: "relay@example.com", pass: randomText(12), got: make(chan struct{}, 16)}
	smtpSrv, smtpAddr, caPEM, err := startMailbox(box)
	if err != nil {
		return err
	}
	defer smtpSrv.Close()
	caFile := filepath.Join(dir, "smtp-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return err
	}

	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte(randomText(24))[:24])
	env := map[string]string{
		"DEMO_WEBHOOK_SECRET":    secret,
		"DEMO_SLACK_WEBHOOK_URL": "http://" + sl.Addr().String() + "/services/T000/B000/demo",
		"DEMO_SMTP_PASSWORD":     box.pass,
	}
	host, port, _ := net.SplitHostPort(smtpAddr)
	src := fmt.Sprintf(demoConfig, filepath.Join(dir, "state"), host, port, caFile)
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := relay.LoadText("demo.toml", src, config.Env{Lookup: lookup, Dir: dir}, loadOptions(nil))
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	d, err := startDaemon(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.run(ctx) }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			fmt.Fprintf(stderr, "hooknote demo: daemon: %v\n", err)
		}
	}()
	intake := "http://" + d.intakeAddr() + cfg.File.Server.Path

	fmt.Fprintf(stdout, "hooknote demo: everything runs on 127.0.0.1; nothing leaves this machine.\n\n")
	fmt.Fprintf(stdout, "  daemon  %s   (admin http://%s)\n", intake, d.adminAddr())
	fmt.Fprintf(stdout, "  slack   stand-in at http://%s\n", sl.Addr())
	fmt.Fprintf(stdout, "  smtp    %s (STARTTLS, AUTH PLAIN)\n\n", smtpAddr)
	fmt.Fprintf(stdout, "Rules: trainings-finished (training, terminal → slack); failed-batch-predictions (failed prediction, customId batch-* → email + slack)\n\n")

	posts := []struct{ sample, id, note string }{
		{"training-succeeded.json", "msg_demo_1", "a training finished"},
		{"prediction-failed.json", "msg_demo_2", "a batch prediction failed"},
		{"prediction-failed.json", "msg_demo_2", "Replicate retries the same delivery"},
		{"prediction-succeeded.json", "msg_demo_3", "a prediction succeeded (no rule wants it)"},
	}
	for _, p := range posts {
		body, err := samplesFS.ReadFile("testdata/samples/" + p.sample)
		if err != nil {
			return err
		}
		q, _ := replicate.WebhookQuery(body)
		status, answer, err := postSigned(http.DefaultClient, intake+"?"+q, secret, p.id, body)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "POST %-26s ?%-34s → %d %s   (%s)\n", p.sample, q, status, strings.TrimSpace(answer), p.note)
	}
	if err := waitFor(slackSrv.got, 2, box.got, 1, 15*time.Second); err != nil {
		return err
	}
	printDelivered(stdout, slackSrv, box)
	if keep {
		fmt.Fprintf(stdout, "\nStill serving (-keep). Try: go run . send -url '%s?customId=batch-9' -secret %s testdata/samples/prediction-failed.json\nCtrl-C to stop.\n", intake, secret)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
	}
	return nil
}

func waitFor(slackGot chan struct{}, nSlack int, mailGot chan struct{}, nMail int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for nSlack > 0 || nMail > 0 {
		select {
		case <-slackGot:
			nSlack--
		case <-mailGot:
			nMail--
		case <-deadline:
			return fmt.Errorf("timed out waiting for deliveries (%d Slack, %d email still missing)", nSlack, nMail)
		}
	}
	time.Sleep(300 * time.Millisecond) // let a wrongly duplicated send show up, if there were one
	return nil
}

func printDelivered(w io.Writer, s *slackStandIn, box *mailbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	box.mu.Lock()
	defer box.mu.Unlock()
	for i, m := range s.messages {
		fmt.Fprintf(w, "\n── Slack message %d ──────────────────────────────\n%s\n", i+1, m)
	}
	for i, m := range box.mails {
		header, text := mailText(m.data)
		fmt.Fprintf(w, "\n── Email %d (envelope to %s) ─────────────────────\n%s\n%s\n", i+1, strings.Join(m.to, ", "), header, strings.TrimSpace(text))
	}
	fmt.Fprintf(w, "\nDelivered: %d Slack messages, %d emails. The retried delivery was recognised as a duplicate.\n", len(s.messages), len(box.mails))
}

func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
