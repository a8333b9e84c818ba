package rules

import (
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/replicate"
)

// benchBody is the 1.9 KB Vector B body of the protocol notes.
func benchBody(b *testing.B) []byte {
	b.Helper()
	body, err := os.ReadFile("../replicate/testdata/vector-b.json")
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// matchRules returns n rules that all must be evaluated for an event of
// model acme/upscaler with customId=target: even rules differ by customId,
// odd ones by model, and only the last one matches.
func matchRules(n int, when bool) []config.Rule {
	var out []config.Rule
	for i := range n {
		model, custom := "acme/*", fmt.Sprintf("batch-%d-*", i)
		if i%2 == 1 {
			model, custom = fmt.Sprintf("acme/model-%d", i), "*"
		}
		if i == n-1 {
			model, custom = "acme/upscaler", "target"
		}
		r := config.Rule{Name: fmt.Sprintf("r%d", i), Status: []string{"terminal"}, Model: model,
			Query: map[string]string{"customId": custom}, Notify: []string{"a"}}
		if when {
			r.When = "Metrics.PredictTime > 1"
		}
		out = append(out, r)
	}
	return out
}

func BenchmarkMatch(b *testing.B) {
	for _, tc := range []struct {
		rules int
		when  bool
	}{{rules: 1}, {rules: 100}, {rules: 1000}, {rules: 100, when: true}} {
		name := fmt.Sprintf("rules=%d", tc.rules)
		if tc.when {
			name += "/when"
		}
		b.Run(name, func(b *testing.B) {
			set, errs := New(matchRules(tc.rules, tc.when))
			if len(errs) > 0 {
				b.Fatal(errs)
			}
			ev, err := replicate.Decode(benchBody(b), url.Values{"customId": {"target"}}, time.Unix(1735689600, 0))
			if err != nil {
				b.Fatal(err)
			}
			if got := set.Match(ev); len(got) != 1 {
				b.Fatalf("match() = %v, want only the last rule", got)
			}
			b.ReportAllocs()
			for b.Loop() {
				set.Match(ev)
			}
		})
	}
}
