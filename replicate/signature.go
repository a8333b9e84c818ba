package replicate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Signature errors; intake answers 401 for all of them.
var (
	ErrMissingHeaders = errors.New("missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrBadID          = errors.New("webhook-id is longer than 256 bytes or contains '.'")
	ErrBadTimestamp   = errors.New("webhook-timestamp is not a unix time in seconds")
	ErrTimestampOld   = errors.New("webhook-timestamp is too old")
	ErrTimestampNew   = errors.New("webhook-timestamp is too new")
	ErrNoSignature    = errors.New("no v1 signature matches")
)

const (
	secretPrefix  = "whsec_"
	minKeyLen     = 16  // bytes; Standard Webhooks asks for 24..64, accept a little either side
	maxKeyLen     = 128 // bytes
	maxIDLen      = 256 // bytes of webhook-id
	maxTSDigits   = 19  // enough for any int64
	maxUnixSecond = 1 << 40
	maxSigEntries = 32   // entries of webhook-signature examined
	maxSigHeader  = 4096 // bytes of webhook-signature examined
	sigVersion    = "v1,"
	sigB64Len     = 44 // base64.StdEncoding.EncodedLen(sha256.Size)
)

// Verifier checks Standard Webhooks signatures (protocol notes §6) against one
// or more secrets. It is safe for concurrent use.
type Verifier struct {
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
	enc       *base64.Encoding // strict standard base64, for signatures
}

// NewVerifier returns a Verifier that accepts a signature made with any of
// secrets ("whsec_" followed by standard base64; the prefix is optional) and a
// webhook-timestamp at most tolerance away from now() in either direction.
// A nil now means time.Now. Errors name the secret by index, never by value.
func NewVerifier(secrets []string, tolerance time.Duration, now func() time.Time) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("new verifier: no secret")
	}
	if tolerance <= 0 {
		return nil, fmt.Errorf("new verifier: tolerance %v is not positive", tolerance)
	}
	if now == nil {
		now = time.Now
	}
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		k, err := parseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("new verifier: secrets[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	return &Verifier{keys: keys, tolerance: tolerance, now: now, enc: base64.StdEncoding.Strict()}, nil
}

// parseSecret decodes a "whsec_<base64>" secret into the HMAC key. Padding is
// optional. The error never contains the secret.
func parseSecret(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), secretPrefix)
	if s == "" {
		return nil, errors.New("secret is empty")
	}
	enc := base64.RawStdEncoding
	if len(s)%4 == 0 {
		enc = base64.StdEncoding
	}
	key, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("secret is not whsec_ followed by standard base64: %w", err)
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return nil, fmt.Errorf("secret decodes to %d bytes, want %d to %d", len(key), minKeyLen, maxKeyLen)
	}
	return key, nil
}

// CheckHeaders checks what can be checked before the body is read: the
// webhook-id, webhook-timestamp and webhook-signature headers are present
// and well-formed, the timestamp is within the tolerance, and the signature
// header has at least one well-formed v1 entry. It returns nil or one of
// the signature errors above. Intake answers 401 on its error without
// reading the body, so a client without the secret costs no body buffer.
func (v *Verifier) CheckHeaders(h http.Header) error {
	id := h.Get("Webhook-Id")
	ts := h.Get("Webhook-Timestamp")
	sigs := h.Get("Webhook-Signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	if !validID(id) {
		return ErrBadID
	}
	if err := v.checkTimestamp(ts); err != nil {
		return err
	}
	var got [sha256.Size + 1]byte
	for i, entry := range strings.Fields(limitHeader(sigs)) {
		if i == maxSigEntries {
			break
		}
		if v.decodeEntry(&got, entry) {
			return nil
		}
	}
	return ErrNoSignature
}

// Verify checks the headers as CheckHeaders does and the body: it returns
// nil when a v1 entry of webhook-signature is the HMAC-SHA256 of
// id.timestamp.body under one of the secrets; otherwise one of the
// signature errors above.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if err := v.CheckHeaders(h); err != nil {
		return err
	}
	if !v.matches(h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), body, h.Get("Webhook-Signature")) {
		return ErrNoSignature
	}
	return nil
}

