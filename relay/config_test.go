package relay

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testEnv(t *testing.T, vars map[string]string) Env {
	t.Helper()
	return Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, Dir: t.TempDir()}
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
	c, err := Parse("config.toml", goodConfig, testEnv(t, nil), LoadOptions{Builders: fakeBuilders(nil)})
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
			_, err = Parse(filepath.Base(file), string(src), env, LoadOptions{Builders: fakeBuilders(nil)})
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want errors", file)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, _ := os.ReadFile(golden)
			if got != string(want) {
				t.Errorf("Parse(%s) errors:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	env := testEnv(t, map[string]string{"A": "x", "EMPTY": ""})
	cases := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "x"},
		{in: "a-${A}-b", want: "a-x-b"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${UNSET:-dflt}", want: "dflt"},
		{in: "${A:-dflt}", want: "x"},
		{in: "$${A}", want: "${A}"},
		{in: "$A {{ .X }}", want: "$A {{ .X }}"},
		{in: "${UNSET}", err: `environment variable "UNSET" is not set (use ${UNSET:-default} for a default)`},
		{in: "${A", err: `unterminated ${ in "${A"`},
		{in: "${1X}", err: `invalid variable name "1X" in ${1X}`},
	}
	for _, tc := range cases {
		got, err := env.expandString(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("expandString(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("expandString(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSecretFiles(t *testing.T) {
	creds, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(creds, "token"), []byte("from-credentials\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "other"), []byte("beside-config\r\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "webhook-secret"), []byte("whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi\n"), 0o600)
	env := Env{Lookup: func(k string) (string, bool) {
		if k == "CREDENTIALS_DIRECTORY" {
			return creds, true
		}
		return "", false
	}, Dir: dir}
	for _, tc := range []struct{ file, want string }{{"token", "from-credentials"}, {"other", "beside-config"}} {
		got := map[string]*fakeNotifier{}
		src := strings.Replace(goodConfig, `type = "fake"`, `type = "fake"`+"\ntoken_file = \""+tc.file+"\"", 1)
		src = strings.Replace(src, `secret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"`, `secret_file = "webhook-secret"`, 1)
		if _, err := Parse("c.toml", src, env, LoadOptions{Builders: fakeBuilders(got)}); err != nil {
			t.Fatalf("token_file %q: %v", tc.file, err)
		}
		if _, ok := got["|"+tc.want]; !ok {
			t.Errorf("token_file %q: notifier built with %v, want token %q", tc.file, keys(got), tc.want)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSizeRateDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"25MiB", 25 << 20, true}, {"512KiB", 512 << 10, true}, {"10MB", 10e6, true}, {"1024", 1024, true}, {"0", 0, false}, {"-1MiB", 0, false}, {"lots", 0, false}} {
		var s Size
		err := s.UnmarshalText([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && int64(s) != tc.want) {
			t.Errorf("Size(%q) = %d, %v, want %d ok=%v", tc.in, s, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{{"1/s", 1, true}, {"30/m", 0.5, true}, {"3600/h", 1, true}, {"0/s", 0, false}, {"1/d", 0, false}, {"x", 0, false}} {
		var r Rate
		err := r.UnmarshalText([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && float64(r.Limit) != tc.want) {
			t.Errorf("Rate(%q) = %v, %v, want %v ok=%v", tc.in, r.Limit, err, tc.want, tc.ok)
		}
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
		_, err := Parse("c.toml", src, testEnv(t, nil), LoadOptions{Builders: fakeBuilders(nil)})
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", src)
		}
		for _, e := range flatten([]error{err}) {
			if strings.ContainsAny(e.Error(), "\r\n") {
				t.Errorf("Parse(%q) error %q spans several lines", src, e)
			}
		}
	}
}
