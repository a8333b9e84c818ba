package relay

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooknote/hooknote/store"
)

// AdminHandler serves the admin listener (DESIGN §5): /healthz, /readyz and
// the dead letters. extra adds routes (main adds /metrics).
//
// A browser must not be turned against it: a request whose Host is a name
// other than localhost or the configured admin_listen host (DNS
// rebinding) is answered 403, and so is a state-changing request sent
// cross-site (Origin, Sec-Fetch-Site) or with a form content type (CSRF).
func (r *Relay) AdminHandler(extra map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", r.readyz)
	mux.HandleFunc("GET /dead", r.listDead)
	mux.HandleFunc("GET /dead/{id}", r.showDead)
	mux.HandleFunc("POST /dead/{id}/retry", r.reviveDead)
	mux.HandleFunc("DELETE /dead/{id}", r.dropDead)
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
	host, _, _ := net.SplitHostPort(r.cfg.Load().File.Server.AdminListen)
	return guardAdmin(host, http.NewCrossOriginProtection().Handler(mux))
}

// guardAdmin answers 403 to a request for another host than the admin
// listener's own (an IP address, localhost or configured), and to a
// state-changing request with a form content type, which a browser sends
// cross-site without asking.
func guardAdmin(own string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !adminHost(req.Host, own) {
			http.Error(w, "forbidden: unexpected Host for the admin listener", http.StatusForbidden)
			return
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
			switch ct {
			case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
				http.Error(w, "forbidden: form content type on the admin listener", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, req)
	})
}

// adminHost reports whether a request's Host names the admin listener: an
// IP address, localhost, or own (the configured host) — never another name,
// which is how DNS rebinding reaches a private address.
func adminHost(hostport, own string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") || (own != "" && strings.EqualFold(host, own))
}

func (r *Relay) readyz(w http.ResponseWriter, req *http.Request) {
	if !r.ready.Load() || r.cfg.Load() == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), statsTimeout)
	defer cancel()
	if _, err := r.store.Stats(ctx); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	healthz(w, req)
}

// DeadLetter is a dead letter as the admin API shows it (GET /dead,
// GET /dead/{id}) and `hooknote dead` reads it.
type DeadLetter struct {
	ID         uint64    `json:"id"`
	Type       string    `json:"type"` // "event", "live" (a live message's update or thread reply), "digest", or "notice" (on_dead)
	EventID    string    `json:"event_id,omitempty"`
	Status     string    `json:"status,omitempty"`
	Rule       string    `json:"rule"`
	Notifier   string    `json:"notifier"`
	WebhookID  string    `json:"webhook_id,omitempty"`
	Query      string    `json:"query,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	FirstAt    time.Time `json:"first_at"`
	DeadAt     time.Time `json:"dead_at"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error"`
	// Group and Count describe a digest: its group_by values and how many
	// events it holds.
	Group map[string]string `json:"group,omitempty"`
	Count int               `json:"count,omitempty"`
}

func deadLetter(j store.Job) DeadLetter {
	d := DeadLetter{
		ID: j.ID, Type: "event", EventID: j.EventID, Status: j.Status, Rule: j.Rule, Notifier: j.Notifier,
		WebhookID: j.WebhookID, Query: j.Query, ReceivedAt: j.ReceivedAt, FirstAt: j.FirstAt,
		DeadAt: j.DeadAt, Attempts: j.Attempts, LastError: j.LastError,
	}
	switch {
	case isNotice(j):
		d.Type = "notice"
	case j.Digest != nil:
		d.Type, d.Count = "digest", len(j.Digest.Events)
		d.Group = map[string]string{}
		_ = json.Unmarshal(j.Digest.Extra, &d.Group) // best effort: a listing
	case j.Key != "":
		d.Type = "live"
	}
	return d
}

// adminTimeout bounds the store calls of one admin request.
const adminTimeout = 30 * time.Second

// listDead answers GET /dead: the dead letters, oldest first.
func (r *Relay) listDead(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), adminTimeout)
	defer cancel()
	dead, err := r.store.Dead(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	out := make([]DeadLetter, 0, len(dead))
	for _, j := range dead {
		out = append(out, deadLetter(j))
	}
	writeJSON(w, http.StatusOK, out)
}

// showDead answers GET /dead/{id}.
func (r *Relay) showDead(w http.ResponseWriter, req *http.Request) {
	r.deadOp(w, req, func(ctx context.Context, id uint64) (any, error) {
		j, err := r.store.DeadLetter(ctx, id)
		return deadLetter(j), err
	})
}

// done is the answer to a dead letter operation that succeeded.
type done struct {
	OK bool   `json:"ok"`
	ID uint64 `json:"id"`
}

func (r *Relay) reviveDead(w http.ResponseWriter, req *http.Request) {
	r.deadOp(w, req, func(ctx context.Context, id uint64) (any, error) {
		err := r.store.Revive(ctx, id, r.now())
		r.anyJobsDue()
		return done{OK: true, ID: id}, err
	})
}

func (r *Relay) dropDead(w http.ResponseWriter, req *http.Request) {
	r.deadOp(w, req, func(ctx context.Context, id uint64) (any, error) {
		return done{OK: true, ID: id}, r.store.Drop(ctx, id)
	})
}

// deadOp runs op on the dead letter named by the path and answers with
// what it returns, 404 when there is no such dead letter.
func (r *Relay) deadOp(w http.ResponseWriter, req *http.Request, op func(context.Context, uint64) (any, error)) {
	id, err := strconv.ParseUint(req.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "dead letter id must be a number"})
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), adminTimeout)
	defer cancel()
	switch v, err := op(ctx, id); {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no dead letter " + req.PathValue("id")})
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// statsTimeout bounds the store's answer to a readiness probe.
const statsTimeout = 5 * time.Second
