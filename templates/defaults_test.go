package templates

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestDefaults renders every default event template against the sample
// events and compares with testdata/NAME.golden (slack.blocks pretty-printed);
// -update rewrites the files.
func TestDefaults(t *testing.T) {
	renders := []rendering{
		{template: "slack.text", esc: Slack},
		{template: "slack.blocks", esc: Blocks},
		{template: "slack.thread", esc: Slack},
		{template: "email.subject", esc: Line},
		{template: "email.text", esc: None},
		{template: "email.html", html: true},
		{template: "webhook.body", esc: None},
	}
	set := newSet(t, nil)
	for _, tc := range sampleEvents() {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, tc.name, renderAll(t, set, renders, tc.ev))
		})
	}
}

// TestDigestDefaults renders every default digest template against the
// sample digest and compares with testdata/digest.golden (webhook.digest
// pretty-printed); -update rewrites it.
func TestDigestDefaults(t *testing.T) {
	renders := []rendering{
		{template: "slack.digest", esc: Slack},
		{template: "email.digest_subject", esc: Line},
		{template: "email.digest_text", esc: None},
		{template: "email.digest_html", html: true},
		{template: "webhook.digest", esc: None},
	}
	checkGolden(t, "digest", renderAll(t, newSet(t, nil), renders, sampleDigest()))
}

// rendering is one template rendered for a golden file, and how.
type rendering struct {
	template string
	html     bool
	esc      Escape
}

// renderAll renders each template with data, one after the other under a
// "==== name ====" line. A rendering that must be JSON (slack.blocks,
// webhook.body, webhook.digest) must be valid; slack.blocks and
// webhook.digest are pretty-printed.
func renderAll(t *testing.T, set *Set, renders []rendering, data any) string {
	t.Helper()
	var b strings.Builder
	for _, r := range renders {
		out := render(t, set, r.template, r.html, r.esc, data)
		switch r.template {
		case "webhook.body":
			if !json.Valid([]byte(out)) {
				t.Errorf("%s = %q, want valid JSON", r.template, out)
			}
		case "slack.blocks", "webhook.digest":
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, []byte(out), "", "  "); err != nil {
				t.Errorf("%s = %q, want valid JSON: %v", r.template, out, err)
			} else {
				out = pretty.String()
			}
		}
		b.WriteString("==== " + r.template + " ====\n" + out + "\n")
	}
	return b.String()
}

// checkGolden compares got with testdata/NAME.golden, which -update
// rewrites first.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("rendered %s mismatch (-want +got):\n%s", name, diff)
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

// TestEveryNameRenders renders every defined template, as hooknote check
// does, in every text mode and as HTML: an event template against every
// sample event, a digest template (its name says digest) against the sample
// digest and a digest of each sample event alone. Each rendering says
// something (the status at least, every status of a digest) and leaks no
// "<no value>" or "<nil>" of a missing field; slack.thread says nothing for
// a status that is not final, and only then.
func TestEveryNameRenders(t *testing.T) {
	type dot struct {
		name     string
		data     any
		statuses []string
	}
	var events, digests []dot
	digests = append(digests, dot{name: "sample digest", data: sampleDigest(), statuses: []string{"succeeded", "failed", "canceled"}})
	for _, tc := range sampleEvents() {
		events = append(events, dot{name: tc.name, data: tc.ev, statuses: []string{tc.ev.Status}})
		ev := tc.ev
		d := NewDigest("rule", "notifier", nil, at(0), at(60), []*event{&ev})
		digests = append(digests, dot{name: "digest of " + tc.name, data: d, statuses: []string{tc.ev.Status}})
	}
	set := newSet(t, nil)
	for _, name := range set.Names() {
		dots := events
		if strings.Contains(name, "digest") {
			dots = digests
		}
		for _, tc := range dots {
			for _, mode := range []struct {
				html bool
				esc  Escape
			}{{false, Slack}, {false, None}, {false, Blocks}, {true, None}} {
				out := render(t, set, name, mode.html, mode.esc, tc.data)
				if name == "slack.thread" {
					ev := tc.data.(event)
					if final := ev.Status != "starting" && ev.Status != "processing"; !final {
						if strings.TrimSpace(out) != "" {
							t.Errorf("%s (html %v, %v) on %s = %q, want nothing for a status that is not final", name, mode.html, mode.esc, tc.name, out)
						}
						continue
					}
				}
				switch {
				case strings.TrimSpace(out) == "":
					t.Errorf("%s (html %v, %v) on %s rendered nothing", name, mode.html, mode.esc, tc.name)
				case strings.Contains(out, "<no value>") || strings.Contains(out, "<nil>") ||
					strings.Contains(out, "&lt;no value&gt;") || strings.Contains(out, "&lt;nil&gt;"):
					t.Errorf("%s (html %v, %v) on %s printed a missing value:\n%s", name, mode.html, mode.esc, tc.name, out)
				}
				for _, status := range tc.statuses {
					if !strings.Contains(strings.ToLower(out), status) {
						t.Errorf("%s (html %v, %v) on %s does not say the status %q:\n%s", name, mode.html, mode.esc, tc.name, status, out)
					}
				}
			}
		}
	}
}
