package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hooknote/hooknote/replicate"
)

// binPath is the hooknote binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hooknote-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "hooknote")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hooknote:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const e2eSecret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"

// daemonProc is a running hooknote binary.
type daemonProc struct {
	t          *testing.T
	cmd        *exec.Cmd
	intake     string // http://host:port/webhooks/replicate
	admin      string // http://host:port
	mu         sync.Mutex
	log        bytes.Buffer
	exited     chan struct{}
	configPath string
}

var listeningRE = regexp.MustCompile(`msg=listening intake=(\S+) admin=(\S+)`)

// startBinary runs `hooknote serve -config path` and waits until it listens.
func startBinary(t *testing.T, configPath string, env ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, configPath: configPath, exited: make(chan struct{})}
	d.cmd = exec.Command(binPath, "serve", "-config", configPath)
	d.cmd.Env = append(os.Environ(), env...)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.log.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				ready <- [2]string{m[1], m[2]}
			}
		}
		d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() { d.kill() })
	select {
	case a := <-ready:
		d.intake, d.admin = a[0], a[1]
	case <-d.exited:
		t.Fatalf("hooknote exited before listening:\n%s", d.logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("hooknote did not start listening:\n%s", d.logs())
	}
	return d
}

func (d *daemonProc) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// kill sends SIGKILL (a crash) and waits for the process to be gone.
func (d *daemonProc) kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// post signs body with e2eSecret and POSTs it with the given query and id.
func (d *daemonProc) post(t *testing.T, body []byte, query, id string) (int, string) {
	t.Helper()
	u := d.intake
	if query != "" {
		u += "?" + query
	}
	status, answer, err := postSigned(http.DefaultClient, u, e2eSecret, id, body)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return status, strings.TrimSpace(answer)
}

// tryPost is post for goroutines other than the test's: it returns the
// error instead of failing the test.
func (d *daemonProc) tryPost(body []byte, query, id string) (int, string, error) {
	u := d.intake
	if query != "" {
		u += "?" + query
	}
	status, answer, err := postSigned(http.DefaultClient, u, e2eSecret, id, body)
	return status, strings.TrimSpace(answer), err
}

// waitDrained waits until the daemon's queue is empty — every job delivered
// or dead-lettered, as its /metrics says — so that what a test counts next
// is final: nothing queued is left to arrive.
func (d *daemonProc) waitDrained(t *testing.T, timeout time.Duration) {
	t.Helper()
	eventually(t, "the queue to drain", timeout, func() bool {
		return strings.Contains(scrape(t, d.admin+"/metrics"), "\nhooknote_queue_depth 0\n")
	})
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// slackRecorder is an httptest-like Slack stand-in the tests can make fail.
type slackRecorder struct {
	mu       sync.Mutex
	texts    []string
	attempts []time.Time
	answer   func(n int) (int, http.Header, string) // nil: 200 ok
	got      chan string
}

func (s *slackRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.attempts = append(s.attempts, time.Now())
	n := len(s.attempts)
	answer := s.answer
	s.mu.Unlock()
	if answer != nil {
		if code, h, body := answer(n); code != http.StatusOK {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(code)
			io.WriteString(w, body)
			return
		}
	}
	s.mu.Lock()
	s.texts = append(s.texts, string(b))
	s.mu.Unlock()
	io.WriteString(w, "ok")
	if s.got != nil {
		s.got <- string(b)
	}
}

func (s *slackRecorder) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

// serveOn serves h on addr ("127.0.0.1:0" for any port) until the test ends.
func serveOn(t *testing.T, addr string, h http.Handler) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	stop := func() { srv.Shutdown(context.Background()); srv.Close() }
	t.Cleanup(stop)
	return l.Addr().String(), stop
}

func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signFor signs body with e2eSecret.
func signFor(id string, ts time.Time, body []byte) (string, error) {
	return replicate.Sign(e2eSecret, id, ts, body)
}
