package relay

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ConfigError is one problem in a config file: where, which key, what.
type ConfigError struct {
	File string // the config file name as given
	Line int    // 0 when unknown
	Path string // key path: "rules[2].notify"
	Msg  string
}

// Error formats the problem as "file:line: path: msg".
func (e *ConfigError) Error() string {
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
	b.WriteString(controlEscaper.Replace(e.Msg))
	return b.String()
}

// controlEscaper keeps every problem on one line.
var controlEscaper = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\t", " ")

func fieldErr(path, format string, args ...any) error {
	return &ConfigError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// placeErrors sets File and, where the key can be found, Line on every
// ConfigError in errs (wrapping any other error as one at path), splits
// joined errors, sorts them by line, and joins them.
func placeErrors(file string, lines keyLines, errs []error) error {
	var out []*ConfigError
	for _, err := range flatten(errs) {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			ce = &ConfigError{Msg: err.Error()}
		}
		ce.File = file
		if ce.Line == 0 {
			ce.Line = lines.find(ce.Path)
		}
		out = append(out, ce)
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortStableFunc(out, func(a, b *ConfigError) int { return cmp.Compare(a.Line, b.Line) })
	joined := make([]error, len(out))
	for i, e := range out {
		joined[i] = e
	}
	return errors.Join(joined...)
}

func flatten(errs []error) []error {
	var out []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			out = append(out, flatten(j.Unwrap())...)
			continue
		}
		out = append(out, err)
	}
	return out
}

// prefixErrors turns errors whose text starts with "key: " (the notifier
// packages' Validate convention) into ConfigErrors at path.key.
func prefixErrors(path string, err error) []error {
	var out []error
	for _, e := range flatten([]error{err}) {
		var ce *ConfigError
		if errors.As(e, &ce) {
			out = append(out, e)
			continue
		}
		msg := e.Error()
		key, rest, ok := strings.Cut(msg, ": ")
		if ok && !strings.ContainsAny(key, " \"") {
			out = append(out, &ConfigError{Path: joinPath(path, key), Msg: rest})
		} else {
			out = append(out, &ConfigError{Path: path, Msg: msg})
		}
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
