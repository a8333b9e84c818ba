package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/notifiers/slack/standin"
	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/replicate"
)

// demoConfig is the demo's config: the same format users write, pointing at
// the local stand-ins. %s: state dir, Slack stand-in address, smtp host,
// smtp port, CA file.
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
webhook_url = "http://%[2]s/services/T000/B000/demo"
format = "blocks"

[notifiers.live]
type = "slack"
token = "${DEMO_SLACK_TOKEN}"
channel = "#predictions"
api_url = "http://%[2]s/api/"
mode = "live"
format = "blocks"

[notifiers.oncall]
type = "email"
host = %[3]q
port = %[4]s
tls = "starttls"
ca_file = %[5]q
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

[[rules]]
name = "live-predictions"
kind = "prediction"
query = { customId = "live-*" }
notify = ["live"]

[[rules]]
name = "nightly-failures"
kind = "prediction"
status = ["failed"]
query = { customId = "nightly-*" }
digest = "2s"
group_by = ["model", "query.customId"]
notify = ["ml-alerts"]
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

	token := "xoxb-demo-" + randomText(12)
	slack := standin.New(token)
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(sl, slack)
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
	env := map[string]string{"DEMO_WEBHOOK_SECRET": secret, "DEMO_SLACK_TOKEN": token, "DEMO_SMTP_PASSWORD": box.pass}
	host, port, _ := net.SplitHostPort(smtpAddr)
	src := fmt.Sprintf(demoConfig, filepath.Join(dir, "state"), sl.Addr().String(), host, port, caFile)
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
	fmt.Fprintf(stdout, "  slack   stand-in at http://%s (incoming webhooks and the Web API)\n", sl.Addr())
	fmt.Fprintf(stdout, "  smtp    %s (STARTTLS, AUTH PLAIN)\n\n", smtpAddr)
	fmt.Fprintf(stdout, "Rules: trainings-finished (→ Slack, Block Kit); failed-batch-predictions (customId batch-* → email + Slack);\n"+
		"       live-predictions (customId live-* → one live Slack message); nightly-failures (customId nightly-* → one Slack digest)\n\n")

	post := func(sample, id, note string, edit func(string) string) error {
		b, err := samplesFS.ReadFile("testdata/samples/" + sample)
		if err != nil {
			return err
		}
		body := []byte(edit(string(b)))
		q, _ := replicate.WebhookQuery(body)
		status, answer, err := postSigned(http.DefaultClient, intake+"?"+q, secret, id, body)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "POST %-26s ?%-24s → %d %s   (%s)\n", sample, q, status, strings.TrimSpace(answer), note)
		return nil
	}
	same := func(s string) string { return s }

	// 1. A Slack message, an email, and a duplicate recognised.
	for _, p := range []struct{ sample, id, note string }{
		{"training-succeeded.json", "msg_demo_1", "a training finished"},
		{"prediction-failed.json", "msg_demo_2", "a batch prediction failed"},
		{"prediction-failed.json", "msg_demo_2", "Replicate retries the same delivery"},
		{"prediction-succeeded.json", "msg_demo_3", "a prediction succeeded (no rule wants it)"},
	} {
		if err := post(p.sample, p.id, p.note, same); err != nil {
			return err
		}
	}
	if err := waitUntil(slack.Changed(), 15*time.Second, func() bool { return len(box.received()) >= 1 && len(slack.Messages()) >= 2 }); err != nil {
		return fmt.Errorf("first deliveries: %w", err)
	}
	time.Sleep(300 * time.Millisecond) // let a wrongly duplicated send show up, if there were one
	printDelivered(stdout, slack.Messages(), box.received())

	// 2. One live message, updated in place.
	fmt.Fprintf(stdout, "\nA prediction with customId live-1 sends starting, processing (twice) and succeeded:\n")
	live := func(s string) string {
		s = strings.ReplaceAll(s, "r8p2kq5t9hrj00cm4x3z1w7v6e", "livedemo0000000000000000001")
		return strings.ReplaceAll(s, "batch-7", "live-1")
	}
	logs := 0
	for _, st := range []string{"starting", "processing", "processing", "succeeded"} {
		edit := live
		if st == "processing" {
			logs++
			n := logs
			edit = func(s string) string {
				return strings.Replace(live(s), `"logs": "`, fmt.Sprintf(`"logs": "step %d/2 done\n`, n), 1)
			}
		}
		before := len(slack.Calls())
		if err := post("prediction-"+st+".json", "msg_live_"+st+fmt.Sprint(logs), "live-1 is "+st, edit); err != nil {
			return err
		}
		if err := waitUntil(slack.Changed(), 15*time.Second, func() bool { return len(slack.Calls()) > before }); err != nil {
			return fmt.Errorf("live message: %w", err)
		}
	}
	if err := waitUntil(slack.Changed(), 15*time.Second, func() bool { return liveDone(slack) }); err != nil {
		return fmt.Errorf("live message: %w", err)
	}
	printLive(stdout, slack)

	// 3. A digest: one message for a batch of failures.
	fmt.Fprintf(stdout, "\nSix predictions of the nightly-3 batch fail (the rule has digest = \"2s\"):\n")
	for i := range 6 {
		edit := func(s string) string {
			s = strings.ReplaceAll(s, "r8p2kq5t9hrj00cm4x3z1w7v6e", fmt.Sprintf("nightly%020d", i))
			if i%3 == 2 {
				s = errorRE.ReplaceAllString(s, `"error": "NSFW content detected in the output"`)
			}
			return strings.ReplaceAll(s, "batch-7", "nightly-3")
		}
		if err := post("prediction-failed.json", fmt.Sprintf("msg_nightly_%d", i), "nightly-3 failure", edit); err != nil {
			return err
		}
	}
	before := len(slack.Messages())
	if err := waitUntil(slack.Changed(), 20*time.Second, func() bool { return len(slack.Messages()) > before }); err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	fmt.Fprintf(stdout, "\n── Slack digest (ml-alerts, 2s after the last failure) ──\n%s\n", slack.Messages()[before].Text)

	if keep {
		fmt.Fprintf(stdout, "\nStill serving (-keep). Try: go run . send -url '%s?customId=batch-9' -secret %s testdata/samples/prediction-failed.json\nCtrl-C to stop.\n", intake, secret)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
	}
	return nil
}

