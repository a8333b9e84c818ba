package rules

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/replicate"
)

func loadSample(t *testing.T, name, query string) *replicate.Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.ParseQuery(query)
	ev, err := replicate.Decode(body, q, time.Unix(0, 0))
	if err != nil {
		t.Fatalf("replicate.Decode(%s): %v", name, err)
	}
	return ev
}

func TestRuleConditions(t *testing.T) {
	failed := loadSample(t, "prediction-failed.json", "customId=batch-7")
	training := loadSample(t, "training-succeeded.json", "kind=training&customId=faces-v2")
	weird := *failed
	weird.Status = "expired"
	cases := []struct {
		name string
		rule config.Rule
		ev   *replicate.Event
		want string // "" = match
	}{
		{name: "empty rule matches all", rule: config.Rule{}, ev: failed},
		{name: "kind match", rule: config.Rule{Kind: "training"}, ev: training},
		{name: "kind any", rule: config.Rule{Kind: "any"}, ev: training},
		{name: "kind mismatch", rule: config.Rule{Kind: "training"}, ev: failed, want: `kind "prediction" is not "training"`},
		{name: "status in list", rule: config.Rule{Status: []string{"failed", "canceled"}}, ev: failed},
		{name: "status not in list", rule: config.Rule{Status: []string{"failed"}}, ev: training, want: `status "succeeded" not in [failed]`},
		{name: "terminal", rule: config.Rule{Status: []string{"terminal"}}, ev: training},
		{name: "terminal matches unknown status", rule: config.Rule{Status: []string{"terminal"}}, ev: &weird},
		{name: "unknown status as-is", rule: config.Rule{Status: []string{"expired"}}, ev: &weird},
		{name: "model glob", rule: config.Rule{Model: "acme/*"}, ev: failed},
		{name: "model glob mismatch", rule: config.Rule{Model: "acme/*"}, ev: training, want: `model "ostris/flux-dev-lora-trainer" does not match "acme/*"`},
		{name: "model star", rule: config.Rule{Model: "*"}, ev: training},
		{name: "deployment absent", rule: config.Rule{Deployment: "acme/*"}, ev: failed, want: `deployment "" does not match "acme/*"`},
		{name: "query glob", rule: config.Rule{Query: map[string]string{"customId": "batch-*"}}, ev: failed},
		{name: "query present", rule: config.Rule{Query: map[string]string{"customId": "*"}}, ev: training},
		{name: "query mismatch", rule: config.Rule{Query: map[string]string{"customId": "batch-*"}}, ev: training, want: `query customId "faces-v2" does not match "batch-*"`},
		{name: "query absent", rule: config.Rule{Query: map[string]string{"tenant": "*"}}, ev: failed, want: `query tenant is absent`},
		{name: "when true", rule: config.Rule{When: "Metrics.PredictTime > 5 && Query.customId startsWith 'batch-'"}, ev: failed},
		{name: "when false", rule: config.Rule{When: "Metrics.PredictTime > 30"}, ev: failed, want: `when "Metrics.PredictTime > 30" is false`},
		{name: "when on input", rule: config.Rule{When: "Input.scale >= 4"}, ev: failed},
		{name: "when on raw", rule: config.Rule{When: `Raw().source == "api" && Raw().data_removed == false`}, ev: failed},
		{name: "first failing condition wins", rule: config.Rule{Kind: "training", Status: []string{"failed"}}, ev: failed, want: `kind "prediction" is not "training"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.rule.Notify = []string{"n"}
			r, errs := Compile(0, tc.rule)
			if len(errs) > 0 {
				t.Fatalf("compileRule: %v", errs)
			}
			if got := r.Explain(tc.ev); got != tc.want {
				t.Errorf("Explain() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMatchStop(t *testing.T) {
	ev := loadSample(t, "prediction-failed.json", "customId=batch-7")
	var rules []*Rule
	for i, s := range []config.Rule{
		{Name: "a", Notify: []string{"x", "y"}},
		{Name: "b", Status: []string{"succeeded"}, Notify: []string{"x"}},
		{Name: "c", Notify: []string{"x"}, Stop: true},
		{Name: "d", Notify: []string{"y"}},
	} {
		r, errs := Compile(i, s)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		rules = append(rules, r)
	}
	var got []string
	for _, r := range index(rules).Match(ev) {
		got = append(got, r.Rule.Name+"→"+r.Notifier)
	}
	want := []string{"a→x", "a→y", "c→x"}
	if len(got) != len(want) {
		t.Fatalf("match() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("match()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
