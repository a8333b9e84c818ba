package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadConfig: every webhook goes to a webhook notifier posting to the
// test's sink over keep-alive connections. %s: state dir, sink URL.
const reloadConfig = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[replicate]
secret = "${E2E_SECRET}"
[state]
dir = %q
[notifiers.sink]
type = "webhook"
url = %q
[[rules]]
name = "everything"
notify = ["sink"]
`

// TestReloadClosesIdleConnections: every reload builds new notifiers with
// new HTTP clients; the replaced ones' idle keep-alive connections are
// closed, so 40 reloads, each followed by a delivery, leave the daemon's
// open files where they were (they grew by one connection per reload).
func TestReloadClosesIdleConnections(t *testing.T) {
	dir := t.TempDir()
	sink := &slackRecorder{}
	sinkAddr, _ := serveOn(t, "127.0.0.1:0", sink)
	cfg := writeConfig(t, dir, fmt.Sprintf(reloadConfig, filepath.Join(dir, "state"), "http://"+sinkAddr+"/hook"))
	d := startBinary(t, cfg, "E2E_SECRET="+e2eSecret)
	deliver := func(i int) {
		t.Helper()
		if status, answer := d.post(t, withID(t, fmt.Sprintf("reload-%03d", i)), trainingQuery, ""); status != 200 {
			t.Fatalf("post = %d %s", status, answer)
		}
		eventually(t, "the delivery", 10*time.Second, func() bool { return len(sink.delivered()) == i+1 })
	}
	deliver(0)
	before := openFiles(t, d)
	const reloads = 40
	for i := 1; i <= reloads; i++ {
		d.cmd.Process.Signal(syscall.SIGHUP)
		want := fmt.Sprintf("hooknote_config_reloads_total{result=\"success\"} %d\n", i)
		eventually(t, "the reload", 10*time.Second, func() bool { return strings.Contains(scrape(t, d.admin+"/metrics"), want) })
		deliver(i)
	}
	after := openFiles(t, d)
	t.Logf("open files: %d before %d reloads, %d after", before, reloads, after)
	if after > before+5 {
		t.Errorf("open files grew from %d to %d over %d reloads, want the replaced notifiers' connections closed", before, after, reloads)
	}
}

// openFiles counts the daemon's open file descriptors.
func openFiles(t *testing.T, d *daemonProc) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}
