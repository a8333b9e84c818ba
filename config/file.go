package config

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hooknote/hooknote/notifiers"
)

// File is the TOML config file as decoded and checked (DESIGN §3), before
// anything is built from it.
type File struct {
	Server    Server    `toml:"server"`
	Replicate Replicate `toml:"replicate"`
	State     State     `toml:"state"`
	Delivery  Delivery  `toml:"delivery"`
	Templates Templates `toml:"templates"`
	Log       Log       `toml:"log"`
	Rules     []Rule    `toml:"-"`
	// Notifiers are the [notifiers.NAME] tables, sorted by name.
	Notifiers []*Notifier `toml:"-"`
}

// Server is [server]: the listeners.
type Server struct {
	Listen            string   `toml:"listen"`
	AdminListen       string   `toml:"admin_listen"`
	Path              string   `toml:"path"`
	MaxBody           Size     `toml:"max_body"`
	ReadTimeout       Duration `toml:"read_timeout"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	MaxInFlight       int      `toml:"max_in_flight"`
	// MaxBuffered caps the bytes of request bodies read but not yet
	// verified, all requests together (DESIGN §5 resource bounds).
	MaxBuffered Size `toml:"max_buffered"`
}

// Replicate is [replicate]: signature verification.
type Replicate struct {
	Secret        notifiers.Secret   `toml:"secret"`
	SecretFile    string             `toml:"secret_file"`
	Secrets       []notifiers.Secret `toml:"secrets"`
	Tolerance     Duration           `toml:"tolerance"`
	AllowUnsigned bool               `toml:"allow_unsigned"`
}

// State is [state]: where the store lives.
type State struct {
	// Backend is "bolt" (the embedded default) or "postgres" (several
	// instances sharing one database).
	Backend   string   `toml:"backend"`
	Dir       string   `toml:"dir"`
	DedupeFor Duration `toml:"dedupe_for"`
	// DSN is the PostgreSQL connection string (postgres only); it may
	// hold a password, so it is a secret.
	DSN     notifiers.Secret `toml:"dsn"`
	DSNFile string           `toml:"dsn_file"`
	// Lease is how long a claimed job stays with the instance that claimed
	// it without being renewed (postgres only).
	Lease Duration `toml:"lease"`
}

// Backends of [state] backend.
const (
	BackendBolt     = "bolt"
	BackendPostgres = "postgres"
)

// DefaultLease is [state] lease when unset (postgres).
const DefaultLease = 30 * time.Second

// Delivery is [delivery]: workers and the retry policy.
type Delivery struct {
	Workers     int      `toml:"workers"`
	MaxAttempts int      `toml:"max_attempts"`
	MaxAge      Duration `toml:"max_age"`
	Backoff     Duration `toml:"backoff"`
	MaxBackoff  Duration `toml:"max_backoff"`
	OnDead      string   `toml:"on_dead"`
}

// Templates is [templates]: user template files.
type Templates struct {
	Files []string `toml:"files"`
}

// Log is [log].
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Rule is one [[rules]] table.
type Rule struct {
	Name       string            `toml:"name"`
	Kind       string            `toml:"kind"`
	Status     []string          `toml:"status"`
	Model      string            `toml:"model"`
	Deployment string            `toml:"deployment"`
	Query      map[string]string `toml:"query"`
	When       string            `toml:"when"`
	Notify     []string          `toml:"notify"`
	Stop       bool              `toml:"stop"`
	// Digest, when set, gathers the rule's matches into one message per
	// notifier and group, sent once no event joined for this long.
	Digest Duration `toml:"digest"`
	// DigestMaxWait sends a digest when its first event has waited this
	// long (default 10× Digest, at most 24h).
	DigestMaxWait Duration `toml:"digest_max_wait"`
	// DigestMax sends a digest when it holds this many events (default 100).
	DigestMax int `toml:"digest_max"`
	// GroupBy names the digest groups: model, kind, status, query.KEY.
	GroupBy []string `toml:"group_by"`
}

// Digest defaults and bounds (DESIGN §3).
const (
	DefaultDigestMax  = 100
	MaxDigestMax      = 1000
	MinDigest         = time.Second
	maxDefaultMaxWait = 24 * time.Hour
)

// MaxWait is the rule's digest_max_wait, or its default: 10× digest, at
// most 24h (and never under digest).
func (r *Rule) MaxWait() time.Duration {
	if r.DigestMaxWait.Duration > 0 {
		return r.DigestMaxWait.Duration
	}
	return max(min(10*r.Digest.Duration, maxDefaultMaxWait), r.Digest.Duration)
}

// MaxEvents is the rule's digest_max, or its default.
func (r *Rule) MaxEvents() int {
	if r.DigestMax > 0 {
		return r.DigestMax
	}
	return DefaultDigestMax
}

func defaultFile(env Env) File {
	stateDir := "./state"
	if d, ok := env.Lookup("STATE_DIRECTORY"); ok && d != "" {
		stateDir = strings.Split(d, ":")[0]
	}
	return File{
		Server: Server{
			Listen:            "127.0.0.1:9187",
			AdminListen:       "127.0.0.1:9188",
			Path:              "/webhooks/replicate",
			MaxBody:           25 << 20,
			ReadTimeout:       Duration{30 * time.Second},
			ReadHeaderTimeout: Duration{10 * time.Second},
			MaxInFlight:       128,
			MaxBuffered:       256 << 20,
		},
		Replicate: Replicate{Tolerance: Duration{5 * time.Minute}},
		State:     State{Backend: BackendBolt, Dir: stateDir, DedupeFor: Duration{168 * time.Hour}},
		Delivery: Delivery{
			Workers: 4, MaxAttempts: 10,
			MaxAge:  Duration{24 * time.Hour},
			Backoff: Duration{2 * time.Second}, MaxBackoff: Duration{10 * time.Minute},
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// validate checks the values of the sections and the references between
// them (rules and on_dead name declared notifiers). What only a notifier
// package or the rule compiler can judge is checked where they are built.
func (f *File) validate() []error {
	var errs []error
	for _, l := range []struct{ key, addr string }{{"server.listen", f.Server.Listen}, {"server.admin_listen", f.Server.AdminListen}} {
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			errs = append(errs, Errorf(l.key, "%q is not host:port", l.addr))
		}
	}
	if f.Server.Listen == f.Server.AdminListen && !strings.HasSuffix(f.Server.Listen, ":0") {
		errs = append(errs, Errorf("server.admin_listen", "must differ from server.listen (metrics and dead letters must not be served where webhooks arrive)"))
	}
	if !strings.HasPrefix(f.Server.Path, "/") || f.Server.Path == "/healthz" {
		errs = append(errs, Errorf("server.path", "%q must start with / and not be /healthz", f.Server.Path))
	}
	if f.Server.ReadTimeout.Duration <= 0 || f.Server.ReadHeaderTimeout.Duration <= 0 {
		errs = append(errs, Errorf("server.read_timeout", "read_timeout and read_header_timeout must be positive"))
	}
	if f.Server.MaxBuffered < f.Server.MaxBody {
		errs = append(errs, Errorf("server.max_buffered", "must be at least server.max_body (%d bytes)", f.Server.MaxBody))
	}
	if f.Server.MaxInFlight < 1 {
		errs = append(errs, Errorf("server.max_in_flight", "must be at least 1"))
	}
	if f.Replicate.Tolerance.Duration <= 0 {
		errs = append(errs, Errorf("replicate.tolerance", "must be positive"))
	}
	if len(f.Secrets()) == 0 && !f.Replicate.AllowUnsigned {
		errs = append(errs, Errorf("replicate.secret", "no signing secret: set secret, secret_file or secrets (allow_unsigned = true only for local experiments)"))
	}
	d := f.Delivery
	if d.Workers < 1 || d.Workers > 256 {
		errs = append(errs, Errorf("delivery.workers", "must be between 1 and 256"))
	}
	if d.MaxAttempts < 1 {
		errs = append(errs, Errorf("delivery.max_attempts", "must be at least 1"))
	}
	if d.Backoff.Duration <= 0 || d.MaxBackoff.Duration < d.Backoff.Duration {
		errs = append(errs, Errorf("delivery.max_backoff", "backoff must be positive and max_backoff at least backoff"))
	}
	if d.MaxAge.Duration <= 0 {
		errs = append(errs, Errorf("delivery.max_age", "must be positive"))
	}
	if f.State.DedupeFor.Duration < 10*time.Minute {
		errs = append(errs, Errorf("state.dedupe_for", "must be at least 10m (Replicate retries for about a minute)"))
	}
	errs = append(errs, f.State.validate()...)
	switch f.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, Errorf("log.level", "%q is not one of debug, info, warn, error", f.Log.Level))
	}
	if f.Log.Format != "text" && f.Log.Format != "json" {
		errs = append(errs, Errorf("log.format", "%q is not one of text, json", f.Log.Format))
	}
	return append(errs, f.validateReferences()...)
}

// validateReferences checks that rules and on_dead name declared notifiers,
// that rule names are unique (they key the dedupe records) and that no rule
// lists a notifier twice.
func (f *File) validateReferences() []error {
	var errs []error
	known := make(map[string]bool, len(f.Notifiers))
	for _, n := range f.Notifiers {
		known[n.Name] = true
	}
	if od := f.Delivery.OnDead; od != "" && !known[od] {
		errs = append(errs, Errorf("delivery.on_dead", "unknown notifier %q", od))
	}
	seen := map[string]int{}
	for i, r := range f.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		name := r.DisplayName(i)
		if name == ReservedRuleName {
			errs = append(errs, Errorf(p+".name", "%q is reserved for on_dead notices", name))
		}
		if j, dup := seen[name]; dup {
			errs = append(errs, Errorf(p+".name", "%q is also the name of rules[%d] (names key the dedupe records)", name, j))
		}
		seen[name] = i
		if len(r.Notify) == 0 {
			errs = append(errs, Errorf(p+".notify", "names no notifier"))
		}
		errs = append(errs, r.validateDigest(p, f.State.DedupeFor.Duration)...)
		listed := map[string]bool{}
		for j, n := range r.Notify {
			switch {
			case !known[n]:
				errs = append(errs, Errorf(fmt.Sprintf("%s.notify[%d]", p, j), "unknown notifier %q", n))
			case listed[n]:
				errs = append(errs, Errorf(fmt.Sprintf("%s.notify[%d]", p, j), "%q is listed twice", n))
			}
			listed[n] = true
		}
	}
	return errs
}

// validate checks [state]: the backend, and the keys only postgres takes.
func (s *State) validate() []error {
	var errs []error
	switch s.Backend {
	case BackendBolt:
		if !s.DSN.IsZero() || s.DSNFile != "" {
			errs = append(errs, Errorf("state.dsn", "only with backend = \"postgres\""))
		}
		if s.Lease.Duration != 0 {
			errs = append(errs, Errorf("state.lease", "only with backend = \"postgres\""))
		}
	case BackendPostgres:
		if s.DSN.IsZero() {
			errs = append(errs, Errorf("state.dsn", "required with backend = \"postgres\" (or dsn_file)"))
		}
		if s.Lease.Duration != 0 && s.Lease.Duration < time.Second {
			errs = append(errs, Errorf("state.lease", "must be at least 1s"))
		}
	default:
		errs = append(errs, Errorf("state.backend", "%q is not one of bolt, postgres", s.Backend))
	}
	return errs
}

// LeaseOrDefault is [state] lease, or DefaultLease when unset.
func (s *State) LeaseOrDefault() time.Duration {
	if s.Lease.Duration > 0 {
		return s.Lease.Duration
	}
	return DefaultLease
}

// validateDigest checks a rule's digest keys; p is the rule's key path.
func (r *Rule) validateDigest(p string, dedupeFor time.Duration) []error {
	var errs []error
	if r.Digest.Duration == 0 {
		for _, k := range []struct {
			key string
			set bool
		}{{"digest_max_wait", r.DigestMaxWait.Duration != 0}, {"digest_max", r.DigestMax != 0}, {"group_by", r.GroupBy != nil}} {
			if k.set {
				errs = append(errs, Errorf(p+"."+k.key, "only with digest"))
			}
		}
		return errs
	}
	if r.Digest.Duration < MinDigest {
		errs = append(errs, Errorf(p+".digest", "must be at least %s", MinDigest))
	}
	if w := r.MaxWait(); w < r.Digest.Duration {
		errs = append(errs, Errorf(p+".digest_max_wait", "must be at least digest (%s)", r.Digest.Duration))
	} else if w > dedupeFor {
		errs = append(errs, Errorf(p+".digest_max_wait", "must be at most state.dedupe_for (%s)", dedupeFor))
	}
	if r.DigestMax != 0 && (r.DigestMax < 1 || r.DigestMax > MaxDigestMax) {
		errs = append(errs, Errorf(p+".digest_max", "must be between 1 and %d", MaxDigestMax))
	}
	seen := map[string]bool{}
	for i, g := range r.GroupBy {
		key := fmt.Sprintf("%s.group_by[%d]", p, i)
		switch {
		case g == "model" || g == "kind" || g == "status":
		case strings.HasPrefix(g, "query.") && len(g) > len("query."):
		default:
			errs = append(errs, Errorf(key, "%q is not one of model, kind, status, query.KEY", g))
		}
		if seen[g] {
			errs = append(errs, Errorf(key, "%q is listed twice", g))
		}
		seen[g] = true
	}
	return errs
}

// ReservedRuleName is the rule name of the on_dead notices hooknote sends
// about dead letters: no rule may take it.
const ReservedRuleName = "on_dead"

// DisplayName is the rule's name, or "rule-I" for the I-th rule when it has
// none.
func (r *Rule) DisplayName(i int) string {
	if r.Name == "" {
		return fmt.Sprintf("rule-%d", i)
	}
	return r.Name
}

// Warnings are what is allowed but probably unwanted, one sentence each:
// `check` prints them and serve logs them.
func (f *File) Warnings() []string {
	var w []string
	if host, _, err := net.SplitHostPort(f.Server.AdminListen); err == nil && !privateHost(host) {
		w = append(w, fmt.Sprintf("server.admin_listen %q is not a loopback or private address: /metrics and the dead letters (with their payloads) would be reachable from outside", f.Server.AdminListen))
	}
	if f.Replicate.AllowUnsigned {
		w = append(w, "replicate.allow_unsigned is on: unsigned webhooks are accepted; use only for local experiments")
	}
	return w
}

// privateHost reports whether host (an IP address or a name) is a loopback
// or private address. A name other than localhost, and the unspecified
// address (every interface), are not.
func privateHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate())
}

// Secrets returns every configured signing secret's value.
func (f *File) Secrets() []string {
	var out []string
	if !f.Replicate.Secret.IsZero() {
		out = append(out, f.Replicate.Secret.Reveal())
	}
	for _, s := range f.Replicate.Secrets {
		if !s.IsZero() {
			out = append(out, s.Reveal())
		}
	}
	return out
}
