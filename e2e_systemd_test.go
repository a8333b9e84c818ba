package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a stand-in for systemd's notification socket.
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &notifySocket{path: path, msgs: make(chan string, 256)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.msgs <- string(buf[:n])
		}
	}()
	return s
}

// expect waits for a message containing want, skipping WATCHDOG=1 pings
// unless they are what is wanted; it returns the message.
func (s *notifySocket) expect(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-s.msgs:
			if strings.Contains(m, want) {
				return m
			}
			if m != "WATCHDOG=1" {
				t.Logf("sd_notify: %q (waiting for %q)", m, want)
			}
		case <-deadline:
			t.Fatalf("no sd_notify message %q", want)
		}
	}
}

// TestSystemdLifecycle drives the binary like systemd: READY, WATCHDOG,
// RELOADING+READY on SIGHUP with a new rule that then fires, a broken config
// refused while the old rules keep firing, and STOPPING plus exit 0 on
// SIGTERM with a request in flight completed.
func TestSystemdLifecycle(t *testing.T) {
	e := newRelayEnv(t, "127.0.0.1:0")
	sock := listenNotify(t)
	d := startBinary(t, e.config, append(e.env, "NOTIFY_SOCKET="+sock.path, "WATCHDOG_USEC=300000")...)
	sock.expect(t, "READY=1")
	sock.expect(t, "WATCHDOG=1")

	// The failed prediction with customId other-1 matches no rule yet.
	failed := strings.ReplaceAll(string(sample(t, "prediction-failed.json")), "batch-7", "other-1")
	if _, a := d.post(t, []byte(failed), "customId=other-1", "msg_sd_1"); a != `{"accepted":0}` {
		t.Fatalf("before reload: %s", a)
	}

	// Reload with a new rule: Slack for every failure.
	orig, _ := os.ReadFile(e.config)
	withRule := string(orig) + "\n[[rules]]\nname = \"all-failures\"\nstatus = [\"failed\"]\nnotify = [\"slack\"]\n"
	os.WriteFile(e.config, []byte(withRule), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	if m := sock.expect(t, "RELOADING=1"); !regexp.MustCompile(`MONOTONIC_USEC=\d+`).MatchString(m) {
		t.Errorf("RELOADING without MONOTONIC_USEC: %q", m)
	}
	sock.expect(t, "READY=1")
	failed2 := strings.ReplaceAll(failed, "r8p2kq5t9hrj00cm4x3z1w7v6e", "after-reload")
	if _, a := d.post(t, []byte(failed2), "customId=other-1", "msg_sd_2"); a != `{"accepted":1,"duplicate":false}` {
		t.Fatalf("after reload: %s", a)
	}
	eventually(t, "the new rule's Slack message", 10*time.Second, func() bool { return len(e.slack.delivered()) == 1 })

	// A broken config is refused; the previous one keeps serving.
	os.WriteFile(e.config, []byte(withRule+"\n[[rules]]\nnotify = [\"slak\"]\n"), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	sock.expect(t, "RELOADING=1")
	sock.expect(t, "READY=1")
	failed3 := strings.ReplaceAll(failed, "r8p2kq5t9hrj00cm4x3z1w7v6e", "after-bad-reload")
	if _, a := d.post(t, []byte(failed3), "customId=other-1", "msg_sd_3"); a != `{"accepted":1,"duplicate":false}` {
		t.Fatalf("after refused reload: %s", a)
	}
	eventually(t, "the old rules still firing", 10*time.Second, func() bool { return len(e.slack.delivered()) == 2 })
	if !strings.Contains(d.logs(), "reload refused") || !strings.Contains(d.logs(), `unknown notifier \"slak\"`) {
		t.Errorf("refused reload not logged with its reason:\n%s", d.logs())
	}
	if m := scrape(t, d.admin+"/metrics"); !strings.Contains(m, "hooknote_config_last_reload_successful 0") {
		t.Errorf("metrics do not say the last reload failed")
	}

	// SIGTERM while a request is in flight: it completes, then exit 0.
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.SplitN(d.intake, "/webhooks", 2)[0], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := strings.ReplaceAll(failed, "r8p2kq5t9hrj00cm4x3z1w7v6e", "in-flight")
	req := signedRawRequest(t, d.intake+"?customId=other-1", "msg_sd_4", body)
	half := len(req) - len(body)/2
	conn.Write([]byte(req[:half]))
	time.Sleep(200 * time.Millisecond) // the server is reading this request
	d.cmd.Process.Signal(syscall.SIGTERM)
	sock.expect(t, "STOPPING=1")
	time.Sleep(200 * time.Millisecond)
	conn.Write([]byte(req[half:]))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(answer), `"accepted":1`) {
		t.Errorf("in-flight request = %d %s, want 200 accepted", resp.StatusCode, answer)
	}
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code = %d, want 0\n%s", code, d.logs())
	}
}

// signedRawRequest is an HTTP/1.1 POST as raw text, signed like Replicate.
func signedRawRequest(t *testing.T, target, id, body string) string {
	t.Helper()
	u := strings.TrimPrefix(target, "http://")
	host, path, _ := strings.Cut(u, "/")
	now := time.Now()
	sig, err := signFor(id, now, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("POST /%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"webhook-id: %s\r\nwebhook-timestamp: %d\r\nwebhook-signature: %s\r\nConnection: close\r\n\r\n%s",
		path, host, len(body), id, now.Unix(), sig, body)
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	return string(b)
}
