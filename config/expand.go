package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/hooknote/hooknote/notifiers"
)

// Env is where the config loader finds ${VAR} values and *_file secrets.
type Env struct {
	// Lookup returns an environment variable (os.LookupEnv in production).
	Lookup func(string) (string, bool)
	// Dir is the directory relative *_file names fall back to (the config
	// file's directory) after $CREDENTIALS_DIRECTORY.
	Dir string
}

// expandString replaces ${VAR} and ${VAR:-default} in s; $${ is a literal ${.
func (e Env) expandString(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", truncateForError(s[i:]))
		}
		ref := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid variable name %q in ${%s}", name, truncateForError(ref))
		}
		v, ok := e.Lookup(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			return "", &unsetVarError{name: name}
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

// unsetVarError names a ${VAR} that is not set; unlike the syntax errors it
// quotes nothing of the value, so it is safe to show for a secret too.
type unsetVarError struct{ name string }

func (e *unsetVarError) Error() string {
	return fmt.Sprintf("environment variable %q is not set (use ${%s:-default} for a default)", e.name, e.name)
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		ok := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func truncateForError(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// readSecretFile reads a *_file secret: a relative name is looked up in
// $CREDENTIALS_DIRECTORY first (systemd's LoadCredential=), then beside the
// config file. One trailing newline is trimmed.
func (e Env) readSecretFile(name string) (string, error) {
	var candidates []string
	if filepath.IsAbs(name) {
		candidates = []string{name}
	} else {
		if dir, ok := e.Lookup("CREDENTIALS_DIRECTORY"); ok && dir != "" {
			candidates = append(candidates, filepath.Join(dir, name))
		}
		candidates = append(candidates, filepath.Join(e.Dir, name))
	}
	var firstErr error
	for _, c := range candidates {
		b, err := os.ReadFile(c)
		if err == nil {
			s := strings.TrimSuffix(string(b), "\n")
			return strings.TrimSuffix(s, "\r"), nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", fmt.Errorf("read secret file: %w", firstErr)
}

var (
	secretType = reflect.TypeFor[notifiers.Secret]()
	stringType = reflect.TypeFor[string]()
)

// resolve expands ${VAR} in every string, []string, map value and Secret of
// the struct v points to, and reads every `x_file` field into its twin `x`.
// path is the TOML key path of v ("notifiers.ml-alerts"). It returns one
// *Error per problem.
func (e Env) resolve(v any, path string) []error {
	rv := reflect.ValueOf(v).Elem()
	return e.resolveStruct(rv, path)
}

func (e Env) resolveStruct(rv reflect.Value, path string) []error {
	var errs []error
	rt := rv.Type()
	fields := map[string]reflect.Value{}
	for i := 0; i < rt.NumField(); i++ {
		if key := tomlKey(rt.Field(i)); key != "" && rt.Field(i).IsExported() {
			fields[key] = rv.Field(i)
		}
	}
	for key, f := range fields {
		if err := e.resolveValue(f, joinPath(path, key)); err != nil {
			errs = append(errs, err...)
		}
	}
	for key, f := range fields {
		base, ok := strings.CutSuffix(key, "_file")
		twin, hasTwin := fields[base]
		if !ok || !hasTwin || f.Type() != stringType || f.String() == "" {
			continue
		}
		errs = append(errs, e.resolveFile(f.String(), twin, joinPath(path, base), joinPath(path, key))...)
	}
	return errs
}

func (e Env) resolveFile(name string, twin reflect.Value, twinPath, filePath string) []error {
	set := (twin.Type() == secretType && !twin.Interface().(notifiers.Secret).IsZero()) ||
		(twin.Type() == stringType && twin.String() != "")
	if set {
		return []error{Errorf(filePath, "both %s and %s are set; use one", lastKey(twinPath), lastKey(filePath))}
	}
	val, err := e.readSecretFile(name)
	if err != nil {
		return []error{At(filePath, err)}
	}
	if twin.Type() == secretType {
		twin.Set(reflect.ValueOf(notifiers.NewSecret(val)))
	} else {
		twin.SetString(val)
	}
	return nil
}

func (e Env) resolveValue(f reflect.Value, path string) []error {
	switch {
	case f.Type() == secretType:
		s, err := e.expandString(f.Interface().(notifiers.Secret).Reveal())
		var unset *unsetVarError
		switch {
		case errors.As(err, &unset):
			return []error{At(path, err)}
		case err != nil: // the message would quote part of the secret
			return []error{Errorf(path, "bad ${VAR} reference (the value is a secret and is not shown)")}
		}
		f.Set(reflect.ValueOf(notifiers.NewSecret(s)))
	case f.Kind() == reflect.String:
		s, err := e.expandString(f.String())
		if err != nil {
			return []error{At(path, err)}
		}
		f.SetString(s)
	case f.Kind() == reflect.Slice:
		var errs []error
		for i := 0; i < f.Len(); i++ {
			errs = append(errs, e.resolveValue(f.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String:
		var errs []error
		for _, k := range f.MapKeys() {
			elem := reflect.New(f.Type().Elem()).Elem()
			elem.Set(f.MapIndex(k))
			errs = append(errs, e.resolveValue(elem, joinPath(path, k.String()))...)
			f.SetMapIndex(k, elem)
		}
		return errs
	case f.Kind() == reflect.Struct && f.CanAddr() && f.NumField() > 0 && tomlStruct(f.Type()):
		return e.resolveStruct(f, path)
	}
	return nil
}

// tomlStruct reports whether t is a config section (has toml-tagged fields),
// as opposed to a leaf value such as Duration.
func tomlStruct(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		if _, ok := t.Field(i).Tag.Lookup("toml"); ok {
			return true
		}
	}
	return false
}

func tomlKey(f reflect.StructField) string {
	tag, ok := f.Tag.Lookup("toml")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	if !bareKey(key) {
		key = strconv.Quote(key)
	}
	return path + "." + key
}

// bareKey reports whether key can be printed unquoted in a path.
func bareKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range key {
		if !(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}
