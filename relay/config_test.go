package relay

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testEnv(t *testing.T, vars map[string]string) config.Env {
	t.Helper()
	return config.Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, Dir: t.TempDir()}
}

const goodConfig = `
[replicate]
secret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"
[notifiers.a]
type = "fake"
[[rules]]
name = "r"
notify = ["a"]
`

func TestParseDefaults(t *testing.T) {
	c, err := LoadText("config.toml", goodConfig, testEnv(t, nil), LoadOptions{Builders: fakeBuilders(nil)})
	if err != nil {
		t.Fatal(err)
	}
	f := c.File
	got := []any{f.Server.Listen, f.Server.AdminListen, f.Server.Path, int64(f.Server.MaxBody), f.Delivery.Workers,
		f.Delivery.MaxAttempts, f.Delivery.Backoff.Duration, f.Delivery.MaxBackoff.Duration, f.State.Dir, f.State.DedupeFor.Duration, c.notifiers["a"].timeout}
	want := []any{"127.0.0.1:9187", "127.0.0.1:9188", "/webhooks/replicate", int64(25 << 20), 4,
		10, 2 * time.Second, 10 * time.Minute, "./state", 168 * time.Hour, 10 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

// TestConfigErrors checks the exact error text for every bad config in
// testdata/config/*.toml against its .golden file (go test -update).
func TestConfigErrors(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/*.toml")
	if len(files) == 0 {
		t.Fatal("no testdata/config/*.toml")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			env := testEnv(t, map[string]string{"SET": "value"})
			_, err = LoadText(filepath.Base(file), string(src), env, LoadOptions{Builders: fakeBuilders(nil)})
			if err == nil {
				t.Fatalf("LoadText(%s) succeeded, want errors", file)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, _ := os.ReadFile(golden)
			if got != string(want) {
				t.Errorf("LoadText(%s) errors:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

// TestConfigErrorsOneLine: every problem is one line, whatever the keys and
// values hold.
func TestConfigErrorsOneLine(t *testing.T) {
	for _, src := range []string{
		"[[rules]]\nquery = { \"x\\ny\" = \"[\" }\nnotify = [\"a\"]\n",
		"[replicate]\nallow_unsigned = true\n[notifiers.\"a\\nb\"]\ntype = \"nope\"\n",
		"x = \"a\\\n",
	} {
		_, err := LoadText("c.toml", src, testEnv(t, nil), LoadOptions{Builders: fakeBuilders(nil)})
		if err == nil {
			t.Fatalf("LoadText(%q) succeeded", src)
		}
		for _, e := range config.Flatten([]error{err}) {
			if strings.ContainsAny(e.Error(), "\r\n") {
				t.Errorf("LoadText(%q) error %q spans several lines", src, e)
			}
		}
	}
}
