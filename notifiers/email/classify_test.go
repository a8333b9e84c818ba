package email

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/hooknote/hooknote/notifiers"
)

// classifyCases are sends that fail, with the class relay must see.
var classifyCases = []struct {
	name          string
	server        serverOptions
	config        func(c *Config, ts *testServer)
	wantPermanent bool
	wantErr       string // a substring of the error
}{{
	name:    "451 at RCPT is transient",
	server:  serverOptions{rcptErr: reply(451, "try later")},
	wantErr: "try later",
}, {
	name:          "550 at RCPT is permanent",
	server:        serverOptions{rcptErr: reply(550, "no such user")},
	wantPermanent: true,
	wantErr:       "no such user",
}, {
	name:    "451 at DATA is transient",
	server:  serverOptions{dataErr: reply(451, "queue full")},
	wantErr: "queue full",
}, {
	name:          "554 at DATA is permanent",
	server:        serverOptions{dataErr: reply(554, "rejected as spam")},
	wantPermanent: true,
	wantErr:       "rejected as spam",
}, {
	name:          "wrong password is permanent",
	server:        serverOptions{requireAuth: true},
	config:        func(c *Config, _ *testServer) { c.Password = notifiers.NewSecret("wrong-" + testPassword) },
	wantPermanent: true,
	wantErr:       "SMTP AUTH failed: 535",
}, {
	name:          "AUTH refused is permanent",
	server:        serverOptions{refuseAuth: true},
	wantPermanent: true,
	wantErr:       "SMTP AUTH failed: 535",
}, {
	name:          "no STARTTLS offered with tls starttls is permanent",
	server:        serverOptions{noSTARTTLS: true},
	wantPermanent: true,
	wantErr:       `smtp server "127.0.0.1" does not offer STARTTLS (tls = "starttls"); set tls = "tls" for port 465 or fix the server`,
}, {
	name:          "opportunistic without STARTTLS keeps the credentials",
	server:        serverOptions{noSTARTTLS: true, insecureAuth: true},
	config:        func(c *Config, _ *testServer) { c.TLS = "opportunistic" },
	wantPermanent: true,
	wantErr:       "refusing to send credentials",
}, {
	name:          "untrusted certificate is permanent",
	config:        func(c *Config, _ *testServer) { c.CAFile = "" },
	wantPermanent: true,
	wantErr:       `verify certificate of smtp server "127.0.0.1"`,
}, {
	name:          "untrusted certificate with implicit tls is permanent",
	server:        serverOptions{implicitTLS: true},
	config:        func(c *Config, _ *testServer) { c.TLS, c.CAFile = "tls", "" },
	wantPermanent: true,
	wantErr:       `verify certificate of smtp server "127.0.0.1"`,
}, {
	name:          "certificate for another name is permanent",
	config:        func(c *Config, _ *testServer) { c.ServerName = "mail.example.com" },
	wantPermanent: true,
	wantErr:       `verify certificate of smtp server "mail.example.com"`,
}, {
	name:    "connection refused is transient",
	config:  func(c *Config, _ *testServer) { c.Port = closedPort() },
	wantErr: "connection refused",
}}

// reply is an SMTP error reply with an enhanced code of the same class.
func reply(code int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: msg}
}

// closedPort returns a loopback port nothing listens on.
func closedPort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestNotifyClassifies(t *testing.T) {
	for _, tt := range classifyCases {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.server)
			c := testConfig(ts)
			if tt.config != nil {
				tt.config(&c, ts)
			}
			err := newNotifier(t, c).Notify(t.Context(), testMessage())
			if err == nil {
				t.Fatalf("Notify() = nil, want an error containing %q", tt.wantErr)
			}
			if got := notifiers.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("IsPermanent(%q) = %v, want %v", err, got, tt.wantPermanent)
			}
			if _, ok := notifiers.RetryAfterOf(err); ok {
				t.Errorf("RetryAfterOf(%q) reports a pause, want none", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Notify() = %q, want it to contain %q", err, tt.wantErr)
			}
			if got := len(ts.Messages()); got != 0 {
				t.Errorf("server accepted %d messages, want 0", got)
			}
		})
	}
}

// TestNotifyKeepsTheCause checks that the errors Notify adds advice to still
// wrap what go-mail said.
func TestNotifyKeepsTheCause(t *testing.T) {
	ts := startServer(t, serverOptions{noSTARTTLS: true})
	err := newNotifier(t, testConfig(ts)).Notify(t.Context(), testMessage())
	if err == nil || !isNoSTARTTLS(errors.Unwrap(errors.Unwrap(err))) {
		t.Errorf("Notify() = %v, want it to wrap go-mail's error", err)
	}
}

// TestNotifyKeepsCredentials shows that credentials are never offered on a
// connection that did not become encrypted.
func TestNotifyKeepsCredentials(t *testing.T) {
	ts := startServer(t, serverOptions{noSTARTTLS: true, insecureAuth: true})
	c := testConfig(ts)
	c.TLS = "opportunistic"
	if err := newNotifier(t, c).Notify(t.Context(), testMessage()); err == nil {
		t.Fatalf("Notify() = nil, want an error")
	}
	if ts.Sessions() != 1 || ts.Auths() != 0 {
		t.Errorf("server saw %d sessions and %d AUTH commands, want 1 and 0", ts.Sessions(), ts.Auths())
	}
}

// TestNoSecretInErrors runs every failing send, and the config errors that
// involve the password, and checks the password appears in none of them.
func TestNoSecretInErrors(t *testing.T) {
	var errs []error
	for _, tt := range classifyCases {
		ts := startServer(t, tt.server)
		c := testConfig(ts)
		if tt.config != nil {
			tt.config(&c, ts)
		}
		errs = append(errs, newNotifier(t, c).Notify(t.Context(), testMessage()))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ts := startServer(t, serverOptions{})
	errs = append(errs, newNotifier(t, testConfig(ts)).Notify(ctx, testMessage()))
	bad := Config{Host: "smtp.example.com", TLS: "none", Password: notifiers.NewSecret(testPassword)}
	errs = append(errs, bad.Validate())
	_, err := New(bad, testDeps())
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Errorf("got a nil error, want every case to fail")
			continue
		}
		if strings.Contains(err.Error(), testPassword) {
			t.Errorf("error %q contains the password", err)
		}
	}
}
