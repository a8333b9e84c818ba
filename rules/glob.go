package rules

import (
	"path"
	"strings"
)

// glob is a compiled path.Match pattern. The common shapes — a literal, a
// prefix followed by *, * followed by a suffix, and * alone — are matched
// without path.Match, with the same meaning (* matches no '/'), except that
// * alone matches every value, '/' included.
type glob struct {
	pattern string
	shape   globShape
	lit     string // the literal, prefix or suffix
}

type globShape uint8

const (
	globAny globShape = iota
	globLiteral
	globPrefix
	globSuffix
	globGeneral
)

// compileGlob checks pattern and picks its shape.
func compileGlob(pattern string) (glob, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return glob{}, err
	}
	g := glob{pattern: pattern, shape: globGeneral}
	meta := strings.IndexAny(pattern, `*?[\`)
	switch {
	case pattern == "*":
		g.shape = globAny
	case meta < 0:
		g.shape, g.lit = globLiteral, pattern
	case meta == len(pattern)-1 && pattern[meta] == '*':
		g.shape, g.lit = globPrefix, pattern[:meta]
	case meta == 0 && pattern[0] == '*' && !strings.ContainsAny(pattern[1:], `*?[\`):
		g.shape, g.lit = globSuffix, pattern[1:]
	}
	return g, nil
}

// match reports whether s matches the pattern.
func (g glob) match(s string) bool {
	switch g.shape {
	case globAny:
		return true
	case globLiteral:
		return s == g.lit
	case globPrefix:
		return strings.HasPrefix(s, g.lit) && strings.IndexByte(s[len(g.lit):], '/') < 0
	case globSuffix:
		return strings.HasSuffix(s, g.lit) && strings.IndexByte(s[:len(s)-len(g.lit)], '/') < 0
	}
	ok, _ := path.Match(g.pattern, s)
	return ok
}
