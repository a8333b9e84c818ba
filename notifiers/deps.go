package notifiers

import (
	"log/slog"
	"net/http"
)

// Deps are what a notifier package's New takes from its caller instead of
// building itself: relay builds one HTTP client per notifier (NewHTTPClient)
// and closes its idle connections when a reload replaces the notifier.
type Deps struct {
	// HTTP is the client an HTTP notifier sends with, for its lifetime.
	// Notifiers that do not speak HTTP ignore it.
	HTTP *http.Client
	// Log receives what the notifier has to say beyond its errors; it
	// already carries the notifier's name.
	Log *slog.Logger
}
