package email

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"path"
	"slices"
	"strings"

	"github.com/hooknote/hooknote/notifiers"
)

// TLS modes accepted by Config.TLS.
const (
	modeSTARTTLS      = "starttls"
	modeTLS           = "tls"
	modeOpportunistic = "opportunistic"
	modeNone          = "none"
)

// Default template sources; the named templates are hooknote's embedded
// defaults.
const (
	defaultSubject = `{{ template "email.subject" . }}`
	defaultText    = `{{ template "email.text" . }}`
	defaultHTML    = `{{ template "email.html" . }}`
)

// NoHTML is the value of Config.HTML that sends no HTML part: TOML cannot
// tell an empty string from a missing key, and a missing key means the
// default HTML template.
const NoHTML = "-"

// Config holds the keys of one [notifiers.NAME] table of type "email". The
// keys relay owns (type, rate, timeout) are not here.
type Config struct {
	// Host is the SMTP server's name or IP address, without a port.
	Host string `toml:"host"`
	// Port defaults to 465 for TLS "tls" and to 587 otherwise.
	Port int `toml:"port"`
	// TLS is "starttls" (the default: STARTTLS is required), "tls"
	// (implicit TLS, usually port 465), "opportunistic" (STARTTLS when the
	// server offers it) or "none".
	TLS string `toml:"tls"`
	// CAFile is a PEM file of CAs trusted instead of the system pool.
	CAFile string `toml:"ca_file"`
	// ServerName overrides the name the server's certificate must match
	// (default: Host).
	ServerName string `toml:"server_name"`
	// Username and Password are used for SMTP AUTH when set. Credentials are
	// sent only over TLS, or without TLS to a loopback host with TLS "none".
	Username string           `toml:"username"`
	Password notifiers.Secret `toml:"password"`
	// PasswordFile is resolved into Password by the config loader.
	PasswordFile string `toml:"password_file"`
	// From is the single sender address, optionally with a display name.
	From string `toml:"from"`
	// To, Cc and Bcc are recipient templates, one address each. Bcc
	// recipients are in the envelope only, never in the headers.
	To  []string `toml:"to"`
	Cc  []string `toml:"cc"`
	Bcc []string `toml:"bcc"`
	// AllowTo lists glob patterns ("*@example.com") every recipient must
	// match, case-insensitively. It is required when a recipient is
	// templated, since a template can print payload or query values.
	AllowTo []string `toml:"allow_to"`
	// Subject, Text and HTML are template sources; empty means the default.
	// HTML = "-" (NoHTML) sends a text-only message.
	Subject string `toml:"subject"`
	Text    string `toml:"text"`
	HTML    string `toml:"html"`
	// DigestSubject, DigestText and DigestHTML are the templates of a
	// digest (a rule with digest); empty means the default, and
	// DigestHTML = "-" a text-only digest.
	DigestSubject string `toml:"digest_subject"`
	DigestText    string `toml:"digest_text"`
	DigestHTML    string `toml:"digest_html"`
}

// Validate reports every problem in c, joined; each is a
// *notifiers.FieldError whose text is "key: problem". It does no I/O: New
// reads ca_file.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, c.validateServer()...)
	errs = append(errs, c.validateAuth()...)
	errs = append(errs, c.validateAddresses()...)
	return errors.Join(errs...)
}

func (c *Config) validateServer() []error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, notifiers.FieldErrorf("host", "is required"))
	} else if _, _, err := net.SplitHostPort(c.Host); err == nil {
		errs = append(errs, notifiers.FieldErrorf("host", "must not include a port, got %q; set port instead", c.Host))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, notifiers.FieldErrorf("port", "must be between 1 and 65535, got %d", c.Port))
	}
	switch c.tlsMode() {
	case modeSTARTTLS, modeTLS, modeOpportunistic:
	case modeNone:
		if c.CAFile != "" {
			errs = append(errs, notifiers.FieldErrorf("ca_file", `has no effect with tls = "none"`))
		}
		if c.ServerName != "" {
			errs = append(errs, notifiers.FieldErrorf("server_name", `has no effect with tls = "none"`))
		}
	default:
		errs = append(errs, notifiers.FieldErrorf("tls", "must be one of starttls, tls, opportunistic, none, got %q", c.TLS))
	}
	return errs
}

