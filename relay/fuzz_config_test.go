package relay

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/replicate"
)

// FuzzParseConfig loads fuzzed TOML text with the fake notifiers. Parse must
// never panic and returns a config or an error, never both; the error is a
// list of *ConfigError, each naming the file and saying what is wrong.
// (That each prints on one line is not checked: a key or a TOML parse error
// may carry a raw line break today.) The
// seed corpus (testdata/fuzz/FuzzParseConfig) holds the configs of
// testdata/config and hostile keys and values.
func FuzzParseConfig(f *testing.F) {
	f.Add(goodConfig)
	f.Add(goodConfig + "[notifiers.\"a\\nb\"]\ntype = \"fake\"\n")
	f.Add("[[rules]]\nquery = { \"x\\ny\" = \"[\" }\nnotify = [\"a\"]\n")
	samples, err := replicate.SamplesFromFS(os.DirFS("../testdata/samples"))
	if err != nil {
		f.Fatalf("replicate.SamplesFromFS() = %v", err)
	}
	vars := map[string]string{"SET": "value", "SECRET": "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi", "EMPTY": ""}
	env := config.Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, Dir: f.TempDir()}
	f.Fuzz(func(t *testing.T, src string) {
		// *_file and templates.files read files: keep them off devices that
		// never end (a glob such as "/*/*" would reach /dev/zero).
		for _, off := range []string{"/dev", "/proc", "/sys", `\u`, `\U`} {
			if strings.Contains(src, off) {
				t.Skip()
			}
		}
		if strings.Contains(src, "files") && strings.ContainsAny(src, "*?[") {
			t.Skip()
		}
		c, err := LoadText("fuzz.toml", src, env, LoadOptions{Builders: fakeBuilders(nil), Samples: samples})
		if (c == nil) == (err == nil) {
			t.Fatalf("LoadText(%q) = %v, %v, want a config xor an error", src, c, err)
		}
		if err == nil {
			checkLoaded(t, src, c)
			return
		}
		for _, e := range config.Flatten([]error{err}) {
			var ce *config.Error
			if !errors.As(e, &ce) {
				t.Fatalf("LoadText(%q) error %q is a %T, want *config.Error", src, e, e)
			}
			if ce.File != "fuzz.toml" {
				t.Errorf("LoadText(%q) error %q names file %q, want fuzz.toml", src, e, ce.File)
			}
			if ce.Err == nil || ce.Err.Error() == "" {
				t.Errorf("LoadText(%q) error %q has no message", src, e)
			}
		}
	})
}

// checkLoaded checks what a config that loaded promises.
func checkLoaded(t *testing.T, src string, c *Config) {
	t.Helper()
	if c.verifier == nil && !c.File.Replicate.AllowUnsigned {
		t.Fatalf("LoadText(%q) loaded a config with no signing secret and allow_unsigned off", src)
	}
	for _, r := range c.Rules.Rules() {
		for _, n := range r.Notify {
			if _, ok := c.notifiers[n]; !ok {
				t.Fatalf("LoadText(%q): rule %q notifies %q, which is not built", src, r.Name, n)
			}
		}
	}
	var b strings.Builder
	if err := c.WriteRoutes(&b); err != nil {
		t.Fatalf("WriteRoutes() = %v", err)
	}
}
