package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/notifiers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	testToken   = "xoxb-1111-2222-s3cr3tT0k3n"
	webhookPath = "/services/T0000/B0000/s3cr3tW3bh00kPath"
)

// fixedMessage is the message behind the golden files.
var fixedMessage = notifiers.Message{
	ID:      "job-1",
	Text:    "*Training succeeded* :white_check_mark:\nModel: acme/upscaler · took 3m 2s\n<https://replicate.com/p/abc|open> &amp; prompt &lt;b&gt;",
	Channel: "#ml",
}

// request is what a stand-in server received.
type request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// answer is how a stand-in server replies.
type answer struct {
	Status int
	Header map[string]string
	Body   string
}

// newServer starts a Slack stand-in that records every request on the
// returned channel and replies with a.
func newServer(t *testing.T, a answer) (*httptest.Server, <-chan request) {
	t.Helper()
	got := make(chan request, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		got <- request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		for k, v := range a.Header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.Status)
		_, _ = io.WriteString(w, a.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// testDeps are the dependencies every test notifier gets: a client of its
// own, closed when t ends, and a logger that discards.
func testDeps(t testing.TB) notifiers.Deps {
	c := notifiers.NewHTTPClient(4)
	t.Cleanup(c.CloseIdleConnections)
	return notifiers.Deps{HTTP: c, Log: slog.New(slog.DiscardHandler)}
}

// webhookNotifier returns a Notifier posting to an incoming webhook on srv.
func webhookNotifier(t *testing.T, srv *httptest.Server) *Notifier {
	t.Helper()
	n, err := New(Config{WebhookURL: notifiers.NewSecret(srv.URL + webhookPath), Username: "hooknote", IconEmoji: ":robot_face:"}, testDeps(t))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return n
}

// tokenNotifier returns a Notifier posting to a Web API stand-in on srv.
func tokenNotifier(t *testing.T, srv *httptest.Server) *Notifier {
	t.Helper()
	n, err := New(Config{Token: notifiers.NewSecret(testToken), Channel: "{{ .Query.channel }}", APIURL: srv.URL + "/api", Username: "hooknote", IconEmoji: ":robot_face:"}, testDeps(t))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return n
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestNotifyWebhookGolden(t *testing.T) {
	srv, got := newServer(t, answer{Status: http.StatusOK, Body: "ok"})
	if err := webhookNotifier(t, srv).Notify(t.Context(), fixedMessage); err != nil {
		t.Fatalf("Notify() = %v, want nil", err)
	}
	r := <-got
	if r.Path != webhookPath {
		t.Errorf("path = %q, want %q", r.Path, webhookPath)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	checkGolden(t, "webhook.golden", r.Body)
}

func TestNotifyPostMessageGolden(t *testing.T) {
	srv, got := newServer(t, answer{Status: http.StatusOK, Header: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true,"channel":"C1","ts":"1.2"}`})
	if err := tokenNotifier(t, srv).Notify(t.Context(), fixedMessage); err != nil {
		t.Fatalf("Notify() = %v, want nil", err)
	}
	r := <-got
	if r.Path != "/api/chat.postMessage" {
		t.Errorf("path = %q, want /api/chat.postMessage", r.Path)
	}
	form, err := parseForm(r)
	if err != nil {
		t.Fatal(err)
	}
	if tok := form["token"]; tok != testToken {
		t.Errorf("token sent = %q, want the configured token", tok)
	}
	delete(form, "token")
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(form); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "postmessage.golden", body.Bytes())
}

func TestNotifyTruncatesLongText(t *testing.T) {
	srv, got := newServer(t, answer{Status: http.StatusOK, Body: "ok"})
	long := notifiers.Message{Text: strings.Repeat("ab ", 3000)}
	if err := webhookNotifier(t, srv).Notify(t.Context(), long); err != nil {
		t.Fatalf("Notify() = %v, want nil", err)
	}
	var msg struct{ Text string }
	if err := json.Unmarshal((<-got).Body, &msg); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(msg.Text)); n > maxTextRunes {
		t.Errorf("sent %d runes, want at most %d", n, maxTextRunes)
	}
}

func TestNotifyEmptyChannel(t *testing.T) {
	srv, got := newServer(t, answer{Status: http.StatusOK, Body: `{"ok":true}`})
	err := tokenNotifier(t, srv).Notify(t.Context(), notifiers.Message{Text: "hi", Channel: " "})
	if !notifiers.IsPermanent(err) {
		t.Errorf("Notify(empty channel) = %v, want a permanent error", err)
	}
	if len(got) != 0 {
		t.Errorf("Notify(empty channel) sent a request, want none")
	}
}

func TestNotifyCanceledIsTransient(t *testing.T) {
	srv, _ := newServer(t, answer{Status: http.StatusOK, Body: "ok"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := webhookNotifier(t, srv).Notify(ctx, fixedMessage)
	if err == nil || notifiers.IsPermanent(err) {
		t.Errorf("Notify(canceled ctx) = %v, want a transient error", err)
	}
}

// parseForm decodes a form body into its first values.
func parseForm(r request) (map[string]string, error) {
	values, err := url.ParseQuery(string(r.Body))
	if err != nil {
		return nil, err
	}
	form := make(map[string]string, len(values))
	for k, v := range values {
		form[k] = v[0]
	}
	return form, nil
}