// validID reports whether id may appear in the signed content: a '.' would
// make id.timestamp.body ambiguous.
func validID(id string) bool {
	return id != "" && len(id) <= maxIDLen && !strings.Contains(id, ".")
}

// checkTimestamp parses the header text (ASCII digits only) and checks it
// against the tolerance. Errors do not reveal the server's clock.
func (v *Verifier) checkTimestamp(text string) error {
	if len(text) > maxTSDigits {
		return ErrBadTimestamp
	}
	for i := range len(text) {
		if text[i] < '0' || text[i] > '9' {
			return ErrBadTimestamp
		}
	}
	sec, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if sec > maxUnixSecond { // far future; also keeps time.Unix from overflowing
		return ErrTimestampNew
	}
	age := v.now().Sub(time.Unix(sec, 0))
	switch {
	case age > v.tolerance:
		return ErrTimestampOld
	case age < -v.tolerance:
		return ErrTimestampNew
	}
	return nil
}

// matches reports whether a v1 entry of header matches a key. Only the first
// maxSigHeader bytes and maxSigEntries entries are examined, and the MACs are
// computed once, on the first well-formed v1 entry.
func (v *Verifier) matches(id, ts string, body []byte, header string) bool {
	header = limitHeader(header)
	var (
		stack [4][sha256.Size]byte
		macs  [][sha256.Size]byte
		n     int
	)
	for entry := range strings.FieldsSeq(header) {
		if n == maxSigEntries {
			break
		}
		n++
		var got [sha256.Size + 1]byte
		if !v.decodeEntry(&got, entry) {
			continue
		}
		if macs == nil {
			macs = stack[:0]
			for _, k := range v.keys {
				macs = append(macs, computeMAC(k, id, ts, body))
			}
		}
		for i := range macs {
			if hmac.Equal(got[:sha256.Size], macs[i][:]) {
				return true
			}
		}
	}
	return false
}

// limitHeader keeps the first maxSigHeader bytes of a signature header,
// dropping the entry cut in two.
func limitHeader(header string) string {
	if len(header) <= maxSigHeader {
		return header
	}
	return header[:strings.LastIndexFunc(header[:maxSigHeader], unicode.IsSpace)+1]
}

// decodeEntry decodes a "v1,<44 characters of base64>" entry into dst (one
// byte longer than a MAC, as Decode wants room for DecodedLen(44) = 33),
// reporting false for anything else.
func (v *Verifier) decodeEntry(dst *[sha256.Size + 1]byte, entry string) bool {
	sig, ok := strings.CutPrefix(entry, sigVersion)
	if !ok || len(sig) != sigB64Len {
		return false
	}
	var src [sigB64Len]byte
	copy(src[:], sig)
	n, err := v.enc.Decode(dst[:], src[:])
	return err == nil && n == sha256.Size
}

// computeMAC returns HMAC-SHA256(key, id "." ts "." body).
func computeMAC(key []byte, id, ts string, body []byte) [sha256.Size]byte {
	var pre [maxIDLen + 1 + maxTSDigits + 1]byte
	p := append(pre[:0], id...)
	p = append(p, '.')
	p = append(p, ts...)
	p = append(p, '.')
	m := hmac.New(sha256.New, key)
	m.Write(p)
	m.Write(body)
	var out [sha256.Size]byte
	copy(out[:], m.Sum(p[:0])) // sum into the prefix buffer: no allocation
	return out
}

// Sign returns the webhook-signature header value ("v1,<base64>") for body
// sent with webhook-id id and webhook-timestamp ts (in Unix seconds), as a
// Standard Webhooks sender would. It is for `hooknote send`, the demo and
// tests.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := parseSecret(secret)
	if err != nil {
		return "", fmt.Errorf("sign webhook: %w", err)
	}
	if !validID(id) {
		return "", fmt.Errorf("sign webhook: id %q is empty, longer than %d bytes or contains '.'", id, maxIDLen)
	}
	if ts.Unix() < 0 {
		return "", fmt.Errorf("sign webhook: timestamp %v is before 1970", ts)
	}
	mac := computeMAC(key, id, strconv.FormatInt(ts.Unix(), 10), body)
	return sigVersion + base64.StdEncoding.EncodeToString(mac[:]), nil
}
