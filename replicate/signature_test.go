package replicate

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test vectors from research/replicate-protocol.md §7.
const (
	vecASecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecAID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecATS     = "1614265330"
	vecABody   = `{"test": 2432232314}`
	vecASig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

	vecBSecret = "whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi"
	vecBID     = "msg_2mN8c0P4yQe7HqJ3rVb1tXk9LzA"
	vecBTS     = "1735689600"
	vecBSig    = "v1,R7pEM9GNgOX18ICm9D6bcpvQwcK3yGu5UHHFtH/I7as="

	vecCBodyUTF8    = "{\"id\":\"abc\",\"status\":\"failed\",\"error\":\"caf\xc3\xa9 <oops>\"}"
	vecCSigUTF8     = "v1,xuVjyCr+3NtQUW1+pm99cR6S2o8VlaVEGWpD+l18m5Q="
	vecCBodyEscaped = `{"id":"abc","status":"failed","error":"caf\u00e9 \u003coops\u003e"}`
	vecCSigEscaped  = "v1,OOPlJ91pjgzbbfOhcV4fCEMyFdd8w/1uLNwFqvos4TE="
)

// vectorB returns the 708-byte body of Vector B.
func vectorB(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/vector-b.json")
	if err != nil {
		tb.Fatal(err)
	}
	if sum := sha256.Sum256(b); len(b) != 708 || base64.StdEncoding.EncodeToString(sum[:]) != "x8ZnK83KpRaYQ2Wu7Kcx1mUW0h+z/NKDvdtWr59p9ao=" {
		tb.Fatalf("testdata/vector-b.json is not the 708-byte Vector B body")
	}
	return b
}

// body19K returns a realistic 1.9 KB webhook body (Vector B with longer logs).
func body19K(tb testing.TB) []byte {
	tb.Helper()
	logs := strings.Repeat(`step 10/50: loss 0.1234 \u003cok\u003e\n`, 30)
	b := bytes.Replace(vectorB(tb), []byte(`"logs":"done"`), []byte(`"logs":"`+logs+`"`), 1)
	if len(b) < 1850 || len(b) > 1950 {
		tb.Fatalf("body19K is %d bytes", len(b))
	}
	return b
}

