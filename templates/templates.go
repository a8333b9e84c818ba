// Package templates holds hooknote's default templates and template
// functions, and parses and executes the templates relay renders for each
// notification (DESIGN §4).
//
// The data a template receives is a replicate.Event, or for a digest a
// Digest of events (NewDigest), read only through the template engine; this
// package imports nothing else of hooknote, and knows no notifier, rule or
// store.
//
// Escaping. Text templates are text/template with one of four Escape modes.
// In every mode each printing action ({{ pipeline }} with no variable
// declaration) gets a last function appended to its pipeline by rewriting a
// private copy of the parse trees: slackEscape in Slack mode (slackBlock
// inside a ``` code block), the same followed by jsonString in Blocks mode,
// str otherwise.
// str prints a value as text/template would, except that nil — a missing key
// of Input or Raw, a JSON null — prints as "" instead of "<no value>". Missing
// map keys evaluate to the zero value (missingkey=zero), so a missing
// .Query.customId is "" and never an error. HTML templates are html/template,
// which prints nil as "" itself.
package templates

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// defaults are the built-in templates, parsed before any user file.
//
//go:embed *.tmpl
var defaults embed.FS

// Escape says how values printed by template actions are escaped.
type Escape int

const (
	// None prints values as they are: email text parts, webhook bodies.
	None Escape = iota
	// Slack passes every printed value through slackEscape (& < > become
	// &amp; &lt; &gt;), in the template and every template it calls, so that
	// a payload cannot mention (<!channel>, <@U…>) or spoof a link, while the
	// template's literal markup (<url|text>, *bold*) still works. A value
	// already marked with slackRaw is printed as is.
	Slack
	// Line makes the whole output one line: every run of CR, LF and other
	// control characters becomes one space, and the ends are trimmed (email
	// subjects, recipients, channels).
	Line
	// Blocks is for a template that renders a JSON document whose literal
	// text is the template's (a Slack Block Kit array): every printed value
	// is escaped as in Slack mode and then as the contents of a JSON string,
	// without the quotes, which the template writes ("text": "*{{ .Model }}*"),
	// so that a value can neither mention nor break the JSON. A value marked
	// with slackRaw is not Slack-escaped but still JSON-escaped. Values belong
	// inside the template's strings: json, or an explicit jsonString, would be
	// escaped once more.
	Blocks
)

// String returns the mode's name.
func (e Escape) String() string {
	switch e {
	case None:
		return "none"
	case Slack:
		return "slack"
	case Line:
		return "line"
	case Blocks:
		return "blocks"
	}
	return fmt.Sprintf("Escape(%d)", int(e))
}

// Set is the default templates plus the user's template files, parsed once.
// Templates parsed from a Set can call every template the Set defines. A Set
// is immutable and safe for concurrent use.
type Set struct {
	text  *template.Template     // never executed; cloned by Parse
	html  *htmltemplate.Template // never executed; cloned by ParseHTML
	names []string               // defined template names, sorted
}

// New parses the default templates and then the files matching each glob
// pattern in files, in order. A {{ define }} in a user file replaces a
// default (or an earlier file's) template of the same name. A bad pattern, a
// pattern matching no file, an unreadable file and a parse error are errors;
// a parse error names the file and line.
func New(files []string) (*Set, error) {
	s := &Set{
		text: template.New("hooknote").Funcs(Funcs()).Option("missingkey=zero"),
		html: htmltemplate.New("hooknote").Funcs(Funcs()).Option("missingkey=zero"),
	}
	sources, err := readSources(files)
	if err != nil {
		return nil, err
	}
	isFile := map[string]bool{}
	for _, src := range sources {
		isFile[src.name] = true
		if _, err := s.text.New(src.name).Parse(src.text); err != nil {
			return nil, fmt.Errorf("parse templates: %w", err)
		}
		if _, err := s.html.New(src.name).Parse(src.text); err != nil {
			return nil, fmt.Errorf("parse html templates: %w", err)
		}
	}
	for _, t := range s.text.Templates() {
		if !isFile[t.Name()] && t.Name() != s.text.Name() {
			s.names = append(s.names, t.Name())
		}
	}
	slices.Sort(s.names)
	return s, nil
}

