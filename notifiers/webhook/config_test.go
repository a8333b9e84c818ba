package webhook

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/notifiers"
)

func TestValidate(t *testing.T) {
	header := func(kv ...string) map[string]notifiers.Secret {
		m := make(map[string]notifiers.Secret)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = notifiers.NewSecret(kv[i+1])
		}
		return m
	}
	const u = "https://internal.example.com/next-step"
	tests := []struct {
		name string
		cfg  Config
		want string // errors, one a line; "" for none
	}{
		{name: "minimal", cfg: Config{URL: u}},
		{name: "http", cfg: Config{URL: "http://10.0.0.5:8080/hook?token=x"}},
		{name: "full", cfg: Config{URL: u, Body: "{{ json . }}", Method: "PUT", Headers: header("Authorization", "Bearer x", "X-Team", "ml")}},
		{name: "no url", cfg: Config{}, want: "url: required"},
		{name: "templated url", cfg: Config{URL: "https://x.example/{{ .Query.next }}"}, want: "url: is static and cannot be a template"},
		{name: "not a url", cfg: Config{URL: "internal.example.com/next"}, want: "url: must be an http or https URL"},
		{name: "other scheme", cfg: Config{URL: "ftp://internal.example.com/next"}, want: "url: must be an http or https URL"},
		{name: "no host", cfg: Config{URL: "https:///path"}, want: "url: must be an http or https URL"},
		{name: "newline", cfg: Config{URL: u + "\n"}, want: "url: must be an http or https URL"},
		{name: "lowercase method", cfg: Config{URL: u, Method: "post"}, want: "method: must be POST or PUT"},
		{name: "GET", cfg: Config{URL: u, Method: "GET"}, want: "method: must be POST or PUT"},
		{name: "bad header name", cfg: Config{URL: u, Headers: header("X Team", "ml")}, want: `headers: "X Team" is not a valid header name`},
		{name: "header twice", cfg: Config{URL: u, Headers: header("Authorization", "a", "authorization", "b")}, want: `headers: "Authorization" and "authorization" are the same header`},
		{name: "reserved header", cfg: Config{URL: u, Headers: header("idempotency-key", "x")}, want: "headers.idempotency-key: is set by hooknote"},
		{name: "header value with newline", cfg: Config{URL: u, Headers: header("Authorization", "Bearer x\nX-Evil: 1")}, want: "headers.Authorization: value must not contain CR, LF or NUL"},
		{
			name: "every problem at once",
			cfg:  Config{Method: "DELETE", Headers: header("Host", "x", "X-A", "\r")},
			want: "url: required\n" +
				"method: must be POST or PUT\n" +
				"headers.Host: is set by hooknote\n" +
				"headers.X-A: value must not contain CR, LF or NUL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate(%s) =\n%s\nwant\n%s", tt.name, got, tt.want)
			}
		})
	}
}

// TestNewRefusesInvalidConfig checks that New returns Validate's joined
// errors unwrapped, so that relay can place each under its key.
func TestNewRefusesInvalidConfig(t *testing.T) {
	n, err := New(Config{URL: "https://x.example/{{ .ID }}?token=s3cr3t", Method: "GET"}, testDeps(t))
	if err == nil || n != nil {
		t.Fatalf("New() = %v, %v, want an error", n, err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 2 {
		t.Fatalf("New() = %#v, want the two errors of Validate joined", err)
	}
	if want := "url: is static and cannot be a template\nmethod: must be POST or PUT"; err.Error() != want {
		t.Errorf("New() = %q, want %q", err, want)
	}
}

// TestNewRefusesNoHTTPClient checks that New never falls back to a client
// of its own.
func TestNewRefusesNoHTTPClient(t *testing.T) {
	n, err := New(Config{URL: "https://internal.example.com/next-step"}, notifiers.Deps{Log: slog.New(slog.DiscardHandler)})
	if n != nil || !errors.Is(err, notifiers.ErrNoHTTPClient) {
		t.Errorf("New(Deps without HTTP) = %v, %v, want ErrNoHTTPClient", n, err)
	}
}

// TestDecodeTOML checks the TOML keys of a [notifiers.NAME] table.
func TestDecodeTOML(t *testing.T) {
	const table = `
url = "https://internal.example.com/next-step"
body = '{{ json . }}'
method = "PUT"
headers = { Authorization = "Bearer t0k3n", X-Team = "ml" }
`
	var c Config
	md, err := toml.Decode(table, &c)
	if err != nil {
		t.Fatalf("Decode() = %v", err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Errorf("Decode() left keys undecoded: %v", u)
	}
	want := Config{
		URL:    "https://internal.example.com/next-step",
		Body:   "{{ json . }}",
		Method: "PUT",
		Headers: map[string]notifiers.Secret{
			"Authorization": notifiers.NewSecret("Bearer t0k3n"),
			"X-Team":        notifiers.NewSecret("ml"),
		},
	}
	revealed := cmp.Comparer(func(a, b notifiers.Secret) bool { return a.Reveal() == b.Reveal() })
	if diff := cmp.Diff(want, c, revealed); diff != "" {
		t.Errorf("Decode() mismatch (-want +got):\n%s", diff)
	}
}

// fieldKeys returns the Key of each error joined in err, found with
// errors.As, or "not a FieldError: TEXT".
func fieldKeys(err error) []string {
	var keys []string
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil
	}
	for _, e := range joined.Unwrap() {
		var fe *notifiers.FieldError
		if !errors.As(e, &fe) {
			keys = append(keys, "not a FieldError: "+e.Error())
			continue
		}
		keys = append(keys, fe.Key)
	}
	return keys
}

// TestValidateFieldErrors checks that relay can place each problem at its
// key.
func TestValidateFieldErrors(t *testing.T) {
	secret := notifiers.NewSecret
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "valid", cfg: Config{URL: "https://x.example/"}},
		{name: "no url", cfg: Config{}, want: []string{"url"}},
		{name: "method", cfg: Config{URL: "https://x.example/{{ .ID }}", Method: "GET"}, want: []string{"url", "method"}},
		{
			name: "headers",
			cfg: Config{URL: "https://x.example/", Headers: map[string]notifiers.Secret{
				"Bad Name": secret("x"), "Host": secret("x"), "X-A": secret("a\nb"), "x-team": secret("a"), "X-Team": secret("b"),
			}},
			want: []string{"headers", "headers.Host", "headers.X-A", "headers"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, fieldKeys(tt.cfg.Validate())); diff != "" {
				t.Errorf("Validate() keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
