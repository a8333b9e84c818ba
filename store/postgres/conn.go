package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// poolConfig parses dsn and sets hooknote's defaults where it says
// nothing. Its error never shows the DSN, which may hold a password.
func poolConfig(dsn string) (*pgxpool.Config, error) {
	if dsn == "" {
		return nil, errors.New("open store: no postgres dsn")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: invalid postgres dsn: %s", parseCause(err))
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = defaultConnectTimeout
	}
	for k, v := range map[string]string{
		"application_name":                    "hooknote",
		"idle_in_transaction_session_timeout": idleInTransaction,
		// hooknote's statements are prepared once per connection and their
		// best plan does not depend on the values passed; planning the
		// claim afresh each time (a custom plan) cost more than running it.
		"plan_cache_mode": "force_generic_plan",
	} {
		if _, ok := cc.RuntimeParams[k]; !ok {
			cc.RuntimeParams[k] = v
		}
	}
	return cfg, nil
}

// parseCause is what pgx says is wrong with a DSN, without the DSN: pgx
// masks the passwords it finds, but a DSN too broken to parse may hide
// one where pgx does not look.
func parseCause(err error) string {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		msg = pe.Error() // cannot parse `DSN`: what (why)
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			return msg[i+len("`: "):]
		}
		return "cannot parse it"
	}
	return msg
}

// where names the server and database of cfg for errors.
func where(cfg *pgx.ConnConfig) string {
	addr := cfg.Host
	if !strings.HasPrefix(addr, "/") {
		addr = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	}
	return fmt.Sprintf("postgres at %s database %q", addr, cfg.Database)
}

// connectError is the failure to connect to the server of cfg, in one
// line: where, and the cause (a refused connection, a timeout, the
// server's refusal), never the password.
func connectError(cfg *pgx.ConnConfig, err error) error {
	return &openError{msg: fmt.Sprintf("connect to %s: %s", where(cfg), connectCause(err)), err: err}
}

// connectCause is the innermost useful reason why a connection failed.
func connectCause(err error) string {
	var pgErr *pgconn.PgError
	var errno syscall.Errno
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Message
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &dnsErr):
		return dnsErr.Error()
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && errors.Unwrap(ce) != nil {
		err = errors.Unwrap(ce)
	}
	return err.Error()
}

// openError is an error of Open whose message is said in hooknote's words
// and which unwraps to pgx's error (for errors.Is).
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }
