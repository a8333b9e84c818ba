package email

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hooknote/hooknote/notifiers"
)

// mimeHeaders are the only headers a message may have (Cc when it has one).
var mimeHeaders = []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}

// FuzzMIME builds the email for a message whose subject, bodies, job ID and
// recipients (display names included) are fuzzed, writes its MIME and reads
// it back with net/mail. A message that builds has exactly the intended
// headers (no Bcc, nothing a value smuggled in), a one-line subject that
// decodes to the one given, To and Cc headers and an envelope holding
// exactly the given recipients, and one text part plus one HTML part when
// HTML is set. An unusable recipient is refused before anything is built.
func FuzzMIME(f *testing.F) {
	f.Add("✅ training succeeded", "text\r\n.\r\n", "<p>x</p>", "job-1.succeeded", "Ops <ops@example.com>", "", "audit@example.com")
	f.Add("a\r\nBcc: evil@example.com", "Content-Type: text/html\r\n\r\n--x", "", "a\r\nb", "ops@example.com\r\nBcc: evil@example.com", "\"x\r\ny\" <cc@example.com>", "")
	f.Add("=?utf-8?q?=0D=0ABcc:_evil@example.com?=", "\xff\xfe", "\x00", "", "=?utf-8?q?evil=0D=0A?= <ops@example.com>", "ops@example.com, evil@example.com", "bcc@example.com")
	n, err := New(Config{Host: "127.0.0.1", Port: 2525, From: "hooknote <relay@example.com>", To: []string{"oncall@example.com"}}, testDeps())
	if err != nil {
		f.Fatalf("New() = %v", err)
	}
	date := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, subject, text, html, id, to, cc, bcc string) {
		m := notifiers.Message{ID: id, Subject: subject, Text: text, HTML: html, To: []string{to}, Cc: []string{cc}, Bcc: []string{bcc}}
		wantRcpt, ok := envelope(to, cc, bcc)
		msg, err := n.message(m, date)
		if !ok {
			if err == nil {
				t.Fatalf("message(to %q, cc %q, bcc %q) = nil error, want a refused recipient", to, cc, bcc)
			}
			return
		}
		if err != nil {
			t.Fatalf("message(to %q, cc %q, bcc %q) = %v, want nil", to, cc, bcc, err)
		}
		rcpt, err := msg.GetRecipients()
		if err != nil || !slices.Equal(rcpt, wantRcpt) {
			t.Fatalf("GetRecipients() = %q, %v, want %q", rcpt, err, wantRcpt)
		}
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			t.Fatalf("WriteTo() = %v", err)
		}
		checkMIME(t, buf.Bytes(), m)
	})
}

// envelope returns the addresses the message must go to, or false when
// one of the recipients must be refused.
func envelope(to, cc, bcc string) ([]string, bool) {
	var out []string
	for i, r := range []string{to, cc, bcc} {
		r = strings.TrimSpace(r)
		if r == "" {
			if i == 0 {
				return nil, false // no recipient in to
			}
			continue
		}
		a, err := mail.ParseAddress(r)
		if err != nil || strings.ContainsAny(r, "\r\n") {
			return nil, false
		}
		out = append(out, (&mail.Address{Address: a.Address}).String()) // "<addr>", as go-mail lists it
	}
	return out, true
}

// checkMIME reads data back and checks its headers and parts against m.
func checkMIME(t *testing.T, data []byte, m notifiers.Message) {
	t.Helper()
	parsed, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadMessage() = %v for\n%s", err, data)
	}
	want := slices.Clone(mimeHeaders)
	if strings.TrimSpace(m.Cc[0]) != "" {
		want = append(want, "Cc")
	}
	if m.HTML == "" {
		want = append(want, "Content-Transfer-Encoding")
	}
	slices.Sort(want)
	var got []string
	for k, v := range parsed.Header {
		got = append(got, k)
		if len(v) != 1 {
			t.Errorf("header %s appears %d times: %q", k, len(v), v)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("headers (-want +got):\n%s\nmessage:\n%s", diff, data)
	}
	for key, list := range map[string]string{"To": m.To[0], "Cc": m.Cc[0]} {
		if strings.TrimSpace(list) == "" {
			continue
		}
		addrs, err := parsed.Header.AddressList(key)
		wantAddr, _ := mail.ParseAddress(strings.TrimSpace(list))
		if err != nil || len(addrs) != 1 || addrs[0].Address != wantAddr.Address {
			t.Fatalf("%s header %q = %v, %v, want exactly %q", key, parsed.Header.Get(key), addrs, err, wantAddr.Address)
		}
	}
	checkSubject(t, parsed.Header.Get("Subject"), m.Subject)
	checkParts(t, parsed, m.HTML != "")
}

// checkParts checks that the body is the text part, or the text and HTML
// alternatives, and nothing a value smuggled in.
func checkParts(t *testing.T, parsed *mail.Message, hasHTML bool) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", parsed.Header.Get("Content-Type"), err)
	}
	if !hasHTML {
		if mt != "text/plain" {
			t.Fatalf("Content-Type = %q, want text/plain", mt)
		}
		return
	}
	if mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative", mt)
	}
	var types []string
	r := multipart.NewReader(parsed.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextRawPart() = %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
	}
	if diff := cmp.Diff([]string{"text/plain", "text/html"}, types); diff != "" {
		t.Fatalf("parts (-want +got):\n%s", diff)
	}
}

// checkSubject checks that the Subject header decodes to the subject given,
// on one line. A literal "=?" in the subject is sent broken by a zero-width
// space, so that an encoded-word in the payload ("=?utf-8?b?…?=") cannot
// decode to line breaks in a mail reader.
func checkSubject(t *testing.T, header, subject string) {
	t.Helper()
	got, err := new(mime.WordDecoder).DecodeHeader(header)
	got = strings.ReplaceAll(got, "=\u200b?", "=?")
	// Header folding and net/mail's trimming change white space only.
	want := strings.Join(strings.Fields(strings.ToValidUTF8(stripLineBreaks(subject), "\uFFFD")), " ")
	if err != nil || strings.ContainsAny(got, "\r\n") || strings.Join(strings.Fields(got), " ") != want {
		t.Fatalf("Subject %q decodes to %q, %v, want %q", header, got, err, want)
	}
}
