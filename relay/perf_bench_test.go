package relay

// Benchmarks of the intake path, stage by stage, and of the whole intake
// handler (bench/README.md). Signature verification is BenchmarkVerify
// (signature_test.go); the store's group commit is BenchmarkEnqueueParallel
// (store/bench_test.go).

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/relay/metrics"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/store/bolt"
	"github.com/hooknote/hooknote/templates"
)

func benchEnv(b *testing.B) config.Env {
	b.Helper()
	return config.Env{Lookup: func(string) (string, bool) { return "", false }, Dir: b.TempDir()}
}

// body19K returns a realistic 1.9 KB webhook body: Vector B of the
// protocol notes (replicate/testdata) with longer logs.
func body19K(b *testing.B) []byte {
	b.Helper()
	vec, err := os.ReadFile("../replicate/testdata/vector-b.json")
	if err != nil {
		b.Fatal(err)
	}
	logs := strings.Repeat(`step 10/50: loss 0.1234 \u003cok\u003e\n`, 30)
	return bytes.Replace(vec, []byte(`"logs":"done"`), []byte(`"logs":"`+logs+`"`), 1)
}

// failedEvent decodes the failed prediction sample with its webhook query.
func failedEvent(b *testing.B) *replicate.Event {
	b.Helper()
	body, err := os.ReadFile("../testdata/samples/prediction-failed.json")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := replicate.WebhookQuery(body)
	if err != nil {
		b.Fatal(err)
	}
	q, _ := url.ParseQuery(raw)
	ev, err := replicate.Decode(body, q, time.Unix(1735689600, 0))
	if err != nil {
		b.Fatal(err)
	}
	ev.Rule, ev.Notifier = "failed", "alerts"
	return ev
}

func BenchmarkRender(b *testing.B) {
	set, err := templates.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	ev := failedEvent(b)
	for _, tc := range []struct {
		name string
		t    notifiers.Templates
	}{
		{name: "slack", t: notifiers.Templates{Text: `{{ template "slack.text" . }}`, TextFormat: notifiers.Slack}},
		{name: "email", t: notifiers.Templates{
			Subject: `{{ template "email.subject" . }}`, Text: `{{ template "email.text" . }}`,
			HTML: `{{ template "email.html" . }}`, TextFormat: notifiers.Plain, To: []string{"oncall@example.com"},
		}},
		{name: "webhook", t: notifiers.Templates{Text: `{{ template "webhook.body" . }}`, TextFormat: notifiers.Plain}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, errs := compileTemplates(set, "notifiers.alerts", tc.t)
			if len(errs) > 0 {
				b.Fatal(errs)
			}
			b.ReportAllocs()
			for b.Loop() {
				if m, fatal := c.render(ev, "job-1"); m.Fallback != nil || fatal != nil {
					b.Fatal(m.Fallback, fatal)
				}
			}
		})
	}
}

// intakeBody returns the 1.9 KB succeeded body with the "webhook" URL the
// intake benchmarks post to; its id is vecBEventID.
func intakeBody(b *testing.B) []byte {
	b.Helper()
	body := body19K(b)
	return append(body[:len(body)-1], `,"webhook":"https://hooks.example.com/webhooks/replicate?customId=bench"}`...)
}

const (
	vecBEventID  = "r8p2kq5t9hrj00cm4x3z1w7v6e"
	intakeTarget = "/webhooks/replicate?customId=bench"
)

// intakeRequest returns a signed request for a copy of body whose event id
// (and so webhook-id) is unique to n.
func intakeRequest(b *testing.B, body []byte, n uint64) *http.Request {
	id := fmt.Sprintf("bench%021d", n)
	body = bytes.ReplaceAll(body, []byte(vecBEventID), []byte(id))
	now := time.Now()
	sig, err := replicate.Sign(testSecret, "msg_"+id, now, body)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, intakeTarget, bytes.NewReader(body))
	req.Header.Set("webhook-id", "msg_"+id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	return req
}

// benchIntake returns the intake handler of a relay wired as the daemon
// wires it (metrics on, info logs formatted and discarded) over a bbolt
// store in a temporary dir. In ack mode the only rule never matches; in
// deliver mode every webhook makes one job (no dispatcher runs).
func benchIntake(b *testing.B, mode string) http.Handler {
	b.Helper()
	rule := `query = { customId = "never-matches" }`
	if mode == "deliver" {
		rule = ""
	}
	src := "[replicate]\nsecret = \"" + testSecret + "\"\n[notifiers.a]\ntype = \"fake\"\n" +
		"[[rules]]\nname = \"r\"\nstatus = [\"succeeded\"]\n" + rule + "\nnotify = [\"a\"]\n"
	cfg, err := LoadText("bench.toml", src, benchEnv(b), LoadOptions{Builders: fakeBuilders(nil)})
	if err != nil {
		b.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(b.TempDir(), "s.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := New(cfg, st, log, Options{Metrics: metrics.New(prometheus.NewRegistry())})
	return r.IntakeHandler()
}

// BenchmarkIntake posts unique signed 1.9 KB webhooks through the whole
// intake handler: parallel (32 goroutines, group commit) and serial (one
// request at a time: every request waits for its own fsync). The time
// includes building and signing each request; BenchmarkIntakeRequest is
// that part alone.
func BenchmarkIntake(b *testing.B) {
	for _, mode := range []string{"ack", "deliver"} {
		for _, parallel := range []bool{true, false} {
			name := mode + "/serial"
			if parallel {
				name = mode + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				h := benchIntake(b, mode)
				body := intakeBody(b)
				var seq atomic.Uint64
				serve := func() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, intakeRequest(b, body, seq.Add(1)))
					if rec.Code != http.StatusOK {
						b.Errorf("intake answered %d: %s", rec.Code, rec.Body)
					}
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				if !parallel {
					for b.Loop() {
						serve()
					}
					return
				}
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						serve()
					}
				})
			})
		}
	}
}

// BenchmarkIntakeRequest is the request building and signing included in
// BenchmarkIntake's time, to subtract.
func BenchmarkIntakeRequest(b *testing.B) {
	body := intakeBody(b)
	var seq atomic.Uint64
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = intakeRequest(b, body, seq.Add(1))
		_ = httptest.NewRecorder()
	}
}
