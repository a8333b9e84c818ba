package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooknote/hooknote/replicate"
)

// hostileConfig sends every accepted webhook to Slack, so that a bad input
// that got through would show as a notification. %s: the state dir.
const hostileConfig = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
max_body = "1MiB"
read_timeout = "5s"
[replicate]
secret = "${E2E_SECRET}"
[state]
dir = %q
[delivery]
backoff = "100ms"
max_backoff = "500ms"
[notifiers.slack]
type = "slack"
webhook_url = "${E2E_SLACK_URL}"
[[rules]]
name = "everything"
notify = ["slack"]
`

// startHostile starts the daemon with hostileConfig and a Slack stand-in.
func startHostile(t *testing.T) (*daemonProc, *slackRecorder) {
	t.Helper()
	dir := t.TempDir()
	slack := &slackRecorder{}
	slackAddr, _ := serveOn(t, "127.0.0.1:0", slack)
	cfg := writeConfig(t, dir, fmt.Sprintf(hostileConfig, filepath.Join(dir, "state")))
	d := startBinary(t, cfg, "E2E_SECRET="+e2eSecret, "E2E_SLACK_URL=http://"+slackAddr+"/services/T/B/hostile")
	return d, slack
}

// signedHeaders returns Standard Webhooks headers for body, signed with
// e2eSecret under id at ts.
func signedHeaders(t *testing.T, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	sig, err := replicate.Sign(e2eSecret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{
		"Content-Type":      {"application/json"},
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts.Unix(), 10)},
		"Webhook-Signature": {sig},
	}
}

// hostileCase is one request that must be refused with want.
type hostileCase struct {
	name   string
	method string // default POST
	body   []byte
	query  string
	header func(h http.Header) // edits the correctly signed headers
	sign   []byte              // sign this body instead of body
	want   int
}

func hostileCases(t *testing.T) []hostileCase {
	good := sample(t, "prediction-failed.json")
	nested := "{\"id\":\"a\",\"status\":\"failed\",\"input\":" + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}"
	set := func(k, v string) func(http.Header) { return func(h http.Header) { h.Set(k, v) } }
	del := func(k string) func(http.Header) { return func(h http.Header) { h.Del(k) } }
	bad := func(name, body string) hostileCase { return hostileCase{name: name, body: []byte(body), want: 400} }
	// signed: the good body with its signed query; only the headers differ.
	signed := func(name string, edit func(http.Header)) hostileCase {
		return hostileCase{name: name, body: good, query: "customId=batch-7", header: edit, want: 401}
	}
	return []hostileCase{
		bad("empty body", ""),
		bad("null", "null"),
		bad("array", `[{"id":"a","status":"failed"}]`),
		bad("string", `"{\"id\":\"a\",\"status\":\"failed\"}"`),
		bad("number", `42`),
		bad("missing id", `{"status":"failed"}`),
		bad("missing status", `{"id":"a"}`),
		bad("status a number", `{"id":"a","status":3}`),
		bad("id an object", `{"id":{"x":1},"status":"failed"}`),
		bad("invalid UTF-8", "{\"id\":\"a\xff\",\"status\":\"failed\"}"),
		bad("lone surrogate", `{"id":"\ud800","status":"failed"}`),
		bad("duplicate keys", `{"id":"a","status":"succeeded","status":"failed"}`),
		bad("duplicate keys by case", `{"id":"a","status":"succeeded","Status":"failed"}`),
		bad("duplicate keys by escape", `{"id":"a","status":"succeeded","\u0073tatus":"failed"}`),
		bad("truncated JSON", `{"id":"a","status":"fai`),
		bad("trailing garbage", `{"id":"a","status":"failed"}{}`),
		bad("10^5 nesting levels", nested),
		{name: "GET", method: http.MethodGet, body: good, want: 405},
		{name: "PUT", method: http.MethodPut, body: good, want: 405},
		{name: "DELETE", method: http.MethodDelete, body: good, want: 405},
		signed("no signature headers", func(h http.Header) { h.Del("Webhook-Id"); h.Del("Webhook-Timestamp"); h.Del("Webhook-Signature") }),
		signed("missing webhook-id", del("Webhook-Id")),
		signed("missing webhook-timestamp", del("Webhook-Timestamp")),
		signed("missing webhook-signature", del("Webhook-Signature")),
		signed("signature v1, empty", set("Webhook-Signature", "v1,")),
		signed("signature v1,!!!", set("Webhook-Signature", "v1,!!!")),
		signed("10 KB of spaces as signature", set("Webhook-Signature", strings.Repeat(" ", 10<<10))),
		signed("the right signature after 10 KB of junk entries", func(h http.Header) {
			h.Set("Webhook-Signature", strings.Repeat("v1,x ", 2<<10)+h.Get("Webhook-Signature")) // past the 4 KiB examined
		}),
		signed("unknown version only", func(h http.Header) {
			h.Set("Webhook-Signature", "v9,"+strings.TrimPrefix(h.Get("Webhook-Signature"), "v1,"))
		}),
		signed("timestamp not a number", set("Webhook-Timestamp", "soon")),
		signed("webhook-id with a dot", set("Webhook-Id", "msg.1")),
		signed("webhook-id of 10 KB", set("Webhook-Id", strings.Repeat("m", 10<<10))),
		{name: "valid signature for a different body", body: good, query: "customId=batch-7", sign: sample(t, "prediction-succeeded.json"), want: 401},
		{name: "query differs from the signed webhook URL", body: good, query: "customId=batch-8", want: 400},
		{name: "query added to a signed URL", body: good, query: "customId=batch-7&kind=training", want: 400},
		{name: "query repeated", body: good, query: "customId=batch-7&customId=batch-7", want: 400},
	}
}

