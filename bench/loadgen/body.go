package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hooknote/hooknote/replicate"
)

// generator makes unique signed webhooks: each has its own event id (26
// characters, like Replicate's), its own webhook-id and a fresh signature.
type generator struct {
	url     string
	secret  string
	nonce   string
	seq     atomic.Uint64
	prefix  []byte // the body up to the first id
	pieces  [][]byte
	bodyLen int
}

// logLine is one line of the body's logs (JSON-escaped).
const logLine = `step 10/50: loss 0.1234 \u003cok\u003e\n`

// newGenerator prepares bodies of about size bytes whose "webhook" field is
// target, as Replicate echoes the URL it calls.
func newGenerator(target, secret string, size int) (*generator, error) {
	var n [4]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	g := &generator{url: target, secret: secret, nonce: fmt.Sprintf("%08x", n)}
	wh, err := json.Marshal(target)
	if err != nil {
		return nil, err
	}
	// The body with every occurrence of the id cut out; the logs pad it to size.
	head := `{"id":"`
	parts := []string{
		`","model":"acme/upscaler","version":"5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",` +
			`"input":{"image":"https://example.com/in.png","prompt":"a cat & a dog","scale":4},"logs":"%LOGS%",` +
			`"output":["https://replicate.delivery/xezq/`,
		`/out-0.png"],"data_removed":false,"error":null,"status":"succeeded",` +
			`"created_at":"2025-01-01T00:00:00.000Z","started_at":"2025-01-01T00:00:01.5Z","completed_at":"2025-01-01T00:00:09.25Z",` +
			`"urls":{"cancel":"https://api.replicate.com/v1/predictions/`,
		`/cancel","get":"https://api.replicate.com/v1/predictions/`,
		`","web":"https://replicate.com/p/`,
		`"},"metrics":{"predict_time":7.75,"total_time":9.25},"source":"api","webhook":` + string(wh) +
			`,"webhook_events_filter":["start","completed"]}`,
	}
	fixed := len(head) + 26*len(parts)
	for _, p := range parts {
		fixed += len(p) - len("%LOGS%")*bytes.Count([]byte(p), []byte("%LOGS%"))
	}
	logs := padLogs(size - fixed)
	g.prefix = []byte(head)
	for _, p := range parts {
		g.pieces = append(g.pieces, bytes.Replace([]byte(p), []byte("%LOGS%"), []byte(logs), 1))
	}
	g.bodyLen = fixed + len(logs)
	return g, nil
}

// padLogs returns JSON-escaped log text of n bytes (at least one line).
func padLogs(n int) string {
	var b bytes.Buffer
	for b.Len()+len(logLine) <= n || b.Len() == 0 {
		b.WriteString(logLine)
	}
	for b.Len() < n {
		b.WriteByte('.')
	}
	return b.String()
}

// next returns a new unique event id and its body. Ids look like
// Replicate's: 26 characters of lowercase base32 in no order (a counter
// scrambled by a bijection), so that the server's keys land where random
// ids would put them, not in sequence.
func (g *generator) next() (string, []byte) {
	n := g.seq.Add(1)
	id := g.nonce[:2] + scrambled(n) // 26 characters
	body := make([]byte, 0, g.bodyLen)
	body = append(body, g.prefix...)
	for _, p := range g.pieces {
		body = append(body, id...)
		body = append(body, p...)
	}
	return id, body
}

// request builds a signed POST of a new webhook; it returns the event id.
func (g *generator) request() (string, *http.Request, error) {
	id, body := g.next()
	now := time.Now()
	msgID := "msg_" + id
	sig, err := replicate.Sign(g.secret, msgID, now, body)
	if err != nil {
		return "", nil, err
	}
	req, err := http.NewRequest(http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Replicate-Webhook/1.0")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	return id, req, nil
}

// scrambled maps n to 24 characters of base32 through an invertible mix
// (splitmix64's finaliser): distinct n give distinct ids, in no order.
func scrambled(n uint64) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	x := n
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	var b [24]byte
	for i := range b {
		shift := uint(i % 12 * 5)
		v := x >> shift
		if i >= 12 {
			v = (x >> shift) ^ n>>(shift/2)
		}
		b[i] = alphabet[v&31]
	}
	return string(b[:])
}
