package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a config file: where, which key, what.
type Error struct {
	File string // the config file name as given; set by Place
	Line int    // 0 when unknown
	Path string // key path: "rules[2].notify"
	Err  error
}

// Error formats the problem as "file:line: path: problem" on one line: a
// key or an error text with line breaks is never split over several.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(controlEscaper.Replace(e.Path))
		b.WriteString(": ")
	}
	b.WriteString(strings.Join(strings.Fields(e.Err.Error()), " "))
	return b.String()
}

// Unwrap returns the problem without its place.
func (e *Error) Unwrap() error { return e.Err }

// controlEscaper keeps a key path on one line.
var controlEscaper = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\t", " ")

// Errorf returns the *Error at key path with a formatted message (%w wraps).
func Errorf(path, format string, args ...any) error {
	return &Error{Path: path, Err: fmt.Errorf(format, args...)}
}

// At returns err as an *Error at key path; an *Error is returned as it is.
func At(path string, err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	return &Error{Path: path, Err: err}
}

// Place gives every error in errs the file name and, where the key can be
// found in src, its line (errors that are not an *Error are placed at the
// top of the file), splits joined errors, sorts them by line and joins them.
// It returns nil when errs holds none.
func Place(name, src string, errs []error) error {
	var out []*Error
	var lines keyLines
	for _, err := range Flatten(errs) {
		var ce *Error
		if !errors.As(err, &ce) {
			ce = &Error{Err: err}
		}
		ce.File = name
		if ce.Line == 0 {
			if lines == nil {
				lines = scanKeyLines(src)
			}
			ce.Line = lines.find(ce.Path)
		}
		out = append(out, ce)
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortStableFunc(out, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	joined := make([]error, len(out))
	for i, e := range out {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// Flatten returns the errors of errs with every joined error (one with
// Unwrap() []error) replaced by its parts, recursively, and nils dropped.
func Flatten(errs []error) []error {
	var out []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			out = append(out, Flatten(j.Unwrap())...)
			continue
		}
		out = append(out, err)
	}
	return out
}

// keyLines maps TOML key paths ("server.listen", "rules[2].notify",
// "notifiers.ml-alerts") to the line that defines them. BurntSushi/toml keeps
// key positions private, so this is a small line scanner over the file: it
// understands [tables], [[arrays of tables]], key = value lines and
// multi-line strings, which is all a config needs to be located.
type keyLines map[string]int

func scanKeyLines(src string) keyLines {
	lines := keyLines{}
	counts := map[string]int{}
	table := ""
	inMulti := ""
	for i, line := range strings.Split(src, "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		if inMulti != "" {
			if strings.Contains(t, inMulti) {
				inMulti = ""
			}
			continue
		}
		switch {
		case t == "" || t[0] == '#':
		case strings.HasPrefix(t, "[["):
			name := tomlKeyPath(strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(t, "]]", 2)[0], "[["), "]]"))
			table = fmt.Sprintf("%s[%d]", name, counts[name])
			counts[name]++
			lines.add(table, n)
		case t[0] == '[':
			table = tomlKeyPath(strings.TrimPrefix(strings.SplitN(t, "]", 2)[0], "["))
			lines.add(table, n)
		default:
			key, val, ok := strings.Cut(t, "=")
			if !ok {
				continue
			}
			lines.add(joinKeyPath(table, tomlKeyPath(key)), n)
			for _, q := range []string{`"""`, `'''`} {
				if v := strings.TrimSpace(val); strings.HasPrefix(v, q) && !strings.Contains(v[3:], q) {
					inMulti = q
				}
			}
		}
	}
	return lines
}

func (l keyLines) add(path string, line int) {
	if _, ok := l[path]; !ok {
		l[path] = line
	}
}

// find returns the line of path, or of its nearest ancestor, or 0.
// "rules[2].notify[0]" falls back to "rules[2].notify", then "rules[2]".
func (l keyLines) find(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// tomlKeyPath normalises a TOML key as written (bare, quoted, dotted) to the
// path form joinPath produces.
func tomlKeyPath(key string) string {
	var parts []string
	key = strings.TrimSpace(key)
	for key != "" {
		var part string
		if key[0] == '"' || key[0] == '\'' {
			end := strings.IndexByte(key[1:], key[0])
			if end < 0 {
				part, key = key[1:], ""
			} else {
				part, key = key[1:end+1], key[end+2:]
			}
		} else {
			part, key, _ = strings.Cut(key, ".")
			part = strings.TrimSpace(part)
			parts = append(parts, part)
			key = strings.TrimSpace(key)
			continue
		}
		parts = append(parts, part)
		key = strings.TrimPrefix(strings.TrimSpace(key), ".")
		key = strings.TrimSpace(key)
	}
	path := ""
	for _, p := range parts {
		path = joinPath(path, p)
	}
	return path
}

func joinKeyPath(table, key string) string {
	if table == "" {
		return key
	}
	return table + "." + key
}
