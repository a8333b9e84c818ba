package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/notifiers"
)

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
	f, errs := Parse(goodConfig, testEnv(t, nil))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := []any{f.Server.Listen, f.Server.AdminListen, f.Server.Path, int64(f.Server.MaxBody), f.Delivery.Workers,
		f.Delivery.MaxAttempts, f.Delivery.Backoff.Duration, f.Delivery.MaxBackoff.Duration, f.State.Dir, f.State.DedupeFor.Duration,
		len(f.Notifiers), f.Notifiers[0].Timeout}
	want := []any{"127.0.0.1:9187", "127.0.0.1:9188", "/webhooks/replicate", int64(25 << 20), 4,
		10, 2 * time.Second, 10 * time.Minute, "./state", 168 * time.Hour, 1, 10 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
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

// tokenConfig is a notifier package's Config with a secret and its file.
type tokenConfig struct {
	Token     notifiers.Secret `toml:"token"`
	TokenFile string           `toml:"token_file"`
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
		src := strings.Replace(goodConfig, `type = "fake"`, `type = "fake"`+"\ntoken_file = \""+tc.file+"\"", 1)
		src = strings.Replace(src, `secret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"`, `secret_file = "webhook-secret"`, 1)
		f, errs := Parse(src, env)
		if len(errs) > 0 {
			t.Fatalf("token_file %q: %v", tc.file, errs)
		}
		if got := f.Secrets(); len(got) != 1 || got[0] != "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi" {
			t.Errorf("secret_file: secrets = %d values, want the file's", len(got))
		}
		var c tokenConfig
		if err := f.Notifiers[0].Decode(&c); err != nil {
			t.Fatalf("token_file %q: Decode() = %v", tc.file, err)
		}
		if c.Token.Reveal() != tc.want {
			t.Errorf("token_file %q: token %q, want %q", tc.file, c.Token.Reveal(), tc.want)
		}
	}
}

// TestNotifierDecodeUnknown: a key neither the common keys nor the
// package's Config take is an error at its path; one both know is not.
func TestNotifierDecodeUnknown(t *testing.T) {
	src := strings.Replace(goodConfig, `type = "fake"`, "type = \"fake\"\nrate = \"1/s\"\ncolour = \"red\"\ntoken = \"t\"", 1)
	f, errs := Parse(src, testEnv(t, nil))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var c tokenConfig
	err := f.Notifiers[0].Decode(&c)
	var ce *Error
	if !errors.As(err, &ce) || ce.Path != "notifiers.a.colour" || ce.Err.Error() != "unknown key" {
		t.Fatalf("Decode() = %v, want notifiers.a.colour: unknown key", err)
	}
	if c.Token.Reveal() != "t" || f.Notifiers[0].Rate.String() != "1/s" {
		t.Errorf("Decode() took token %q, rate %v", c.Token.Reveal(), f.Notifiers[0].Rate)
	}
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

// TestExpandInParsedValues: durations, sizes and rates may use ${VAR} like
// every other string, and a bad expansion is an error at the key.
func TestExpandInParsedValues(t *testing.T) {
	env := testEnv(t, map[string]string{"TIMEOUT": "45s", "BODY": "2MiB", "PACE": "30/m"})
	src := goodConfig + `
[server]
read_timeout = "${TIMEOUT}"
max_body = "${BODY}"
max_buffered = "${BUFFERED:-64MiB}"
[delivery]
max_age = "${UNSET_AGE}"
`
	src = strings.Replace(src, `type = "fake"`, "type = \"fake\"\nrate = \"${PACE}\"", 1)
	f, errs := Parse(src, env)
	want := []string{`delivery.max_age: environment variable "UNSET_AGE" is not set (use ${UNSET_AGE:-default} for a default)`}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse() errors (-want +got):\n%s", diff)
	}
	if f.Server.ReadTimeout.Duration != 45*time.Second || f.Server.MaxBody != 2<<20 || f.Server.MaxBuffered != 64<<20 || f.Notifiers[0].Rate.String() != "30/m" {
		t.Errorf("read_timeout %v, max_body %d, max_buffered %d, rate %v; want 45s, 2MiB, 64MiB, 30/m",
			f.Server.ReadTimeout, f.Server.MaxBody, f.Server.MaxBuffered, f.Notifiers[0].Rate)
	}
}

func TestValidateServerLimits(t *testing.T) {
	src := goodConfig + "[server]\nmax_body = \"32MiB\"\nmax_buffered = \"16MiB\"\n"
	_, errs := Parse(src, testEnv(t, nil))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "server.max_buffered: must be at least server.max_body") {
		t.Errorf("Parse() = %v, want max_buffered below max_body refused", errs)
	}
}

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		admin string
		warn  bool
	}{
		{admin: "127.0.0.1:9188"}, {admin: "[::1]:9188"}, {admin: "localhost:9188"}, {admin: "10.1.2.3:9188"}, {admin: "192.168.0.10:9188"},
		{admin: "0.0.0.0:9188", warn: true}, {admin: ":9188", warn: true}, {admin: "203.0.113.7:9188", warn: true}, {admin: "admin.example.com:9188", warn: true},
	} {
		f, errs := Parse(goodConfig+"[server]\nadmin_listen = \""+tc.admin+"\"\n", testEnv(t, nil))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		w := f.Warnings()
		if got := len(w) == 1 && strings.Contains(w[0], "admin_listen"); got != tc.warn {
			t.Errorf("admin_listen %q: Warnings() = %q, want a warning: %v", tc.admin, w, tc.warn)
		}
	}
}