// pySpaced re-serialises compact JSON as Python's json.dumps would: a space
// after every ',' and ':' outside strings.
func pySpaced(b []byte) []byte {
	var out []byte
	inString, escaped := false, false
	for _, c := range b {
		out = append(out, c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

// fixedNow returns a clock stuck at the Unix time in text.
func fixedNow(tb testing.TB, text string) func() time.Time {
	tb.Helper()
	sec, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return func() time.Time { return time.Unix(sec, 0) }
}

func newTestVerifier(tb testing.TB, now func() time.Time, secrets ...string) *Verifier {
	tb.Helper()
	v, err := NewVerifier(secrets, 5*time.Minute, now)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func hdr(id, ts, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set("webhook-id", id)
	}
	if ts != "" {
		h.Set("webhook-timestamp", ts)
	}
	if sig != "" {
		h.Set("webhook-signature", sig)
	}
	return h
}

func TestVerifyVectors(t *testing.T) {
	b := string(vectorB(t))
	tests := []struct {
		name   string
		secret string
		id, ts string
		body   string
		sig    string
		want   error
	}{
		{name: "A", secret: vecASecret, id: vecAID, ts: vecATS, body: vecABody, sig: vecASig},
		{name: "A without whsec_ prefix", secret: strings.TrimPrefix(vecASecret, "whsec_"), id: vecAID, ts: vecATS, body: vecABody, sig: vecASig},
		{name: "B", secret: vecBSecret, id: vecBID, ts: vecBTS, body: b, sig: vecBSig},
		{name: "B multi-signature", secret: vecBSecret, id: vecBID, ts: vecBTS, body: b,
			sig: "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= " + vecBSig},
		{name: "B with v2 entry first", secret: vecBSecret, id: vecBID, ts: vecBTS, body: b,
			sig: "v2,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= " + vecBSig},
		{name: "B timestamp+1", secret: vecBSecret, id: vecBID, ts: "1735689601", body: b, sig: vecBSig, want: ErrNoSignature},
		{name: "B timestamp+1 own signature", secret: vecBSecret, id: vecBID, ts: "1735689601", body: b,
			sig: "v1,8cGdMrEPUUkLBO7Bojs2XxCutWsNt/068mqopK64a1s="},
		{name: "B trailing newline", secret: vecBSecret, id: vecBID, ts: vecBTS, body: b + "\n", sig: vecBSig, want: ErrNoSignature},
		{name: "B trailing newline own signature", secret: vecBSecret, id: vecBID, ts: vecBTS, body: b + "\n",
			sig: "v1,CHS/7watQBkRBA/eW1SxhKoNPRyNCdXCr5613xEsW/I="},
		{name: "B re-serialised", secret: vecBSecret, id: vecBID, ts: vecBTS, body: string(pySpaced([]byte(b))), sig: vecBSig, want: ErrNoSignature},
		{name: "B re-serialised own signature", secret: vecBSecret, id: vecBID, ts: vecBTS, body: string(pySpaced([]byte(b))),
			sig: "v1,7TgQBaFFftFZKSCtOE/43nENsM408U4nDPxoCvOhDFI="},
		{name: "B keyed with the base64 text", secret: vecBSecret, id: vecBID, ts: vecBTS, body: b,
			sig: "v1,39Wegk4Cdag0wS+3zeBhNkz300vrOGfjCsJwMQphqDU=", want: ErrNoSignature},
		{name: "B keyed with the base64 text, verifier keyed the same way", id: vecBID, ts: vecBTS, body: b,
			secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.TrimPrefix(vecBSecret, "whsec_"))),
			sig:    "v1,39Wegk4Cdag0wS+3zeBhNkz300vrOGfjCsJwMQphqDU="},
		{name: "C UTF-8", secret: vecBSecret, id: vecBID, ts: vecBTS, body: vecCBodyUTF8, sig: vecCSigUTF8},
		{name: "C escaped", secret: vecBSecret, id: vecBID, ts: vecBTS, body: vecCBodyEscaped, sig: vecCSigEscaped},
		{name: "C UTF-8 body, escaped signature", secret: vecBSecret, id: vecBID, ts: vecBTS, body: vecCBodyUTF8, sig: vecCSigEscaped, want: ErrNoSignature},
		{name: "C escaped body, UTF-8 signature", secret: vecBSecret, id: vecBID, ts: vecBTS, body: vecCBodyEscaped, sig: vecCSigUTF8, want: ErrNoSignature},
		{name: "A signature, B secret", secret: vecBSecret, id: vecAID, ts: vecATS, body: vecABody, sig: vecASig, want: ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, fixedNow(t, tt.ts), tt.secret)
			err := v.Verify(hdr(tt.id, tt.ts, tt.sig), []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q) = %v, want %v", tt.sig, err, tt.want)
			}
		})
	}
}

func TestSignVectors(t *testing.T) {
	b := string(vectorB(t))
	tests := []struct {
		name, secret, id, ts, body, want string
	}{
		{name: "A", secret: vecASecret, id: vecAID, ts: vecATS, body: vecABody, want: vecASig},
		{name: "B", secret: vecBSecret, id: vecBID, ts: vecBTS, body: b, want: vecBSig},
		{name: "C UTF-8", secret: vecBSecret, id: vecBID, ts: vecBTS, body: vecCBodyUTF8, want: vecCSigUTF8},
		{name: "C escaped", secret: vecBSecret, id: vecBID, ts: vecBTS, body: vecCBodyEscaped, want: vecCSigEscaped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sign(tt.secret, tt.id, fixedNow(t, tt.ts)(), []byte(tt.body))
			if err != nil || got != tt.want {
				t.Errorf("Sign(%q) = %q, %v, want %q", tt.id, got, err, tt.want)
			}
		})
	}
}

