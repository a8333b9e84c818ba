// Package email delivers notifications by SMTP with go-mail: one connection
// per message, STARTTLS (required by default), implicit TLS, opportunistic
// STARTTLS or plain text, SMTP AUTH, and a text body with an optional HTML
// alternative.
//
// Recipients may be templated; then every rendered recipient must match
// allow_to, so a payload or a query parameter can never send mail elsewhere.
// Bcc recipients go in the envelope only. Errors are classified for relay:
// SMTP 4xx replies and network failures are transient; 5xx replies, rejected
// credentials, a missing STARTTLS and a certificate that does not verify are
// permanent.
package email

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hooknote/hooknote/notifiers"
	mail "github.com/wneessen/go-mail"
)

// Notifier sends each Message as one email. It is immutable after New and
// safe for concurrent use.
type Notifier struct {
	host       string // as dialed and as the SMTP client knows it
	addr       string // host:port
	mode       string
	serverName string
	tlsConfig  *tls.Config
	username   string
	password   notifiers.Secret
	// cleartextAuth allows credentials on an unencrypted connection:
	// tls = "none" to a loopback host.
	cleartextAuth bool
	from          *netmail.Address
	allowTo       []string
	log           *slog.Logger
}

var _ notifiers.Notifier = (*Notifier)(nil)

// New validates c, reads its ca_file and returns a Notifier. It speaks SMTP,
// not HTTP: d.HTTP is ignored. d.Log (nil: discard) hears of a session that
// failed after the server had accepted the message, which counts as
// delivered.
func New(c Config, d notifiers.Deps) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	host := strings.TrimSuffix(strings.TrimPrefix(c.Host, "["), "]")
	from, err := netmail.ParseAddress(c.From)
	if err != nil { // unreachable: Validate parsed it
		return nil, notifiers.FieldErrorf("from", "%w", err)
	}
	tc := &tls.Config{ServerName: c.serverName(), MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := readCAFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	mode := c.tlsMode()
	return &Notifier{
		host:          host,
		addr:          net.JoinHostPort(host, strconv.Itoa(c.port())),
		mode:          mode,
		serverName:    tc.ServerName,
		tlsConfig:     tc,
		username:      c.Username,
		password:      c.Password,
		cleartextAuth: mode == modeNone && notifiers.IsLoopback(host),
		from:          from,
		allowTo:       append([]string(nil), c.AllowTo...),
		log:           cmp.Or(d.Log, slog.New(slog.DiscardHandler)),
	}, nil
}

func readCAFile(name string) (*x509.CertPool, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, notifiers.FieldErrorf("ca_file", "%w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, notifiers.FieldErrorf("ca_file", "no PEM certificate in %q", name)
	}
	return pool, nil
}

// Notify sends m in one SMTP transaction. A recipient that does not parse
// or is not allowed by allow_to is a permanent error, reported before any
// connection is made.
func (n *Notifier) Notify(ctx context.Context, m notifiers.Message) error {
	msg, err := n.message(m, time.Now())
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("send email: %w", err))
	}
	return n.send(ctx, msg)
}

// message builds the email for m, dated now.
func (n *Notifier) message(m notifiers.Message, now time.Time) (*mail.Msg, error) {
	to, err := n.recipients(m.To)
	if err != nil {
		return nil, err
	}
	if len(to) == 0 {
		return nil, errors.New("no recipient in to")
	}
	cc, err := n.recipients(m.Cc)
	if err != nil {
		return nil, err
	}
	bcc, err := n.recipients(m.Bcc)
	if err != nil {
		return nil, err
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.FromMailAddress(n.from)
	msg.ToMailAddress(to...)
	if len(cc) > 0 {
		msg.CcMailAddress(cc...)
	}
	if len(bcc) > 0 { // go-mail puts Bcc in the envelope, never in a header
		msg.BccMailAddress(bcc...)
	}
	// A literal "=?" could read as an RFC 2047 encoded word hiding CR/LF
	// (=?utf-8?b?DQpCY2M6…?=): break it with a zero-width space, which also
	// makes go-mail encode the whole subject.
	msg.Subject(strings.ReplaceAll(stripLineBreaks(m.Subject), "=?", "=\u200b?"))
	if id := messageID(m.ID); id != "" {
		msg.SetMessageIDWithValue(id)
	} else {
		msg.SetMessageID()
	}
	msg.SetDateWithValue(now)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// recipients parses rendered recipients, skipping empty ones (an optional
// templated cc that rendered nothing), and checks them against allow_to.
func (n *Notifier) recipients(list []string) ([]*netmail.Address, error) {
	var out []*netmail.Address
	for _, r := range list {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if strings.ContainsAny(r, "\r\n") {
			return nil, fmt.Errorf("recipient %q contains a line break", r)
		}
		a, err := netmail.ParseAddress(r)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", r, err)
		}
		if len(n.allowTo) > 0 && !allowed(n.allowTo, a.Address) {
			return nil, fmt.Errorf("recipient %q not allowed by allow_to", a.Address)
		}
		out = append(out, a)
	}
	return out, nil
}

// stripLineBreaks replaces each CR and LF with a space, and changes nothing
// else: relay already removed them from the subject, and a header must never
// carry one. Unlike templates.OneLine it neither collapses nor trims white
// space.
func stripLineBreaks(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// maxIDLen caps the left part of a Message-ID, well inside a header line.
const maxIDLen = 200

// messageID returns the msg-id (without angle brackets) for a job ID:
// "ID@hooknote", where every character of ID that is not allowed in a
// dot-atom becomes "-" and stray dots are dropped. It returns "" for an ID
// with nothing usable.
func messageID(id string) string {
	var b strings.Builder
	afterDot := true // no leading dot
	for _, r := range id {
		switch {
		case b.Len() >= maxIDLen:
		case isAtext(r):
			b.WriteRune(r)
			afterDot = false
		case r == '.':
			if !afterDot {
				b.WriteByte('.')
				afterDot = true
			}
		default:
			b.WriteByte('-')
			afterDot = false
		}
	}
	left := strings.TrimRight(b.String(), ".")
	if left == "" {
		return ""
	}
	return left + "@hooknote"
}

// isAtext reports whether r is an RFC 5322 atext character.
func isAtext(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	default:
		return r < 0x80 && strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
	}
}
