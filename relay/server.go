package relay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hooknote/hooknote/relay/body"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/rules"
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
//
// What a client without the secret can cost is bounded (DESIGN §5): its
// request is answered 401 before its body is read when the Standard
// Webhooks headers are missing, malformed or outside the tolerance; bodies
// are read under a minimum rate and a deadline; the bytes of bodies read
// but not yet verified count against server.max_buffered, all requests
// together (503 beyond it). Only verified webhooks take one of the
// server.max_in_flight slots (503 beyond them), so slow unauthenticated
// connections never keep signed webhooks out.
func (r *Relay) IntakeHandler() http.Handler {
	srv := r.cfg.Load().File.Server
	in := &intake{
		r:        r,
		slots:    make(chan struct{}, srv.MaxInFlight),
		buffered: body.NewBudget(int64(srv.MaxBuffered)),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc(srv.Path, in.serve)
	return mux
}

// intake is the webhook handler and the limits it shares across requests.
type intake struct {
	r        *Relay
	slots    chan struct{} // verified webhooks in flight
	buffered *body.Budget  // bytes of bodies not yet verified
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// outcome is what intake answers one request, and what it logs and counts.
type outcome struct {
	status int
	answer answer
	result string // the metrics label: accepted, duplicate, bad_signature, …
	err    error  // why it failed, for the log
	// A decoded webhook's event, the jobs it matched and how many of them
	// were accepted, for the log line: built only when one is written.
	ev       *replicate.Event
	jobs     []store.NewJob
	accepted int
	retry    bool // 503 with Retry-After
	// unread: answered before the body was read whole. The connection is
	// closed after the answer: net/http would otherwise read up to 256 KiB
	// of the rest first, and a client trickling it would hold the answer
	// until read_timeout.
	unread bool
}

// notRead marks o as answered without reading the body.
func notRead(o outcome) outcome {
	o.unread = true
	return o
}

// serve is the intake: verify the headers, read the body, verify it,
// decode, match, enqueue durably, and only then answer 200 (DESIGN §1, §5).
func (in *intake) serve(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	o := in.handle(w, req)
	if o.retry {
		w.Header().Set("Retry-After", "1")
	}
	if o.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if o.unread {
		w.Header().Set("Connection", "close")
	}
	reply(w, o.status, o.answer)
	took := time.Since(start)
	in.r.metrics.Webhook(o.result, took)
	level := slog.LevelInfo
	if o.status >= 400 {
		level = slog.LevelWarn
	}
	if !in.r.log.Enabled(req.Context(), level) {
		return
	}
	in.r.logWebhook(req.Context(), start, level, o.result, func() []slog.Attr {
		return append(o.logAttrs(), slog.String("result", o.result), slog.Int("code", o.status), slog.Duration("took", took),
			slog.Uint64("request_id", in.r.requests.Add(1)))
	})
}

// logAttrs is what the log line of o says besides its answer: the event
// and the jobs it matched, the error, how many jobs were accepted.
func (o outcome) logAttrs() []slog.Attr {
	var attrs []slog.Attr
	if o.ev != nil {
		var matched strings.Builder
		for i, nj := range o.jobs {
			if i > 0 {
				matched.WriteByte(' ')
			}
			matched.WriteString(nj.Rule + "→" + nj.Notifier)
			if nj.Digest != nil {
				matched.WriteString(" (digest)")
			}
		}
		attrs = append(attrs, slog.String("event_id", o.ev.ID), slog.String("status", o.ev.Status),
			slog.String("kind", o.ev.Kind), slog.String("matched", matched.String()))
	}
	if o.err != nil {
		attrs = append(attrs, slog.String("error", o.err.Error()))
	} else if o.ev != nil {
		attrs = append(attrs, slog.Int("accepted", o.accepted))
	}
	return attrs
}

func failure(status int, result, msg string, err error) outcome {
	return outcome{status: status, answer: answer{Error: msg}, result: result, err: err}
}

func (in *intake) handle(w http.ResponseWriter, req *http.Request) outcome {
	r := in.r
	if req.Method != http.MethodPost {
		return notRead(failure(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed; webhooks are POSTed", nil))
	}
	if r.draining.Load() {
		return notRead(failure(http.StatusServiceUnavailable, "unavailable", "shutting down", nil))
	}
	cfg := r.cfg.Load()
	srv := cfg.File.Server
	if req.ContentLength > int64(srv.MaxBody) {
		return notRead(bodyFailure(&http.MaxBytesError{Limit: int64(srv.MaxBody)}))
	}
	if cfg.verifier != nil {
		if err := cfg.verifier.CheckHeaders(req.Header); err != nil {
			return notRead(failure(http.StatusUnauthorized, "bad_signature", err.Error(), err))
		}
	}
	br := body.NewReader(in.buffered)
	defer br.Release()
	raw, err := br.Read(w, req, int64(srv.MaxBody), srv.ReadTimeout.Duration)
	if err != nil {
		return notRead(bodyFailure(err))
	}
	if cfg.verifier != nil {
		if err := cfg.verifier.Verify(req.Header, raw); err != nil {
			return failure(http.StatusUnauthorized, "bad_signature", err.Error(), err)
		}
	}
	br.Release() // verified: from here on it counts as a webhook in flight
	select {
	case in.slots <- struct{}{}:
		defer func() { <-in.slots }()
	default:
		o := failure(http.StatusServiceUnavailable, "unavailable", "too many requests in flight", nil)
		o.retry = true
		return o
	}
	return r.enqueue(req, cfg, raw)
}

// bodyFailure is the answer to a body that could not be read.
func bodyFailure(err error) outcome {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return failure(http.StatusRequestEntityTooLarge, "too_large", "body larger than server.max_body", nil)
	case errors.Is(err, body.ErrBusy):
		o := failure(http.StatusServiceUnavailable, "unavailable", "too many unverified bytes buffered; retry later", nil)
		o.retry = true
		return o
	case errors.As(err, &ne) && ne.Timeout():
		return failure(http.StatusRequestTimeout, "bad_request", "timed out reading the body (too slow)", nil)
	}
	return failure(http.StatusBadRequest, "bad_request", "could not read the body", err)
}

// intakeStoreTimeout bounds the durable write of one webhook: Replicate
// waits for the answer.
const intakeStoreTimeout = 10 * time.Second

// enqueue decodes a verified body, matches it and records it durably.
func (r *Relay) enqueue(req *http.Request, cfg *Config, body []byte) outcome {
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
		return failure(http.StatusBadRequest, "bad_request", err.Error(), err)
	}
	routes := cfg.Rules.Match(ev)
	wh := store.Webhook{
		EventID: ev.ID, Status: ev.Status, Terminal: ev.Terminal,
		Body: body, Query: req.URL.RawQuery, ReceivedAt: now,
	}
	if cfg.verifier != nil { // a verified id; unsigned requests dedupe on their jobs alone
		wh.WebhookID = req.Header.Get("webhook-id")
	}
	wh.Jobs = cfg.jobsFor(ev, routes)
	digests := 0
	for _, nj := range wh.Jobs {
		if nj.Digest != nil {
			digests++
		}
	}
	ctx, cancel := context.WithTimeout(req.Context(), intakeStoreTimeout)
	defer cancel()
	res, err := r.store.Enqueue(ctx, wh)
	if err != nil {
		o := failure(http.StatusServiceUnavailable, "unavailable", "cannot record the webhook durably; retry later", err)
		o.ev, o.jobs = ev, wh.Jobs
		return o
	}
	if res.Accepted > 0 {
		for _, nj := range wh.Jobs {
			if nj.Digest == nil {
				r.jobsDue(nj.Notifier, now)
			}
		}
		if digests > 0 {
			r.metrics.DigestJoined(min(digests, res.Accepted))
			r.wakeDigests()
		}
	}
	result := "accepted"
	switch {
	case res.Duplicate:
		result = "duplicate"
	case res.Stale:
		result = "stale"
	case len(routes) == 0:
		result = "unmatched"
	}
	ans := answer{Accepted: &res.Accepted}
	if len(routes) > 0 || res.Duplicate {
		ans.Duplicate = &res.Duplicate
	}
	return outcome{status: http.StatusOK, answer: ans, result: result, ev: ev, jobs: wh.Jobs, accepted: res.Accepted}
}

func reply(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(a)
	w.Write(append(b, '\n'))
}

// jobsFor returns the jobs of a webhook of ev that matched routes: one per
// route, except that a rule with digest joins its digest instead, and that
// the routes to one live notifier make one job (the first rule's, in file
// order), keyed by event so that its message is updated in order; the
// dedupe of live jobs applies to final statuses only (a non-final webhook
// with a new webhook-id updates the message again: more logs).
func (c *Config) jobsFor(ev *replicate.Event, routes []rules.Route) []store.NewJob {
	jobs := make([]store.NewJob, 0, len(routes))
	live := map[string]bool{}
	for _, rt := range routes {
		nj := store.NewJob{Rule: rt.Rule.Name, Notifier: rt.Notifier}
		rule := &c.File.Rules[rt.Rule.Index]
		e := c.notifiers[rt.Notifier]
		switch {
		case rule.Digest.Duration > 0:
			nj.Digest = digestJoin(rule, ev)
		case e != nil && e.tmpl != nil && e.tmpl.live:
			if live[rt.Notifier] {
				continue
			}
			live[rt.Notifier] = true
			nj.Key = liveKey(ev.ID, rt.Notifier)
			nj.NoDedupe = !ev.Terminal
		}
		jobs = append(jobs, nj)
	}
	return jobs
}

// logWebhook writes the line of one webhook, its attributes built then, or
// counts it when the second has had its share.
func (r *Relay) logWebhook(ctx context.Context, now time.Time, level slog.Level, result string, attrs func() []slog.Attr) {
	ok, summary := r.webhookLog.Admit(now, result)
	if summary != "" {
		r.log.LogAttrs(ctx, slog.LevelInfo, "webhooks not logged one by one (more than 100 in a second)", slog.String("results", summary))
	}
	if ok {
		r.log.LogAttrs(ctx, level, "webhook", attrs()...)
	}
}