func TestVerifyRotation(t *testing.T) {
	body := vectorB(t)
	now := fixedNow(t, vecBTS)
	sigA, errA := Sign(vecASecret, vecBID, now(), body)
	sigB, errB := Sign(vecBSecret, vecBID, now(), body)
	if errA != nil || errB != nil {
		t.Fatalf("Sign: %v, %v", errA, errB)
	}
	tests := []struct {
		name    string
		secrets []string
		sig     string
		want    error
	}{
		{name: "new signs, both configured", secrets: []string{vecBSecret, vecASecret}, sig: sigB},
		{name: "old signs, both configured", secrets: []string{vecBSecret, vecASecret}, sig: sigA},
		{name: "both sign, both configured", secrets: []string{vecBSecret, vecASecret}, sig: sigA + " " + sigB},
		{name: "old signs, only new configured", secrets: []string{vecBSecret}, sig: sigA, want: ErrNoSignature},
		{name: "new signs, only old configured", secrets: []string{vecASecret}, sig: sigB, want: ErrNoSignature},
		{name: "both sign, only old configured", secrets: []string{vecASecret}, sig: sigB + " " + sigA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, now, tt.secrets...)
			if err := v.Verify(hdr(vecBID, vecBTS, tt.sig), body); !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q) = %v, want %v", tt.sig, err, tt.want)
			}
		})
	}
}

func TestVerifyHeaders(t *testing.T) {
	body := vectorB(t)
	good := vecBSig
	wrong := "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo="
	// The same 32 bytes as vecBSig but with non-zero padding bits: a lax
	// decoder would accept it.
	lax := good[:len(good)-2] + "t="
	if lax == good {
		t.Fatal("lax variant equals the signature")
	}
	tests := []struct {
		name string
		h    http.Header
		want error
	}{
		{name: "canonical names", h: http.Header{"Webhook-Id": {vecBID}, "Webhook-Timestamp": {vecBTS}, "Webhook-Signature": {good}}},
		{name: "missing id", h: hdr("", vecBTS, good), want: ErrMissingHeaders},
		{name: "missing timestamp", h: hdr(vecBID, "", good), want: ErrMissingHeaders},
		{name: "missing signature", h: hdr(vecBID, vecBTS, ""), want: ErrMissingHeaders},
		{name: "no headers", h: http.Header{}, want: ErrMissingHeaders},
		{name: "empty v1,", h: hdr(vecBID, vecBTS, "v1,"), want: ErrNoSignature},
		{name: "v1,!!!", h: hdr(vecBID, vecBTS, "v1,!!!"), want: ErrNoSignature},
		{name: "only v9", h: hdr(vecBID, vecBTS, "v9,"+good[3:]), want: ErrNoSignature},
		{name: "only v1a", h: hdr(vecBID, vecBTS, "v1a,"+good[3:]), want: ErrNoSignature},
		{name: "no version", h: hdr(vecBID, vecBTS, good[3:]), want: ErrNoSignature},
		{name: "V1 upper case", h: hdr(vecBID, vecBTS, "V1,"+good[3:]), want: ErrNoSignature},
		{name: "wrong signature", h: hdr(vecBID, vecBTS, wrong), want: ErrNoSignature},
		{name: "lax base64", h: hdr(vecBID, vecBTS, lax), want: ErrNoSignature},
		{name: "unpadded", h: hdr(vecBID, vecBTS, strings.TrimSuffix(good, "=")), want: ErrNoSignature},
		{name: "signature with trailing junk", h: hdr(vecBID, vecBTS, good+"AAAA"), want: ErrNoSignature},
		{name: "tabs and double spaces", h: hdr(vecBID, vecBTS, "\t"+wrong+"  junk\t v1, "+good+" ")},
		{name: "comma-less entries first", h: hdr(vecBID, vecBTS, "junk v1 , ,, "+good)},
		{name: "31 entries then the right one", h: hdr(vecBID, vecBTS, strings.Repeat(wrong+" ", 31)+good)},
		{name: "32 entries then the right one", h: hdr(vecBID, vecBTS, strings.Repeat(wrong+" ", 32)+good), want: ErrNoSignature},
		{name: "10KB of spaces", h: hdr(vecBID, vecBTS, strings.Repeat(" ", 10<<10)+"x"), want: ErrNoSignature},
		{name: "the right one cut at the length limit", h: hdr(vecBID, vecBTS, strings.Repeat(" ", 4096-len(good))+good+"AAAA"), want: ErrNoSignature},
		{name: "the right one ending at the length limit", h: hdr(vecBID, vecBTS, strings.Repeat(" ", 4095-len(good))+good+" junk")},
		{name: "10KB of spaces then the right one", h: hdr(vecBID, vecBTS, strings.Repeat(" ", 10<<10)+good), want: ErrNoSignature},
		{name: "id with a dot", h: hdr("msg_a.b", vecBTS, good), want: ErrBadID},
		{name: "id of 257 bytes", h: hdr(strings.Repeat("m", 257), vecBTS, good), want: ErrBadID},
	}
	v := newTestVerifier(t, fixedNow(t, vecBTS), vecBSecret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := v.Verify(tt.h, body); !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q) = %v, want %v", tt.h, err, tt.want)
			}
		})
	}
}

