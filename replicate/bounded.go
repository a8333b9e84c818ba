package replicate

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// What a decoded event holds is bounded, so that rendering it costs a
// bounded amount whatever a signed payload carries (DESIGN §5): each of
// input, output, metrics and the raw map keeps at most maxNodes values, a
// string at most maxString bytes, the logs their last maxLogs bytes, the
// error its first maxError bytes, and model, version, deployment and source
// maxShort bytes. A cut string ends in "…"; a list cut short ends in "…".
const (
	maxNodes  = 10_000
	maxString = 64 << 10
	maxLogs   = 256 << 10
	maxError  = 64 << 10
	maxShort  = 1 << 10
)

// ellipsis marks a string or a list cut short.
const ellipsis = "…"

// boundedValue decodes raw, one JSON value that checkJSON accepted, into the
// types encoding/json would use (map[string]any, []any, string, float64,
// bool, nil), keeping at most maxNodes values and maxString bytes of each
// string. Its time is linear in len(raw) and what it keeps is bounded.
func boundedValue(raw []byte) any {
	if len(raw) == 0 {
		return nil
	}
	d := boundedDecoder{b: raw, budget: maxNodes}
	return d.value()
}

// boundedDecoder walks JSON that checkJSON accepted: it never meets a
// syntax error, so it reports none.
type boundedDecoder struct {
	b      []byte
	i      int
	budget int // values still to keep
}

func (d *boundedDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value at d.i, or skips it (returning nil) when the
// budget is spent.
func (d *boundedDecoder) value() any {
	d.space()
	if d.budget <= 0 {
		d.skip()
		return nil
	}
	d.budget--
	switch c := d.b[d.i]; c {
	case '{':
		m := map[string]any{}
		d.members(func(key string) {
			if v, ok := d.kept(); ok {
				m[key] = v
			}
		})
		return m
	case '[':
		l := []any{}
		d.i++
		for d.next(']') {
			if v, ok := d.kept(); ok {
				l = append(l, v)
			} else if len(l) == 0 || l[len(l)-1] != ellipsis {
				l = append(l, ellipsis)
			}
		}
		return l
	case '"':
		return d.str(maxString)
	case 't':
		d.i += 4
		return true
	case 'f':
		d.i += 5
		return false
	case 'n':
		d.i += 4
		return nil
	}
	start := d.i
	for d.i < len(d.b) && isNumberByte(d.b[d.i]) {
		d.i++
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	if err != nil { // beyond float64 (encoding/json would refuse it): its text
		return string(d.b[start:d.i])
	}
	return f
}

// kept decodes the next value if the budget allows, else skips it.
func (d *boundedDecoder) kept() (any, bool) {
	if d.budget <= 0 {
		d.skip()
		return nil, false
	}
	return d.value(), true
}

// members calls f for every key of the object at d.i, with d.i at the
// key's value, which f must consume.
func (d *boundedDecoder) members(f func(key string)) {
	d.i++ // {
	for d.next('}') {
		d.space()
		key := d.str(maxString)
		d.space()
		d.i++ // :
		f(key)
	}
}

// next moves past a ',' or the closing bracket and reports whether another
// element follows.
func (d *boundedDecoder) next(closing byte) bool {
	d.space()
	switch d.b[d.i] {
	case closing:
		d.i++
		return false
	case ',':
		d.i++
	}
	d.space()
	if d.b[d.i] == closing { // an empty container: the first call
		d.i++
		return false
	}
	return true
}

// skip moves past the value at d.i without decoding it.
func (d *boundedDecoder) skip() {
	d.space()
	depth := 0
	for d.i < len(d.b) {
		switch c := d.b[d.i]; c {
		case '"':
			d.i = stringEnd(d.b, d.i)
			if depth == 0 {
				return
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				d.i++
				return
			}
		case ',', ':', ' ', '\t', '\n', '\r':
		default:
			if depth == 0 {
				for d.i < len(d.b) && (isNumberByte(d.b[d.i]) || ('a' <= d.b[d.i] && d.b[d.i] <= 'z')) {
					d.i++
				}
				return
			}
		}
		d.i++
	}
}

// str decodes the string literal at d.i, keeping its first limit bytes
// (cut on a character boundary and marked with ellipsis).
func (d *boundedDecoder) str(limit int) string {
	end := stringEnd(d.b, d.i)
	s := unescape(d.b[d.i+1:end-1], limit)
	d.i = end
	return s
}

// stringEnd returns the index just past the string literal starting at i.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// unescape returns the value of a valid string literal's inside s, cut to
// at most limit bytes plus an ellipsis when longer.
func unescape(s []byte, limit int) string {
	out := make([]byte, 0, min(len(s), limit+len(ellipsis)))
	for len(s) > 0 {
		if len(out) >= limit {
			return cutUTF8(out, limit) + ellipsis
		}
		c := s[0]
		if c != '\\' {
			out = append(out, c)
			s = s[1:]
			continue
		}
		if s[1] != 'u' {
			out = append(out, unescapeByte(s[1]))
			s = s[2:]
			continue
		}
		r, _ := hex4(s[2:6])
		n := 6
		if utf16.IsSurrogate(r) && len(s) >= 12 { // a valid pair, checked by checkJSON
			r2, _ := hex4(s[8:12])
			r, n = utf16.DecodeRune(r, r2), 12
		}
		out = utf8.AppendRune(out, r)
		s = s[n:]
	}
	return string(out)
}

// cutUTF8 returns b cut to at most n bytes, on a character boundary.
func cutUTF8(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n])
}

// cutString is cutUTF8 for a string, marking a cut with ellipsis.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutUTF8([]byte(s[:n+1]), n) + ellipsis
}

// tailString keeps the last n bytes of s (from a character boundary),
// marking a cut with a leading ellipsis.
func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return ellipsis + s[i:]
}

// objectHasKeys reports whether raw is an object with every one of keys,
// without decoding its values.
func objectHasKeys(raw []byte, keys ...string) bool {
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	found := 0
	d := boundedDecoder{b: raw}
	d.i++ // {
	for d.next('}') {
		d.space()
		start := d.i
		d.i = stringEnd(d.b, d.i)
		lit := d.b[start+1 : d.i-1]
		if bytes.IndexByte(lit, '\\') >= 0 {
			lit = []byte(unescape(lit, maxString))
		}
		for _, k := range keys {
			if string(lit) == k {
				found++
			}
		}
		d.space()
		d.i++ // :
		d.skip()
	}
	return found == len(keys)
}

func isNumberByte(c byte) bool {
	return ('0' <= c && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
