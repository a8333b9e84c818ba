package email

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hooknote/hooknote/notifiers"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// testConfig is a STARTTLS + AUTH config for ts.
func testConfig(ts *testServer) Config {
	return Config{
		Host:     "127.0.0.1",
		Port:     ts.Port,
		CAFile:   ts.CAFile,
		Username: testUser,
		Password: notifiers.NewSecret(testPassword),
		From:     "hooknote <relay@example.com>",
		To:       []string{"oncall@example.com"},
	}
}

// testMessage is a rendered message as relay would pass it.
func testMessage() notifiers.Message {
	return notifiers.Message{
		ID:      "job-42.succeeded",
		Subject: "✅ training succeeded: acme/upscaler",
		Text:    "Training acme/upscaler succeeded in 4m12s.\nhttps://replicate.com/p/abc\n",
		HTML:    "<p>Training <b>acme/upscaler</b> succeeded in 4m12s.</p>\n",
		To:      []string{"Oncall <oncall@example.com>"},
		Cc:      []string{"team@example.com"},
		Bcc:     []string{"audit@example.com"},
	}
}

// testDeps are the dependencies every test notifier gets: no HTTP client
// (email does not speak HTTP) and a logger that discards.
func testDeps() notifiers.Deps {
	return notifiers.Deps{Log: slog.New(slog.DiscardHandler)}
}

func newNotifier(t *testing.T, c Config) *Notifier {
	t.Helper()
	n, err := New(c, testDeps())
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return n
}

func TestNotifyDelivers(t *testing.T) {
	ts := startServer(t, serverOptions{requireAuth: true})
	n := newNotifier(t, testConfig(ts))
	if err := n.Notify(t.Context(), testMessage()); err != nil {
		t.Fatalf("Notify() = %v, want nil", err)
	}
	msgs := ts.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	envelope := received{From: got.From, To: got.To, TLS: got.TLS, AuthUser: got.AuthUser}
	want := received{
		From:     "relay@example.com",
		To:       []string{"oncall@example.com", "team@example.com", "audit@example.com"},
		TLS:      true,
		AuthUser: testUser,
	}
	if diff := cmp.Diff(want, envelope); diff != "" {
		t.Errorf("envelope mismatch (-want +got):\n%s", diff)
	}
	if strings.Count(got.Data, "\n") != strings.Count(got.Data, "\r\n") {
		t.Errorf("message has a bare LF; want CRLF line endings")
	}

	msg, err := mail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatalf("ReadMessage() = %v", err)
	}
	headers := map[string]string{
		"Bcc":            "",
		"Message-Id":     "<job-42.succeeded@hooknote>",
		"Auto-Submitted": "auto-generated",
		"From":           `"hooknote" <relay@example.com>`,
		"To":             `"Oncall" <oncall@example.com>`,
		"Cc":             "<team@example.com>",
	}
	for k, want := range headers {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if _, ok := msg.Header["Bcc"]; ok {
		t.Errorf("message has a Bcc header")
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != testMessage().Subject {
		t.Errorf("Subject = %q (%v), want %q", subject, err, testMessage().Subject)
	}
	wantParts := []part{
		{"text/plain", testMessage().Text},
		{"text/html", testMessage().HTML},
	}
	if diff := cmp.Diff(wantParts, alternatives(t, msg)); diff != "" {
		t.Errorf("parts mismatch (-want +got):\n%s", diff)
	}
	checkGolden(t, "message.eml.golden", normalise(got.Data, msg))
}

// TestNotifySessionFailsAfterDelivery checks that a session that breaks
// after the server accepted the message counts as delivered, so relay sends
// no duplicate, and that the notifier's logger hears of it.
func TestNotifySessionFailsAfterDelivery(t *testing.T) {
	ts := startServer(t, serverOptions{requireAuth: true, hangUp: true})
	var logged syncBuffer
	d := notifiers.Deps{Log: slog.New(slog.NewTextHandler(&logged, nil))}
	n, err := New(testConfig(ts), d)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if err := n.Notify(t.Context(), testMessage()); err != nil {
		t.Errorf("Notify() = %v, want nil", err)
	}
	if got := len(ts.Messages()); got != 1 {
		t.Errorf("server received %d messages, want 1", got)
	}
	line := logged.String()
	if !strings.Contains(line, "smtp session then failed") || !strings.Contains(line, "error=") {
		t.Errorf("log = %q, want the failure after delivery", line)
	}
	if strings.Contains(line, testPassword) {
		t.Errorf("log = %q, want no password", line)
	}
}

// TestNewWithoutLogger checks that the zero Deps will do for email.
func TestNewWithoutLogger(t *testing.T) {
	ts := startServer(t, serverOptions{hangUp: true})
	n, err := New(testConfig(ts), notifiers.Deps{})
	if err != nil {
		t.Fatalf("New(Deps{}) = %v", err)
	}
	if err := n.Notify(t.Context(), testMessage()); err != nil {
		t.Errorf("Notify() = %v, want nil", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// part is one decoded MIME part.
type part struct{ ContentType, Body string }

// alternatives decodes the parts of a multipart/alternative message.
func alternatives(t *testing.T, msg *mail.Message) []part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", mt, err)
	}
	var parts []part
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			return parts
		}
		if err != nil {
			t.Fatalf("NextPart() = %v", err)
		}
		var body io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts = append(parts, part{ct, strings.ReplaceAll(string(b), "\r\n", "\n")})
	}
}