func TestVerifyTimestamp(t *testing.T) {
	body := vectorB(t)
	now := fixedNow(t, vecBTS)()
	tests := []struct {
		name string
		ts   string
		want error
	}{
		{name: "now", ts: vecBTS},
		{name: "exactly tolerance ago", ts: strconv.FormatInt(now.Add(-5*time.Minute).Unix(), 10)},
		{name: "exactly tolerance ahead", ts: strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10)},
		{name: "tolerance+1s ago", ts: strconv.FormatInt(now.Add(-5*time.Minute-time.Second).Unix(), 10), want: ErrTimestampOld},
		{name: "tolerance+1s ahead", ts: strconv.FormatInt(now.Add(5*time.Minute+time.Second).Unix(), 10), want: ErrTimestampNew},
		{name: "1h ago", ts: strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), want: ErrTimestampOld},
		{name: "1h ahead", ts: strconv.FormatInt(now.Add(time.Hour).Unix(), 10), want: ErrTimestampNew},
		{name: "leading zeros", ts: "0" + vecBTS},
		{name: "zero", ts: "0", want: ErrTimestampOld},
		{name: "far future", ts: "9000000000000000000", want: ErrTimestampNew},
		{name: "overflows int64", ts: "9999999999999999999", want: ErrBadTimestamp},
		{name: "20 digits", ts: "0000000000" + vecBTS, want: ErrBadTimestamp},
		{name: "not a number", ts: "yesterday", want: ErrBadTimestamp},
		{name: "negative", ts: "-" + vecBTS, want: ErrBadTimestamp},
		{name: "plus sign", ts: "+" + vecBTS, want: ErrBadTimestamp},
		{name: "leading space", ts: " " + vecBTS, want: ErrBadTimestamp},
		{name: "inner space", ts: "1735 689600", want: ErrBadTimestamp},
		{name: "fraction", ts: vecBTS + ".5", want: ErrBadTimestamp},
		{name: "milliseconds", ts: vecBTS + "000", want: ErrTimestampNew},
		{name: "RFC 3339", ts: "2025-01-01T00:00:00Z", want: ErrBadTimestamp},
		{name: "non-ASCII digits", ts: "١٧٣٥٦٨٩٦٠٠", want: ErrBadTimestamp},
	}
	v := newTestVerifier(t, func() time.Time { return now }, vecBSecret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Sign over the header text exactly, as a sender would.
			sig := "v1," + base64.StdEncoding.EncodeToString(testMAC(t, vecBSecret, vecBID, tt.ts, body))
			err := v.Verify(hdr(vecBID, tt.ts, sig), body)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify(ts %q) = %v, want %v", tt.ts, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), vecBTS) {
				t.Errorf("Verify(ts %q) = %v, reveals the server time", tt.ts, err)
			}
		})
	}
}

