// Command hooknote receives Replicate webhooks, matches them against rules
// and delivers notifications to Slack, email or another webhook. See
// README.md and DESIGN.md.
//
// main is the composition root: the only place that knows every concrete
// notifier. It parses the command line and wires the parts together.
package main

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/hooknote/hooknote/notifiers/email"
	"github.com/hooknote/hooknote/notifiers/slack"
	"github.com/hooknote/hooknote/notifiers/webhook"
	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/replicate"
)

// samplesFS holds the sample webhooks every template is rendered against by
// check, serve and reload, and that demo sends.
//
//go:embed testdata/samples/*.json
var samplesFS embed.FS

// builders maps each notifier type to its package. Adding a notifier is one
// line here.
func builders() map[string]relay.Builder {
	return map[string]relay.Builder{
		"slack":   relay.Build(slack.New),
		"email":   relay.Build(email.New),
		"webhook": relay.Build(webhook.New),
	}
}

func samples() []replicate.Sample {
	sub, err := fs.Sub(samplesFS, "testdata/samples")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	s, err := replicate.SamplesFromFS(sub)
	if err != nil {
		panic(err)
	}
	return s
}

// loadOptions are what every command loads the config with; the notifiers
// log to log (nil: nowhere).
func loadOptions(log *slog.Logger) relay.LoadOptions {
	return relay.LoadOptions{Builders: builders(), Samples: samples(), Logger: log}
}

const usage = `usage: hooknote <command> [flags]

commands:
  serve  [-config FILE]              run the daemon (default command)
  check  [-config FILE]              validate the config, render every template, print the routing table
  test   [-config FILE] [-query Q] [-send] BODY.json
                                     explain which rules match a body and show the rendered messages
  send   -url URL [-secret whsec_…|-config FILE] [-query Q] BODY.json
                                     sign a body and POST it like Replicate does
  dead   [-config FILE] list|retry ID|drop ID
                                     dead letters, via the running daemon's admin listener
  demo   [-keep]                     run everything locally with no accounts and print what was delivered
  version                            print version information
`

func main() {
	// Every commit to the store ends in fdatasync, which holds its thread:
	// with one P (one CPU, or a one-CPU cgroup quota) nothing else would run
	// meanwhile and group commit would gather nothing. Two Ps let intake
	// keep reading requests while a commit is on disk.
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stderr)
	case "check":
		return check(args, stdout, stderr)
	case "test":
		return testCmd(args, stdout, stderr)
	case "send":
		return send(args, stdout, stderr)
	case "dead":
		return dead(args, stdout, stderr)
	case "demo":
		return demo(args, stdout, stderr)
	case "version":
		return version(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hooknote: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
