package relay

// Benchmarks of the intake path, stage by stage, and of the whole intake
// handler (bench/README.md). Signature verification is BenchmarkVerify
// (signature_test.go); the store's group commit is BenchmarkEnqueueParallel
// (store/bench_test.go).

import (
	"bytes"
	"encoding/json"
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

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/relay/store"
	"github.com/hooknote/hooknote/templates"
)

func benchEnv(b *testing.B) Env {
	b.Helper()
	return Env{Lookup: func(string) (string, bool) { return "", false }, Dir: b.TempDir()}
}

// BenchmarkDecodeEvent decodes a 1.9 KB succeeded prediction as intake does
// (check + only what matching needs) and completely, as the dispatcher does
// before rendering.
func BenchmarkDecodeEvent(b *testing.B) {
	body := body19K(b) // a succeeded prediction
	q := url.Values{"customId": {"batch-7"}}
	now := time.Unix(1735689600, 0)
	for _, full := range []bool{false, true} {
		name := "intake"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := decodeEvent(body, q, now, full); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// plainPrediction is the struct bench/baseline's verify mode decodes into.
type plainPrediction struct {
	ID, Model, Version, Deployment, Source, Logs, Status, Webhook string
	Input                                                         map[string]any
	Output, Error                                                 any
	CreatedAt                                                     time.Time  `json:"created_at"`
	StartedAt                                                     *time.Time `json:"started_at"`
	CompletedAt                                                   *time.Time `json:"completed_at"`
	URLs                                                          struct{ Get, Cancel, Web, Stream string }
	Metrics                                                       map[string]float64
}

// BenchmarkDecodePlain is the reference for BenchmarkDecodeEvent: one
// encoding/json decode of the same body into a plain struct, as the verify
// baseline server does.
func BenchmarkDecodePlain(b *testing.B) {
	body := body19K(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var p plainPrediction
		if err := json.Unmarshal(body, &p); err != nil || p.ID == "" {
			b.Fatal(err)
		}
	}
}

// matchConfig returns a config of n rules that all must be evaluated for an
// event of model acme/upscaler with customId=target: even rules differ by
// customId, odd ones by model, and only the last one matches.
func matchConfig(n int, when bool) string {
	var s strings.Builder
	s.WriteString("[replicate]\nsecret = \"" + testSecret + "\"\n[notifiers.a]\ntype = \"fake\"\n")
	for i := range n {
		model, custom := "acme/*", fmt.Sprintf("batch-%d-*", i)
		if i%2 == 1 {
			model, custom = fmt.Sprintf("acme/model-%d", i), "*"
		}
		if i == n-1 {
			model, custom = "acme/upscaler", "target"
		}
		fmt.Fprintf(&s, "[[rules]]\nname = \"r%d\"\nstatus = [\"terminal\"]\nmodel = %q\nquery = { customId = %q }\nnotify = [\"a\"]\n", i, model, custom)
		if when {
			s.WriteString("when = 'Metrics.PredictTime > 1'\n")
		}
	}
	return s.String()
}

func BenchmarkMatch(b *testing.B) {
	for _, tc := range []struct {
		rules int
		when  bool
	}{{rules: 1}, {rules: 100}, {rules: 1000}, {rules: 100, when: true}} {
		name := fmt.Sprintf("rules=%d", tc.rules)
		if tc.when {
			name += "/when"
		}
		b.Run(name, func(b *testing.B) {
			cfg, err := Parse("bench.toml", matchConfig(tc.rules, tc.when), benchEnv(b), LoadOptions{Builders: fakeBuilders(nil)})
			if err != nil {
				b.Fatal(err)
			}
			ev, err := DecodeEvent(body19K(b), url.Values{"customId": {"target"}}, time.Unix(1735689600, 0))
			if err != nil {
				b.Fatal(err)
			}
			if got := cfg.routes.match(ev); len(got) != 1 {
				b.Fatalf("match() = %v, want only the last rule", got)
			}
			b.ReportAllocs()
			for b.Loop() {
				cfg.routes.match(ev)
			}
		})
	}
}

// failedEvent decodes the failed prediction sample with its webhook query.
func failedEvent(b *testing.B) *Event {
	b.Helper()
	body, err := os.ReadFile("../testdata/samples/prediction-failed.json")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := SampleQuery(body)
	if err != nil {
		b.Fatal(err)
	}
	q, _ := url.ParseQuery(raw)
	ev, err := DecodeEvent(body, q, time.Unix(1735689600, 0))
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
				if _, tmplErr, fatal := c.render(ev, "job-1"); tmplErr != nil || fatal != nil {
					b.Fatal(tmplErr, fatal)
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
	sig, err := Sign(testSecret, "msg_"+id, now, body)
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
	cfg, err := Parse("bench.toml", src, benchEnv(b), LoadOptions{Builders: fakeBuilders(nil)})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(filepath.Join(b.TempDir(), "s.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := New(cfg, st, log, Options{Metrics: NewInstruments(prometheus.NewRegistry())})
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
