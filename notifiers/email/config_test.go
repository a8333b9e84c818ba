package email

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hooknote/hooknote/notifiers"
)

// validConfig passes Validate; each case breaks it in one way.
func validConfig() Config {
	return Config{
		Host:     "smtp.example.com",
		Username: "relay@example.com",
		Password: notifiers.NewSecret(testPassword),
		From:     "hooknote <relay@example.com>",
		To:       []string{"oncall@example.com"},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string // one line per problem; none when valid
	}{{
		name: "valid",
		edit: func(*Config) {},
	}, {
		name: "valid templated with allow_to and loopback without tls",
		edit: func(c *Config) {
			c.Host, c.TLS = "127.0.0.1", "none"
			c.To = []string{"{{ .Query.to }}", "static@example.com"}
			c.AllowTo = []string{"*@example.com"}
		},
	}, {
		name: "empty",
		edit: func(c *Config) { *c = Config{} },
		want: []string{
			"host: is required",
			"from: is required",
			"to: at least one recipient is required",
		},
	}, {
		name: "server keys",
		edit: func(c *Config) { c.Host, c.Port, c.TLS = "smtp.example.com:25", 70000, "STARTTLS" },
		want: []string{
			`host: must not include a port, got "smtp.example.com:25"; set port instead`,
			"port: must be between 1 and 65535, got 70000",
			`tls: must be one of starttls, tls, opportunistic, none, got "STARTTLS"`,
		},
	}, {
		name: "tls keys without tls",
		edit: func(c *Config) {
			c.Host, c.TLS, c.CAFile, c.ServerName = "localhost", "none", "/etc/ca.pem", "mail.example.com"
		},
		want: []string{
			`ca_file: has no effect with tls = "none"`,
			`server_name: has no effect with tls = "none"`,
		},
	}, {
		name: "username without password",
		edit: func(c *Config) { c.Password = notifiers.Secret{} },
		want: []string{"password: is required when username is set"},
	}, {
		name: "password without username",
		edit: func(c *Config) { c.Username = "" },
		want: []string{"username: is required when password is set"},
	}, {
		name: "password in clear to a remote host",
		edit: func(c *Config) { c.TLS = "none" },
		want: []string{`password: refusing to send credentials without TLS to non-loopback host "smtp.example.com"; set tls = "starttls" or "tls"`},
	}, {
		name: "bad addresses",
		edit: func(c *Config) {
			c.From = "a@example.com, b@example.com"
			c.To = []string{"", "not an address"}
			c.Cc = []string{"x@evil.com"}
			c.Bcc = []string{"y@example.com"}
			c.AllowTo = []string{"*@example.com"}
		},
		want: []string{
			`from: invalid address "a@example.com, b@example.com": mail: expected single address, got ", b@example.com"`,
			"to[0]: is empty",
			`to[1]: invalid address "not an address": mail: no angle-addr`,
			`cc[0]: address "x@evil.com" is not allowed by allow_to`,
		},
	}, {
		name: "templated recipient without allow_to",
		edit: func(c *Config) { c.Bcc = []string{"{{ .Query.bcc }}"} },
		want: []string{`allow_to: is required when to, cc or bcc is templated (contains "{{")`},
	}, {
		name: "bad allow_to",
		edit: func(c *Config) { c.AllowTo = []string{"", "[a-@example.com", "*@example.com"} },
		want: []string{
			"allow_to[0]: is empty",
			`allow_to[1]: invalid pattern "[a-@example.com": syntax error in pattern`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			var got []string
			if err := c.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name, caFile, want string
	}{{
		name:   "missing",
		caFile: missing,
		want:   fmt.Sprintf("ca_file: open %s: no such file or directory", missing),
	}, {
		name:   "not PEM",
		caFile: notPEM,
		want:   fmt.Sprintf("ca_file: no PEM certificate in %q", notPEM),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.CAFile = tt.caFile
			if _, err := New(c, testDeps()); err == nil || err.Error() != tt.want {
				t.Errorf("New(ca_file = %q) = %v, want %q", tt.caFile, err, tt.want)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want notifiers.Templates
	}{{
		name: "defaults",
		c:    Config{To: []string{"a@example.com"}, Bcc: []string{"{{ .Query.bcc }}"}},
		want: notifiers.Templates{
			Subject:    `{{ template "email.subject" . }}`,
			Text:       `{{ template "email.text" . }}`,
			TextFormat: notifiers.Plain,
			HTML:       `{{ template "email.html" . }}`,
			To:         []string{"a@example.com"},
			Bcc:        []string{"{{ .Query.bcc }}"},
			Digest: notifiers.DigestTemplates{
				Subject: `{{ template "email.digest_subject" . }}`,
				Text:    `{{ template "email.digest_text" . }}`,
				HTML:    `{{ template "email.digest_html" . }}`,
			},
		},
	}, {
		name: "custom and no html",
		c: Config{Subject: "{{ .Status }}", Text: "{{ .ID }}", HTML: NoHTML, To: []string{"a@example.com"},
			DigestSubject: "{{ .Count }}", DigestHTML: NoHTML},
		want: notifiers.Templates{
			Subject: "{{ .Status }}",
			Text:    "{{ .ID }}",
			To:      []string{"a@example.com"},
			Digest:  notifiers.DigestTemplates{Subject: "{{ .Count }}", Text: `{{ template "email.digest_text" . }}`},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.c.Templates()); diff != "" {
				t.Errorf("Templates() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultPort(t *testing.T) {
	tests := []struct {
		tls  string
		port int
		want int
	}{
		{tls: "", want: 587},
		{tls: "starttls", want: 587},
		{tls: "opportunistic", want: 587},
		{tls: "none", want: 587},
		{tls: "tls", want: 465},
		{tls: "tls", port: 2465, want: 2465},
	}
	for _, tt := range tests {
		c := Config{TLS: tt.tls, Port: tt.port}
		if got := c.port(); got != tt.want {
			t.Errorf("Config{TLS: %q, Port: %d}.port() = %d, want %d", tt.tls, tt.port, got, tt.want)
		}
	}
}

func TestMessageID(t *testing.T) {
	tests := []struct {
		id, want string
	}{
		{id: "rrr4z55ocneqzikepnug6xezpe", want: "rrr4z55ocneqzikepnug6xezpe@hooknote"},
		{id: "job-42.succeeded", want: "job-42.succeeded@hooknote"},
		{id: "a b<c>@d", want: "a-b-c--d@hooknote"},
		{id: "..a..b..", want: "a.b@hooknote"},
		{id: "é\r\n", want: "---@hooknote"},
		{id: "", want: ""},
		{id: "...", want: ""},
		{id: strings.Repeat("x", 300), want: strings.Repeat("x", maxIDLen) + "@hooknote"},
	}
	for _, tt := range tests {
		if got := messageID(tt.id); got != tt.want {
			t.Errorf("messageID(%q) = %q, want %q", tt.id, got, tt.want)
		}
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
// key, list indexes included.
func TestValidateFieldErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "empty", edit: func(c *Config) { *c = Config{} }, want: []string{"host", "from", "to"}},
		{name: "server", edit: func(c *Config) { c.Host, c.Port, c.TLS = "smtp.example.com:25", -1, "ssl" }, want: []string{"host", "port", "tls"}},
		{name: "cleartext", edit: func(c *Config) { c.TLS, c.CAFile, c.ServerName = "none", "ca.pem", "x" }, want: []string{"ca_file", "server_name", "password"}},
		{
			name: "lists",
			edit: func(c *Config) {
				c.AllowTo = []string{"*@example.com", ""}
				c.To = []string{"a@example.com", "nope"}
				c.Cc = []string{"x@evil.com"}
				c.Bcc = []string{"{{ .Query.bcc }}", ""}
			},
			want: []string{"allow_to[1]", "to[1]", "cc[0]", "bcc[1]"},
		},
		{name: "templated without allow_to", edit: func(c *Config) { c.To = []string{"{{ .Query.to }}"} }, want: []string{"allow_to"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			if diff := cmp.Diff(tt.want, fieldKeys(c.Validate())); diff != "" {
				t.Errorf("Validate() keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNewFieldErrors checks that New's own ca_file problems are placed at
// ca_file too.
func TestNewFieldErrors(t *testing.T) {
	c := validConfig()
	c.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	_, err := New(c, testDeps())
	var fe *notifiers.FieldError
	if !errors.As(err, &fe) || fe.Key != "ca_file" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New(missing ca_file) = %v, want a *notifiers.FieldError at ca_file wrapping os.ErrNotExist", err)
	}
}
