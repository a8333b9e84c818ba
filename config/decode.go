package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Read reads the config file at path and returns its text and the Env it
// resolves against: the process environment, *_file names beside the file.
func Read(path string) (string, Env, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", Env{}, fmt.Errorf("read config: %w", err)
	}
	return string(b), Env{Lookup: os.LookupEnv, Dir: filepath.Dir(path)}, nil
}

// Parse decodes a config file's text strictly and checks it: every section
// on its own, so that one bad value neither hides nor invents others;
// ${VAR} and *_file resolved; unknown keys reported; values and references
// validated. It returns the file (nil when the text is not TOML) and every
// problem found, as *Error values not yet placed: Place gives them the file
// name and line. Notifier-specific keys are decoded later, by
// Notifier.Decode.
func Parse(src string, env Env) (*File, []error) {
	f := defaultFile(env)
	var top map[string]toml.Primitive
	md, err := toml.Decode(src, &top)
	if err != nil {
		return nil, []error{tomlErr(err, "")}
	}
	var errs []error
	sections := map[string]any{
		"server": &f.Server, "replicate": &f.Replicate, "state": &f.State,
		"delivery": &f.Delivery, "templates": &f.Templates, "log": &f.Log,
	}
	for _, key := range slices.Sorted(mapKeys(top)) {
		prim := top[key]
		switch key {
		case "rules":
			errs = append(errs, f.decodeRules(&md, prim, env)...)
		case "notifiers":
			errs = append(errs, f.decodeNotifiers(&md, prim, env)...)
		default:
			dst, ok := sections[key]
			if !ok {
				errs = append(errs, Errorf(key, "unknown key"))
				continue
			}
			errs = append(errs, decodeKnown(&md, prim, dst, key, env)...)
		}
	}
	errs = append(errs, f.validate()...)
	return &f, errs
}

func (f *File) decodeRules(md *toml.MetaData, prim toml.Primitive, env Env) []error {
	var rules []toml.Primitive
	if err := md.PrimitiveDecode(prim, &rules); err != nil {
		return []error{tomlErr(err, "rules")}
	}
	var errs []error
	f.Rules = make([]Rule, len(rules))
	for i, r := range rules {
		errs = append(errs, decodeKnown(md, r, &f.Rules[i], fmt.Sprintf("rules[%d]", i), env)...)
	}
	return errs
}

func (f *File) decodeNotifiers(md *toml.MetaData, prim toml.Primitive, env Env) []error {
	var tables map[string]toml.Primitive
	if err := md.PrimitiveDecode(prim, &tables); err != nil {
		return []error{tomlErr(err, "notifiers")}
	}
	var errs []error
	for _, name := range slices.Sorted(mapKeys(tables)) {
		n := &Notifier{Name: name, md: md, prim: tables[name], env: env}
		var common struct {
			Type    string   `toml:"type"`
			Rate    Rate     `toml:"rate"`
			Timeout Duration `toml:"timeout"`
		}
		cerrs, other := decodeSection(md, n.prim, &common, n.Path(), env)
		errs = append(errs, cerrs...)
		n.Type, n.Rate, n.Timeout, n.other = common.Type, common.Rate, common.Timeout.Duration, other
		if n.Timeout == 0 {
			n.Timeout = DefaultTimeout
		}
		n.ok = len(cerrs) == 0
		f.Notifiers = append(f.Notifiers, n)
	}
	return errs
}

// decodeSection decodes a table into the struct dst points to one key at a
// time, so that a bad value is reported without stopping the other keys
// (BurntSushi stops at the first error), resolves ${VAR} and *_file in what
// it decoded, and returns the keys no field takes.
func decodeSection(md *toml.MetaData, prim toml.Primitive, dst any, path string, env Env) (errs []error, unknown []string) {
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
		if err := decodeValue(md, keys[k], f, env); err != nil {
			errs = append(errs, tomlErr(err, joinPath(path, k)))
		}
	}
	return append(errs, env.resolve(dst, path)...), unknown
}

// decodeValue decodes one key into field f. A value written as a string
// into a type that parses text (a duration, a size, a rate) has its ${VAR}
// references expanded first, like every other string; a secret is
// expanded later by resolve, which knows not to print it.
func decodeValue(md *toml.MetaData, prim toml.Primitive, f reflect.Value, env Env) error {
	u, ok := f.Addr().Interface().(encoding.TextUnmarshaler)
	if !ok || f.Type() == secretType {
		return md.PrimitiveDecode(prim, f.Addr().Interface())
	}
	var text string
	if md.PrimitiveDecode(prim, &text) != nil {
		return md.PrimitiveDecode(prim, f.Addr().Interface()) // not a string: the type's own error
	}
	expanded, err := env.expandString(text)
	if err != nil {
		return err
	}
	return u.UnmarshalText([]byte(expanded))
}

// decodeKnown is decodeSection with unknown keys reported as errors.
func decodeKnown(md *toml.MetaData, prim toml.Primitive, dst any, path string, env Env) []error {
	errs, unknown := decodeSection(md, prim, dst, path, env)
	return append(errs, unknownKeyErrs(path, unknown)...)
}

// unknownKeyErrs reports keys no field took.
func unknownKeyErrs(path string, unknown []string) []error {
	var errs []error
	for _, k := range unknown {
		errs = append(errs, Errorf(joinPath(path, k), "unknown key"))
	}
	return errs
}

// tomlErr converts a decoder error into an *Error, keeping its line.
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
		return &Error{Line: pe.Position.Line, Path: p, Err: errors.New(msg)}
	}
	return &Error{Path: path, Err: errors.New(strings.TrimPrefix(err.Error(), "toml: "))}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
