package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/replicate"
)

// send signs a body like Replicate does and POSTs it: the local stand-in for
// the tunnel loop in Replicate's webhook guide.
func send(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("send", flag.ContinueOnError)
	fl.SetOutput(stderr)
	target := fl.String("url", "", "webhook URL, e.g. http://127.0.0.1:9187/webhooks/replicate?customId=7")
	secret := fl.String("secret", "", "signing secret whsec_… (default: the config's first secret, or $REPLICATE_WEBHOOK_SECRET)")
	configPath := fl.String("config", "", "read the secret (and the URL, when -url is not given) from this config")
	id := fl.String("id", "", "webhook-id header (default: random; reuse one to simulate a retry)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: hooknote send -url URL [-secret whsec_…|-config FILE] BODY.json")
		return 2
	}
	body, err := os.ReadFile(fl.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "hooknote: %v\n", err)
		return 1
	}
	if *configPath != "" {
		cfg, err := relay.Load(*configPath, loadOptions(nil))
		if err != nil {
			fmt.Fprintf(stderr, "hooknote: %v\n", err)
			return 1
		}
		if *secret == "" {
			*secret = cfg.FirstSecret()
		}
		if *target == "" {
			*target = "http://" + cfg.File.Server.Listen + cfg.File.Server.Path
		}
	}
	if *secret == "" {
		*secret = os.Getenv("REPLICATE_WEBHOOK_SECRET")
	}
	if *target == "" || *secret == "" {
		fmt.Fprintln(stderr, "hooknote: send needs -url and a secret (-secret, -config or $REPLICATE_WEBHOOK_SECRET)")
		return 2
	}
	status, answer, err := postSigned(http.DefaultClient, *target, *secret, *id, body)
	if err != nil {
		fmt.Fprintf(stderr, "hooknote: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d %s\n", status, strings.TrimSpace(answer))
	if status >= 300 {
		return 1
	}
	return 0
}

// postSigned POSTs body to target with Standard Webhooks headers signed with
// secret. An empty id gets a random one.
func postSigned(c *http.Client, target, secret, id string, body []byte) (int, string, error) {
	if _, err := url.Parse(target); err != nil {
		return 0, "", fmt.Errorf("bad -url: %w", err)
	}
	if id == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = "msg_" + hex.EncodeToString(b[:])
	}
	now := time.Now()
	sig, err := replicate.Sign(secret, id, now, body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	req.Header.Set("webhook-signature", sig)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
}
