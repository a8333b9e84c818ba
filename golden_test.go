package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/replicate"
)

var update = flag.Bool("update", false, "rewrite golden files")

const goldenConfig = `
[replicate]
secret = "` + e2eSecret + `"
[notifiers.slack]
type = "slack"
webhook_url = "http://%s/services/T/B/golden"
[notifiers.mail]
type = "email"
host = %q
port = %s
ca_file = %q
username = "relay@example.com"
password = "golden-pass"
from = "hooknote <relay@example.com>"
to = ["oncall@example.com"]
[[rules]]
name = "everything"
notify = ["slack", "mail"]
`

var (
	dateRE     = regexp.MustCompile(`(?m)^Date: .*\r?$`)
	boundaryRE = regexp.MustCompile(`boundary="?([^"\r\n;]+)"?`)
)

// TestGoldenMessages renders the default templates for every sample and
// sends them through the real Slack and email notifiers; the exact Slack
// JSON and email MIME (Date and boundary normalised) are golden files in
// testdata/golden (go test -update).
func TestGoldenMessages(t *testing.T) {
	dir := t.TempDir()
	slack := &slackRecorder{}
	slackAddr, _ := serveOn(t, "127.0.0.1:0", slack)
	box := &mailbox{user: "relay@example.com", pass: "golden-pass", got: make(chan struct{}, 64)}
	srv, smtpAddr, caPEM, err := startMailbox(box)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, caPEM, 0o600)
	host, port, _ := net.SplitHostPort(smtpAddr)
	cfg, err := relay.LoadText("golden.toml", fmt.Sprintf(goldenConfig, slackAddr, host, port, caFile), config.Env{Lookup: os.LookupEnv, Dir: dir}, loadOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples() {
		name := strings.TrimSuffix(s.Name, ".json")
		if !strings.Contains(name, "succeeded") && !strings.Contains(name, "failed") && name != "prediction-aborted" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			q, _ := url.ParseQuery(s.Query)
			ev, err := replicate.Decode(s.Body, q, time.Date(2025, 1, 1, 0, 1, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			before, beforeMail := len(slack.delivered()), len(box.mails)
			for _, p := range cfg.Previews(ev) {
				if err := p.Send(context.Background()); err != nil {
					t.Fatalf("send %s: %v", p.Notifier, err)
				}
			}
			<-box.got
			slackJSON := slack.delivered()[before]
			box.mu.Lock()
			mime := normaliseMIME(string(box.mails[beforeMail].data))
			box.mu.Unlock()
			compareGolden(t, filepath.Join("testdata", "golden", name+".slack.json"), slackJSON+"\n")
			compareGolden(t, filepath.Join("testdata", "golden", name+".eml"), mime)
		})
	}
}

func normaliseMIME(s string) string {
	s = dateRE.ReplaceAllString(s, "Date: (normalised)\r")
	for _, m := range boundaryRE.FindAllStringSubmatch(s, -1) {
		s = strings.ReplaceAll(s, m[1], "BOUNDARY")
	}
	return s
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from its golden file:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
