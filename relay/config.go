package relay

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hooknote/hooknote/notifiers"
)

// File is the TOML config file as decoded (DESIGN §3), before anything is
// built from it.
type File struct {
	Server    ServerSection    `toml:"server"`
	Replicate ReplicateSection `toml:"replicate"`
	State     StateSection     `toml:"state"`
	Delivery  DeliverySection  `toml:"delivery"`
	Templates TemplatesSection `toml:"templates"`
	Log       LogSection       `toml:"log"`
	Rules     []RuleSection    `toml:"-"`
}

// ServerSection is [server]: the listeners.
type ServerSection struct {
	Listen            string   `toml:"listen"`
	AdminListen       string   `toml:"admin_listen"`
	Path              string   `toml:"path"`
	MaxBody           Size     `toml:"max_body"`
	ReadTimeout       Duration `toml:"read_timeout"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	MaxInFlight       int      `toml:"max_in_flight"`
}

// ReplicateSection is [replicate]: signature verification.
type ReplicateSection struct {
	Secret        notifiers.Secret   `toml:"secret"`
	SecretFile    string             `toml:"secret_file"`
	Secrets       []notifiers.Secret `toml:"secrets"`
	Tolerance     Duration           `toml:"tolerance"`
	AllowUnsigned bool               `toml:"allow_unsigned"`
}

// StateSection is [state]: where the store lives.
type StateSection struct {
	Dir       string   `toml:"dir"`
	DedupeFor Duration `toml:"dedupe_for"`
}

// DeliverySection is [delivery]: workers and the retry policy.
type DeliverySection struct {
	Workers     int      `toml:"workers"`
	MaxAttempts int      `toml:"max_attempts"`
	MaxAge      Duration `toml:"max_age"`
	Backoff     Duration `toml:"backoff"`
	MaxBackoff  Duration `toml:"max_backoff"`
	OnDead      string   `toml:"on_dead"`
}

// TemplatesSection is [templates]: user template files.
type TemplatesSection struct {
	Files []string `toml:"files"`
}

// LogSection is [log].
type LogSection struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// RuleSection is one [[rules]] table.
type RuleSection struct {
	Name       string            `toml:"name"`
	Kind       string            `toml:"kind"`
	Status     []string          `toml:"status"`
	Model      string            `toml:"model"`
	Deployment string            `toml:"deployment"`
	Query      map[string]string `toml:"query"`
	When       string            `toml:"when"`
	Notify     []string          `toml:"notify"`
	Stop       bool              `toml:"stop"`
}

// notifierSection is the part of a [notifiers.NAME] table relay owns; the
// rest belongs to the notifier package named by Type.
type notifierSection struct {
	Type    string   `toml:"type"`
	Rate    Rate     `toml:"rate"`
	Timeout Duration `toml:"timeout"`
}

func defaultFile(env Env) File {
	stateDir := "./state"
	if d, ok := env.Lookup("STATE_DIRECTORY"); ok && d != "" {
		stateDir = strings.Split(d, ":")[0]
	}
	return File{
		Server: ServerSection{
			Listen:            "127.0.0.1:9187",
			AdminListen:       "127.0.0.1:9188",
			Path:              "/webhooks/replicate",
			MaxBody:           25 << 20,
			ReadTimeout:       Duration{30 * time.Second},
			ReadHeaderTimeout: Duration{10 * time.Second},
			MaxInFlight:       128,
		},
		Replicate: ReplicateSection{Tolerance: Duration{5 * time.Minute}},
		State:     StateSection{Dir: stateDir, DedupeFor: Duration{168 * time.Hour}},
		Delivery: DeliverySection{
			Workers: 4, MaxAttempts: 10,
			MaxAge:  Duration{24 * time.Hour},
			Backoff: Duration{2 * time.Second}, MaxBackoff: Duration{10 * time.Minute},
		},
		Log: LogSection{Level: "info", Format: "text"},
	}
}

// validate checks the sections relay owns (not rules or notifiers).
func (f *File) validate() []error {
	var errs []error
	for _, l := range []struct{ key, addr string }{{"server.listen", f.Server.Listen}, {"server.admin_listen", f.Server.AdminListen}} {
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			errs = append(errs, fieldErr(l.key, "%q is not host:port", l.addr))
		}
	}
	if f.Server.Listen == f.Server.AdminListen && !strings.HasSuffix(f.Server.Listen, ":0") {
		errs = append(errs, fieldErr("server.admin_listen", "must differ from server.listen (metrics and dead letters must not be served where webhooks arrive)"))
	}
	if !strings.HasPrefix(f.Server.Path, "/") || f.Server.Path == "/healthz" {
		errs = append(errs, fieldErr("server.path", "%q must start with / and not be /healthz", f.Server.Path))
	}
	if f.Server.ReadTimeout.Duration <= 0 || f.Server.ReadHeaderTimeout.Duration <= 0 {
		errs = append(errs, fieldErr("server.read_timeout", "read_timeout and read_header_timeout must be positive"))
	}
	if f.Server.MaxInFlight < 1 {
		errs = append(errs, fieldErr("server.max_in_flight", "must be at least 1"))
	}
	if f.Replicate.Tolerance.Duration <= 0 {
		errs = append(errs, fieldErr("replicate.tolerance", "must be positive"))
	}
	if len(f.secrets()) == 0 && !f.Replicate.AllowUnsigned {
		errs = append(errs, fieldErr("replicate.secret", "no signing secret: set secret, secret_file or secrets (allow_unsigned = true only for local experiments)"))
	}
	d := f.Delivery
	if d.Workers < 1 || d.Workers > 256 {
		errs = append(errs, fieldErr("delivery.workers", "must be between 1 and 256"))
	}
	if d.MaxAttempts < 1 {
		errs = append(errs, fieldErr("delivery.max_attempts", "must be at least 1"))
	}
	if d.Backoff.Duration <= 0 || d.MaxBackoff.Duration < d.Backoff.Duration {
		errs = append(errs, fieldErr("delivery.max_backoff", "backoff must be positive and max_backoff at least backoff"))
	}
	if d.MaxAge.Duration <= 0 {
		errs = append(errs, fieldErr("delivery.max_age", "must be positive"))
	}
	if f.State.DedupeFor.Duration < 10*time.Minute {
		errs = append(errs, fieldErr("state.dedupe_for", "must be at least 10m (Replicate retries for about a minute)"))
	}
	switch f.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fieldErr("log.level", "%q is not one of debug, info, warn, error", f.Log.Level))
	}
	if f.Log.Format != "text" && f.Log.Format != "json" {
		errs = append(errs, fieldErr("log.format", "%q is not one of text, json", f.Log.Format))
	}
	return errs
}

// secrets returns every configured signing secret's value.
func (f *File) secrets() []string {
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

// decodeFile decodes a config file's text strictly: every section on its own so that one bad
// value does not hide the others, ${VAR} and *_file resolved, unknown keys
// reported. It returns the decoded file, the raw notifier tables, the
// metadata needed to decode them, and every problem found.
func decodeFile(src string, env Env) (*File, *rawConfig, []error) {
	f := defaultFile(env)
	raw := &rawConfig{}
	var top map[string]toml.Primitive
	md, err := toml.Decode(src, &top)
	if err != nil {
		return nil, nil, []error{tomlErr(err, "")}
	}
	raw.md = &md
	var errs []error
	sections := map[string]any{
		"server": &f.Server, "replicate": &f.Replicate, "state": &f.State,
		"delivery": &f.Delivery, "templates": &f.Templates, "log": &f.Log,
	}
	for key, prim := range top {
		switch key {
		case "rules":
			var rules []toml.Primitive
			if err := md.PrimitiveDecode(prim, &rules); err != nil {
				errs = append(errs, tomlErr(err, "rules"))
				continue
			}
			f.Rules = make([]RuleSection, len(rules))
			for i, r := range rules {
				errs = append(errs, decodeKnown(&md, r, &f.Rules[i], fmt.Sprintf("rules[%d]", i))...)
			}
		case "notifiers":
			if err := md.PrimitiveDecode(prim, &raw.notifiers); err != nil {
				errs = append(errs, tomlErr(err, "notifiers"))
			}
		default:
			dst, ok := sections[key]
			if !ok {
				errs = append(errs, fieldErr(key, "unknown key"))
				continue
			}
			errs = append(errs, decodeKnown(&md, prim, dst, key)...)
			errs = append(errs, env.resolve(dst, key)...)
		}
	}
	for i := range f.Rules {
		errs = append(errs, env.resolve(&f.Rules[i], fmt.Sprintf("rules[%d]", i))...)
	}
	return &f, raw, errs
}

// decodeSection decodes a table into the struct dst points to one key at a
// time, so that a bad value is reported without stopping the other keys
// (BurntSushi stops at the first error), and returns the keys no field takes.
func decodeSection(md *toml.MetaData, prim toml.Primitive, dst any, path string) (errs []error, unknown []string) {
	var keys map[string]toml.Primitive
	if err := md.PrimitiveDecode(prim, &keys); err != nil {
		return []error{tomlErr(err, path)}, nil
	}
	rv := reflect.ValueOf(dst).Elem()
	fields := map[string]reflect.Value{}
	for i := 0; i < rv.NumField(); i++ {
		if k := tomlKey(rv.Type().Field(i)); k != "" {
			fields[k] = rv.Field(i)
		}
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f, ok := fields[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if err := md.PrimitiveDecode(keys[k], f.Addr().Interface()); err != nil {
			errs = append(errs, tomlErr(err, joinPath(path, k)))
		}
	}
	return errs, unknown
}

// unknownKeyErrs reports keys no field took.
func unknownKeyErrs(path string, unknown []string) []error {
	var errs []error
	for _, k := range unknown {
		errs = append(errs, fieldErr(joinPath(path, k), "unknown key"))
	}
	return errs
}

// decodeKnown is decodeSection with unknown keys reported as errors.
func decodeKnown(md *toml.MetaData, prim toml.Primitive, dst any, path string) []error {
	errs, unknown := decodeSection(md, prim, dst, path)
	return append(errs, unknownKeyErrs(path, unknown)...)
}

// rawConfig holds the notifier tables until their packages decode them.
type rawConfig struct {
	md        *toml.MetaData
	notifiers map[string]toml.Primitive
}

// tomlErr converts a decoder error into a ConfigError, keeping its line.
func tomlErr(err error, path string) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		p := path
		if pe.LastKey != "" {
			p = pe.LastKey
		}
		// "expected value but found \"…\" instead" would print what was
		// found: possibly an unquoted secret.
		msg, _, _ := strings.Cut(pe.Message, " but found ")
		return &ConfigError{Line: pe.Position.Line, Path: p, Msg: msg}
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "toml: ")
	return &ConfigError{Path: path, Msg: msg}
}

// readConfig reads the config file.
func readConfig(path string) (string, Env, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", Env{}, fmt.Errorf("read config: %w", err)
	}
	return string(b), Env{Lookup: os.LookupEnv, Dir: filepath.Dir(path)}, nil
}