// errorRE finds a sample's error field.
var errorRE = regexp.MustCompile(`"error": "[^"]*"`)

// waitUntil waits until cond holds, looking again whenever changed
// fires (and every 100ms: mail arrives on its own channel).
func waitUntil(changed <-chan struct{}, timeout time.Duration, cond func() bool) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline:
			return errors.New("timed out waiting for deliveries")
		}
	}
	return nil
}

// liveDone reports whether the live message got its thread reply.
func liveDone(s *standin.Server) bool {
	for _, m := range s.Messages() {
		if m.ThreadTS != "" {
			return true
		}
	}
	return false
}

func printDelivered(w io.Writer, msgs []standin.Message, mails []receivedMail) {
	for i, m := range msgs {
		fmt.Fprintf(w, "\n── Slack message %d ──────────────────────────────\n%s\n", i+1, m.Text)
		if m.Blocks != "" {
			fmt.Fprintf(w, "   with Block Kit blocks:\n%s\n", prettyJSON(m.Blocks, "   "))
		}
	}
	for i, m := range mails {
		header, text := mailText(m.data)
		fmt.Fprintf(w, "\n── Email %d (envelope to %s) ─────────────────────\n%s\n%s\n", i+1, strings.Join(m.to, ", "), header, strings.TrimSpace(text))
	}
	fmt.Fprintf(w, "\nDelivered: %d Slack messages, %d emails. The retried delivery was recognised as a duplicate.\n", len(msgs), len(mails))
}

// printLive shows the live message's versions and the API calls made.
func printLive(w io.Writer, s *standin.Server) {
	var calls []string
	for _, c := range s.Calls() {
		if c.Method == "webhook" {
			continue
		}
		call := c.Method
		if c.ThreadTS != "" {
			call += " (in the thread)"
		}
		calls = append(calls, call)
	}
	for _, m := range s.Messages() {
		if m.Webhook || m.ThreadTS != "" {
			continue
		}
		fmt.Fprintf(w, "\n── Live Slack message %s in %s: %d versions, updated in place ──\n", m.TS, m.Channel, len(m.Versions))
		for i, v := range m.Versions {
			first, _, _ := strings.Cut(v, "\n")
			fmt.Fprintf(w, "  %d. %s\n", i+1, first)
		}
		fmt.Fprintf(w, "  now:\n%s\n", indent(m.Text, "    "))
	}
	for _, m := range s.Messages() {
		if m.ThreadTS != "" {
			fmt.Fprintf(w, "  thread reply:\n%s\n", indent(m.Text, "    "))
		}
	}
	fmt.Fprintf(w, "  Slack API calls: %s\n", strings.Join(calls, ", "))
}

// prettyJSON indents a JSON document for reading: entities and < > &
// as they are, not \u escapes.
func prettyJSON(doc, prefix string) string {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return prefix + doc
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return prefix + doc
	}
	return prefix + strings.TrimSpace(b.String())
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+prefix)
}

func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
