package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the built binary and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// TestCheckExampleConfig loads config.example.toml the way `hooknote check`
// does: every template rendered against every sample.
func TestCheckExampleConfig(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "check", "-config", "config.example.toml")
	if code != 0 {
		t.Fatalf("check config.example.toml = %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"ok (4 rules, 4 notifiers", "trainings-finished", "failed-batch-predictions", "customId=batch-*", "ml-alerts    slack", "by model,query.customId", "live: one per event"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "hooks.slack.com/services") || strings.Contains(stdout+stderr, "change-me") {
		t.Errorf("check printed a secret:\n%s%s", stdout, stderr)
	}
}

func TestCheckBadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.toml")
	os.WriteFile(p, []byte(`
[replicate]
secret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"
[notifiers.s]
type = "slack"
webhook_url = "https://hooks.slack.com/services/T/B/sekrit"
text = "{{ .Nope.Deeper }"
[[rules]]
notify = ["slak"]
`), 0o600)
	code, stdout, stderr := runCLI(t, nil, "check", "-config", p)
	if code != 1 {
		t.Fatalf("check = %d, want 1\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{`bad.toml:7: notifiers.s.text:`, `bad.toml:9: rules[0].notify[0]: unknown notifier "slak"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout+stderr, "sekrit") {
		t.Errorf("check printed the webhook URL:\n%s", stderr)
	}
}

// TestDemo runs `hooknote demo` as a user would and checks that a Slack
// message and an email were delivered and the duplicate recognised.
func TestDemo(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "demo")
	if code != 0 {
		t.Fatalf("demo = %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{`{"accepted":0,"duplicate":true}`, "── Slack message 1", "── Slack message 2", "── Email 1", "Subject: [hooknote] ❌ failed", "Delivered: 2 Slack messages, 1 emails"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "── Slack message 3") || strings.Contains(stdout, "── Email 2") {
		t.Errorf("demo delivered a duplicate:\n%s", stdout)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(stdout, "hooknote ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("version = %d %q", code, stdout)
	}
}

// TestTestCommandGolden: `hooknote test` explains each rule (match, or the
// first condition that failed) and prints the rendered messages; for a
// digest rule, which digest the event would join.
func TestTestCommandGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{name: "match", args: []string{"testdata/samples/prediction-failed.json"}},
		{name: "nomatch", args: []string{"-query", "customId=other-1", "testdata/samples/prediction-failed.json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"test", "-config", "testdata/cli/test.toml"}, tc.args...)
			code, stdout, stderr := runCLI(t, nil, args...)
			if code != 0 {
				t.Fatalf("hooknote %v = %d\n%s%s", args, code, stdout, stderr)
			}
			compareGolden(t, filepath.Join("testdata", "golden", "test-"+tc.name+".txt"), stdout)
			const joins = "would join digest model=acme/upscaler query.customId="
			if !strings.Contains(stdout, joins) || !strings.Contains(stdout, "of rule batch-digest") {
				t.Errorf("hooknote test does not say which digest the event joins:\n%s", stdout)
			}
		})
	}
}

// TestQueryTemplatedRecipientLoads: a `to` taken only from the query renders
// empty for the samples; that is not a config error.
func TestQueryTemplatedRecipientLoads(t *testing.T) {
	p := writeConfig(t, t.TempDir(), "[replicate]\nsecret = \""+e2eSecret+"\"\n[notifiers.mail]\ntype = \"email\"\nhost = \"smtp.example.com\"\nfrom = \"hooknote <relay@example.com>\"\nto = [\"{{ .Query.notify }}\"]\nallow_to = [\"*@example.com\"]\n[[rules]]\nnotify = [\"mail\"]\n")
	if code, out, errOut := runCLI(t, nil, "check", "-config", p); code != 0 {
		t.Errorf("check = %d:\n%s%s", code, out, errOut)
	}
}

// TestCheckHidesSecretValues: a broken secret line is reported without its
// value.
func TestCheckHidesSecretValues(t *testing.T) {
	for _, tc := range []struct{ line, secret string }{
		{`secret = whsecUnquotedSecret`, "UnquotedSecret"},
		{`secret = "whsec_${word-secret-xyz}"`, "word-secret-xyz"},
		{`secret = "whsec_abc${unterminated-secret"`, "unterminated-secret"},
	} {
		code, out, errOut := runCLI(t, nil, "check", "-config", writeConfig(t, t.TempDir(), "[replicate]\n"+tc.line+"\n"))
		if code != 1 {
			t.Errorf("check of %q = %d, want 1", tc.line, code)
		}
		if strings.Contains(out+errOut, tc.secret) {
			t.Errorf("check of %q prints the secret:\n%s%s", tc.line, out, errOut)
		}
	}
}
