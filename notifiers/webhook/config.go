package webhook

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hooknote/hooknote/notifiers"
)

// DefaultBody is the body template used when Config.Body is empty.
const DefaultBody = `{{ template "webhook.body" . }}`

// Config is the webhook-specific part of a notifiers.NAME table of type
// "webhook". The config loader has already expanded ${VAR} references in URL
// and in the header values when Validate runs.
type Config struct {
	// URL is where every request goes. It is static, never a template, and
	// may embed a token, so it is never printed.
	URL string `toml:"url"`
	// Body is the request body template, rendered without escaping.
	// Empty means DefaultBody.
	Body string `toml:"body"`
	// DigestBody is the body template of a digest (a rule with digest).
	// Empty means DefaultDigestBody.
	DigestBody string `toml:"digest_body"`
	// Headers are added to every request. Values may be credentials
	// (Authorization = "Bearer ${TOKEN}"). A Content-Type here replaces the
	// default application/json.
	Headers map[string]notifiers.Secret `toml:"headers"`
	// Method is POST (the default) or PUT.
	Method string `toml:"method"`
}

// Validate reports every problem with c, joined; each is a
// *notifiers.FieldError whose text is "key: problem". It never prints the
// URL or a header value.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, notifiers.FieldErrorf(key, format, args...))
	}
	switch {
	case c.URL == "":
		add("url", "required")
	case strings.Contains(c.URL, "{{"):
		add("url", "is static and cannot be a template")
	case !validURL(c.URL):
		add("url", "must be an http or https URL")
	}
	if c.Method != "" && c.Method != http.MethodPost && c.Method != http.MethodPut {
		add("method", "must be POST or PUT")
	}
	seen := make(map[string]string, len(c.Headers))
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		canonical := http.CanonicalHeaderKey(name)
		switch {
		case !validHeaderName(name):
			add("headers", "%q is not a valid header name", name)
		case seen[canonical] != "":
			add("headers", "%q and %q are the same header", seen[canonical], name)
		case isReserved(canonical):
			add("headers."+name, "is set by hooknote")
		case strings.ContainsAny(c.Headers[name].Reveal(), "\r\n\x00"):
			add("headers."+name, "value must not contain CR, LF or NUL")
		}
		seen[canonical] = name
	}
	return errors.Join(errs...)
}

// Templates returns the template relay renders for every message: the body,
// as Text without escaping.
func (c Config) Templates() notifiers.Templates {
	body := c.Body
	if body == "" {
		body = DefaultBody
	}
	digest := c.DigestBody
	if digest == "" {
		digest = DefaultDigestBody
	}
	return notifiers.Templates{Text: body, TextFormat: notifiers.Plain, Digest: notifiers.DigestTemplates{Text: digest}}
}

// DefaultDigestBody is the digest body template used when
// Config.DigestBody is empty: the digest as JSON.
const DefaultDigestBody = `{{ template "webhook.digest" . }}`

// validURL reports whether s is an absolute http or https URL with a host.
func validURL(s string) bool {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !isTokenRune(r) {
			return false
		}
	}
	return true
}

func isTokenRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// isReserved reports whether a canonical header name is set by hooknote or
// by the HTTP client, not by the config.
func isReserved(canonical string) bool {
	switch canonical {
	case "Idempotency-Key", "Host", "Content-Length", "Transfer-Encoding", "Connection":
		return true
	}
	return false
}
