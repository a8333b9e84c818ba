package notifiers

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxRetryAfter caps the pause a notifier passes to RetryAfter, whatever
// the destination asked for; relay may cap it further.
const MaxRetryAfter = 24 * time.Hour

const (
	// maxErrorBody is the most of a peer's answer an HTTPError keeps.
	maxErrorBody = 512
	// maxBodyRead bounds how much of a failed answer is read to find those
	// bytes. Reading more than is kept lets a secret the peer echoed near
	// the cut be redacted whole.
	maxBodyRead = 4 << 10
	// maxDrain bounds how much more is read and discarded before closing,
	// so the connection can be reused without reading an endless answer.
	maxDrain = 64 << 10
	// minSecretLen is the shortest request value redacted from an answer:
	// shorter ones cannot be credentials, and redacting them would mangle
	// the answer.
	minSecretLen = 4
)

// HTTPError is an HTTP answer other than 2xx. Its text is "status 404:
// channel_is_archived", or "status 404" when the answer had no body worth
// keeping.
type HTTPError struct {
	// Status is the HTTP status code.
	Status int
	// Body is the start of the answer's body, at most 512 bytes of valid
	// UTF-8 on one line: control characters become spaces, runs of white
	// space one space, the ends are trimmed, and a cut ends in "…". Parts
	// of the request the peer may have echoed (URL path and query, header
	// values) read "<redacted>". It is empty for a redirect, whose body
	// only repeats a Location that may carry a secret.
	Body string
}

// Error returns "status CODE" followed by ": BODY" when Body is not empty.
func (e *HTTPError) Error() string {
	s := "status " + strconv.Itoa(e.Status)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Reason is a short, fixed label for metrics: "redirect" (3xx),
// "rate_limited" (429), "client_error" (other 4xx) or "server_error" (5xx,
// and any status outside 300–599).
func (e *HTTPError) Reason() string {
	switch {
	case e.Status >= 300 && e.Status < 400:
		return "redirect"
	case e.Status == http.StatusTooManyRequests:
		return "rate_limited"
	case e.Status >= 400 && e.Status < 500:
		return "client_error"
	}
	return "server_error"
}

// CheckHTTP classifies resp, the answer http.Client.Do returned to one
// notifier request, for relay's retry loop. It returns nil for a 2xx; otherwise an error that wraps an
// *HTTPError (find it with errors.As) and is marked:
//   - 429 with a Retry-After in seconds or as an HTTP date in the future:
//     RetryAfter with that pause, capped at MaxRetryAfter;
//   - 429 without a readable Retry-After, 408, 5xx and any status outside
//     200–599: transient (unmarked);
//   - 3xx: Permanent, "redirects are not followed" (NewHTTPClient never
//     follows one);
//   - any other 4xx: Permanent.
//
// now is the time a Retry-After date is measured from.
//
// CheckHTTP owns resp.Body: whatever the status, it reads at most a few KiB
// of a failed answer, drains at most 64 KiB more so the connection can be
// reused, and closes the body. A caller that wants a 2xx body reads it
// first. The error never contains the request URL or a request header
// value, even when the peer echoes them.
func CheckHTTP(resp *http.Response, now time.Time) error {
	defer drainAndClose(resp.Body)
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code >= 300 && code < 400:
		return Permanent(fmt.Errorf("redirects are not followed: %w", &HTTPError{Status: code}))
	}
	err := &HTTPError{Status: code, Body: errorBody(resp)}
	switch {
	case code == http.StatusTooManyRequests:
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			return RetryAfter(err, d)
		}
		return err
	case code == http.StatusRequestTimeout:
		return err
	case code >= 400 && code < 500:
		return Permanent(err)
	}
	return err
}

// drainAndClose reads at most maxDrain bytes of body and closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	_ = body.Close()
}

// parseRetryAfter parses a Retry-After header, in seconds or as an HTTP
// date, into a positive pause of at most MaxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if v != "" && strings.Trim(v, "0123456789") == "" {
		// Only ErrRange can fail here: any count of seconds too large
		// for a uint64 is more than the cap too.
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		if t.After(now.Add(MaxRetryAfter)) {
			return MaxRetryAfter, true
		}
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0, false
	}
	return d, true
}

// errorBody reads the start of a failed answer's body and makes it safe to
// keep in an error, as HTTPError.Body describes.
func errorBody(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyRead)) // keep what arrived
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = redact(s, requestSecrets(resp.Request))
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	return cut(strings.Join(strings.Fields(s), " "), maxErrorBody)
}

// requestSecrets returns the parts of req a peer may echo that must not
// reach an error: the URL's path, query, query values and password, and the
// values of the headers a notifier's config may set. req may be nil.
func requestSecrets(req *http.Request) []string {
	if req == nil {
		return nil
	}
	u := req.URL
	var s []string
	if u != nil {
		s = append(s, u.String(), u.RequestURI(), u.Path, u.EscapedPath(), u.RawQuery)
		for _, values := range u.Query() {
			s = append(s, values...)
		}
		if p, ok := u.User.Password(); ok {
			s = append(s, p, u.User.String())
		}
	}
	for name, values := range req.Header {
		switch name {
		case "Accept", "Accept-Encoding", "Content-Length", "Content-Type", "Idempotency-Key", "User-Agent":
			continue // set by hooknote, never a credential
		}
		s = append(s, values...)
	}
	return s
}

// redact replaces every occurrence in s of each secret at least
// minSecretLen bytes long with "<redacted>", longest first.
func redact(s string, secrets []string) string {
	secrets = slices.DeleteFunc(secrets, func(v string) bool { return len(v) < minSecretLen })
	if len(secrets) == 0 {
		return s
	}
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(secrets))
	for _, v := range secrets {
		pairs = append(pairs, v, "<redacted>")
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// cut returns s if it is at most limit bytes long; otherwise its start, on a
// rune boundary, followed by "…", limit bytes at most.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const marker = "…"
	i := limit - len(marker)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.TrimRight(s[:i], " ") + marker
}
