package relay

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func loadSample(t *testing.T, name, query string) *Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.ParseQuery(query)
	ev, err := DecodeEvent(body, q, time.Unix(0, 0))
	if err != nil {
		t.Fatalf("DecodeEvent(%s): %v", name, err)
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
		rule RuleSection
		ev   *Event
		want string // "" = match
	}{
		{name: "empty rule matches all", rule: RuleSection{}, ev: failed},
		{name: "kind match", rule: RuleSection{Kind: "training"}, ev: training},
		{name: "kind any", rule: RuleSection{Kind: "any"}, ev: training},
		{name: "kind mismatch", rule: RuleSection{Kind: "training"}, ev: failed, want: `kind "prediction" is not "training"`},
		{name: "status in list", rule: RuleSection{Status: []string{"failed", "canceled"}}, ev: failed},
		{name: "status not in list", rule: RuleSection{Status: []string{"failed"}}, ev: training, want: `status "succeeded" not in [failed]`},
		{name: "terminal", rule: RuleSection{Status: []string{"terminal"}}, ev: training},
		{name: "terminal matches unknown status", rule: RuleSection{Status: []string{"terminal"}}, ev: &weird},
		{name: "unknown status as-is", rule: RuleSection{Status: []string{"expired"}}, ev: &weird},
		{name: "model glob", rule: RuleSection{Model: "acme/*"}, ev: failed},
		{name: "model glob mismatch", rule: RuleSection{Model: "acme/*"}, ev: training, want: `model "ostris/flux-dev-lora-trainer" does not match "acme/*"`},
		{name: "model star", rule: RuleSection{Model: "*"}, ev: training},
		{name: "deployment absent", rule: RuleSection{Deployment: "acme/*"}, ev: failed, want: `deployment "" does not match "acme/*"`},
		{name: "query glob", rule: RuleSection{Query: map[string]string{"customId": "batch-*"}}, ev: failed},
		{name: "query present", rule: RuleSection{Query: map[string]string{"customId": "*"}}, ev: training},
		{name: "query mismatch", rule: RuleSection{Query: map[string]string{"customId": "batch-*"}}, ev: training, want: `query customId "faces-v2" does not match "batch-*"`},
		{name: "query absent", rule: RuleSection{Query: map[string]string{"tenant": "*"}}, ev: failed, want: `query tenant is absent`},
		{name: "when true", rule: RuleSection{When: "Metrics.PredictTime > 5 && Query.customId startsWith 'batch-'"}, ev: failed},
		{name: "when false", rule: RuleSection{When: "Metrics.PredictTime > 30"}, ev: failed, want: `when "Metrics.PredictTime > 30" is false`},
		{name: "when on input", rule: RuleSection{When: "Input.scale >= 4"}, ev: failed},
		{name: "when on raw", rule: RuleSection{When: `Raw().source == "api" && Raw().data_removed == false`}, ev: failed},
		{name: "first failing condition wins", rule: RuleSection{Kind: "training", Status: []string{"failed"}}, ev: failed, want: `kind "prediction" is not "training"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.rule.Notify = []string{"n"}
			r, errs := compileRule(0, tc.rule, map[string]bool{"n": true})
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
	for i, s := range []RuleSection{
		{Name: "a", Notify: []string{"x", "y"}},
		{Name: "b", Status: []string{"succeeded"}, Notify: []string{"x"}},
		{Name: "c", Notify: []string{"x"}, Stop: true},
		{Name: "d", Notify: []string{"y"}},
	} {
		r, errs := compileRule(i, s, map[string]bool{"x": true, "y": true})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		rules = append(rules, r)
	}
	got := newRoutes(rules).match(ev)
	want := []pair{{"a", "x"}, {"a", "y"}, {"c", "x"}}
	if len(got) != len(want) {
		t.Fatalf("match() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("match()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
