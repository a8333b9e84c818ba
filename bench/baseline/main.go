// Command baseline is the reference server hooknote is measured against: a
// plain net/http server with the same timeouts and body cap as hooknote's
// intake listener. With -mode bare it reads the body and answers 200; with
// -mode verify it also checks the Standard Webhooks signature and decodes
// the body into a struct with encoding/json, storing nothing.
//
//	baseline -mode verify -listen 127.0.0.1:19187 -secret whsec_…
//
// bench/run.sh builds and runs it; see bench/README.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

// maxBody is hooknote's default server.max_body.
const maxBody = 25 << 20

func main() {
	mode := flag.String("mode", "bare", "bare (read the body, answer 200) or verify (also verify the signature and decode the body)")
	listen := flag.String("listen", "127.0.0.1:19187", "host:port to listen on")
	secret := flag.String("secret", "", "whsec_… signing secret (verify mode)")
	flag.Parse()
	h, err := handler(*mode, *secret)
	if err != nil {
		fmt.Fprintf(os.Stderr, "baseline: %v\n", err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/", h)
	srv := &http.Server{ // the settings of hooknote's intake server (serve.go)
		Addr:              *listen,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      40 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	log.Fatal(srv.ListenAndServe())
}

// handler returns the intake handler of a mode.
func handler(mode, secret string) (http.Handler, error) {
	switch mode {
	case "bare":
		return http.HandlerFunc(serveBare), nil
	case "verify":
		v, err := newVerifier(secret, 5*time.Minute)
		if err != nil {
			return nil, err
		}
		return &verifyHandler{v: v}, nil
	}
	return nil, fmt.Errorf("unknown -mode %q (want bare or verify)", mode)
}

// answer is what hooknote answers for a webhook that matched no rule.
var answer = []byte(`{"accepted":0}` + "\n")

func serveBare(w http.ResponseWriter, req *http.Request) {
	if _, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody)); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	reply(w)
}

func reply(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(answer)
}

// verifyHandler verifies and decodes each webhook.
type verifyHandler struct{ v *verifier }

func (h *verifyHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := h.v.verify(req.Header, body); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p prediction
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if p.ID == "" || p.Status == "" {
		http.Error(w, errors.New("no id or status").Error(), http.StatusBadRequest)
		return
	}
	reply(w)
}

// prediction is a Replicate prediction or training as a typical client
// would decode it.
type prediction struct {
	ID          string         `json:"id"`
	Model       string         `json:"model"`
	Version     string         `json:"version"`
	Deployment  string         `json:"deployment"`
	Source      string         `json:"source"`
	Input       map[string]any `json:"input"`
	Output      any            `json:"output"`
	Logs        string         `json:"logs"`
	Error       any            `json:"error"`
	Status      string         `json:"status"`
	CreatedAt   time.Time      `json:"created_at"`
	StartedAt   *time.Time     `json:"started_at"`
	CompletedAt *time.Time     `json:"completed_at"`
	DataRemoved bool           `json:"data_removed"`
	Webhook     string         `json:"webhook"`
	URLs        struct {
		Get    string `json:"get"`
		Cancel string `json:"cancel"`
		Web    string `json:"web"`
		Stream string `json:"stream"`
	} `json:"urls"`
	Metrics map[string]float64 `json:"metrics"`
}
