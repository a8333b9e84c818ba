// Command hostile replays, against the built hooknote binary, what an
// attacker was found to do to intake and delivery (issue 10), and prints
// the figures: how many signed webhooks slow unauthenticated connections
// kept out, peak RSS under a flood of large bodies with a wrong signature,
// what a huge signed output costs and how long a small webhook waits behind
// it, and what a paced notifier with a backlog costs.
//
//	go build -o /tmp/hooknote . && go run ./bench/hostile -bin /tmp/hooknote
//	go run ./bench/hostile -bin /tmp/hooknote -only output
//
// Each scenario runs its own daemon on 127.0.0.1 with a fresh state
// directory. Figures are printed as "name: value" lines.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	bin := flag.String("bin", "", "the hooknote binary (required)")
	only := flag.String("only", "", "run one scenario: slow, flood, output, paced")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "usage: hostile -bin PATH [-only slow|flood|output|paced]")
		os.Exit(2)
	}
	scenarios := []struct {
		name string
		run  func(bin string) error
	}{
		{"slow", slowConnections},
		{"flood", badSignatureFlood},
		{"output", hugeOutput},
		{"paced", pacedBacklog},
	}
	failed := false
	for _, s := range scenarios {
		if *only != "" && !strings.EqualFold(*only, s.name) {
			continue
		}
		fmt.Printf("== %s\n", s.name)
		if err := s.run(*bin); err != nil {
			fmt.Printf("%s: error: %v\n", s.name, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
