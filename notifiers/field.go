package notifiers

import "fmt"

// FieldError is a problem with one key of a notifier's config table, as a
// notifier package's Validate reports it. The config loader places it at
// notifiers.NAME.KEY, on the key's line.
type FieldError struct {
	Key string // the TOML key: "webhook_url", "to[2]", "headers.Authorization"
	Err error
}

// Error formats the problem as "key: problem".
func (e *FieldError) Error() string { return e.Key + ": " + e.Err.Error() }

// Unwrap returns the problem without its key.
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf returns a *FieldError for key with a formatted message (%w
// wraps).
func FieldErrorf(key, format string, args ...any) error {
	return &FieldError{Key: key, Err: fmt.Errorf(format, args...)}
}