// TestHostileInput sends bad requests to the built binary: each gets its
// exact status and none becomes a notification. Afterwards /healthz still
// answers, the daemon's memory stays bounded, and a good webhook still
// notifies (so the quiet Slack meant something).
func TestHostileInput(t *testing.T) {
	d, slack := startHostile(t)
	rssBefore := vmRSS(t, d)
	good := sample(t, "prediction-failed.json")
	for i, tc := range hostileCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.send(t, tc, fmt.Sprintf("msg_hostile_%d", i), time.Now()); got != tc.want {
				t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
			}
		})
	}
	for _, skew := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(fmt.Sprintf("timestamp %v away", skew), func(t *testing.T) {
			tc := hostileCase{body: good, query: "customId=batch-7"}
			if got := d.send(t, tc, "msg_skew", time.Now().Add(skew)); got != 401 {
				t.Errorf("timestamp %v away: status %d, want 401", skew, got)
			}
		})
	}
	t.Run("body over max_body answered before it is sent", func(t *testing.T) { checkEarly413(t, d) })
	t.Run("chunked body over max_body", func(t *testing.T) {
		if got := d.sendChunked(t, bytes.Repeat([]byte(" "), 2<<20)); got != 413 {
			t.Errorf("chunked 2 MiB body: status %d, want 413", got)
		}
	})
	t.Run("1 MB header", func(t *testing.T) { checkHugeHeader(t, d) })

	resp, err := http.Get(strings.TrimSuffix(d.intake, "/webhooks/replicate") + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz after the hostile input = %v, %v", resp, err)
	}
	resp.Body.Close()
	if rss := vmRSS(t, d); rss > 200<<20 {
		t.Errorf("daemon VmRSS %d MiB after the hostile input (%d MiB before), want < 200 MiB", rss>>20, rssBefore>>20)
	} else {
		t.Logf("daemon VmRSS %d MiB before, %d MiB after", rssBefore>>20, rss>>20)
	}
	d.waitDrained(t, 10*time.Second) // a job enqueued by mistake would be sent by now
	if got := slack.delivered(); len(got) != 0 {
		t.Fatalf("hostile input produced %d notifications: %q", len(got), got)
	}
	if status, answer := d.post(t, good, "customId=batch-7", "msg_hostile_good"); status != 200 || answer != `{"accepted":1,"duplicate":false}` {
		t.Fatalf("good webhook after the hostile input = %d %s", status, answer)
	}
	eventually(t, "the good webhook's notification", 10*time.Second, func() bool { return len(slack.delivered()) == 1 })
}

