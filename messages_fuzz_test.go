package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/replicate"
)

// messagesConfig sends every event to a Slack stand-in (%s: its address),
// an email notifier that is never sent to, and a webhook notifier, all with
// the default templates.
const messagesConfig = `
[replicate]
secret = "` + e2eSecret + `"
[notifiers.slack]
type = "slack"
webhook_url = "http://%s/services/T/B/fuzz"
[notifiers.mail]
type = "email"
host = "127.0.0.1"
port = 1
from = "hooknote <relay@example.com>"
to = ["oncall@example.com"]
[notifiers.hook]
type = "webhook"
url = "http://127.0.0.1:1/hook"
[[rules]]
name = "everything"
notify = ["slack", "mail", "hook"]
`

// FuzzMessages renders hostile payload values (error, logs, input prompt,
// customId, model and an output) with the default templates for Slack,
// email and a webhook, and posts the Slack message to a stand-in. No
// template fails; the Slack text (as rendered and as posted, cut to
// Slack's limit) mentions nobody (<!…>, <@…>, <#…>) and links only to clean
// http(s) URLs; the posted payload is valid JSON; the email subject is one
// line, goes to exactly the configured recipient, and its HTML prints no
// payload markup; the webhook body is valid JSON.
func FuzzMessages(f *testing.F) {
	f.Add("CUDA <!channel> <@U123> <http://evil|click> &amp;", "a\n<!here>\r\n", "<#C123|general>", "batch-<!everyone>", "acme/x", "https://x.example/a.png")
	f.Add("```\n<!subteam^S1>```", strings.Repeat("<@U1>\n", 20), "\xff", "7\r\nBcc: evil@attacker.test", "a\r\nb", "https://evil.example|<!channel>")
	slack := &slackCapture{}
	srv := httptest.NewServer(slack)
	f.Cleanup(srv.Close)
	cfg, err := relay.LoadText("fuzz.toml", fmt.Sprintf(messagesConfig, strings.TrimPrefix(srv.URL, "http://")), config.Env{Lookup: os.LookupEnv, Dir: f.TempDir()}, loadOptions(nil))
	if err != nil {
		f.Fatalf("Parse() = %v", err)
	}
	base, err := os.ReadFile("testdata/samples/prediction-failed.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, errText, logs, prompt, customID, model, output string) {
		body, query := hostileBody(t, base, errText, logs, prompt, customID, model, output)
		ev, err := replicate.Decode(body, query, time.Unix(1735689600, 0))
		if err != nil {
			t.Fatalf("DecodeEvent() = %v for a body with string values", err)
		}
		previews := cfg.Previews(ev)
		if len(previews) != 3 {
			t.Fatalf("Previews() = %d messages, want 3", len(previews))
		}
		for _, p := range previews {
			if p.TemplateErr != nil || p.Err != nil {
				t.Fatalf("%s: template error %v, error %v", p.Notifier, p.TemplateErr, p.Err)
			}
			switch p.Notifier {
			case "slack":
				checkSlackText(t, "rendered", p.Message.Text)
				if err := p.Send(context.Background()); err != nil {
					t.Fatalf("Send(slack) = %v", err)
				}
				checkSlackPayload(t, slack.last())
			case "mail":
				neutral := strings.NewReplacer("<", "_", ">", "_")
				nbody, nquery := hostileBody(t, base, neutral.Replace(errText), neutral.Replace(logs), neutral.Replace(prompt),
					neutral.Replace(customID), neutral.Replace(model), output)
				nev, err := replicate.Decode(nbody, nquery, time.Unix(1735689600, 0))
				if err != nil {
					t.Fatal(err)
				}
				checkEmailMessage(t, p, cfg.Previews(nev)[1].Message.HTML)
			case "hook":
				if !json.Valid([]byte(p.Message.Text)) {
					t.Fatalf("webhook body is not JSON: %q", p.Message.Text)
				}
			}
		}
	})
}

// hostileBody puts the fuzzed values into the sample, with customId in the
// signed webhook URL and the query.
func hostileBody(t *testing.T, base []byte, errText, logs, prompt, customID, model, output string) ([]byte, url.Values) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(base, &m); err != nil {
		t.Fatal(err)
	}
	query := url.Values{"customId": {customID}}
	m["error"], m["logs"], m["model"] = errText, logs, model
	m["input"].(map[string]any)["prompt"] = prompt
	m["output"] = []any{output, "https://replicate.delivery/xezq/abc/out-1.png"}
	m["webhook"] = "https://hooks.example.com/webhooks/replicate?" + query.Encode()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b, query
}

// checkSlackText checks that text mentions nobody and links only to clean
// URLs: every "<" opens a link whose target is an http(s) URL with none of
// the characters that end or split Slack markup.
func checkSlackText(t *testing.T, what, text string) {
	t.Helper()
	for _, bad := range []string{"<!", "<@", "<#"} {
		if strings.Contains(text, bad) {
			t.Fatalf("%s Slack text contains %q:\n%s", what, bad, text)
		}
	}
	rest := text
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			return
		}
		end := strings.IndexByte(rest[i:], '>')
		if end < 0 {
			t.Fatalf("%s Slack text has an unclosed <:\n%s", what, text)
		}
		target, _, _ := strings.Cut(rest[i+1:i+end], "|")
		target = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(target)
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.ContainsAny(target, " \t\r\n\"'<>|\\`") {
			t.Fatalf("%s Slack text links to %q:\n%s", what, target, text)
		}
		rest = rest[i+end+1:]
	}
}

// checkSlackPayload checks what the Slack stand-in received.
func checkSlackPayload(t *testing.T, payload []byte) {
	t.Helper()
	var msg struct {
		Text string `json:"text"`
	}
	if !json.Valid(payload) {
		t.Fatalf("Slack payload is not JSON: %q", payload)
	}
	if err := json.Unmarshal(payload, &msg); err != nil {
		t.Fatalf("Slack payload %q: %v", payload, err)
	}
	if n := utf8.RuneCountInString(msg.Text); n > 4000 || n == 0 || !utf8.ValidString(msg.Text) {
		t.Fatalf("posted Slack text has %d runes (valid UTF-8: %v), want 1 to 4000", n, utf8.ValidString(msg.Text))
	}
	checkSlackText(t, "posted", msg.Text)
}

// checkEmailMessage checks the rendered email: one-line subject, exactly the
// configured recipient, and no payload markup in the HTML: it has as many
// tags as the HTML of the same values with < and > replaced (neutralHTML).
func checkEmailMessage(t *testing.T, p relay.Preview, neutralHTML string) {
	t.Helper()
	m := p.Message
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Fatalf("email subject %q spans lines", m.Subject)
	}
	if !slices.Equal(m.To, []string{"oncall@example.com"}) || len(m.Cc) != 0 || len(m.Bcc) != 0 {
		t.Fatalf("email recipients to %q cc %q bcc %q, want exactly oncall@example.com", m.To, m.Cc, m.Bcc)
	}
	if got, want := strings.Count(m.HTML, "<"), strings.Count(neutralHTML, "<"); got != want {
		t.Fatalf("email HTML has %d <, want %d as without markup in the payload:\n%s", got, want, m.HTML)
	}
}

// slackCapture is an in-process Slack stand-in that keeps the last payload.
type slackCapture struct {
	mu      sync.Mutex
	payload []byte
}

func (s *slackCapture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.payload = b
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

func (s *slackCapture) last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payload
}
