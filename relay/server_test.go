package relay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/store"
	"github.com/hooknote/hooknote/store/bolt"
)

const testSecret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"

const intakeConfig = `
[server]
max_body = "64KiB"
[replicate]
secret = "` + testSecret + `"
[notifiers.a]
type = "fake"
[[rules]]
name = "failed"
status = ["failed"]
notify = ["a"]
[[rules]]
name = "progress"
status = ["processing"]
notify = ["a"]
`

// faultyStore fails every Enqueue: the store refuses to lie.
type faultyStore struct{ store.Store }

func (faultyStore) Enqueue(context.Context, store.Webhook) (store.Enqueued, error) {
	return store.Enqueued{}, errors.New("disk full")
}

func newTestRelay(t *testing.T, wrap func(store.Store) store.Store) *Relay {
	t.Helper()
	cfg, err := LoadText("c.toml", intakeConfig, testEnv(t, nil), LoadOptions{Builders: fakeBuilders(nil)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var s store.Store = st
	if wrap != nil {
		s = wrap(st)
	}
	return New(cfg, s, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
}

func signedRequest(t *testing.T, target, id string, body []byte) *http.Request {
	t.Helper()
	now := time.Now()
	sig, err := replicate.Sign(testSecret, id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	return req
}

func TestIntakeAnswers(t *testing.T) {
	failed, _ := os.ReadFile("../testdata/samples/prediction-failed.json")
	succeeded, _ := os.ReadFile("../testdata/samples/prediction-succeeded.json")
	path := "/webhooks/replicate"
	r := newTestRelay(t, nil)
	h := r.IntakeHandler()
	cases := []struct {
		name     string
		req      func() *http.Request
		wantCode int
		wantBody string
	}{
		{name: "accepted", req: func() *http.Request { return signedRequest(t, path+"?customId=batch-7", "msg_1", failed) }, wantCode: 200, wantBody: `{"accepted":1,"duplicate":false}`},
		{name: "same webhook-id", req: func() *http.Request { return signedRequest(t, path+"?customId=batch-7", "msg_1", failed) }, wantCode: 200, wantBody: `{"accepted":0,"duplicate":true}`},
		{name: "same event, fresh webhook-id", req: func() *http.Request { return signedRequest(t, path+"?customId=batch-7", "msg_2", failed) }, wantCode: 200, wantBody: `{"accepted":0,"duplicate":true}`},
		{name: "no rule matches", req: func() *http.Request { return signedRequest(t, path+"?customId=batch-7", "msg_3", succeeded) }, wantCode: 200, wantBody: `{"accepted":0}`},
		{name: "late non-terminal after terminal", req: func() *http.Request {
			return signedRequest(t, path+"?customId=batch-7", "msg_late", []byte(strings.Replace(string(failed), `"status": "failed"`, `"status": "processing"`, 1)))
		}, wantCode: 200, wantBody: `{"accepted":0,"duplicate":false}`},
		{name: "query differs from signed webhook URL", req: func() *http.Request { return signedRequest(t, path+"?customId=batch-8", "msg_4", failed) }, wantCode: 400},
		{name: "bad signature", req: func() *http.Request {
			req := signedRequest(t, path+"?customId=batch-7", "msg_5", failed)
			req.Header.Set("webhook-signature", "v1,R7pEM9GNgOX18ICm9D6bcpvQwcK3yGu5UHHFtH/I7as=")
			return req
		}, wantCode: 401},
		{name: "missing headers", req: func() *http.Request {
			return httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(failed)))
		}, wantCode: 401},
		{name: "not an object", req: func() *http.Request { return signedRequest(t, path, "msg_6", []byte(`[1]`)) }, wantCode: 400},
		{name: "no id", req: func() *http.Request { return signedRequest(t, path, "msg_7", []byte(`{"status":"failed"}`)) }, wantCode: 400, wantBody: `{"error":"body has no \"id\" string"}`},
		{name: "duplicate key", req: func() *http.Request {
			return signedRequest(t, path, "msg_8", []byte(`{"id":"x","status":"failed","status":"succeeded"}`))
		}, wantCode: 400},
		{name: "too large", req: func() *http.Request {
			return signedRequest(t, path, "msg_9", []byte(`{"id":"x","status":"failed","logs":"`+strings.Repeat("a", 70<<10)+`"}`))
		}, wantCode: 413},
		{name: "GET", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }, wantCode: 405},
		{name: "healthz", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, "/healthz", nil) }, wantCode: 200},
		{name: "no metrics on intake", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, "/metrics", nil) }, wantCode: 404},
		{name: "no dead letters on intake", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, "/dead", nil) }, wantCode: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req())
			body := strings.TrimSpace(w.Body.String())
			if w.Code != tc.wantCode {
				t.Fatalf("code = %d (%s), want %d", w.Code, body, tc.wantCode)
			}
			if tc.wantBody != "" && body != tc.wantBody {
				t.Errorf("body = %s, want %s", body, tc.wantBody)
			}
		})
	}
}

// TestIntakeStoreFailure: when the store cannot commit, nothing is
// acknowledged (503, so Replicate retries).
func TestIntakeStoreFailure(t *testing.T) {
	failed, _ := os.ReadFile("../testdata/samples/prediction-failed.json")
	r := newTestRelay(t, func(s store.Store) store.Store { return faultyStore{s} })
	w := httptest.NewRecorder()
	r.IntakeHandler().ServeHTTP(w, signedRequest(t, "/webhooks/replicate?customId=batch-7", "msg_1", failed))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("code = %d %s, want 503", w.Code, w.Body)
	}
}

