package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/hooknote/hooknote/relay"
)

// check validates the config (the same code serve and reload run: every
// template rendered against every sample) and prints the routing table.
func check(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("check", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configPath := fl.String("config", defaultConfigPath(), "config file")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	cfg, err := relay.Load(*configPath, loadOptions(nil))
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		fmt.Fprintf(stderr, "hooknote: %s is not valid\n", *configPath)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d rules, %d notifiers; templates rendered against %d samples)\n\n",
		*configPath, len(cfg.Rules.Rules()), len(cfg.NotifierNames()), len(samples()))
	for _, w := range cfg.File.Warnings() {
		fmt.Fprintf(stdout, "warning: %s\n\n", w)
	}
	if err := cfg.WriteRoutes(stdout); err != nil {
		return 1
	}
	return 0
}

// Version and Commit are set at build time with
// -ldflags "-X main.Version=… -X main.Commit=…"; otherwise they come from
// the module's build information.
var (
	Version = ""
	Commit  = ""
)

func version(stdout io.Writer) int {
	v, c, goVersion := Version, Commit, "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(stdout, "hooknote %s\ncommit %s\n%s\n", v, c, goVersion)
	return 0
}