// source is one template file's name (its path) and text.
type source struct {
	name, text string
}

// readSources returns the default templates, then the files matching
// patterns, each file once.
func readSources(patterns []string) ([]source, error) {
	var sources []source
	names, err := fs.Glob(defaults, "*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("list default templates: %w", err)
	}
	for _, name := range names {
		b, err := defaults.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read default templates: %w", err)
		}
		sources = append(sources, source{name: "defaults/" + name, text: string(b)})
	}
	seen := map[string]bool{}
	for _, pattern := range patterns {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("template files %q: %w", pattern, err)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("template files %q: no file matches", pattern)
		}
		for _, p := range paths {
			if seen[p] {
				continue
			}
			seen[p] = true
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("read template file: %w", err)
			}
			sources = append(sources, source{name: p, text: string(b)})
		}
	}
	return sources, nil
}

// Names returns the names of the templates the Set defines, sorted.
func (s *Set) Names() []string {
	return slices.Clone(s.names)
}

// Parse parses src, a text/template body that may call any template of the
// Set ({{ template "slack.text" . }}), escaped as esc says. name names the
// template in errors (notifiers.ml-alerts.text); it must not be one of the
// Set's defined names. Templates defined in src are seen only by this
// template. A call to an undefined template, in src or in any template it
// reaches, is a parse error.
func (s *Set) Parse(name, src string, esc Escape) (*Template, error) {
	switch esc {
	case None, Line, Slack, Blocks:
	default:
		return nil, fmt.Errorf("parse template %q: unknown escape mode %v", name, esc)
	}
	if s.text.Lookup(name) != nil {
		return nil, fmt.Errorf("parse template %q: the name is already defined", name)
	}
	set, err := s.text.Clone()
	if err != nil {
		return nil, fmt.Errorf("parse template %q: %w", name, err)
	}
	t, err := set.New(name).Parse(src)
	if err != nil {
		return nil, err // text/template's error names the template and line
	}
	rewrite(set, esc)
	lookup := func(name string) *parse.Tree {
		if c := set.Lookup(name); c != nil {
			return c.Tree
		}
		return nil
	}
	if err := checkCalls(t.Tree, lookup); err != nil {
		return nil, err
	}
	return &Template{text: t, esc: esc}, nil
}

// ParseHTML parses src as an html/template body, with the same functions
// and the Set's templates parsed as HTML, so that every value is escaped for
// its HTML context. name is as for Parse.
func (s *Set) ParseHTML(name, src string) (*Template, error) {
	if s.html.Lookup(name) != nil {
		return nil, fmt.Errorf("parse html template %q: the name is already defined", name)
	}
	set, err := s.html.Clone()
	if err != nil {
		return nil, fmt.Errorf("parse html template %q: %w", name, err)
	}
	t, err := set.New(name).Parse(src)
	if err != nil {
		return nil, err // html/template's error names the template and line
	}
	lookup := func(name string) *parse.Tree {
		if c := set.Lookup(name); c != nil {
			return c.Tree
		}
		return nil
	}
	if err := checkCalls(t.Tree, lookup); err != nil {
		return nil, err
	}
	return &Template{html: t}, nil
}

// Template is one parsed template, ready to execute. It is safe for
// concurrent use.
type Template struct {
	text *template.Template
	html *htmltemplate.Template
	esc  Escape
}

// Execute renders the template with data as its dot and returns the text.
// An error names the template, the line and the action that failed.
func (t *Template) Execute(data any) (string, error) {
	var b strings.Builder
	var err error
	if t.html != nil {
		err = t.html.Execute(&b, data)
	} else {
		err = t.text.Execute(&b, data)
	}
	if err != nil {
		return "", err
	}
	if t.esc == Line {
		return oneLine(b.String()), nil
	}
	return b.String(), nil
}
