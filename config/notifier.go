package config

import (
	"errors"
	"slices"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultTimeout bounds one send when a notifier sets no timeout.
const DefaultTimeout = 10 * time.Second

// Notifier is one [notifiers.NAME] table: the keys every notifier has, and
// the rest kept for the notifier package named by Type, which decodes them
// with Decode.
type Notifier struct {
	Name    string
	Type    string
	Rate    Rate          // zero: unlimited
	Timeout time.Duration // per send; DefaultTimeout when unset

	ok    bool     // the common keys decoded without error
	other []string // keys the common fields did not take
	md    *toml.MetaData
	prim  toml.Primitive
	env   Env
}

// Path is the notifier's key path in errors: "notifiers.ml-alerts".
func (n *Notifier) Path() string { return joinPath("notifiers", n.Name) }

// Valid reports whether the common keys (type, rate, timeout) decoded
// without error; an invalid notifier is not built.
func (n *Notifier) Valid() bool { return n.ok }

// Decode decodes the table's notifier-specific keys into v, a pointer to a
// notifier package's Config: one key at a time, ${VAR} and *_file resolved.
// A key that neither v nor the common keys take is reported as unknown. The
// error joins one *Error per problem.
func (n *Notifier) Decode(v any) error {
	errs, notPackage := decodeSection(n.md, n.prim, v, n.Path(), n.env)
	var unknown []string
	for _, k := range n.other {
		if slices.Contains(notPackage, k) {
			unknown = append(unknown, k)
		}
	}
	return errors.Join(append(errs, unknownKeyErrs(n.Path(), unknown)...)...)
}