func (c *Config) validateAuth() []error {
	var errs []error
	switch {
	case c.Username != "" && c.Password.IsZero():
		errs = append(errs, notifiers.FieldErrorf("password", "is required when username is set"))
	case c.Username == "" && !c.Password.IsZero():
		errs = append(errs, notifiers.FieldErrorf("username", "is required when password is set"))
	}
	if !c.Password.IsZero() && c.tlsMode() == modeNone && c.Host != "" && !notifiers.IsLoopback(c.Host) {
		errs = append(errs, notifiers.FieldErrorf("password", `refusing to send credentials without TLS to non-loopback host %q; set tls = "starttls" or "tls"`, c.Host))
	}
	return errs
}

func (c *Config) validateAddresses() []error {
	var errs []error
	if c.From == "" {
		errs = append(errs, notifiers.FieldErrorf("from", "is required"))
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, notifiers.FieldErrorf("from", "invalid address %q: %w", c.From, err))
	}
	for i, p := range c.AllowTo {
		if p == "" {
			errs = append(errs, notifiers.FieldErrorf(fmt.Sprintf("allow_to[%d]", i), "is empty"))
		} else if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, notifiers.FieldErrorf(fmt.Sprintf("allow_to[%d]", i), "invalid pattern %q: %w", p, err))
		}
	}
	if len(c.To) == 0 {
		errs = append(errs, notifiers.FieldErrorf("to", "at least one recipient is required"))
	}
	templated := false
	for _, list := range []struct {
		key   string
		addrs []string
	}{{"to", c.To}, {"cc", c.Cc}, {"bcc", c.Bcc}} {
		for i, a := range list.addrs {
			if strings.Contains(a, "{{") {
				templated = true
				continue
			}
			if err := c.validateRecipient(a); err != nil {
				errs = append(errs, notifiers.FieldErrorf(fmt.Sprintf("%s[%d]", list.key, i), "%w", err))
			}
		}
	}
	if templated && len(c.AllowTo) == 0 {
		errs = append(errs, notifiers.FieldErrorf("allow_to", `is required when to, cc or bcc is templated (contains "{{")`))
	}
	return errs
}

// validateRecipient checks a recipient that is not templated.
func (c *Config) validateRecipient(a string) error {
	if a == "" {
		return errors.New("is empty")
	}
	addr, err := mail.ParseAddress(a)
	if err != nil {
		return fmt.Errorf("invalid address %q: %w", a, err)
	}
	if len(c.AllowTo) > 0 && !allowed(c.AllowTo, addr.Address) {
		return fmt.Errorf("address %q is not allowed by allow_to", addr.Address)
	}
	return nil
}

// Templates returns the template sources this notifier needs, with the
// defaults filled in.
func (c Config) Templates() notifiers.Templates {
	t := notifiers.Templates{
		Subject:    orDefault(c.Subject, defaultSubject),
		Text:       orDefault(c.Text, defaultText),
		TextFormat: notifiers.Plain,
		HTML:       orDefault(c.HTML, defaultHTML),
		To:         slices.Clone(c.To),
		Cc:         slices.Clone(c.Cc),
		Bcc:        slices.Clone(c.Bcc),
	}
	if c.HTML == NoHTML {
		t.HTML = ""
	}
	t.Digest = notifiers.DigestTemplates{
		Subject: orDefault(c.DigestSubject, `{{ template "email.digest_subject" . }}`),
		Text:    orDefault(c.DigestText, `{{ template "email.digest_text" . }}`),
		HTML:    orDefault(c.DigestHTML, `{{ template "email.digest_html" . }}`),
	}
	if c.DigestHTML == NoHTML {
		t.Digest.HTML = ""
	}
	return t
}

func (c *Config) tlsMode() string { return orDefault(c.TLS, modeSTARTTLS) }

func (c *Config) port() int {
	switch {
	case c.Port != 0:
		return c.Port
	case c.tlsMode() == modeTLS:
		return 465
	default:
		return 587
	}
}

func (c *Config) serverName() string { return orDefault(c.ServerName, c.Host) }

// allowed reports whether addr, a bare address, matches one of patterns,
// ignoring case.
func allowed(patterns []string, addr string) bool {
	addr = strings.ToLower(addr)
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), addr); ok {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
