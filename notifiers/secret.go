package notifiers

import (
	"log/slog"
)

// redacted is what a Secret prints wherever it is formatted or encoded.
const redacted = "<redacted>"

// Secret holds a credential (a token, a password, a Slack webhook URL). Every
// way of printing it — fmt verbs, JSON, text encodings, slog — yields
// "<redacted>"; only Reveal returns the value, at the point of use.
type Secret struct {
	value string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{value: s} }

// Reveal returns the secret value. Call it only where the value is sent.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer (the %#v verb).
func (s Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so a TOML string decodes
// into a Secret. ${VAR} references are expanded by the config loader later.
func (s *Secret) UnmarshalText(b []byte) error {
	s.value = string(b)
	return nil
}
