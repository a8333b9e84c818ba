package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/store/bolt"
)

// defaultConfigPath is $CONFIGURATION_DIRECTORY/config.toml under systemd
// (ConfigurationDirectory=hooknote), else /etc/hooknote/config.toml.
func defaultConfigPath() string {
	if d := os.Getenv("CONFIGURATION_DIRECTORY"); d != "" {
		return filepath.Join(d, "config.toml")
	}
	return "/etc/hooknote/config.toml"
}

func newLogger(l config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configPath := fl.String("config", defaultConfigPath(), "config file")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	cfg, err := relay.Load(*configPath, loadOptions())
	if err != nil {
		fmt.Fprintf(stderr, "hooknote: %v\n", err)
		return 1
	}
	log := newLogger(cfg.File.Log, stderr)
	if cfg.File.Replicate.AllowUnsigned {
		log.Warn("replicate.allow_unsigned is on: unsigned webhooks are accepted; use only for local experiments")
	}
	d, err := startDaemon(cfg, log)
	if err != nil {
		log.Error("start", "error", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	sdNotify(daemon.SdNotifyReady)
	for {
		select {
		case <-hup:
			d.reload(*configPath)
		case sig := <-stop:
			log.Info("shutting down", "signal", sig.String())
			sdNotify(daemon.SdNotifyStopping)
			if err := d.shutdown(); err != nil {
				log.Error("shutdown", "error", err)
				return 1
			}
			return 0
		case err := <-d.failed:
			log.Error("listener failed", "error", err)
			d.shutdown()
			return 1
		}
	}
}

func sdNotify(state string) {
	_, _ = daemon.SdNotify(false, state)
}

// runningDaemon is a started hooknote: listeners, relay, store, dispatcher.
type runningDaemon struct {
	log           *slog.Logger
	relay         *relay.Relay
	store         *bolt.DB
	intake, admin *http.Server
	intakeAddr    string
	adminAddr     string
	metrics       *relay.Instruments
	cancelRun     context.CancelFunc
	runDone       chan struct{}
	failed        chan error
}

// startDaemon opens the store, binds both listeners and starts serving and
// dispatching. Listener and store errors are returned before anything runs.
func startDaemon(cfg *relay.Config, log *slog.Logger) (*runningDaemon, error) {
	f := cfg.File
	if err := os.MkdirAll(f.State.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	st, err := bolt.Open(filepath.Join(f.State.Dir, "hooknote.db"), bolt.Options{DedupeFor: f.State.DedupeFor.Duration, Logger: log})
	if err != nil {
		return nil, err
	}
	il, err := net.Listen("tcp", f.Server.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen for webhooks: %w", err)
	}
	al, err := net.Listen("tcp", f.Server.AdminListen)
	if err != nil {
		il.Close()
		st.Close()
		return nil, fmt.Errorf("listen for admin: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := relay.NewInstruments(reg)
	r := relay.New(cfg, st, log, relay.Options{Metrics: metrics})
	d := &runningDaemon{
		log: log, relay: r, store: st,
		intakeAddr: il.Addr().String(), adminAddr: al.Addr().String(), metrics: metrics,
		runDone: make(chan struct{}), failed: make(chan error, 2),
	}
	d.intake = &http.Server{
		Handler:           r.IntakeHandler(),
		ReadHeaderTimeout: f.Server.ReadHeaderTimeout.Duration,
		ReadTimeout:       f.Server.ReadTimeout.Duration,
		WriteTimeout:      f.Server.ReadTimeout.Duration + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	d.admin = &http.Server{
		Handler:           r.AdminHandler(map[string]http.Handler{"GET /metrics": promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancelRun = cancel
	go func() { defer close(d.runDone); _ = r.Run(ctx) }()
	go watchdog(ctx, r, log)
	for _, s := range []struct {
		srv *http.Server
		l   net.Listener
	}{{d.intake, il}, {d.admin, al}} {
		go func() {
			if err := s.srv.Serve(s.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.failed <- err
			}
		}()
	}
	log.Info("listening", "intake", "http://"+d.intakeAddr+f.Server.Path, "admin", "http://"+d.adminAddr, "state", f.State.Dir)
	return d, nil
}

// reload loads the config again and swaps it in; a bad file is refused with
// every problem logged, and the old config keeps serving.
func (d *runningDaemon) reload(path string) {
	sdNotify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer sdNotify(daemon.SdNotifyReady)
	cfg, err := relay.Load(path, loadOptions())
	if err != nil {
		d.metrics.Reloaded(false)
		d.log.Error("reload refused; the previous config keeps serving", "error", err)
		return
	}
	d.relay.Reload(cfg)
	d.metrics.Reloaded(true)
	d.log.Info("reloaded", "config", path, "rules", len(cfg.Rules.Rules()))
}

// shutdown stops accepting, finishes requests in flight, lets sends in
// progress finish (bounded by relay.ShutdownGrace), and closes the store.
func (d *runningDaemon) shutdown() error {
	d.relay.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), relay.ShutdownGrace)
	defer cancel()
	err := d.intake.Shutdown(ctx)
	d.cancelRun()
	<-d.runDone
	err = errors.Join(err, d.admin.Shutdown(ctx), d.store.Close())
	return err
}

// watchdog feeds systemd's watchdog (WatchdogSec=) at half its interval,
// and only while the dispatcher answers: a wedged dispatcher gets the
// service restarted. Without WATCHDOG_USEC it returns at once.
func watchdog(ctx context.Context, r *relay.Relay, log *slog.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, interval/4)
		alive := r.Alive(pctx)
		cancel()
		if !alive {
			log.Error("watchdog: the dispatcher is not answering; not notifying systemd")
			continue
		}
		sdNotify(daemon.SdNotifyWatchdog)
	}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, as systemd expects
// with RELOADING=1.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1e3
}
