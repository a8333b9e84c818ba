package relay

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/relay/retry"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/rules"
	"github.com/hooknote/hooknote/templates"
)

// Builder decodes the notifier-specific keys of one [notifiers.NAME] table
// with decode (which also resolves ${VAR} and *_file secrets) and builds the
// notifier, with deps, and the templates relay must render for it.
type Builder func(decode func(v any) error, deps notifiers.Deps) (notifiers.Notifier, notifiers.Templates, error)

// notifierConfig is what every notifier package's Config provides.
type notifierConfig interface {
	Templates() notifiers.Templates
}

// Build returns the Builder for a notifier package: its Config type and its
// New. main wires one line per notifier type: "slack": relay.Build(slack.New).
func Build[C notifierConfig, N notifiers.Notifier](newNotifier func(C, notifiers.Deps) (N, error)) Builder {
	return func(decode func(v any) error, deps notifiers.Deps) (notifiers.Notifier, notifiers.Templates, error) {
		var c C
		if err := decode(&c); err != nil {
			return nil, notifiers.Templates{}, err
		}
		n, err := newNotifier(c, deps)
		if err != nil {
			return nil, notifiers.Templates{}, err
		}
		return n, c.Templates(), nil
	}
}

// LoadOptions are what Load needs besides the file.
type LoadOptions struct {
	Builders map[string]Builder // notifier type → builder
	Samples  []replicate.Sample // rendered against at load
	Env      *config.Env        // nil: the process environment, *_file beside the config
	Logger   *slog.Logger       // given to the notifiers; nil discards
}

// Config is a loaded, validated, fully built configuration: rules messageTemplates,
// notifiers constructed, templates parsed and rendered against the samples.
// It is immutable; a reload builds a new one.
type Config struct {
	Path      string
	File      *config.File
	Rules     *rules.Set
	notifiers map[string]*notifierEntry
	verifier  *replicate.Verifier
	policy    retry.Policy
}

type notifierEntry struct {
	name, path, typ string
	n               notifiers.Notifier
	client          *http.Client // the notifier's own (notifiers.Deps)
	retired         atomic.Bool  // a reload replaced it: close the client's connections once idle
	tmpl            *messageTemplates
	checker         notifiers.Checker // nil: the notifier checks nothing before sending
	rate            config.Rate
	timeout         time.Duration
}

// Load reads, validates and builds the config at path. The error lists
// every problem, one per line: "config.toml:31: rules[2].notify[0]: unknown
// notifier \"slak\"".
func Load(path string, opts LoadOptions) (*Config, error) {
	src, env, err := config.Read(path)
	if err != nil {
		return nil, err
	}
	if opts.Env != nil {
		env = *opts.Env
	}
	return LoadText(path, src, env, opts)
}

