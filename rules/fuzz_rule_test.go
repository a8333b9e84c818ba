package rules

import (
	"net/url"
	"os"
	"path"
	"testing"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/replicate"
)

// FuzzRule compiles a rule from fuzzed model and query globs, a fuzzed
// status and a fuzzed `when` expression, then explains it against a sample
// event whose model and query value are fuzzed too. Neither may panic; a
// rule that compiled without error explains every event, and Match agrees
// with Explain. When only the globs decide, Explain follows path.Match. The
// seed corpus (testdata/fuzz/FuzzRule) holds hostile globs and expressions.
func FuzzRule(f *testing.F) {
	f.Add("acme/*", "customId", "batch-*", "failed", `Metrics.PredictTime > 30`, "acme/upscaler", "batch-7")
	f.Add("[", "k", "\\", "terminal", `Input["x"].y.z`, "", "")
	f.Add("*", "*", "*", " ", `1/0 > 1`, "a/b/c", "*")
	body, err := os.ReadFile("../testdata/samples/prediction-failed.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, model, key, glob, status, when, evModel, evValue string) {
		s := config.Rule{Name: "fuzz", Model: model, Deployment: model, Status: []string{status},
			Query: map[string]string{key: glob}, When: when, Notify: []string{"a"}}
		r, errs := Compile(0, s)
		if r == nil {
			t.Fatalf("compileRule(%+v) = nil rule", s)
		}
		ev, err := replicate.Decode(body, url.Values{key: {evValue}}, time.Unix(1735689600, 0))
		if err != nil {
			t.Fatal(err)
		}
		ev.Model, ev.Deployment = evModel, evModel
		why := r.Explain(ev)
		if r.Match(ev) != (why == "") {
			t.Fatalf("Match = %v but Explain = %q", r.Match(ev), why)
		}
		if len(errs) > 0 || when != "" {
			return
		}
		want := (model == "" || globOK(model, evModel)) && globOK(glob, evValue) && (status == "terminal" || status == ev.Status)
		if got := why == ""; got != want {
			t.Fatalf("rule model %q query %s=%q status %q on model %q, %s=%q: Explain = %q, want match %v",
				model, key, glob, status, evModel, key, evValue, why, want)
		}
	})
}

// globOK is what a glob condition should decide (DESIGN §3): "*" matches
// any value, even one with a "/"; otherwise path.Match.
func globOK(pattern, s string) bool {
	if pattern == "*" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}
