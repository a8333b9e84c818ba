package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hooknote/hooknote/relay"
)

// dead lists, retries or drops dead letters through the running daemon's
// admin listener (the daemon holds the store open).
func dead(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("dead", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configPath := fl.String("config", defaultConfigPath(), "config file (for server.admin_listen)")
	admin := fl.String("admin", "", "admin listener address host:port (default: the config's server.admin_listen)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *admin == "" {
		cfg, err := relay.Load(*configPath, loadOptions(nil))
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		*admin = cfg.File.Server.AdminListen
	}
	base := "http://" + *admin + "/dead"
	c := &http.Client{Timeout: 10 * time.Second}
	var req *http.Request
	switch a := fl.Args(); {
	case len(a) == 1 && a[0] == "list":
		req, _ = http.NewRequest(http.MethodGet, base, nil)
	case len(a) == 2 && a[0] == "retry":
		req, _ = http.NewRequest(http.MethodPost, base+"/"+a[1]+"/retry", nil)
	case len(a) == 2 && a[0] == "drop":
		req, _ = http.NewRequest(http.MethodDelete, base+"/"+a[1], nil)
	default:
		fmt.Fprintln(stderr, "usage: hooknote dead [-config FILE] list|retry ID|drop ID")
		return 2
	}
	resp, err := c.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "hooknote: is the daemon running? %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "hooknote: %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	if fl.Arg(0) != "list" {
		fmt.Fprintf(stdout, "%s %s: ok\n", fl.Arg(0), fl.Arg(1))
		return 0
	}
	var letters []relay.DeadLetter
	if err := json.Unmarshal(body, &letters); err != nil {
		fmt.Fprintf(stderr, "hooknote: bad answer from the daemon: %v\n", err)
		return 1
	}
	if len(letters) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDEAD AT\tTYPE\tEVENT\tSTATUS\tRULE\tNOTIFIER\tATTEMPTS\tLAST ERROR")
	for _, d := range letters {
		event, status := d.EventID, d.Status
		if d.Type == "digest" { // a digest is many events: its group and size instead
			event, status = fmt.Sprintf("%d events", d.Count), digestGroup(d.Group)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.DeadAt.Format(time.RFC3339), d.Type, event, status, d.Rule, d.Notifier, d.Attempts, d.LastError)
	}
	tw.Flush()
	return 0
}

// digestGroup prints a digest's group_by values, sorted by key.
func digestGroup(g map[string]string) string {
	if len(g) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + g[k]
	}
	return strings.Join(parts, " ")
}
