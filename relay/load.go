package relay

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/templates"
)

// Builder decodes the notifier-specific keys of one [notifiers.NAME] table
// with decode (which also resolves ${VAR} and *_file secrets) and builds the
// notifier and the templates relay must render for it.
type Builder func(decode func(v any) error) (notifiers.Notifier, notifiers.Templates, error)

// notifierConfig is what every notifier package's Config provides.
type notifierConfig interface {
	Templates() notifiers.Templates
}

// Build returns the Builder for a notifier package: its Config type and its
// New. main wires one line per notifier type: "slack": relay.Build(slack.New).
func Build[C notifierConfig, N notifiers.Notifier](newNotifier func(C) (N, error)) Builder {
	return func(decode func(v any) error) (notifiers.Notifier, notifiers.Templates, error) {
		var c C
		if err := decode(&c); err != nil {
			return nil, notifiers.Templates{}, err
		}
		n, err := newNotifier(c)
		if err != nil {
			return nil, notifiers.Templates{}, err
		}
		return n, c.Templates(), nil
	}
}

// Sample is a webhook body every template is rendered against at load.
type Sample struct {
	Name  string
	Body  []byte
	Query string
}

// LoadOptions are what Load needs besides the file.
type LoadOptions struct {
	Builders map[string]Builder // notifier type → builder
	Samples  []Sample           // rendered against at load
	Env      *Env               // nil: the process environment, *_file beside the config
}

// Config is a loaded, validated, fully built configuration: rules compiled,
// notifiers constructed, templates parsed and rendered against the samples.
// It is immutable; a reload builds a new one.
type Config struct {
	Path      string
	File      File
	Rules     []*Rule
	routes    *routes
	notifiers map[string]*notifierEntry
	verifier  *Verifier
}

type notifierEntry struct {
	name, typ string
	n         notifiers.Notifier
	tmpl      *compiled
	rate      Rate
	timeout   time.Duration
}

// Load reads, validates and builds the config at path. The error lists
// every problem, one per line: "config.toml:31: rules[2].notify[0]: unknown
// notifier \"slak\"".
func Load(path string, opts LoadOptions) (*Config, error) {
	src, env, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	if opts.Env != nil {
		env = *opts.Env
	}
	return Parse(path, src, env, opts)
}

