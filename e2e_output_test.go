package main

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// outputConfig routes failed predictions to Slack and to an email whose
// recipient comes from the query, fenced by allow_to. %s: state dir, SMTP
// host, port, CA file.
const outputConfig = `
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
max_attempts = 3
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
to = ['{{ default "oncall@example.com" .Query.notify }}']
allow_to = ["*@example.com"]
[[rules]]
name = "to-slack"
status = ["failed"]
query = { to = "slack" }
notify = ["slack"]
[[rules]]
name = "to-mail"
status = ["failed"]
query = { to = "mail" }
notify = ["mail"]
`

// startOutputEnv starts Slack and SMTP stand-ins and the daemon.
func startOutputEnv(t *testing.T) (*daemonProc, *relayEnv) {
	t.Helper()
	e := &relayEnv{dir: t.TempDir(), slack: &slackRecorder{}}
	slackAddr, _ := serveOn(t, "127.0.0.1:0", e.slack)
	e.box = &mailbox{user: "relay@example.com", pass: "smtp-pass-output", got: make(chan struct{}, 64)}
	srv, smtpAddr, caPEM, err := startMailbox(e.box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	caFile := filepath.Join(e.dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(smtpAddr)
	e.config = writeConfig(t, e.dir, fmt.Sprintf(outputConfig, filepath.Join(e.dir, "state"), host, port, caFile))
	e.env = []string{"E2E_SECRET=" + e2eSecret, "E2E_SLACK_URL=http://" + slackAddr + "/services/T/B/output", "E2E_SMTP_PASSWORD=" + e.box.pass}
	return startBinary(t, e.config, e.env...), e
}

// hostileWebhook returns the failed-prediction sample with id and the given
// fields replaced, its signed webhook URL carrying query.
func hostileWebhook(t *testing.T, id string, fields map[string]any, query url.Values) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(sample(t, "prediction-failed.json"), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if k == "prompt" {
			m["input"].(map[string]any)["prompt"] = v
			continue
		}
		m[k] = v
	}
	m["id"] = id
	m["webhook"] = "https://hooks.example.com/webhooks/replicate?" + query.Encode()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSlackOutputSafety sends payload values full of Slack markup through
// the binary: the text Slack receives mentions nobody and links nowhere the
// payload chose, shows the values escaped, keeps the template's own link,
// and a huge value is cut to Slack's limit with a visible marker.
func TestSlackOutputSafety(t *testing.T) {
	d, e := startOutputEnv(t)
	hostile := map[string]any{
		"error":  "boom <!channel> <!here> <!everyone> <@U024BE7LH> <#C024BE7LR|general> <http://evil.example|https://replicate.com> a&b",
		"logs":   "step 1\n<!subteam^S123>\n<https://evil.example>\n",
		"prompt": "<!channel> please",
		"model":  "acme/<!here>",
	}
	q := url.Values{"to": {"slack"}, "customId": {"<@U999> & <!channel>"}}
	if status, answer := d.post(t, hostileWebhook(t, "slack-hostile", hostile, q), q.Encode(), "msg_slack_hostile"); status != 200 {
		t.Fatalf("POST = %d %s", status, answer)
	}
	// The payload's names are cut to 1 KiB (replicate): a huge customId is
	// what reaches Slack's limit.
	huge := map[string]any{"model": "acme/huge"}
	hq := url.Values{"to": {"slack"}, "customId": {strings.Repeat("<!channel>", 1000)}}
	if status, answer := d.post(t, hostileWebhook(t, "slack-huge", huge, hq), hq.Encode(), "msg_slack_huge"); status != 200 {
		t.Fatalf("POST = %d %s", status, answer)
	}
	eventually(t, "two Slack messages", 10*time.Second, func() bool { return len(e.slack.delivered()) == 2 })
	texts := map[string]string{}
	for _, payload := range e.slack.delivered() {
		var msg struct{ Text string }
		if err := json.Unmarshal([]byte(payload), &msg); err != nil {
			t.Fatalf("Slack payload %q: %v", payload, err)
		}
		for _, bad := range []string{"<!", "<@", "<#", "<http://evil", "<https://evil"} {
			if strings.Contains(msg.Text, bad) {
				t.Errorf("Slack text contains %q:\n%s", bad, msg.Text)
			}
		}
		if n := utf8.RuneCountInString(msg.Text); n > 4000 {
			t.Errorf("Slack text has %d runes, want at most 4000", n)
		}
		key := "hostile"
		if strings.Contains(msg.Text, "`&lt;!channel&gt;&lt;!channel&gt;") {
			key = "huge"
		}
		texts[key] = msg.Text
	}
	for _, want := range []string{
		"&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U024BE7LH&gt; &lt;#C024BE7LR|general&gt; &lt;http://evil.example|https://replicate.com&gt; a&amp;b",
		"&lt;!subteam^S123&gt;", "`acme/&lt;!here&gt;`", "customId `&lt;@U999&gt; &amp; &lt;!channel&gt;`",
		"<https://replicate.com/p/r8p2kq5t9hrj00cm4x3z1w7v6e|slack-hostile>", "*Failed*",
	} {
		if !strings.Contains(texts["hostile"], want) {
			t.Errorf("Slack text lacks %q:\n%s", want, texts["hostile"])
		}
	}
	if !strings.HasSuffix(texts["huge"], "…truncated") {
		t.Errorf("huge Slack text does not end with the truncation marker:\n%.300s…%s", texts["huge"], texts["huge"][max(0, len(texts["huge"])-100):])
	}
}

// TestEmailOutputSafety sends hostile values and recipients through the
// binary. The recipient comes from ?notify= and must pass allow_to: an
// address outside it, a list and a CR/LF-injected Bcc are dead-lettered with
// a reason and never reach the SMTP server; an allowed one gets exactly one
// mail, with one-line headers, no Bcc and its HTML escaped.
func TestEmailOutputSafety(t *testing.T) {
	d, e := startOutputEnv(t)
	refused := []struct {
		name, notify, reason string
	}{
		{name: "outside allow_to", notify: "evil@attacker.test", reason: `recipient "evil@attacker.test" not allowed by allow_to`},
		{name: "display name outside allow_to", notify: "Ops <evil@attacker.test>", reason: "not allowed by allow_to"},
		{name: "look-alike domain", notify: "ops@example.com.attacker.test", reason: "not allowed by allow_to"},
		{name: "a list", notify: "ops@example.com, evil@attacker.test", reason: "expected single address"},
		{name: "CRLF Bcc injection", notify: "ops@example.com\r\nBcc: evil@attacker.test", reason: "expected single address"},
	}
	for i, tc := range refused {
		q := url.Values{"to": {"mail"}, "notify": {tc.notify}}
		id := fmt.Sprintf("mail-refused-%d", i)
		if status, answer := d.post(t, hostileWebhook(t, id, nil, q), q.Encode(), "msg_"+id); status != 200 {
			t.Fatalf("%s: POST = %d %s", tc.name, status, answer)
		}
	}
	admin := strings.TrimPrefix(d.admin, "http://")
	var out string
	eventually(t, "every refused recipient dead-lettered", 15*time.Second, func() bool {
		_, out, _ = runCLI(t, nil, "dead", "-admin", admin, "list")
		return strings.Count(out, "mail-refused-") == len(refused)
	})
	t.Logf("dead list:\n%s", out)
	lines := strings.Split(out, "\n")
	for i, tc := range refused {
		id := fmt.Sprintf("mail-refused-%d", i)
		for _, line := range lines {
			if strings.Contains(line, id) && !strings.Contains(line, tc.reason) {
				t.Errorf("%s: dead letter %q lacks the reason %q", tc.name, line, tc.reason)
			}
		}
	}
	if n := len(e.mails()); n != 0 {
		t.Fatalf("the SMTP server got %d mails for refused recipients", n)
	}

	hostile := map[string]any{"error": "<script>alert(1)</script>", "model": "acme/m\r\nBcc: evil@attacker.test"}
	q := url.Values{"to": {"mail"}, "notify": {"team@example.com"}, "customId": {"7\r\nBcc: evil@attacker.test"}}
	if status, answer := d.post(t, hostileWebhook(t, "mail-ok", hostile, q), q.Encode(), "msg_mail_ok"); status != 200 {
		t.Fatalf("POST = %d %s", status, answer)
	}
	eventually(t, "the allowed mail", 10*time.Second, func() bool { return len(e.mails()) == 1 })
	got := e.mails()[0]
	if strings.Join(got.to, ",") != "team@example.com" {
		t.Errorf("envelope recipients = %q, want exactly team@example.com", got.to)
	}
	checkReceivedMail(t, got.data)
}

// checkReceivedMail checks the headers and HTML of the allowed mail.
func checkReceivedMail(t *testing.T, data []byte) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for k := range msg.Header {
		switch k {
		case "From", "To", "Subject", "Date", "Message-Id", "Auto-Submitted", "Mime-Version", "Content-Type":
		default:
			t.Errorf("unexpected header %s: %q", k, msg.Header[k])
		}
	}
	if to, err := msg.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "team@example.com" {
		t.Errorf("To = %v (%v), want team@example.com", to, err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || !strings.Contains(subject, "Bcc: evil@attacker.test") || strings.ContainsAny(subject, "\r\n") {
		t.Errorf("Subject = %q (%v), want the injected text on the one line", subject, err)
	}
	html := htmlPart(t, msg)
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the mail's HTML does not escape <script>:\n%s", html)
	}
}

// htmlPart returns the decoded text/html part of a multipart/alternative
// mail.
func htmlPart(t *testing.T, msg *mail.Message) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("no text/html part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}
