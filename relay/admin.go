package relay

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/hooknote/hooknote/store"
)

// AdminHandler serves the admin listener (DESIGN §5): /healthz, /readyz and
// the dead letters. extra adds routes (main adds /metrics).
func (r *Relay) AdminHandler(extra map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", r.readyz)
	mux.HandleFunc("GET /dead", r.listDead)
	mux.HandleFunc("POST /dead/{id}/retry", r.reviveDead)
	mux.HandleFunc("DELETE /dead/{id}", r.dropDead)
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
	return mux
}

func (r *Relay) readyz(w http.ResponseWriter, req *http.Request) {
	if !r.ready.Load() || r.cfg.Load() == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if _, err := r.store.Stats(req.Context()); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	healthz(w, req)
}

// listDead answers GET /dead: the dead letters as JSON (store.Job, without
// bodies), oldest first.
func (r *Relay) listDead(w http.ResponseWriter, req *http.Request) {
	dead, err := r.store.Dead(req.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	if dead == nil {
		dead = []store.Job{}
	}
	writeJSON(w, http.StatusOK, dead)
}

func (r *Relay) reviveDead(w http.ResponseWriter, req *http.Request) {
	r.deadOp(w, req, func(id uint64) error {
		err := r.store.Revive(req.Context(), id, r.now())
		r.wakeDispatcher()
		return err
	})
}

func (r *Relay) dropDead(w http.ResponseWriter, req *http.Request) {
	r.deadOp(w, req, func(id uint64) error { return r.store.Drop(req.Context(), id) })
}

func (r *Relay) deadOp(w http.ResponseWriter, req *http.Request, op func(uint64) error) {
	id, err := strconv.ParseUint(req.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "dead letter id must be a number"})
		return
	}
	switch err := op(id); {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no dead letter " + req.PathValue("id")})
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "id": id})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