// Parse is Load for a config already in memory; name is used in errors.
func Parse(name, src string, env Env, opts LoadOptions) (*Config, error) {
	lines := scanKeyLines(src)
	f, raw, errs := decodeFile(src, env)
	if f == nil {
		return nil, placeErrors(name, lines, errs)
	}
	errs = append(errs, f.validate()...)
	c := &Config{Path: name, File: *f, notifiers: map[string]*notifierEntry{}}
	set, err := templates.New(f.Templates.Files)
	if err != nil {
		errs = append(errs, fieldErr("templates.files", "%s", err))
	}
	errs = append(errs, c.buildNotifiers(raw, env, set, opts.Builders)...)
	errs = append(errs, c.buildRules(raw)...)
	if secrets := f.secrets(); len(secrets) > 0 {
		c.verifier, err = NewVerifier(secrets, f.Replicate.Tolerance.Duration, time.Now)
		if err != nil {
			errs = append(errs, fieldErr("replicate.secret", "%s", err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, c.renderSamples(opts.Samples)...)
	}
	if err := placeErrors(name, lines, errs); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) buildNotifiers(raw *rawConfig, env Env, set *templates.Set, builders map[string]Builder) []error {
	var errs []error
	names := make([]string, 0, len(raw.notifiers))
	for name := range raw.notifiers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := joinPath("notifiers", name)
		prim := raw.notifiers[name]
		var common notifierSection
		cerrs, notCommon := decodeSection(raw.md, prim, &common, path)
		if len(cerrs) > 0 {
			errs = append(errs, cerrs...)
			continue
		}
		build, ok := builders[common.Type]
		if !ok {
			errs = append(errs, fieldErr(path+".type", "unknown notifier type %q (have %s)", common.Type, typeList(builders)))
			continue
		}
		decode := func(v any) error {
			derrs, notPackage := decodeSection(raw.md, prim, v, path)
			var unknown []string // keys neither relay nor the notifier package takes
			for _, k := range notCommon {
				if slices.Contains(notPackage, k) {
					unknown = append(unknown, k)
				}
			}
			derrs = append(derrs, unknownKeyErrs(path, unknown)...)
			return errors.Join(append(derrs, env.resolve(v, path)...)...)
		}
		n, tmpl, err := build(decode)
		if err != nil {
			errs = append(errs, prefixErrors(path, err)...)
			continue
		}
		e := &notifierEntry{name: name, typ: common.Type, n: n, rate: common.Rate, timeout: common.Timeout.Duration}
		if e.timeout == 0 {
			e.timeout = 10 * time.Second
		}
		var terrs []error
		if set != nil {
			e.tmpl, terrs = compileTemplates(set, path, tmpl)
		}
		errs = append(errs, terrs...)
		c.notifiers[name] = e
	}
	if od := c.File.Delivery.OnDead; od != "" {
		if _, ok := raw.notifiers[od]; !ok {
			errs = append(errs, fieldErr("delivery.on_dead", "unknown notifier %q", od))
		}
	}
	return errs
}

func (c *Config) buildRules(raw *rawConfig) []error {
	var errs []error
	known := map[string]bool{} // declared, even if it failed to build (reported there)
	for name := range raw.notifiers {
		known[name] = true
	}
	seen := map[string]int{}
	for i, s := range c.File.Rules {
		r, rerrs := compileRule(i, s, known)
		errs = append(errs, rerrs...)
		if j, dup := seen[r.Name]; dup {
			errs = append(errs, fieldErr(fmt.Sprintf("rules[%d].name", i), "%q is also the name of rules[%d] (names key the dedupe records)", r.Name, j))
		}
		seen[r.Name] = i
		dupNotify := map[string]bool{}
		for j, n := range r.Notify {
			if dupNotify[n] {
				errs = append(errs, fieldErr(fmt.Sprintf("rules[%d].notify[%d]", i, j), "%q is listed twice", n))
			}
			dupNotify[n] = true
		}
		c.Rules = append(c.Rules, r)
	}
	c.routes = newRoutes(c.Rules)
	return errs
}

// renderSamples renders every notifier's templates against every sample, so
// that a template that cannot render is a config error, not a 3 a.m. surprise.
func (c *Config) renderSamples(samples []Sample) []error {
	var errs []error
	for _, s := range samples {
		q, _ := url.ParseQuery(s.Query)
		ev, err := DecodeEvent(s.Body, q, time.Unix(1735689600, 0).UTC())
		if err != nil {
			errs = append(errs, fmt.Errorf("sample %q: %w", s.Name, err))
			continue
		}
		for _, name := range c.NotifierNames() {
			e := c.notifiers[name]
			ev.Rule, ev.Notifier = "sample", name
			_, tmplErr, fatal := e.tmpl.render(ev, "sample")
			if errors.Is(fatal, errNoRecipients) {
				fatal = nil // recipients from the query may be absent in a sample
			}
			if tmplErr != nil || fatal != nil {
				errs = append(errs, fieldErr(joinPath("notifiers", name), "rendering sample %q: %s", s.Name, oneLine(errors.Join(tmplErr, fatal).Error())))
			}
		}
	}
	return errs
}

// NotifierNames returns the configured notifier names, sorted.
func (c *Config) NotifierNames() []string {
	names := make([]string, 0, len(c.notifiers))
	for n := range c.notifiers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WriteRoutes prints the routing table: one line per rule.
func (c *Config) WriteRoutes(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tKIND\tSTATUS\tMODEL\tQUERY\tWHEN\tNOTIFY")
	for _, r := range c.Rules {
		s := c.File.Rules[r.Index]
		var q []string
		for _, qc := range r.query {
			q = append(q, qc.key+"="+qc.g.pattern)
		}
		stop := ""
		if r.Stop {
			stop = " (stop)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s%s\n", r.Name, orAny(s.Kind), orAny(strings.Join(s.Status, ",")),
			orAny(s.Model), orAny(strings.Join(q, "&")), orAny(s.When), strings.Join(r.Notify, ","), stop)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "NOTIFIER\tTYPE\tRATE\tTIMEOUT")
	for _, name := range c.NotifierNames() {
		e := c.notifiers[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, e.typ, e.rate, e.timeout)
	}
	return tw.Flush()
}

func orAny(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func typeList(b map[string]Builder) string {
	var t []string
	for k := range b {
		t = append(t, k)
	}
	sort.Strings(t)
	return strings.Join(t, ", ")
}

// FirstSecret returns the first configured signing secret, for `hooknote
// send`; "" when there is none.
func (c *Config) FirstSecret() string {
	if s := c.File.secrets(); len(s) > 0 {
		return s[0]
	}
	return ""
}
