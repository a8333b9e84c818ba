package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"

	"github.com/hooknote/hooknote/notifiers"
	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// send delivers msg over a new connection.
func (n *Notifier) send(ctx context.Context, msg *mail.Msg) error {
	d := &dialer{addr: n.addr}
	opts := []mail.Option{
		mail.WithDialContextFunc(d.dial),
		mail.WithTLSConfig(n.tlsConfig),
	}
	switch n.mode {
	case modeSTARTTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case modeOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case modeNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case modeTLS:
		// go-mail does not wrap a custom dialer's connection: dial does.
		d.tls = n.tlsConfig
		opts = append(opts, mail.WithSSL())
	}
	if n.username != "" {
		opts = append(opts, mail.WithSMTPAuthCustom(&auth{
			username:  n.username,
			password:  n.password.Reveal(),
			host:      n.host,
			cleartext: n.cleartextAuth,
		}))
	}
	client, err := mail.NewClient(n.host, opts...)
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("send email: %w", err))
	}
	// go-mail bounds the dial by ctx but not the SMTP dialogue, and leaves
	// the connection open when STARTTLS fails: closing it here does both.
	defer d.close()
	stop := context.AfterFunc(ctx, d.close)
	defer stop()

	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	if msg.IsDelivered() {
		// The server took the message; a failed RSET or QUIT after that
		// must not cause a duplicate.
		n.log.Info("email delivered; smtp session then failed", "error", err)
		return nil
	}
	return n.classify(ctx, err)
}

// dialer opens the one connection of a send and keeps it to close it.
type dialer struct {
	addr string
	tls  *tls.Config // implicit TLS when set

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// dial implements mail.DialContextFunc. It dials d.addr, not the address
// go-mail formats, which breaks IPv6 literals.
func (d *dialer) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	nd := &net.Dialer{}
	var conn net.Conn
	var err error
	if d.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: nd, Config: d.tls}).DialContext(ctx, "tcp", d.addr)
	} else {
		conn, err = nd.DialContext(ctx, "tcp", d.addr)
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed { // ctx ended while dialing
		_ = conn.Close()
		return nil, net.ErrClosed
	}
	d.conn = conn
	return conn, nil
}

func (d *dialer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.conn != nil {
		_ = d.conn.Close() // already closed after a QUIT
	}
}

var (
	errCleartextAuth = errors.New("the connection is not encrypted (the server offered no STARTTLS); refusing to send credentials")
	errNoAuthMech    = errors.New("smtp server offers no supported AUTH mechanism")
)

// auth is an smtp.Auth that refuses to send credentials over an unencrypted
// connection (unless cleartext) and picks the best mechanism the server
// offers. It holds one exchange's state: make one per connection.
type auth struct {
	username, password, host string
	cleartext                bool
	next                     smtp.Auth
}

// Start implements smtp.Auth.
func (a *auth) Start(s *smtp.ServerInfo) (string, []byte, error) {
	if !s.TLS && !a.cleartext {
		return "", nil, errCleartextAuth
	}
	offered := make(map[string]bool, len(s.Auth))
	for _, m := range s.Auth {
		offered[strings.ToUpper(m)] = true
	}
	switch {
	case offered["SCRAM-SHA-256"]:
		a.next = smtp.ScramSHA256Auth(a.username, a.password)
	case offered["SCRAM-SHA-1"]:
		a.next = smtp.ScramSHA1Auth(a.username, a.password)
	case offered["PLAIN"]:
		a.next = smtp.PlainAuth("", a.username, a.password, a.host, a.cleartext)
	case offered["LOGIN"]:
		a.next = smtp.LoginAuth(a.username, a.password, a.host, a.cleartext)
	case offered["CRAM-MD5"]:
		a.next = smtp.CRAMMD5Auth(a.username, a.password)
	default:
		return "", nil, fmt.Errorf("offered %q: %w", strings.Join(s.Auth, " "), errNoAuthMech)
	}
	return a.next.Start(s)
}

// Next implements smtp.Auth.
func (a *auth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.next.Next(fromServer, more)
}

// classify wraps a failed send's error in the class relay acts on.
func (n *Notifier) classify(ctx context.Context, err error) error {
	switch {
	case isNoSTARTTLS(err):
		return notifiers.Permanent(fmt.Errorf(`send email: smtp server %q does not offer STARTTLS (tls = "starttls"); set tls = "tls" for port 465 or fix the server: %w`, n.host, err))
	case errors.Is(err, errCleartextAuth), errors.Is(err, errNoAuthMech):
		return notifiers.Permanent(fmt.Errorf("send email: smtp auth: %w", err))
	case isCertError(err):
		// A certificate that does not verify will not fix itself.
		return notifiers.Permanent(fmt.Errorf("send email: verify certificate of smtp server %q: %w", n.serverName, err))
	}
	if code := replyCode(err); code >= 500 {
		return notifiers.Permanent(fmt.Errorf("send email: %w", err))
	} else if code == 0 && ctx.Err() != nil {
		return fmt.Errorf("send email: %w", context.Cause(ctx))
	}
	// SMTP 4xx, network and TLS handshake failures.
	return fmt.Errorf("send email: %w", err)
}

// isNoSTARTTLS reports whether err is go-mail's refusal to go on when
// STARTTLS is mandatory and not offered. go-mail has no sentinel for it;
// TestNotifyClassifies guards the text.
func isNoSTARTTLS(err error) bool {
	return strings.Contains(err.Error(), "but target host does not support STARTTLS")
}

// isCertError reports whether err is a failure to verify the server's
// certificate.
func isCertError(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &authority) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}

// replyCode returns the SMTP reply code (4xx or 5xx) that err carries, or 0
// when the server did not reply with an error.
func replyCode(err error) int {
	var se *mail.SendError
	if errors.As(err, &se) {
		if se.IsTemp() {
			return 400
		}
		return se.ErrorCode()
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 400 {
		return te.Code
	}
	return 0
}
