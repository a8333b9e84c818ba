package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Secrets the daemon is given; none may be printed anywhere.
const (
	secretSlackPath  = "T0SECRET/B0SECRET/slack-path-secret"
	secretSlackToken = "xoxb-token-secret-456"
	secretSMTP       = "smtp-password-secret-789"
	secretURLToken   = "urltoken-secret-def"
	secretHeader     = "pipeline-secret-abc"
)

// secretValues are the strings no output may contain: every secret, the
// parts of the Slack webhook path, and the replicate secret with and
// without its prefix.
var secretValues = []string{
	secretSlackPath, "slack-path-secret", "T0SECRET", "B0SECRET", secretSlackToken, secretSMTP, secretURLToken, secretHeader,
	e2eSecret, strings.TrimPrefix(e2eSecret, "whsec_"),
}

// secretsConfig has one notifier per error path, each chosen by ?n=NAME.
// %s: state dir, refused address, Slack stand-in address (×3), SMTP host,
// port, CA file, refused address.
const secretsConfig = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[replicate]
secret = "${E2E_SECRET}"
[state]
dir = %q
[delivery]
backoff = "50ms"
max_backoff = "100ms"
max_attempts = 2
[notifiers.slack-refused]
type = "slack"
webhook_url = "http://%s/services/${SLACK_PATH}"
[notifiers.slack-403]
type = "slack"
webhook_url = "http://%s/services/${SLACK_PATH}/403"
[notifiers.slack-401]
type = "slack"
webhook_url = "http://%s/services/${SLACK_PATH}/401"
[notifiers.slack-token]
type = "slack"
token = "${SLACK_TOKEN}"
channel = "#ml"
api_url = "http://%s/api/"
[notifiers.smtp-auth]
type = "email"
host = %q
port = %s
ca_file = %q
username = "relay@example.com"
password = "${SMTP_PASSWORD}"
from = "hooknote <relay@example.com>"
to = ["oncall@example.com"]
[notifiers.hook-refused]
type = "webhook"
url = "http://%s/hook?token=${URL_TOKEN}"
headers = { Authorization = "Bearer ${PIPELINE_TOKEN}" }
[notifiers.hook-401]
type = "webhook"
url = "http://%s/hook/401?token=${URL_TOKEN}"
headers = { Authorization = "Bearer ${PIPELINE_TOKEN}" }
`

var secretNotifiers = []string{"slack-refused", "slack-403", "slack-401", "slack-token", "smtp-auth", "hook-refused", "hook-401"}

// denyingServer answers like Slack and a pipeline that refuse the
// credentials.
func denyingServer(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	switch {
	case strings.HasSuffix(r.URL.Path, "/403"):
		http.Error(w, "invalid_token", http.StatusForbidden)
	case strings.HasSuffix(r.URL.Path, "/401"):
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
	default:
		http.NotFound(w, r)
	}
}

// secretsEnv writes the config and returns its path and environment.
func secretsEnv(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	deny, _ := serveOn(t, "127.0.0.1:0", http.HandlerFunc(denyingServer))
	box := &mailbox{user: "relay@example.com", pass: "the-right-password", got: make(chan struct{}, 8)}
	srv, smtpAddr, caPEM, err := startMailbox(box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(smtpAddr)
	rules := ""
	for _, n := range secretNotifiers {
		rules += fmt.Sprintf("[[rules]]\nname = %q\nquery = { n = %q }\nnotify = [%q]\n", n, n, n)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf(secretsConfig, filepath.Join(dir, "state"), refused, deny, deny, deny,
		host, port, caFile, refused, deny)+rules)
	env := []string{"E2E_SECRET=" + e2eSecret, "SLACK_PATH=" + secretSlackPath, "SLACK_TOKEN=" + secretSlackToken,
		"SMTP_PASSWORD=" + secretSMTP, "URL_TOKEN=" + secretURLToken, "PIPELINE_TOKEN=" + secretHeader}
	return cfg, env
}

// noSecret fails the test if out contains a secret.
func noSecret(t *testing.T, where, out string) {
	t.Helper()
	for _, s := range secretValues {
		if strings.Contains(out, s) {
			t.Errorf("%s contains the secret %q:\n%s", where, s, out)
		}
	}
}

// TestNoSecretsInOutput drives every delivery error path (Slack refused,
// 403, 401 and invalid_auth, SMTP auth failure, webhook refused and 401) to
// a dead letter, reloads a broken config, and runs the CLI on the same
// config: no secret appears in the daemon's log, in `dead list`, or in any
// command's output.
func TestNoSecretsInOutput(t *testing.T) {
	cfg, env := secretsEnv(t)
	d := startBinary(t, cfg, env...)
	body := withID(t, "secrets-1")
	for i, n := range secretNotifiers {
		q := url.Values{"n": {n}, "kind": {"training"}, "customId": {"faces-v2"}}
		b := []byte(strings.Replace(string(body), "kind=training&customId=faces-v2", q.Encode(), 1))
		if status, answer := d.post(t, b, q.Encode(), fmt.Sprintf("msg_secrets_%d", i)); status != 200 {
			t.Fatalf("POST for %s = %d %s", n, status, answer)
		}
	}
	admin := strings.TrimPrefix(d.admin, "http://")
	var out, errOut string
	eventually(t, "a dead letter per notifier", 20*time.Second, func() bool {
		_, out, errOut = runCLI(t, nil, "dead", "-admin", admin, "list")
		for _, n := range secretNotifiers {
			if !strings.Contains(out, " "+n+" ") {
				return false
			}
		}
		return true
	})
	t.Logf("dead list:\n%s", out)
	noSecret(t, "`dead list`", out+errOut)

	// A reload refused for a broken config logs its problems.
	broken := filepath.Join(filepath.Dir(cfg), "config.toml")
	src, _ := os.ReadFile(cfg)
	os.WriteFile(broken, append(src, []byte(brokenSecretsTail)...), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "the reload refused", 10*time.Second, func() bool { return strings.Contains(d.logs(), "reload refused") })
	noSecret(t, "the daemon's log", d.logs())

	code, stdout, stderr := runCLI(t, env, "check", "-config", broken)
	if code != 1 {
		t.Errorf("check of the broken config = %d, want 1", code)
	}
	noSecret(t, "`check` of a broken config", stdout+stderr)
	os.WriteFile(broken, src, 0o600)
	bodyFile := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(bodyFile, body, 0o600)
	for _, n := range secretNotifiers {
		_, stdout, stderr := runCLI(t, env, "test", "-config", broken, "-query", "kind=training&customId=faces-v2&n="+n, "-send", bodyFile)
		if !strings.Contains(stdout, "send: FAILED") {
			t.Errorf("test -send via %s did not fail:\n%s%s", n, stdout, stderr)
		}
		noSecret(t, "`test -send` via "+n, stdout+stderr)
	}
	_, stdout, stderr = runCLI(t, nil, "send", "-url", d.intake, "-secret", "whsec_"+secretSMTP, bodyFile)
	noSecret(t, "`send` with a malformed secret", stdout+stderr)
}

// brokenSecretsTail makes the secrets config invalid in ways that name the
// keys holding secrets.
const brokenSecretsTail = `
[notifiers.broken-slack]
type = "slack"
webhook_url = "ftp://hooks.slack.com/services/${SLACK_PATH}"
token = "${SLACK_TOKEN} with spaces"
[notifiers.broken-mail]
type = "email"
host = "smtp.example.com"
tls = "none"
username = "relay@example.com"
password = "${SMTP_PASSWORD}"
from = "hooknote <relay@example.com>"
to = ["oncall@example.com"]
[notifiers.broken-hook]
type = "webhook"
url = "gopher://internal.example.com/?token=${URL_TOKEN}"
headers = { "Bad Header" = "${PIPELINE_TOKEN}", X-Ok = "${PIPELINE_TOKEN}\u0000" }
[[rules]]
name = "broken"
notify = ["broken-slack", "broken-mail", "broken-hook", "nope"]
when = 'Query.n == &&'
`
