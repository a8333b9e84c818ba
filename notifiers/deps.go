package notifiers

import (
	"errors"
	"log/slog"
	"net/http"
)

// Deps are what a notifier package's New takes from its caller instead of
// building itself: relay builds one HTTP client per notifier (NewHTTPClient)
// and closes its idle connections when a reload replaces the notifier.
type Deps struct {
	// HTTP is the client an HTTP notifier sends with, for its lifetime. An
	// HTTP notifier's New refuses a nil HTTP with ErrNoHTTPClient.
	// Notifiers that do not speak HTTP ignore it.
	HTTP *http.Client
	// Log receives what the notifier has to say beyond its errors; it
	// already carries the notifier's name. Nil means discard.
	Log *slog.Logger
}

// ErrNoHTTPClient is what an HTTP notifier's New returns, wrapped, when
// Deps.HTTP is nil. It never falls back to a client of its own, nor to
// http.DefaultClient, which has no timeouts and follows redirects.
var ErrNoHTTPClient = errors.New("no HTTP client in notifiers.Deps")
