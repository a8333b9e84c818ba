package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDamagedStateRefused: serve on a state file that was emptied,
// truncated or corrupted exits 1 with one line naming the file and the
// README's recovery step: no stack dump, no crash loop, never a silent
// fresh start that forgets the acknowledged jobs.
func TestDamagedStateRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{name: "zero bytes", damage: func(t *testing.T, path string) { os.Truncate(path, 0) }},
		{name: "truncated", damage: func(t *testing.T, path string) { os.Truncate(path, 8192) }},
		{name: "corrupted", damage: func(t *testing.T, path string) { overwrite(t, path, 2*4096, 64*4096) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRelayEnv(t, "127.0.0.1:0")
			e.slack.answer = func(int) (int, http.Header, string) { return 503, nil, "down" }
			d := startBinary(t, e.config, e.env...)
			for i := range 40 {
				if status, _ := d.post(t, withID(t, "damage-"+string(rune('a'+i%26))+string(rune('a'+i/26))), trainingQuery, ""); status != 200 {
					t.Fatalf("post = %d", status)
				}
			}
			d.kill()
			state := filepath.Join(e.dir, "state", "hooknote.db")
			tc.damage(t, state)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binPath, "serve", "-config", e.config)
			cmd.Env = append(os.Environ(), e.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			out := strings.TrimSpace(stderr.String())
			if code != 1 {
				t.Fatalf("serve on a damaged state file exited %d (err %v), want 1:\n%s", code, err, out)
			}
			if strings.Contains(out, "goroutine ") || strings.Count(out, "\n") > 0 ||
				!strings.Contains(out, state) || !strings.Contains(out, "Recovering a damaged state file") {
				t.Errorf("serve said:\n%s\nwant one line naming %s and the README's recovery step", out, state)
			}
		})
	}
}

// overwrite writes n bytes of a repeating pattern at off.
func overwrite(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, int(n/4)), off); err != nil {
		t.Fatal(err)
	}
}
