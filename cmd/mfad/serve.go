package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mfad/mfad/internal/config"
	"github.com/mfad/mfad/internal/httpapi"
	"github.com/mfad/mfad/internal/metrics"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/radius"
	"github.com/mfad/mfad/internal/web"
)

// sealInterval is how often the server chains new audit events. Events are
// durable when written; sealing only adds them to the tamper-evident chain.
const sealInterval = time.Second

func runServe(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "serve", &cfg)
	cfg.BindServer(fs, e.lookup)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: mfad serve [flags]\n\nRun the server.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments, got %q", pos)
	}

	m := metrics.New()
	a, err := openApp(ctx, e, &cfg, slog.LevelDebug, m)
	if err != nil {
		return err
	}
	defer a.close()
	svc := a.svc
	proxies, _ := cfg.Proxies()        // validated already
	signIns, _ := cfg.SignInAttempts() // validated already
	if signIns == 0 {
		signIns = -1 // the API's "no limit"
	}
	api := httpapi.New(httpapi.Config{
		Service: svc, Logger: a.log, Metrics: m.Handler(), TrustedProxies: proxies,
		SignInRate: signIns,
	})
	// The pages people open from a browser sit beside the API, on the same
	// listener, with the same view of client addresses: the API keeps its
	// paths, and every other path is a page.
	webOrigins := []string(nil)
	if rpID, origins := cfg.WebAuthn(); rpID != "" {
		webOrigins = origins
	}
	pages := web.New(web.Config{Service: svc, Logger: a.log, ClientIP: api.ClientIP,
		Name: cfg.Issuer, PublicURL: cfg.PublicURL, WebAuthnOrigins: webOrigins,
		Secure:     cfg.TLSCertFile != "" || strings.HasPrefix(cfg.PublicURL, "https://"),
		SignInRate: signIns})
	mux := http.NewServeMux()
	for _, path := range []string{"/v1/", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(path, api)
	}
	mux.Handle("/", pages)
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	rs, udp, err := listenRADIUS(&cfg, svc, a.log, m)
	if err != nil {
		ln.Close()
		return err
	}

	// The sealer, the dispatcher and housekeeping run until the server has
	// stopped serving, each in its own goroutine.
	bg, stopBackground := context.WithCancel(context.Background())
	dispatchEvery, _ := cfg.DispatchEvery() // validated already
	var background sync.WaitGroup
	background.Go(func() { svc.RunSealer(bg, sealInterval) })
	background.Go(func() { svc.RunDispatcher(bg, dispatchEvery) })
	background.Go(func() { housekeep(bg, svc, a.log) })
	if rs != nil {
		background.Go(func() {
			if err := rs.Serve(bg, udp); err != nil {
				a.log.Error("radius front door stopped", "err", err)
			}
		})
	}

	served := make(chan error, 1)
	go func() {
		if cfg.TLSCertFile != "" {
			served <- srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	a.log.Info("mfad started", "version", version, "config", &cfg)
	announce(e, a, &cfg, ln.Addr().String())

	select {
	case err = <-served:
	case <-ctx.Done():
		a.log.Info("shutting down")
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(shut)
		cancel()
	}
	stopBackground()
	background.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// listenRADIUS opens the RADIUS front door's socket when --radius-addr is
// set, so that a port in use stops the start, and reports its counts to
// the metrics.
func listenRADIUS(cfg *config.Config, svc *mfa.Service, log *slog.Logger, m *metrics.Metrics) (
	*radius.Server, net.PacketConn, error) {
	if cfg.RADIUSAddr == "" {
		return nil, nil, nil
	}
	clients, err := cfg.RADIUSClients() // validated already; read again for its secrets
	if err != nil {
		return nil, nil, err
	}
	rs, err := radius.New(radius.Config{Service: svc, Logger: log, Clients: clients,
		Addr: cfg.RADIUSAddr})
	if err != nil {
		return nil, nil, fmt.Errorf("radius: %w", err)
	}
	conn, err := net.ListenPacket("udp", cfg.RADIUSAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("radius: listen: %w", err)
	}
	m.RADIUS(func() (map[string]uint64, uint64, map[string]uint64) {
		st := rs.Stats()
		return map[string]uint64{"accept": st.Accepted, "reject": st.Rejected,
			"challenge": st.Challenged}, st.Duplicates, st.Dropped
	})
	log.Info("radius front door listening", "addr", conn.LocalAddr().String(),
		"clients", len(clients))
	return rs, conn, nil
}

// housekeepInterval is how often the server removes expired sessions, rate
// counters, out-of-band challenges and prompt states.
const housekeepInterval = 10 * time.Minute

// housekeep removes what has expired until ctx ends. Every replica runs it;
// the deletes are idempotent, so they need no coordination.
func housekeep(ctx context.Context, svc *mfa.Service, log *slog.Logger) {
	purges := []struct {
		what  string
		purge func(context.Context) (int, error)
	}{
		{"expired sessions", svc.PurgeSessions},
		{"rate counters", svc.PurgeRateCounters},
		{"expired challenges", svc.PurgeChallenges},
		{"expired prompt states", svc.PurgePromptStates},
	}
	tick := time.NewTicker(housekeepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, p := range purges {
			n, err := p.purge(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("purge "+p.what, "err", err)
			case n > 0:
				log.Debug(p.what+" purged", "count", n)
			}
		}
	}
}

// announce tells the person who started the server where it listens and, on
// a fresh install, how to get the first admin in.
func announce(e *env, a *app, cfg *config.Config, addr string) {
	scheme := "http"
	if cfg.TLSCertFile != "" {
		scheme = "https"
	}
	fmt.Fprintf(e.stderr, "mfad is listening on %s://%s\n", scheme, addr)
	host, _, _ := net.SplitHostPort(addr)
	if scheme == "http" && !isLoopback(host) {
		a.log.Warn("serving plain HTTP on a non-loopback address; codes and tokens cross the "+
			"network in clear unless a TLS proxy is in front", "addr", addr)
	}
	if cfg.PublicURLDefaulted() && !isLoopback(host) {
		a.log.Warn("links in notices point to the listening address; set --public-url to "+
			"the address people reach mfad at", "public_url", cfg.PublicURL)
	}
	tokens, err := a.db.ListTokens(context.Background())
	if err == nil && len(tokens) == 0 {
		fmt.Fprintf(e.stderr, "No API tokens yet. Create the first admin token with:\n"+
			"  mfad token create --name admin --role admin%s\n", dataFlags(cfg))
	}
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// dataFlags repeats the data and database flags the server was started with,
// so the printed command works as shown.
func dataFlags(cfg *config.Config) string {
	switch {
	case cfg.Database != "":
		return " --database '" + config.Redact(cfg.Database) + "'"
	case cfg.Data != "./mfad-data":
		return " --data " + cfg.Data
	}
	return ""
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "migrate", &cfg)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: mfad migrate [flags]\n\n"+
			"Apply database migrations and exit. Safe to run while replicas start.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("migrate takes no arguments, got %q", pos)
	}
	a, err := openApp(ctx, e, &cfg, slog.LevelWarn, nil)
	if err != nil {
		return err
	}
	defer a.close()
	// Opening the database applied what was missing.
	v, err := a.db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "database schema is at version %d, the newest this mfad knows\n", v)
	return nil
}