// TestValidateDigest: the digest keys of a rule, their defaults and every
// refusal, each placed at its key.
func TestValidateDigest(t *testing.T) {
	base := `
[replicate]
secret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"
[notifiers.a]
type = "fake"
[[rules]]
name = "r"
notify = ["a"]
`
	for _, tc := range []struct {
		name, keys string
		want       []string // error texts, in order
	}{
		{name: "none"},
		{name: "digest alone", keys: `digest = "2m"`},
		{name: "every key", keys: `digest = "2m"` + "\n" + `digest_max_wait = "30m"` + "\n" + `digest_max = 1000` + "\n" + `group_by = ["model", "kind", "status", "query.customId"]`},
		{name: "keys without digest", keys: `digest_max_wait = "30m"` + "\n" + `digest_max = 5` + "\n" + `group_by = ["model"]`,
			want: []string{"rules[0].digest_max_wait: only with digest", "rules[0].digest_max: only with digest", "rules[0].group_by: only with digest"}},
		{name: "digest too short", keys: `digest = "500ms"`, want: []string{"rules[0].digest: must be at least 1s"}},
		{name: "max wait below digest", keys: `digest = "2m"` + "\n" + `digest_max_wait = "1m"`, want: []string{"rules[0].digest_max_wait: must be at least digest (2m0s)"}},
		{name: "max wait beyond dedupe_for", keys: `digest = "2m"` + "\n" + `digest_max_wait = "200h"`, want: []string{"rules[0].digest_max_wait: must be at most state.dedupe_for (168h0m0s)"}},
		{name: "digest_max out of range", keys: `digest = "2m"` + "\n" + `digest_max = 1001`, want: []string{"rules[0].digest_max: must be between 1 and 1000"}},
		{name: "negative digest_max", keys: `digest = "2m"` + "\n" + `digest_max = -1`, want: []string{"rules[0].digest_max: must be between 1 and 1000"}},
		{name: "bad and repeated group_by", keys: `digest = "2m"` + "\n" + `group_by = ["model", "customId", "model", "query."]`,
			want: []string{`rules[0].group_by[1]: "customId" is not one of model, kind, status, query.KEY`, `rules[0].group_by[2]: "model" is listed twice`,
				`rules[0].group_by[3]: "query." is not one of model, kind, status, query.KEY`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := Parse(base+tc.keys+"\n", testEnv(t, nil))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	f, errs := Parse(base+`digest = "5m"`+"\n", testEnv(t, nil))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if r := f.Rules[0]; r.MaxWait() != 50*time.Minute || r.MaxEvents() != 100 {
		t.Errorf("defaults: max wait %v, max %d, want 50m (10× digest) and 100", r.MaxWait(), r.MaxEvents())
	}
	f, _ = Parse(base+`digest = "6h"`+"\n", testEnv(t, nil))
	if w := f.Rules[0].MaxWait(); w != 24*time.Hour {
		t.Errorf("default max wait of digest 6h = %v, want 24h (10× capped)", w)
	}
}

// TestValidateBackend: [state] backend and the keys only postgres takes.
func TestValidateBackend(t *testing.T) {
	for _, tc := range []struct {
		name, state string
		want        []string
	}{
		{name: "bolt by default"},
		{name: "bolt", state: `backend = "bolt"`},
		{name: "postgres", state: `backend = "postgres"` + "\n" + `dsn = "postgres://h/db"` + "\n" + `lease = "10s"`},
		{name: "unknown", state: `backend = "sqlite"`, want: []string{`state.backend: "sqlite" is not one of bolt, postgres`}},
		{name: "dsn with bolt", state: `dsn = "postgres://h/db"` + "\n" + `lease = "10s"`,
			want: []string{`state.dsn: only with backend = "postgres"`, `state.lease: only with backend = "postgres"`}},
		{name: "postgres without dsn", state: `backend = "postgres"`, want: []string{`state.dsn: required with backend = "postgres" (or dsn_file)`}},
		{name: "short lease", state: `backend = "postgres"` + "\n" + `dsn = "postgres://h/db"` + "\n" + `lease = "500ms"`, want: []string{"state.lease: must be at least 1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, errs := Parse(goodConfig+"[state]\n"+tc.state+"\n", testEnv(t, nil))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if len(errs) == 0 && f.State.Backend == BackendPostgres && f.State.LeaseOrDefault() != 10*time.Second {
				t.Errorf("lease = %v", f.State.LeaseOrDefault())
			}
		})
	}
}