var dateHeader = regexp.MustCompile(`(?m)^Date: .*\r\n`)

// normalise replaces what changes on every send (the date, the MIME
// boundary) and turns CRLF into LF for a readable golden file.
func normalise(data string, msg *mail.Message) string {
	data = dateHeader.ReplaceAllString(data, "Date: <DATE>\r\n")
	if _, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type")); err == nil && params["boundary"] != "" {
		data = strings.ReplaceAll(data, params["boundary"], "<BOUNDARY>")
	}
	return strings.ReplaceAll(data, "\r\n", "\n")
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read golden file (run with -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", file, diff)
	}
}

func TestNotifyTLSModes(t *testing.T) {
	tests := []struct {
		name     string
		server   serverOptions
		config   func(*Config)
		wantTLS  bool
		wantUser string
	}{{
		name:     "starttls to localhost",
		server:   serverOptions{requireAuth: true},
		config:   func(c *Config) { c.Host = "localhost" },
		wantTLS:  true,
		wantUser: testUser,
	}, {
		name:     "implicit tls",
		server:   serverOptions{implicitTLS: true, requireAuth: true},
		config:   func(c *Config) { c.TLS = "tls" },
		wantTLS:  true,
		wantUser: testUser,
	}, {
		name:   "none on loopback without auth",
		server: serverOptions{},
		config: func(c *Config) { c.TLS, c.CAFile, c.Username, c.Password = "none", "", "", notifiers.Secret{} },
	}, {
		name:     "none on loopback with auth",
		server:   serverOptions{insecureAuth: true, requireAuth: true},
		config:   func(c *Config) { c.TLS, c.CAFile = "none", "" },
		wantUser: testUser,
	}, {
		name:     "opportunistic with starttls offered",
		server:   serverOptions{requireAuth: true},
		config:   func(c *Config) { c.TLS = "opportunistic" },
		wantTLS:  true,
		wantUser: testUser,
	}, {
		name:   "opportunistic without starttls and without auth",
		server: serverOptions{noSTARTTLS: true},
		config: func(c *Config) { c.TLS, c.Username, c.Password = "opportunistic", "", notifiers.Secret{} },
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.server)
			c := testConfig(ts)
			tt.config(&c)
			m := testMessage()
			if err := newNotifier(t, c).Notify(t.Context(), m); err != nil {
				t.Fatalf("Notify() = %v, want nil", err)
			}
			msgs := ts.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			if msgs[0].TLS != tt.wantTLS || msgs[0].AuthUser != tt.wantUser {
				t.Errorf("Notify() delivered with TLS %v as %q, want TLS %v as %q",
					msgs[0].TLS, msgs[0].AuthUser, tt.wantTLS, tt.wantUser)
			}
		})
	}
}

// TestNotifyHonoursContext shows that ctx bounds the whole SMTP dialogue,
// not only the dial: a server that never greets is abandoned on cancel.
func TestNotifyHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c // hold the connection, never greet
		}
	}()
	c := Config{
		Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: "none",
		From: "relay@example.com", To: []string{"oncall@example.com"},
	}
	n := newNotifier(t, c)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- n.Notify(ctx, testMessage()) }()
	conn := <-accepted
	defer conn.Close()
	cancel()
	err = <-errc
	if err == nil || notifiers.IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("Notify(canceled) = %v, want a transient error wrapping context.Canceled", err)
	}
}

func TestNotifyConcurrent(t *testing.T) {
	ts := startServer(t, serverOptions{requireAuth: true})
	n := newNotifier(t, testConfig(ts))
	const sends = 8
	errc := make(chan error, sends)
	for i := range sends {
		go func() {
			m := testMessage()
			m.ID = fmt.Sprintf("job-%d", i)
			errc <- n.Notify(t.Context(), m)
		}()
	}
	for range sends {
		if err := <-errc; err != nil {
			t.Errorf("Notify() = %v, want nil", err)
		}
	}
	if got := len(ts.Messages()); got != sends {
		t.Errorf("server received %d messages, want %d", got, sends)
	}
}
