package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooknote/hooknote/replicate"
)

const secret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"

// daemon is a running hooknote serve.
type daemon struct {
	cmd           *exec.Cmd
	intake, admin string
	dir           string
}

var listeningRE = regexp.MustCompile(`intake=(http://\S+) admin=(http://\S+)`)

// start writes config (with %s for the state dir) and runs the binary.
func start(bin, config string) (*daemon, error) {
	dir, err := os.MkdirTemp("", "hostile-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(config, filepath.Join(dir, "state"))), 0o600); err != nil {
		return nil, err
	}
	d := &daemon{dir: dir, cmd: exec.Command(bin, "serve", "-config", path)}
	d.cmd.Env = append(os.Environ(), "SECRET="+secret)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
	}()
	select {
	case m := <-ready:
		d.intake, d.admin = m[1], m[2]
		return d, nil
	case <-time.After(20 * time.Second):
		d.stop()
		return nil, fmt.Errorf("hooknote did not start")
	}
}

func (d *daemon) stop() {
	d.cmd.Process.Kill()
	d.cmd.Wait()
	os.RemoveAll(d.dir)
}

// status reads a field of /proc/PID/status in kB.
func (d *daemon) status(field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// cpu is the daemon's user+system CPU time so far.
func (d *daemon) cpu() time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ = 100
}

// post signs body and POSTs it.
func (d *daemon) post(body []byte, query string) (int, string, error) {
	id := make([]byte, 8)
	rand.Read(id)
	now := time.Now()
	sig, err := replicate.Sign(secret, "msg_"+hex.EncodeToString(id), now, body)
	if err != nil {
		return 0, "", err
	}
	req, _ := http.NewRequest(http.MethodPost, d.intake+"?"+query, bytes.NewReader(body))
	req.Header.Set("webhook-id", "msg_"+hex.EncodeToString(id))
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// body is a prediction with event id id and the given output JSON.
func body(id, query, output string) []byte {
	return []byte(`{"id":"` + id + `","model":"acme/m","version":"v","status":"succeeded","input":{},"logs":"",` +
		`"output":` + output + `,"error":null,"created_at":"2025-01-01T00:00:00Z",` +
		`"urls":{"get":"https://api.replicate.com/v1/predictions/` + id + `"},` +
		`"webhook":"https://hooks.example.com/webhooks/replicate?` + query + `"}`)
}

// sink records the webhook notifier's deliveries: the time each event id
// arrived.
type sink struct {
	mu  sync.Mutex
	got map[string]time.Time
	n   int
	ln  net.Listener
}

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{got: map[string]time.Time{}, ln: ln}
	idRE := regexp.MustCompile(`"id":"([^"]+)"`)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		s.n++
		if m := idRE.FindSubmatch(b); m != nil {
			if _, ok := s.got[string(m[1])]; !ok {
				s.got[string(m[1])] = time.Now()
			}
		}
		s.mu.Unlock()
	}))
	return s, nil
}

func (s *sink) url() string { return "http://" + s.ln.Addr().String() + "/hook" }

func (s *sink) at(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.got[id]
	return t, ok
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
