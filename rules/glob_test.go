package rules

import (
	"path"
	"testing"
)

// TestGlobAgreesWithPathMatch: the fast shapes mean what path.Match means.
func TestGlobAgreesWithPathMatch(t *testing.T) {
	patterns := []string{"acme/*", "batch-*", "*-7", "exact", "a*b", "a?c", "[ab]*", `\*x`, "*", "", "acme/up*"}
	values := []string{"", "acme/upscaler", "acme/up/scaler", "batch-7", "batch-7/x", "x-7", "a/b-7", "exact", "exactly", "ab", "axb", "abc", "*x", "acme/", "b"}
	for _, p := range patterns {
		g, err := compileGlob(p)
		if err != nil {
			t.Fatalf("compileGlob(%q): %v", p, err)
		}
		for _, v := range values {
			want, _ := path.Match(p, v)
			if p == "*" {
				want = true // * alone means "present", whatever the value
			}
			if got := g.match(v); got != want {
				t.Errorf("glob(%q).match(%q) = %v, want %v", p, v, got, want)
			}
		}
	}
	if _, err := compileGlob("["); err == nil {
		t.Error(`compileGlob("[") succeeded`)
	}
}
