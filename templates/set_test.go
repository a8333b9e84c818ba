package templates

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestUserOverride checks that a user file's define replaces the default of
// the same name, and that its other defines are added.
func TestUserOverride(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.tmpl"), `{{ define "slack.text" }}custom {{ .Status }} {{ template "extra" . }}{{ end }}`)
	writeFile(t, filepath.Join(dir, "b.tmpl"), `{{ define "extra" }}<{{ .Error }}>{{ end }}`)
	set := newSet(t, []string{filepath.Join(dir, "a.tmpl"), filepath.Join(dir, "*.tmpl")})

	got := render(t, set, "slack.text", false, Slack, event{Status: "failed", Error: "<!channel>"})
	if want := "custom failed <&lt;!channel&gt;>"; got != want {
		t.Errorf("slack.text = %q, want %q", got, want)
	}
	names := set.Names()
	for _, want := range []string{"email.html", "email.subject", "email.text", "extra", "slack.text", "webhook.body"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() = %q, want it to contain %q", names, want)
		}
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".tmpl") {
			t.Errorf("Names() = %q, contains the file %q", names, n)
		}
	}
}

// TestNewErrors checks that load errors name the pattern or the file and
// line.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tmpl")
	writeFile(t, bad, "{{ define \"x\" }}\nfine\n{{ nope . }}\n{{ end }}")
	unclosed := filepath.Join(dir, "unclosed.tmpl")
	writeFile(t, unclosed, "{{ define \"y\" }}\n{{ if . }}\n")
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{name: "bad glob", files: []string{"[x"}, want: []string{`"[x"`, "syntax error in pattern"}},
		{name: "no match", files: []string{filepath.Join(dir, "*.nothing")}, want: []string{filepath.Join(dir, "*.nothing"), "no file matches"}},
		{name: "unknown function", files: []string{bad}, want: []string{bad + ":3:", `function "nope" not defined`}},
		{name: "unclosed action", files: []string{unclosed}, want: []string{unclosed + ":", "unexpected EOF"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.files)
			if err == nil {
				t.Fatalf("New(%q) = nil error, want one containing %q", tc.files, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New(%q) = %v, want it to contain %q", tc.files, err, w)
				}
			}
		})
	}
}

// TestParseErrors checks Parse's and Execute's errors name the template.
func TestParseErrors(t *testing.T) {
	set := newSet(t, nil)
	tests := []struct {
		name string
		tmpl string
		src  string
		esc  Escape
		want string
	}{
		{name: "syntax", tmpl: "notifiers.ml-alerts.text", src: "ok\n{{ if }}", want: "notifiers.ml-alerts.text:2"},
		{name: "unknown template", tmpl: "notifiers.x.text", src: `{{ template "nope" . }}`, want: `notifiers.x.text:1:12: template "nope" not defined`},
		{name: "unknown template in define", tmpl: "y", src: "{{ define \"d\" }}\n{{ template \"nope\" }}{{ end }}{{ template \"d\" }}", want: `y:2:12: template "nope" not defined`},
		{name: "name taken", tmpl: "slack.text", src: "x", want: "already defined"},
		{name: "escape mode", tmpl: "x", src: "x", esc: Escape(9), want: "unknown escape mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := set.Parse(tc.tmpl, tc.src, tc.esc)
			if err == nil {
				_, err = tmpl.Execute(event{})
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q, %q) = %v, want an error containing %q", tc.tmpl, tc.src, err, tc.want)
			}
		})
	}
	if _, err := set.ParseHTML("h", "{{ if }}"); err == nil || !strings.Contains(err.Error(), "h:1") {
		t.Errorf("ParseHTML(%q) = %v, want an error naming h:1", "{{ if }}", err)
	}
}

// TestExecuteError checks that an execution error names the template and the
// action, and that the injected finisher does not hide the location.
func TestExecuteError(t *testing.T) {
	set := newSet(t, nil)
	for _, esc := range []Escape{None, Slack, Line} {
		tmpl, err := set.Parse("notifiers.x.text", "line one\n{{ .Nope.Field }}", esc)
		if err != nil {
			t.Fatalf("Parse(%v) = %v", esc, err)
		}
		_, err = tmpl.Execute(event{})
		if err == nil || !strings.Contains(err.Error(), "notifiers.x.text:2:") {
			t.Errorf("Execute(%v) = %v, want an error naming notifiers.x.text:2", esc, err)
		}
	}
}

// TestParseIsolation checks that a define in one parsed source is not seen
// by templates parsed later.
func TestParseIsolation(t *testing.T) {
	set := newSet(t, nil)
	if _, err := set.Parse("a", `{{ define "slack.text" }}hijacked{{ end }}`, None); err != nil {
		t.Fatalf("Parse(a) = %v", err)
	}
	got := render(t, set, "slack.text", false, Slack, event{Status: "succeeded"})
	if strings.Contains(got, "hijacked") {
		t.Errorf("slack.text = %q, want the default", got)
	}
}

// TestConcurrentExecute executes shared templates from many goroutines (run
// with -race).
func TestConcurrentExecute(t *testing.T) {
	set := newSet(t, nil)
	slack, err := set.Parse("s", `{{ template "slack.text" . }}`, Slack)
	if err != nil {
		t.Fatal(err)
	}
	html, err := set.ParseHTML("h", `{{ template "email.html" . }}`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, tc := range sampleEvents() {
				for _, tmpl := range []*Template{slack, html} {
					if _, err := tmpl.Execute(tc.ev); err != nil {
						t.Errorf("Execute(%s) = %v", tc.name, err)
					}
				}
				if _, err := set.Parse("p", `{{ template "email.text" . }}`, None); err != nil {
					t.Errorf("Parse = %v", err)
				}
			}
		})
	}
	wg.Wait()
}
