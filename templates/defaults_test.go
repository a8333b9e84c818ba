package templates

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestDefaults renders every default template against the sample events and
// compares with testdata/NAME.golden; -update rewrites the files.
func TestDefaults(t *testing.T) {
	renders := []struct {
		template string
		html     bool
		esc      Escape
	}{
		{template: "slack.text", esc: Slack},
		{template: "email.subject", esc: Line},
		{template: "email.text", esc: None},
		{template: "email.html", html: true},
		{template: "webhook.body", esc: None},
	}
	set := newSet(t, nil)
	for _, tc := range sampleEvents() {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			for _, r := range renders {
				out := render(t, set, r.template, r.html, r.esc, tc.ev)
				if r.template == "webhook.body" && !json.Valid([]byte(out)) {
					t.Errorf("webhook.body = %q, want valid JSON", out)
				}
				b.WriteString("==== " + r.template + " ====\n" + out + "\n")
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run go test -update): %v", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("rendered %s mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

// newSet returns New(files) or fails the test.
func newSet(t *testing.T, files []string) *Set {
	t.Helper()
	set, err := New(files)
	if err != nil {
		t.Fatalf("New(%q) = %v", files, err)
	}
	return set
}

// render parses {{ template "name" . }} and executes it with data.
func render(t *testing.T, set *Set, name string, html bool, esc Escape, data any) string {
	t.Helper()
	src := `{{ template "` + name + `" . }}`
	var tmpl *Template
	var err error
	if html {
		tmpl, err = set.ParseHTML("test."+name, src)
	} else {
		tmpl, err = set.Parse("test."+name, src, esc)
	}
	if err != nil {
		t.Fatalf("Parse(%q) = %v", src, err)
	}
	out, err := tmpl.Execute(data)
	if err != nil {
		t.Fatalf("Execute(%q) = %v", name, err)
	}
	return out
}

// TestEveryNameRenders renders every defined template against every sample
// event, as hooknote check does, as text and as HTML: each rendering says
// something (the event's status at least) and leaks no "<no value>" or
// "<nil>" of a missing field.
func TestEveryNameRenders(t *testing.T) {
	set := newSet(t, nil)
	for _, name := range set.Names() {
		for _, tc := range sampleEvents() {
			for _, mode := range []struct {
				html bool
				esc  Escape
			}{{false, Slack}, {false, None}, {true, None}} {
				out := render(t, set, name, mode.html, mode.esc, tc.ev)
				switch {
				case strings.TrimSpace(out) == "":
					t.Errorf("%s (html %v, %v) on %s rendered nothing", name, mode.html, mode.esc, tc.name)
				case strings.Contains(out, "<no value>") || strings.Contains(out, "<nil>") ||
					strings.Contains(out, "&lt;no value&gt;") || strings.Contains(out, "&lt;nil&gt;"):
					t.Errorf("%s (html %v, %v) on %s printed a missing value:\n%s", name, mode.html, mode.esc, tc.name, out)
				case !strings.Contains(strings.ToLower(out), tc.ev.Status):
					t.Errorf("%s (html %v, %v) on %s does not say the status %q:\n%s", name, mode.html, mode.esc, tc.name, tc.ev.Status, out)
				}
			}
		}
	}
}