// TestIntakeClosedStore: a closed store (file gone, shutting down) is 503 too.
func TestIntakeClosedStore(t *testing.T) {
	failed, _ := os.ReadFile("../testdata/samples/prediction-failed.json")
	var st store.Store
	r := newTestRelay(t, func(s store.Store) store.Store { st = s; return s })
	st.Close()
	w := httptest.NewRecorder()
	r.IntakeHandler().ServeHTTP(w, signedRequest(t, "/webhooks/replicate?customId=batch-7", "msg_1", failed))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("code = %d %s, want 503", w.Code, w.Body)
	}
	r.Drain()
	w = httptest.NewRecorder()
	r.IntakeHandler().ServeHTTP(w, signedRequest(t, "/webhooks/replicate?customId=batch-7", "msg_2", failed))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("draining: code = %d, want 503", w.Code)
	}
}

// blockingStore holds every Enqueue until release is closed.
type blockingStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (b blockingStore) Enqueue(ctx context.Context, w store.Webhook) (store.Enqueued, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.Enqueue(ctx, w)
}

// TestIntakeInFlightCap: beyond server.max_in_flight verified webhooks,
// requests are answered 503 at once instead of queueing without bound; a
// request still sending its body (unverified) holds no slot.
func TestIntakeInFlightCap(t *testing.T) {
	cfg, err := LoadText("c.toml", strings.Replace(intakeConfig, `max_body = "64KiB"`, "max_body = \"64KiB\"\nmax_in_flight = 1", 1),
		testEnv(t, nil), LoadOptions{Builders: fakeBuilders(nil)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bs := blockingStore{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	h := New(cfg, bs, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{}).IntakeHandler()
	failed, err := os.ReadFile("../testdata/samples/prediction-failed.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(id string, body io.Reader) <-chan int {
		code := make(chan int, 1)
		req := signedRequest(t, "/webhooks/replicate?customId=batch-7", id, failed)
		req.Body = io.NopCloser(body)
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			code <- w.Code
		}()
		return code
	}
	// A signed request still sending its body is not verified: no slot.
	pr, pw := io.Pipe()
	slow := post("msg_slow", pr)
	pw.Write(failed[:10])

	first := post("msg_1", bytes.NewReader(failed))
	<-bs.entered // verified, recording: it holds the only slot
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signedRequest(t, "/webhooks/replicate?customId=batch-7", "msg_2", failed))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("second verified request = %d (Retry-After %q), want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	close(bs.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first request = %d, want 200", code)
	}
	pw.Write(failed[10:])
	pw.Close()
	go func() {
		for range bs.entered {
		}
	}()
	if code := <-slow; code != http.StatusOK {
		t.Errorf("slow request = %d, want 200 once its body arrived", code)
	}
	close(bs.entered)
}

// TestIntakeEarlyAnswerCloses: a request answered before its body was read
// (here: no Standard Webhooks headers) gets its answer at once and the
// connection is closed, even while the client holds back the rest of a
// small body; net/http would otherwise read that rest first, and a client
// trickling it would hold the 401 until the server's read timeout.
func TestIntakeEarlyAnswerCloses(t *testing.T) {
	r := newTestRelay(t, nil)
	srv := httptest.NewUnstartedServer(r.IntakeHandler())
	srv.Config.ReadTimeout = time.Hour // only the fix can answer in time
	srv.Start()
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /webhooks/replicate HTTP/1.1\r\nHost: hooknote\r\nContent-Length: 1000\r\n\r\n{")
	c.SetReadDeadline(time.Now().Add(time.Minute)) // a failure, not a measurement: the answer is due at once
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer while the body is held back: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("answer %d, Connection: close %v; want 401 and the connection closed", resp.StatusCode, resp.Close)
	}
}

// TestIntakeLogLine: a webhook's log line names its event, the jobs it
// matched and how many were accepted, or the error that refused it.
func TestIntakeLogLine(t *testing.T) {
	failed, _ := os.ReadFile("../testdata/samples/prediction-failed.json")
	for _, tc := range []struct {
		name string
		wrap func(store.Store) store.Store
		want []string
	}{
		{name: "accepted", want: []string{"msg=webhook", "event_id=r8p2kq5t9hrj00cm4x3z1w7v6e", "status=failed", "kind=prediction",
			"matched=failed→a", "accepted=1", "result=accepted", "code=200"}},
		{name: "store failing", wrap: func(s store.Store) store.Store { return faultyStore{s} },
			want: []string{"msg=webhook", "event_id=r8p2kq5t9hrj00cm4x3z1w7v6e", "matched=failed→a", `error="disk full"`, "result=unavailable", "code=503"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			r := newTestRelay(t, tc.wrap)
			r.log = slog.New(slog.NewTextHandler(&log, nil))
			r.IntakeHandler().ServeHTTP(httptest.NewRecorder(), signedRequest(t, "/webhooks/replicate?customId=batch-7", "msg_1", failed))
			for _, want := range tc.want {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %s:\n%s", want, log.String())
				}
			}
		})
	}
}
