package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"

	"github.com/idsync/idsync/pipeline"
	"github.com/idsync/idsync/pipeline/config"
	"github.com/idsync/idsync/pipeline/plan"
	"github.com/idsync/idsync/snapshots"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run continuously: each source on its schedule, with /metrics, /healthz, /readyz and POST /v1/sync",
		Description: "SIGTERM stops taking work, lets the run in flight finish (or journals it after\n" +
			"daemon.shutdownTimeout) and exits 0. SIGHUP reloads the config; an invalid one is\n" +
			"rejected with its errors logged, and the old one keeps running.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "listen", Usage: "HTTP `ADDR` (default: daemon.listen, 127.0.0.1:9464)"}},
		Action: func(c *cli.Context) error {
			g, err := parseGlobals(c)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			if err := pipeline.Validate(cfg); err != nil {
				return exitf(exitConfig, "%v", err)
			}
			if err := makeDetails(cfg.State, g.log); err != nil {
				return exitf(exitFailure, "%v", err)
			}
			store, err := snapshots.Open(cfg.State, snapshots.Options{})
			if err != nil {
				return exitf(exitFailure, "%v", err)
			}
			defer store.Close() //nolint:errcheck // Close flushes; an error here has no one left to tell
			d := &daemon{g: g, cfg: cfg, store: store, log: g.log, runs: make(chan runRequest, 16),
				reg: prometheus.NewRegistry()}
			d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			d.metrics = pipeline.NewMetrics(d.reg)
			listen := cfg.Daemon.Listen
			if c.String("listen") != "" {
				listen = c.String("listen")
			}
			return d.serve(c.Context, listen)
		},
	}
}

// makeDetails makes the state's details cache files if there are none,
// before the daemon opens its store for good. Plans read changed
// records' stored details from them, and only a store opened without
// compactions makes them (snapshots.KeepDetails); the daemon's compacts.
// A daemon keeps them up to date, but files dropped while it runs (by a
// run that changed more keys than they follow) come back at its next
// start.
func makeDetails(dir string, log *slog.Logger) error {
	s, err := snapshots.Open(dir, snapshots.Options{NoCompactions: true})
	if err != nil {
		return err
	}
	start := time.Now()
	made, err := s.KeepDetails()
	if made > 0 {
		log.Info("state: made the details cache files", "keys", made, "seconds", time.Since(start).Seconds())
	}
	return errors.Join(err, s.Close())
}

// daemon runs sources on their schedules, one run at a time: runs share
// the state store and must not interleave.
type daemon struct {
	g       *globals
	mu      sync.Mutex // guards cfg, swapped on SIGHUP
	cfg     *config.Config
	store   *snapshots.Store
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *pipeline.Metrics
	runs    chan runRequest
	// draining is set on SIGTERM: /readyz turns 503 so a load balancer or
	// orchestrator stops sending work while the run in flight finishes.
	draining atomic.Bool
}

type runRequest struct {
	source string
	full   bool
	done   chan runResult // nil: nobody waits
}

type runResult struct {
	Run     string `json:"run,omitempty"` // for idsync log and the log lines
	Source  string `json:"source"`
	Full    bool   `json:"full"`
	Applied int    `json:"applied"`
	Failed  int    `json:"failed"`
	Error   string `json:"error,omitempty"`
}

func (d *daemon) config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *daemon) serve(ctx context.Context, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return exitf(exitFailure, "listen %s: %v", listen, err)
	}
	srv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	d.log.Info("idsync running", "listen", ln.Addr().String())
	fmt.Fprintf(os.Stderr, "idsync: listening on %s\n", ln.Addr())

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	stop, stopTickers := context.WithCancel(context.Background())
	d.schedule(stop)
	// The worker's context outlives the shutdown signal: a run in flight
	// may finish, until the shutdown timeout cancels it.
	runCtx, cancelRuns := context.WithCancel(context.Background())
	defer cancelRuns()
	worker := make(chan struct{})
	go func() { defer close(worker); d.work(runCtx) }()

	for {
		select {
		case <-hup:
			d.reload()
			stopTickers()
			stop, stopTickers = context.WithCancel(context.Background())
			d.schedule(stop)
		case <-ctx.Done():
			d.log.Info("shutting down: no new runs; waiting for the one in flight")
			d.draining.Store(true)
			stopTickers()
			close(d.runs)
			select {
			case <-worker:
			case <-time.After(d.config().Daemon.ShutdownTimeout):
				d.log.Warn("shutdown timeout: cancelling the run in flight; its ops are journaled")
				cancelRuns()
				<-worker
			}
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shut)
			return nil
		}
	}
}