// LoadText is Load for a config already in memory; name is used in errors.
func LoadText(name, src string, env config.Env, opts LoadOptions) (*Config, error) {
	f, errs := config.Parse(src, env)
	if f == nil {
		return nil, config.Place(name, src, errs)
	}
	c := &Config{Path: name, File: f, notifiers: map[string]*notifierEntry{}, policy: retry.New(f.Delivery, rand.Float64)}
	set, err := templates.New(f.Templates.Files)
	if err != nil {
		errs = append(errs, config.At("templates.files", err))
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	errs = append(errs, c.buildNotifiers(set, opts.Builders, log)...)
	var rerrs []error
	c.Rules, rerrs = rules.New(f.Rules)
	errs = append(errs, rerrs...)
	if secrets := f.Secrets(); len(secrets) > 0 {
		c.verifier, err = replicate.NewVerifier(secrets, f.Replicate.Tolerance.Duration, time.Now)
		if err != nil {
			errs = append(errs, config.At("replicate.secret", err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, c.renderSamples(opts.Samples)...)
	}
	if err := config.Place(name, src, errs); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) buildNotifiers(set *templates.Set, builders map[string]Builder, log *slog.Logger) []error {
	var errs []error
	for _, nc := range c.File.Notifiers {
		if !nc.Valid() {
			continue // its common keys are reported already
		}
		build, ok := builders[nc.Type]
		if !ok {
			errs = append(errs, config.Errorf(nc.Path()+".type", "unknown notifier type %q (have %s)", nc.Type, typeList(builders)))
			continue
		}
		// Every worker may send to the same host at once: keep that many
		// connections idle rather than dialing anew (issue 11).
		client := notifiers.NewHTTPClient(c.File.Delivery.Workers)
		n, tmpl, err := build(nc.Decode, notifiers.Deps{HTTP: client, Log: log.With("notifier", nc.Name)})
		if err != nil {
			errs = append(errs, placeNotifierErrors(nc.Path(), err)...)
			continue
		}
		e := &notifierEntry{name: nc.Name, path: nc.Path(), typ: nc.Type, n: n, client: client, rate: nc.Rate, timeout: nc.Timeout}
		e.checker, _ = n.(notifiers.Checker)
		if _, ok := n.(notifiers.Live); tmpl.Live && !ok {
			errs = append(errs, config.At(nc.Path()+".mode", errNotLive))
		}
		if set != nil {
			var terrs []error
			e.tmpl, terrs = compileTemplates(set, nc.Path(), tmpl)
			errs = append(errs, terrs...)
		}
		c.notifiers[nc.Name] = e
	}
	return errs
}

// placeNotifierErrors places what a notifier package's Validate reports:
// a *notifiers.FieldError at its key under path, anything else at path.
func placeNotifierErrors(path string, err error) []error {
	var out []error
	for _, e := range config.Flatten([]error{err}) {
		var ce *config.Error
		var fe *notifiers.FieldError
		switch {
		case errors.As(e, &ce):
			out = append(out, e)
		case errors.As(e, &fe):
			out = append(out, config.At(path+"."+fe.Key, fe.Err))
		default:
			out = append(out, config.At(path, e))
		}
	}
	return out
}

// renderSamples renders every notifier's templates against every sample,
// and its digest templates against a digest of all the samples, so that a
// template that cannot render is a config error, not a 3 a.m. surprise; a
// notifier that checks messages (Slack's Block Kit limits) checks each.
func (c *Config) renderSamples(samples []replicate.Sample) []error {
	var errs []error
	var events []*replicate.Event
	at := time.Unix(1735689600, 0).UTC()
	for _, s := range samples {
		q, err := url.ParseQuery(s.Query)
		if err != nil {
			errs = append(errs, fmt.Errorf("sample %q: query: %w", s.Name, err))
			continue
		}
		ev, err := replicate.Decode(s.Body, q, at)
		if err != nil {
			errs = append(errs, fmt.Errorf("sample %q: %w", s.Name, err))
			continue
		}
		events = append(events, ev)
		for _, name := range c.NotifierNames() {
			e := c.notifiers[name]
			ev.Rule, ev.Notifier = "sample", name
			m, fatal := e.tmpl.render(ev, "sample")
			if errors.Is(fatal, errNoRecipients) {
				fatal = nil // recipients from the query may be absent in a sample
			}
			var checkErr error
			if e.checker != nil && m.Fallback == nil {
				checkErr = e.checker.Check(m.Message)
			}
			_, threadErr := e.tmpl.renderThread(ev)
			if err := errors.Join(m.Fallback, fatal, checkErr, threadErr); err != nil {
				errs = append(errs, config.Errorf(e.path, "rendering sample %q: %w", s.Name, err))
			}
		}
	}
	if len(events) == 0 {
		return errs
	}
	for _, name := range c.NotifierNames() {
		e := c.notifiers[name]
		d := templates.NewDigest("sample", name, map[string]string{"model": events[0].Model}, at, at.Add(time.Minute), events)
		m, fatal := e.tmpl.renderDigest(d, "sample")
		if errors.Is(fatal, errNoRecipients) {
			fatal = nil
		}
		if err := errors.Join(m.Fallback, fatal); err != nil {
			errs = append(errs, config.Errorf(e.path, "rendering a digest of the samples: %w", err))
		}
	}
	return errs
}

// retire closes the idle connections of the notifiers' HTTP clients once a
// reload has replaced c; a send still in progress closes its connection
// when it ends (afterSend).
func (c *Config) retire() {
	for _, e := range c.notifiers {
		e.retired.Store(true)
		e.client.CloseIdleConnections()
	}
}

// afterSend closes e's idle connections if a reload retired e while it sent.
func (e *notifierEntry) afterSend() {
	if e.retired.Load() {
		e.client.CloseIdleConnections()
	}
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
	if err := c.Rules.WriteTable(tw, c.File.Rules); err != nil {
		return err
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "NOTIFIER\tTYPE\tRATE\tTIMEOUT\tMESSAGES")
	for _, name := range c.NotifierNames() {
		e := c.notifiers[name]
		kind := "one per notification"
		if e.tmpl != nil && e.tmpl.live {
			kind = "live: one per event, updated"
		}
		if e.tmpl != nil && e.tmpl.blocks != nil {
			kind += ", Block Kit"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, e.typ, e.rate, e.timeout, kind)
	}
	return tw.Flush()
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
	if s := c.File.Secrets(); len(s) > 0 {
		return s[0]
	}
	return ""
}
