package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The only account the test server accepts.
const (
	testUser     = "relay@example.com"
	testPassword = "pw-9f2c-NEVER-PRINT-ME"
)

// serverOptions configures a test SMTP server and its failure injection.
type serverOptions struct {
	implicitTLS  bool            // serve TLS from the first byte (port 465 style)
	noSTARTTLS   bool            // do not offer STARTTLS
	insecureAuth bool            // offer AUTH without TLS
	requireAuth  bool            // refuse MAIL FROM before AUTH
	refuseAuth   bool            // answer every AUTH with 535
	rcptErr      *smtp.SMTPError // reply to every RCPT TO with this
	dataErr      *smtp.SMTPError // reply to the end of DATA with this
	hangUp       bool            // close the connection once DATA is accepted
}

// received is one message as the server saw it.
type received struct {
	From     string
	To       []string
	Data     string
	TLS      bool
	AuthUser string
}

// testServer is a real SMTP server (go-smtp) on 127.0.0.1 that records what
// it receives.
type testServer struct {
	Port   int
	CAFile string // PEM of the CA that signed the server's certificate

	opts serverOptions

	mu       sync.Mutex
	sessions int // EHLOs seen
	auths    int // AUTH attempts seen
	msgs     []received
}

// startServer starts a test server that stops when t ends.
func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	caFile, cert := newTestCerts(t)
	ts := &testServer{CAFile: caFile, opts: o}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.sessions++
		return &session{srv: ts, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.AllowInsecureAuth = o.insecureAuth
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if !o.noSTARTTLS && !o.implicitTLS {
		s.TLSConfig = tlsConfig
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts.Port = ln.Addr().(*net.TCPAddr).Port
	if o.implicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		_ = ln.Close() // Close misses it when Serve has not started yet
		if err := <-done; err != nil {
			t.Errorf("smtp server: %v", err)
		}
	})
	return ts
}

// Messages returns what the server has accepted so far.
func (ts *testServer) Messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

// Sessions returns how many clients said EHLO.
func (ts *testServer) Sessions() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.sessions
}

// Auths returns how many AUTH commands the server saw.
func (ts *testServer) Auths() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.auths
}

// session implements smtp.Session and smtp.AuthSession.
type session struct {
	srv  *testServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	s.srv.mu.Lock()
	s.srv.auths++
	s.srv.mu.Unlock()
	return sasl.NewPlainServer(func(_, username, password string) error {
		if s.srv.opts.refuseAuth || username != testUser || password != testPassword {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.requireAuth && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.opts.rcptErr != nil {
		return s.srv.opts.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.srv.opts.dataErr != nil {
		return s.srv.opts.dataErr
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.msgs = append(s.srv.msgs, received{
		From: s.from, To: s.to, Data: string(b), TLS: isTLS, AuthUser: s.user,
	})
	return nil
}

// Reset runs after the reply to DATA has been written.
func (s *session) Reset() {
	if s.srv.opts.hangUp && s.from != "" {
		_ = s.conn.Conn().Close() // not s.conn.Close: reset holds its lock
	}
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }

// newTestCerts makes a CA and a server certificate it signs, valid for
// 127.0.0.1 and localhost, and writes the CA's PEM to a temporary file.
func newTestCerts(t *testing.T) (caFile string, cert tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hooknote test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}
