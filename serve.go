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
	"runtime/debug"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/relay/metrics"
	"github.com/hooknote/hooknote/store"
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
	_ = level.UnmarshalText([]byte(l.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logSection is the config's [log] section, for the logger the rest of the
// config is loaded with; defaults when the file cannot be read (loading it
// then reports why).
func logSection(path string) config.Log {
	def := config.Log{Level: "info", Format: "text"}
	src, env, err := config.Read(path)
	if err != nil {
		return def
	}
	f, errs := config.Parse(src, env)
	if f == nil || len(errs) > 0 {
		return def
	}
	return f.Log
}

// The garbage collector's defaults for serve, unless GOGC or GOMEMLIMIT is
// set: collect when the heap has grown 4× over what is live (fewer
// collections per webhook: most of what a request allocates dies with it),
// but aim to keep the heap under 48 MiB even so (a soft limit: beyond it the
// collector runs more often, never fails an allocation).
const (
	gcPercent   = 400
	memoryLimit = 48 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

func serve(args []string, stderr io.Writer) int {
	tuneGC()
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configPath := fl.String("config", defaultConfigPath(), "config file")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	log := newLogger(logSection(*configPath), stderr)
	cfg, err := relay.Load(*configPath, loadOptions(log))
	if err != nil {
		fmt.Fprintf(stderr, "hooknote: %v\n", err)
		return 1
	}
	for _, w := range cfg.File.Warnings() {
		log.Warn(w)
	}
	d, err := startDaemon(cfg, log)
	if err != nil {
		log.Error("start", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sdNotify(daemon.SdNotifyReady)
	err = d.run(ctx, func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				d.reload(*configPath)
			}
		}
	})
	if err != nil {
		log.Error("stopped", "error", err)
		return 1
	}
	return 0
}

func sdNotify(state string) {
	_, _ = daemon.SdNotify(false, state)
}

// runningDaemon is a started hooknote: store open, listeners bound, relay
// built. run serves until its ctx ends.
type runningDaemon struct {
	log           *slog.Logger
	relay         *relay.Relay
	store         store.Store
	intake, admin *http.Server
	intakeL       net.Listener
	adminL        net.Listener
	metrics       *metrics.Set
}

// startDaemon opens the store and binds both listeners; nothing runs yet.
// Listener and store errors are returned before anything starts.
func startDaemon(cfg *relay.Config, log *slog.Logger) (*runningDaemon, error) {
	f := cfg.File
	reg := prometheus.NewRegistry()
	st, err := openStore(f, log, reg)
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
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	instruments := metrics.New(reg)
	r := relay.New(cfg, st, log, relay.Options{Metrics: instruments})
	d := &runningDaemon{log: log, relay: r, store: st, intakeL: il, adminL: al, metrics: instruments}
	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	d.intake = &http.Server{
		Handler:           r.IntakeHandler(),
		ReadHeaderTimeout: f.Server.ReadHeaderTimeout.Duration,
		ReadTimeout:       f.Server.ReadTimeout.Duration,
		WriteTimeout:      f.Server.ReadTimeout.Duration + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
	d.admin = &http.Server{
		Handler:           r.AdminHandler(map[string]http.Handler{"GET /metrics": promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          errorLog,
	}
	where := f.State.Dir
	if f.State.Backend == config.BackendPostgres {
		where = "postgres"
	}
	log.Info("listening", "intake", "http://"+d.intakeAddr()+f.Server.Path, "admin", "http://"+d.adminAddr(), "state", where)
	return d, nil
}

func (d *runningDaemon) intakeAddr() string { return d.intakeL.Addr().String() }
func (d *runningDaemon) adminAddr() string  { return d.adminL.Addr().String() }

// run serves webhooks and the admin API, dispatches jobs and feeds the
// watchdog, each in a goroutine it owns, plus the extra ones given, until
// ctx ends or one of them fails. Then it stops accepting, finishes requests
// in flight, lets sends in progress finish (bounded by relay.ShutdownGrace),
// closes the store and returns the first error.
func (d *runningDaemon) run(ctx context.Context, extra ...func(context.Context) error) error {
	g, ctx := newGroup(ctx)
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDispatch()
	g.Go(func() error { return d.relay.Run(dispatchCtx) })
	g.Go(func() error { return watchdog(dispatchCtx, d.relay, d.log) })
	g.Go(func() error { return serveHTTP(d.intake, d.intakeL, "webhooks") })
	g.Go(func() error { return serveHTTP(d.admin, d.adminL, "admin") })
	for _, f := range extra {
		g.Go(func() error { return f(ctx) })
	}
	g.Go(func() error {
		<-ctx.Done()
		d.log.Info("shutting down")
		sdNotify(daemon.SdNotifyStopping)
		d.relay.Drain()
		sctx, cancel := context.WithTimeout(context.Background(), relay.ShutdownGrace)
		defer cancel()
		err := d.intake.Shutdown(sctx)
		stopDispatch()
		return errors.Join(err, d.admin.Shutdown(sctx))
	})
	err := g.Wait()
	if cerr := d.store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
	}
	return err
}

// serveHTTP serves l until srv shuts down, which is not an error.
func serveHTTP(srv *http.Server, l net.Listener, name string) error {
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", name, err)
	}
	return nil
}

// reload loads the config again and swaps it in; a bad file is refused with
// every problem logged, and the old config keeps serving.
func (d *runningDaemon) reload(path string) {
	sdNotify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer sdNotify(daemon.SdNotifyReady)
	cfg, err := relay.Load(path, loadOptions(d.log))
	if err != nil {
		d.metrics.Reloaded(false)
		d.log.Error("reload refused; the previous config keeps serving", "error", err)
		return
	}
	d.relay.Reload(cfg)
	d.metrics.Reloaded(true)
	d.log.Info("reloaded", "config", path, "rules", len(cfg.Rules.Rules()))
}

// watchdog feeds systemd's watchdog (WatchdogSec=) at half its interval,
// and only while the dispatcher answers: a wedged dispatcher gets the
// service restarted. Without WATCHDOG_USEC it returns at once.
func watchdog(ctx context.Context, r *relay.Relay, log *slog.Logger) error {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return nil
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
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
