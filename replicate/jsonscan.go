package replicate

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanning half of checkJSON: strings, escapes, numbers and literals.

func (c *jsonChecker) skipSpace() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// unexpected describes the byte at i (or the end of the body) as a syntax
// error.
func (c *jsonChecker) unexpected(i int) error {
	if i >= len(c.b) {
		return fmt.Errorf("invalid JSON at byte %d: unexpected end of input", len(c.b))
	}
	r := rune(c.b[i])
	if r >= utf8.RuneSelf {
		var n int
		if r, n = utf8.DecodeRune(c.b[i:]); r == utf8.RuneError && n == 1 {
			return invalidUTF8(i)
		}
	}
	return fmt.Errorf("invalid JSON at byte %d: unexpected %q", i, r)
}

func invalidUTF8(i int) error {
	return fmt.Errorf("invalid UTF-8 at byte %d", i)
}

// str checks the string literal at c.i and moves past it, reporting whether
// it has escapes.
func (c *jsonChecker) str() (escaped bool, err error) {
	b := c.b
	for i := c.i + 1; i < len(b); {
		switch ch := b[i]; {
		case ch == '"':
			c.i = i + 1
			return escaped, nil
		case ch == '\\':
			n, err := c.escape(i)
			if err != nil {
				return false, err
			}
			i += n
			escaped = true
		case ch < 0x20:
			return false, fmt.Errorf("invalid JSON at byte %d: control character %q in string", i, rune(ch))
		case ch < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return false, invalidUTF8(i)
			}
			i += n
		}
	}
	return false, c.unexpected(len(b))
}

// escape checks the escape sequence at i and returns its length.
func (c *jsonChecker) escape(i int) (int, error) {
	b := c.b
	if i+1 == len(b) {
		return 0, c.unexpected(len(b))
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, fmt.Errorf("invalid JSON at byte %d: invalid escape %q", i, b[i:i+2])
	}
	if i+6 > len(b) {
		return 0, c.unexpected(len(b))
	}
	r, ok := hex4(b[i+2 : i+6])
	if !ok {
		return 0, fmt.Errorf("invalid JSON at byte %d: invalid escape %q", i, b[i:i+6])
	}
	if !utf16.IsSurrogate(r) {
		return 6, nil
	}
	if r < 0xdc00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
		if r2, ok := hex4(b[i+8 : i+12]); ok && 0xdc00 <= r2 && r2 <= 0xdfff {
			return 12, nil
		}
	}
	return 0, fmt.Errorf("invalid JSON at byte %d: lone surrogate escape %q", i, b[i:i+6])
}

// hex4 decodes four hex digits.
func hex4(h []byte) (rune, bool) {
	var r rune
	for _, ch := range h {
		switch {
		case '0' <= ch && ch <= '9':
			ch -= '0'
		case 'a' <= ch && ch <= 'f':
			ch -= 'a' - 10
		case 'A' <= ch && ch <= 'F':
			ch -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(ch)
	}
	return r, true
}

// number checks the number at c.i (RFC 8259 §6) and moves past it.
func (c *jsonChecker) number() error {
	b, i := c.b, c.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return c.unexpected(i)
	}
	if i < len(b) && b[i] == '.' {
		start := i + 1
		if i = skipDigits(b, start); i == start {
			return c.unexpected(i)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		if i = skipDigits(b, i); i == start {
			return c.unexpected(i)
		}
	}
	c.i = i
	return nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// literal checks that word (true, false or null) is at c.i and moves past it.
func (c *jsonChecker) literal(word string) error {
	for k := range len(word) {
		if c.i+k == len(c.b) || c.b[c.i+k] != word[k] {
			return c.unexpected(c.i + k)
		}
	}
	c.i += len(word)
	return nil
}