// send makes tc's request with headers signed at ts and returns the status.
func (d *daemonProc) send(t *testing.T, tc hostileCase, id string, ts time.Time) int {
	t.Helper()
	signed := tc.body
	if tc.sign != nil {
		signed = tc.sign
	}
	h := signedHeaders(t, id, ts, signed)
	if tc.header != nil {
		tc.header(h)
	}
	method := tc.method
	if method == "" {
		method = http.MethodPost
	}
	u := d.intake
	if tc.query != "" {
		u += "?" + tc.query
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(tc.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// sendChunked posts body with no Content-Length.
func (d *daemonProc) sendChunked(t *testing.T, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.intake, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = signedHeaders(t, "msg_chunked", time.Now(), body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("chunked POST: %v", err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// rawConn dials the intake listener.
func (d *daemonProc) rawConn(t *testing.T) (net.Conn, string) {
	t.Helper()
	u, err := url.Parse(d.intake)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, u.Path
}

// checkEarly413 announces an 8 MiB body, sends 64 KiB of it and expects the
// 413 without sending the rest.
func checkEarly413(t *testing.T, d *daemonProc) {
	c, path := d.rawConn(t)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: hooknote\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"Webhook-Id: msg_big\r\nWebhook-Timestamp: %d\r\nWebhook-Signature: v1,x\r\n\r\n", path, 8<<20, time.Now().Unix())
	if _, err := c.Write(bytes.Repeat([]byte("{"), 64<<10)); err != nil {
		t.Fatalf("write the first 64 KiB: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer after 64 KiB of an 8 MiB body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("8 MiB Content-Length: status %d, want 413", resp.StatusCode)
	}
}

// checkHugeHeader sends a 1 MB header and expects 431.
func checkHugeHeader(t *testing.T, d *daemonProc) {
	c, path := d.rawConn(t)
	go func() { // the server answers (and closes) before it has read it all
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: hooknote\r\nX-Big: %s\r\n\r\n", path, strings.Repeat("a", 1<<20))
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("1 MB header: no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("1 MB header: status %d, want 431", resp.StatusCode)
	}
}

// vmRSS returns the daemon's resident set size in bytes.
func vmRSS(t *testing.T, d *daemonProc) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// limitsConfig is hostileConfig with tight listener limits. %s: state dir.
const limitsConfig = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
read_header_timeout = "1s"
read_timeout = "2s"
max_in_flight = 2
[replicate]
secret = "${E2E_SECRET}"
[state]
dir = %q
[notifiers.slack]
type = "slack"
webhook_url = "${E2E_SLACK_URL}"
[[rules]]
name = "everything"
notify = ["slack"]
`

// TestIntakeListenerLimits drives the intake listener's own limits with
// server.read_header_timeout = 1s, read_timeout = 2s and max_in_flight = 2:
// a slowloris client trickling headers is dropped, a client trickling its
// body is cut off, a 1 MB header gets 431, and webhooks beyond
// max_in_flight get 503 with Retry-After until the slow ones are gone. The
// bound checked (8s) is well under the 10s default read_header_timeout, so
// the configured value is the one in force.
func TestIntakeListenerLimits(t *testing.T) {
	dir := t.TempDir()
	slack := &slackRecorder{}
	slackAddr, _ := serveOn(t, "127.0.0.1:0", slack)
	cfg := writeConfig(t, dir, fmt.Sprintf(limitsConfig, filepath.Join(dir, "state")))
	d := startBinary(t, cfg, "E2E_SECRET="+e2eSecret, "E2E_SLACK_URL=http://"+slackAddr+"/services/T/B/limits")
	t.Run("slowloris", func(t *testing.T) {
		c, path := d.rawConn(t)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: hooknote\r\n", path)
		waitDropped(t, c, func(i int) { fmt.Fprintf(c, "X-Slow-%d: y\r\n", i) })
	})
	t.Run("slow body", func(t *testing.T) {
		c := slowBody(t, d)
		waitDropped(t, c, func(int) { c.Write([]byte(" ")) })
	})
	t.Run("1 MB header", func(t *testing.T) { checkHugeHeader(t, d) })
	t.Run("max_in_flight", func(t *testing.T) {
		// Slow bodies with well-formed headers (their signature is only
		// found wrong once the body is in) are not verified webhooks: they
		// hold none of the max_in_flight = 2 slots, so a signed webhook
		// sent meanwhile is accepted at once (max_in_flight counts verified
		// webhooks; its 503 is tested in relay's TestIntakeInFlightCap).
		var hold []net.Conn
		for range 8 {
			hold = append(hold, slowBody(t, d))
		}
		tc := hostileCase{body: withID(t, "in-flight-1"), query: trainingQuery}
		if got := d.send(t, tc, "msg_in_flight_1", time.Now()); got != 200 {
			t.Errorf("signed webhook while 8 slow bodies are open: status %d, want 200", got)
		}
		for _, c := range hold {
			waitDropped(t, c, func(int) {})
		}
	})
}

// slowBody starts a POST with well-formed Standard Webhooks headers (a
// signature that will not match) announcing a 1000-byte body, and sends one
// byte of it.
func slowBody(t *testing.T, d *daemonProc) net.Conn {
	t.Helper()
	c, path := d.rawConn(t)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: hooknote\r\nContent-Length: 1000\r\n"+
		"Webhook-Id: msg_slow\r\nWebhook-Timestamp: %d\r\nWebhook-Signature: v1,%s\r\n\r\n{",
		path, time.Now().Unix(), base64.StdEncoding.EncodeToString(make([]byte, 32)))
	return c
}

// waitDropped calls trickle every 200ms until the server closes c or
// answers on it, and fails the test if that takes 8s.
func waitDropped(t *testing.T, c net.Conn, trickle func(i int)) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(c, 1<<10))
		done <- fmt.Sprintf("read %q, %v", b, err)
	}()
	start := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case how := <-done:
			t.Logf("dropped after %v: %s", time.Since(start).Round(100*time.Millisecond), how)
			return
		case <-tick.C:
			if time.Since(start) > 8*time.Second {
				t.Fatalf("slow client still connected after %v", time.Since(start))
			}
			trickle(i) // fails once the server has closed; the reader reports it
		}
	}
}

// TestHugeEventIDIs400: an id too long to key a dedupe record is a bad
// request, not a 503 that Replicate would retry forever.
func TestHugeEventIDIs400(t *testing.T) {
	d, _ := startHostile(t)
	tc := hostileCase{body: []byte(`{"id":"` + strings.Repeat("x", 40000) + `","status":"failed"}`)}
	if got := d.send(t, tc, "msg_huge_id", time.Now()); got != 400 {
		t.Errorf("status %d, want 400", got)
	}
}