// testMAC computes the signature independently of the code under test.
func testMAC(tb testing.TB, secret, id, ts string, body []byte) []byte {
	tb.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		tb.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

func TestNewVerifierErrors(t *testing.T) {
	tests := []struct {
		name      string
		secrets   []string
		tolerance time.Duration
		wantErr   string // a substring of the error; "" means success
	}{
		{name: "ok", secrets: []string{vecASecret}, tolerance: time.Minute},
		{name: "padded 16 bytes", secrets: []string{"whsec_MDEyMzQ1Njc4OWFiY2RlZg=="}, tolerance: time.Minute},
		{name: "unpadded 16 bytes", secrets: []string{"whsec_MDEyMzQ1Njc4OWFiY2RlZg"}, tolerance: time.Minute},
		{name: "no secrets", secrets: nil, tolerance: time.Minute, wantErr: "no secret"},
		{name: "empty secret", secrets: []string{"whsec_"}, tolerance: time.Minute, wantErr: "secrets[0]: secret is empty"},
		{name: "bad base64", secrets: []string{vecASecret, "whsec_c2VjcmV0!c2VjcmV0c2VjcmV0c2Vj"}, tolerance: time.Minute, wantErr: "secrets[1]: secret is not whsec_ followed by standard base64"},
		{name: "url-safe base64", secrets: []string{"whsec_c2VjcmV0_c2VjcmV0c2VjcmV0c2Vj"}, tolerance: time.Minute, wantErr: "not whsec_ followed by standard base64"},
		{name: "wrong padding", secrets: []string{"whsec_MDEyMzQ1Njc4OWFiY2RlZg="}, tolerance: time.Minute, wantErr: "not whsec_ followed by standard base64"},
		{name: "too short", secrets: []string{"whsec_c2VjcmV0c2VjcmV0"}, tolerance: time.Minute, wantErr: "secrets[0]: secret decodes to 12 bytes, want 16 to 128"},
		{name: "too long", secrets: []string{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 129))}, tolerance: time.Minute, wantErr: "decodes to 129 bytes"},
		{name: "zero tolerance", secrets: []string{vecASecret}, wantErr: "tolerance 0s is not positive"},
		{name: "negative tolerance", secrets: []string{vecASecret}, tolerance: -time.Second, wantErr: "not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.secrets, tt.tolerance, nil)
			if tt.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("NewVerifier(%q) = %v, want success", tt.name, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewVerifier(%q) = %v, want an error containing %q", tt.name, err, tt.wantErr)
			}
			for _, s := range tt.secrets {
				if raw := strings.TrimPrefix(s, "whsec_"); len(raw) > 4 && strings.Contains(err.Error(), raw[:5]) {
					t.Errorf("NewVerifier(%q) = %v, reveals the secret", tt.name, err)
				}
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	ts := time.Unix(1735689600, 0)
	tests := []struct {
		name, secret, id string
		ts               time.Time
		wantErr          string
	}{
		{name: "bad secret", secret: "whsec_!!!!c2VjcmV0c2VjcmV0c2Vj", id: vecBID, ts: ts, wantErr: "sign webhook: secret is not"},
		{name: "empty id", secret: vecBSecret, ts: ts, wantErr: "sign webhook: id"},
		{name: "id with a dot", secret: vecBSecret, id: "a.b", ts: ts, wantErr: `id "a.b"`},
		{name: "before 1970", secret: vecBSecret, id: vecBID, ts: time.Unix(-1, 0), wantErr: "before 1970"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sign(tt.secret, tt.id, tt.ts, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Sign(%q) = %q, %v, want an error containing %q", tt.id, got, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("Sign(%q) = %v, reveals the secret", tt.id, err)
			}
		})
	}
}

func TestVerifyDefaultClock(t *testing.T) {
	v := newTestVerifier(t, nil, vecBSecret)
	body := []byte(`{}`)
	now := time.Now()
	sig, err := Sign(vecBSecret, vecBID, now, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(hdr(vecBID, strconv.FormatInt(now.Unix(), 10), sig), body); err != nil {
		t.Errorf("Verify(now) = %v, want nil", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	body := vectorB(t)
	v := newTestVerifier(t, fixedNow(t, vecBTS), vecASecret, vecBSecret)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if err := v.Verify(hdr(vecBID, vecBTS, vecBSig), body); err != nil {
					t.Errorf("Verify(%q) = %v, want nil", vecBSig, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzVerify(f *testing.F) {
	b := vectorB(f)
	f.Add(vecBSig, vecBTS, b)
	f.Add("v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= "+vecBSig, vecBTS, b)
	f.Add("v1, v1,!!! v9,x", "1735689601", []byte(vecCBodyUTF8))
	f.Add(strings.Repeat(" ", 300), "-1", []byte{})
	secrets := []string{vecBSecret, vecASecret}
	now := fixedNow(f, vecBTS)
	v := newTestVerifier(f, now, secrets...)
	f.Fuzz(func(t *testing.T, header, ts string, body []byte) {
		h := hdr(vecBID, ts, header)
		err := v.Verify(h, body)
		if err == nil {
			if !containsRightSignature(t, secrets, ts, h.Get("webhook-signature"), body) {
				t.Fatalf("Verify(%q, ts %q) = nil for a header with no right signature", header, ts)
			}
		}
		for _, s := range secrets {
			sig, err := Sign(s, vecBID, now(), body)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := v.Verify(hdr(vecBID, vecBTS, sig), body); err != nil {
				t.Fatalf("Verify(Sign()) = %v, want nil", err)
			}
			// Junk before the right entry is skipped, within the limits.
			withJunk := header + " " + sig
			if len(strings.Fields(header)) < maxSigEntries && len(withJunk) <= maxSigHeader {
				if err := v.Verify(hdr(vecBID, vecBTS, withJunk), body); err != nil {
					t.Fatalf("Verify(%q) = %v, want nil", withJunk, err)
				}
			}
			if want := "v1," + base64.StdEncoding.EncodeToString(testMAC(t, s, vecBID, vecBTS, body)); sig != want {
				t.Fatalf("Sign() = %q, want %q", sig, want)
			}
		}
	})
}

// containsRightSignature reports whether a whitespace-separated entry of
// header is exactly the right signature for one of secrets.
func containsRightSignature(tb testing.TB, secrets []string, ts, header string, body []byte) bool {
	tb.Helper()
	for _, s := range secrets {
		want := "v1," + base64.StdEncoding.EncodeToString(testMAC(tb, s, vecBID, ts, body))
		for _, e := range strings.Fields(header) {
			if e == want {
				return true
			}
		}
	}
	return false
}

func BenchmarkVerify(b *testing.B) {
	body := body19K(b)
	now := fixedNow(b, vecBTS)
	sig, err := Sign(vecBSecret, vecBID, now(), body)
	if err != nil {
		b.Fatal(err)
	}
	v := newTestVerifier(b, now, vecBSecret)
	h := hdr(vecBID, vecBTS, sig)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckHeaders: what CheckHeaders refuses before the body is read,
// with the error Verify gives for the same headers.
func TestCheckHeaders(t *testing.T) {
	v := newTestVerifier(t, fixedNow(t, vecBTS), vecBSecret)
	tests := []struct {
		name string
		h    http.Header
		want error
	}{
		{name: "well-formed (the body decides)", h: hdr(vecBID, vecBTS, vecBSig)},
		{name: "wrong MAC, well-formed", h: hdr(vecBID, vecBTS, "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo=")},
		{name: "missing signature", h: hdr(vecBID, vecBTS, ""), want: ErrMissingHeaders},
		{name: "missing id", h: hdr("", vecBTS, vecBSig), want: ErrMissingHeaders},
		{name: "dot in id", h: hdr("msg.1", vecBTS, vecBSig), want: ErrBadID},
		{name: "timestamp not a number", h: hdr(vecBID, "soon", vecBSig), want: ErrBadTimestamp},
		{name: "timestamp too old", h: hdr(vecBID, "1735689000", vecBSig), want: ErrTimestampOld},
		{name: "timestamp too new", h: hdr(vecBID, "1735690200", vecBSig), want: ErrTimestampNew},
		{name: "only a v2 entry", h: hdr(vecBID, vecBTS, "v2,"+vecBSig[3:]), want: ErrNoSignature},
		{name: "v1 entry not base64", h: hdr(vecBID, vecBTS, "v1,"+strings.Repeat("!", 44)), want: ErrNoSignature},
		{name: "v1 entry too short", h: hdr(vecBID, vecBTS, "v1,abc"), want: ErrNoSignature},
	}
	body := vectorB(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.CheckHeaders(tt.h); got != tt.want {
				t.Errorf("CheckHeaders() = %v, want %v", got, tt.want)
			}
			if tt.want != nil {
				if got := v.Verify(tt.h, body); got != tt.want {
					t.Errorf("Verify() = %v, want %v", got, tt.want)
				}
			}
		})
	}
}
