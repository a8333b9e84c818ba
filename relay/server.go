package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/store"
)

// answer is the JSON body of every intake reply.
type answer struct {
	Accepted  *int   `json:"accepted,omitempty"`
	Duplicate *bool  `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

// IntakeHandler serves the intake listener: POST {path} and GET /healthz.
// Nothing else is served there: metrics and dead letters live on the admin
// listener.
// At most server.max_in_flight webhooks are handled at once; more are
// answered 503 at once (Replicate retries final events), so a flood cannot
// exhaust memory.
func (r *Relay) IntakeHandler() http.Handler {
	srv := r.cfg.Load().File.Server
	slots := make(chan struct{}, srv.MaxInFlight)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc(srv.Path, func(w http.ResponseWriter, req *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			r.serveWebhook(w, req)
		default:
			w.Header().Set("Retry-After", "1")
			reply(w, http.StatusServiceUnavailable, answer{Error: "too many requests in flight"})
			r.metrics.webhook("unavailable", 0)
		}
	})
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// serveWebhook is the intake: cap, verify, decode, match, enqueue durably,
// and only then answer 200 (DESIGN §1, §5).
func (r *Relay) serveWebhook(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, answer{Error: "method not allowed; webhooks are POSTed"})
		r.metrics.webhook("method_not_allowed", time.Since(start))
		return
	}
	cfg := r.cfg.Load()
	log := r.log.With("request_id", strconv.FormatUint(r.requests.Add(1), 10))
	status, ans, result, attrs := r.intake(req, w, cfg)
	reply(w, status, ans)
	took := time.Since(start)
	r.metrics.webhook(result, took)
	attrs = append(attrs, slog.String("result", result), slog.Int("code", status), slog.Duration("took", took))
	level := slog.LevelInfo
	if status >= 400 {
		level = slog.LevelWarn
	}
	log.LogAttrs(req.Context(), level, "webhook", attrs...)
}

// intake handles one webhook and returns the answer, the result recorded in
// metrics and the log line ("accepted", "duplicate", "bad_signature", …), and
// the other attributes of that log line.
func (r *Relay) intake(req *http.Request, w http.ResponseWriter, cfg *Config) (int, answer, string, []slog.Attr) {
	if r.draining.Load() {
		return http.StatusServiceUnavailable, answer{Error: "shutting down"}, "unavailable", nil
	}
	body, err := readBody(w, req, int64(cfg.File.Server.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			return http.StatusRequestEntityTooLarge, answer{Error: "body larger than server.max_body"}, "too_large", nil
		case errors.As(err, &ne) && ne.Timeout():
			return http.StatusRequestTimeout, answer{Error: "timed out reading the body"}, "bad_request", nil
		}
		return http.StatusBadRequest, answer{Error: "could not read the body"}, "bad_request", []slog.Attr{slog.String("error", err.Error())}
	}
	if cfg.verifier != nil {
		if err := cfg.verifier.Verify(req.Header, body); err != nil {
			return http.StatusUnauthorized, answer{Error: err.Error()}, "bad_signature", []slog.Attr{slog.String("error", err.Error())}
		}
	}
	now := r.now()
	query := req.URL.Query()
	decode := replicate.DecodePartial
	if cfg.Rules.NeedsFull() {
		decode = replicate.Decode
	}
	ev, err := decode(body, query, now)
	if err == nil {
		err = replicate.CheckQuery(ev, query)
	}
	if err != nil {
		return http.StatusBadRequest, answer{Error: err.Error()}, "bad_request", []slog.Attr{slog.String("error", err.Error())}
	}
	attrs := []slog.Attr{slog.String("event_id", ev.ID), slog.String("status", ev.Status), slog.String("kind", ev.Kind)}
	pairs := cfg.Rules.Match(ev)
	wh := store.Webhook{
		EventID: ev.ID, Status: ev.Status, Terminal: ev.Terminal,
		Body: body, Query: req.URL.RawQuery, ReceivedAt: now,
	}
	if cfg.verifier != nil { // a verified id; unsigned requests dedupe on their jobs alone
		wh.WebhookID = req.Header.Get("webhook-id")
	}
	var rules []string
	for _, p := range pairs {
		wh.Jobs = append(wh.Jobs, store.NewJob{Rule: p.Rule.Name, Notifier: p.Notifier})
		rules = append(rules, p.Rule.Name+"→"+p.Notifier)
	}
	attrs = append(attrs, slog.Any("matched", rules))
	res, err := r.store.Enqueue(req.Context(), wh)
	if err != nil {
		return http.StatusServiceUnavailable, answer{Error: "cannot record the webhook durably; retry later"}, "unavailable", append(attrs, slog.String("error", err.Error()))
	}
	if res.Accepted > 0 {
		r.wakeDispatcher()
	}
	result := "accepted"
	switch {
	case res.Duplicate:
		result = "duplicate"
	case res.Stale:
		result = "stale"
	case len(pairs) == 0:
		result = "unmatched"
	}
	ans := answer{Accepted: &res.Accepted}
	if len(pairs) > 0 || res.Duplicate {
		ans.Duplicate = &res.Duplicate
	}
	return http.StatusOK, ans, result, append(attrs, slog.Int("accepted", res.Accepted))
}

// readBody reads the whole body under the cap.
func readBody(w http.ResponseWriter, req *http.Request, limit int64) ([]byte, error) {
	if req.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	rd := http.MaxBytesReader(w, req.Body, limit)
	defer rd.Close()
	// Size the buffer from Content-Length, but at most 1 MiB up front: a
	// client announcing 25 MiB and trickling must not pin 25 MiB per
	// connection.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(req.ContentLength, 512), 1<<20)))
	if _, err := buf.ReadFrom(rd); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func reply(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(a)
	w.Write(append(b, '\n'))
}
