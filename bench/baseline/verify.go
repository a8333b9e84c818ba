package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// verifier is a plain Standard Webhooks verifier, written the way the
// reference libraries do it (independent of hooknote's replicate.Verifier, so
// that the baseline does not measure hooknote's code).
type verifier struct {
	key       []byte
	tolerance time.Duration
}

func newVerifier(secret string, tolerance time.Duration) (*verifier, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, errors.New("parse secret: want whsec_ followed by standard base64")
	}
	return &verifier{key: key, tolerance: tolerance}, nil
}

var errSignature = errors.New("no matching signature")

// verify checks the webhook-* headers against body.
func (v *verifier) verify(h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad webhook-timestamp")
	}
	if d := time.Since(time.Unix(sec, 0)); d > v.tolerance || d < -v.tolerance {
		return errors.New("webhook-timestamp outside tolerance")
	}
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Fields(sigs) {
		if got, ok := strings.CutPrefix(s, "v1,"); ok && hmac.Equal([]byte(got), []byte(want)) {
			return nil
		}
	}
	return errSignature
}