// schedule starts one ticker per source, on its `every`.
func (d *daemon) schedule(ctx context.Context) {
	for _, s := range d.config().Sources {
		go func() {
			t := time.NewTicker(s.Every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					d.enqueue(runRequest{source: s.Name})
				}
			}
		}()
	}
}

// enqueue queues a run unless the daemon is shutting down.
func (d *daemon) enqueue(r runRequest) (ok bool) {
	defer func() {
		if recover() != nil { // the queue closed: shutting down
			ok = false
		}
	}()
	d.runs <- r
	return true
}

func (d *daemon) work(ctx context.Context) {
	for r := range d.runs {
		res := d.runOnce(ctx, r)
		if r.done != nil {
			r.done <- res
		}
	}
}

// runOnce plans and applies one source.
func (d *daemon) runOnce(ctx context.Context, r runRequest) runResult {
	res := runResult{Source: r.source, Full: r.full}
	start := time.Now()
	log := d.log.With("source", r.source)
	eng, err := pipeline.New(d.config(), d.store, pipeline.Options{Now: time.Now(), Log: log, Metrics: d.metrics, PlanGCPercent: planGCPercent(), PlanMemoryLimit: planMemoryLimit(),
		SparsePlanGCPercent: sparsePlanGCPercent()})
	if err != nil {
		res.Error = err.Error()
		log.Error("run not started", "err", err)
		return res
	}
	res.Run = eng.RunID()
	log = log.With("run", res.Run)
	defer eng.Close() //nolint:errcheck // target connections; nothing to do about a close error here
	var p *plan.Plan
	var rep *pipeline.Report
	// Waves: while records wait for the next one (opsPerRun), plan and
	// apply again, unless a wave applied nothing.
	for wave := 1; ; wave++ {
		if p, err = eng.Plan(ctx, pipeline.PlanOptions{Source: r.source, Full: r.full, Apply: true}); err != nil {
			res.Error = err.Error()
			log.Error("plan failed", "err", err)
			return res
		}
		rep, err = eng.Apply(ctx, p, pipeline.ApplyOptions{})
		if rep != nil {
			for _, t := range rep.Targets {
				for _, n := range t.Applied {
					res.Applied += n
				}
			}
			res.Failed += rep.Failed()
		}
		if err != nil {
			res.Error = err.Error()
		}
		if err != nil || rep.Waiting() == 0 || rep.Applied() == 0 {
			break
		}
		log.Info("wave done; planning the next", "wave", wave, "waiting", rep.Waiting())
	}
	full := len(p.Sources) > 0 && p.Sources[0].Full
	res.Full = full
	d.metrics.RunDone(r.source, full, time.Since(start).Seconds(), err == nil && res.Failed == 0, time.Now().Unix())
	log.Info("run done", "full", full, "applied", res.Applied, "failed", res.Failed, "took", time.Since(start).String())
	return res
}

// reload swaps in a new config if it is valid, and keeps the old one if not.
func (d *daemon) reload() {
	cfg, err := config.Load(d.g.config, config.Options{State: d.g.state})
	if err == nil {
		err = pipeline.Validate(cfg)
	}
	if err != nil {
		d.log.Error("config reload rejected; the running config stays", "err", err)
		return
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	d.log.Info("config reloaded")
}

func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		// The state is open and the config valid for as long as serve
		// runs; only a shutdown makes it unready.
		if d.draining.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("POST /v1/sync", d.sync)
	return mux
}

// sync triggers a run: POST /v1/sync?source=hr&full=true[&wait=true].
func (d *daemon) sync(w http.ResponseWriter, r *http.Request) {
	token := d.config().Daemon.Token
	got, _ := stringsCutBearer(r.Header.Get("Authorization"))
	if token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	source := r.URL.Query().Get("source")
	if d.config().SourceByName(source) == nil {
		http.Error(w, fmt.Sprintf("no source %q", source), http.StatusBadRequest)
		return
	}
	req := runRequest{source: source, full: r.URL.Query().Get("full") == "true"}
	if r.URL.Query().Get("wait") == "true" {
		req.done = make(chan runResult, 1)
	}
	if !d.enqueue(req) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if req.done == nil {
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]string{"queued": source})
		return
	}
	select {
	case res := <-req.done:
		_ = json.NewEncoder(w).Encode(res)
	case <-r.Context().Done():
	}
}

func stringsCutBearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):], true
	}
	return "", false
}
