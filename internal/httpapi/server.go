// Package httpapi is mfad's REST front door: JSON over HTTP under /v1, with
// problem+json errors (RFC 9457), an OpenAPI document, health checks and
// Prometheus metrics. It translates HTTP to calls of the mfa service and
// decides nothing itself.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/httpkit"
	"github.com/mfad/mfad/internal/mfa"
)

// maxBody bounds request bodies; no mfad request needs more.
const maxBody = 64 << 10

// Config holds what the API needs. Service is required.
type Config struct {
	Service        *mfa.Service
	Logger         *slog.Logger
	Metrics        http.Handler   // served at /metrics when set
	TrustedProxies []netip.Prefix // proxies whose X-Forwarded-For is believed
	// SignInRate is how many sign-in attempts each client address may make
	// per minute: 0 means DefaultSignInRate, a negative value no limit. The
	// other routes that take no credential (asking for an access pass,
	// reporting fraud by link) each allow as many, counted on their own.
	SignInRate int
	Clock      func() time.Time // default: time.Now
}

// Handler serves the API. Build one with New.
type Handler struct {
	svc     *mfa.Service
	log     *slog.Logger
	proxies []netip.Prefix
	mux     *http.ServeMux
	clock   func() time.Time
	// anonRate is the per-minute bound of each route that takes no
	// credential; 0 means none.
	anonRate int
}

// operation is an API operation, given the service request that its
// route's access built.
type operation func(h *Handler, w http.ResponseWriter, r *http.Request, req mfa.Request)

// access says what the caller of a route must present.
type access int

const (
	// byToken routes take a bearer token: an API token, or a session's
	// token for what the service lets a session do on its own account.
	byToken access = iota
	// bySession routes are /v1/me: they take a session's token and act on
	// the session's own user, as the /v1/users/{name} route of the same
	// shape would.
	bySession
	// byAnyone routes take no credential: the operation is the proof, as
	// signing in is.
	byAnyone
	// byAnyoneOrToken routes take no credential, as byAnyone routes, or a
	// bearer token: one that is sent is authenticated, and the service
	// decides what its actor may do. Only calls without one count toward
	// the per-address limit, since a token names who is accountable.
	byAnyoneOrToken
)

// route is one API operation. The routes table is the single list the mux is
// built from and the OpenAPI test checks.
type route struct {
	method  string
	pattern string
	access  access
	handle  operation
}

var routes = []route{
	{"POST", "/v1/verify", byToken, (*Handler).verify},
	{"POST", "/v1/challenges", byAnyoneOrToken, (*Handler).sendChallenge},

	{"POST", "/v1/users", byToken, (*Handler).createUser},
	{"GET", "/v1/users", byToken, (*Handler).listUsers},
	{"GET", "/v1/users/{name}", byToken, (*Handler).getUser},
	{"PATCH", "/v1/users/{name}", byToken, (*Handler).updateUser},
	{"PUT", "/v1/users/{name}/roles", byToken, (*Handler).setRoles},
	{"POST", "/v1/users/{name}/unlock", byToken, (*Handler).unlock},
	{"POST", "/v1/users/{name}/unblock", byToken, (*Handler).unblock},
	{"GET", "/v1/users/{name}/policy", byToken, (*Handler).userPolicy},

	{"POST", "/v1/users/{name}/email", byToken, (*Handler).bindEmail},
	{"POST", "/v1/users/{name}/email/confirm", byToken, confirmDestination("email")},
	{"DELETE", "/v1/users/{name}/email", byToken, removeDestination("email")},
	{"POST", "/v1/users/{name}/phone", byToken, (*Handler).bindPhone},
	{"POST", "/v1/users/{name}/phone/confirm", byToken, confirmDestination("sms")},
	{"DELETE", "/v1/users/{name}/phone", byToken, removeDestination("sms")},

	{"POST", "/v1/users/{name}/totp", byToken, (*Handler).enrollTOTP},
	{"GET", "/v1/users/{name}/totp", byToken, (*Handler).listTOTP},
	{"POST", "/v1/users/{name}/totp/{id}/confirm", byToken, (*Handler).confirmTOTP},
	{"DELETE", "/v1/users/{name}/totp/{id}", byToken, (*Handler).deleteTOTP},

	{"POST", "/v1/users/{name}/backup-codes", byToken, (*Handler).generateBackupCodes},
	{"GET", "/v1/users/{name}/backup-codes", byToken, (*Handler).backupCodeStatus},
	{"DELETE", "/v1/users/{name}/backup-codes", byToken, (*Handler).deleteBackupCodes},

	{"POST", "/v1/users/{name}/access-pass", byToken, (*Handler).issuePass},
	{"GET", "/v1/users/{name}/access-pass", byToken, (*Handler).passStatus},
	{"DELETE", "/v1/users/{name}/access-pass", byToken, (*Handler).revokePass},

	{"POST", "/v1/access-pass-requests", byAnyone, (*Handler).requestPass},
	{"GET", "/v1/access-pass-requests", byToken, (*Handler).listPassRequests},
	{"POST", "/v1/access-pass-requests/{id}/approve", byToken, (*Handler).approvePassRequest},
	{"POST", "/v1/access-pass-requests/{id}/deny", byToken, (*Handler).denyPassRequest},

	{"POST", "/v1/users/{name}/bypass", byToken, (*Handler).grantBypass},
	{"GET", "/v1/users/{name}/bypass", byToken, (*Handler).bypassStatus},
	{"DELETE", "/v1/users/{name}/bypass", byToken, (*Handler).revokeBypass},

	{"POST", "/v1/fraud-reports", byAnyone, (*Handler).reportFraudByLink},

	{"POST", "/v1/groups", byToken, (*Handler).createGroup},
	{"GET", "/v1/groups", byToken, (*Handler).listGroups},
	{"GET", "/v1/groups/{name}", byToken, (*Handler).getGroup},
	{"DELETE", "/v1/groups/{name}", byToken, (*Handler).deleteGroup},
	{"PUT", "/v1/groups/{name}/members/{user}", byToken, (*Handler).addMember},
	{"DELETE", "/v1/groups/{name}/members/{user}", byToken, (*Handler).removeMember},
	{"GET", "/v1/groups/{name}/policy", byToken, (*Handler).getGroupPolicy},
	{"PUT", "/v1/groups/{name}/policy", byToken, (*Handler).putGroupPolicy},
	{"DELETE", "/v1/groups/{name}/policy", byToken, (*Handler).deleteGroupPolicy},

	{"POST", "/v1/tokens", byToken, (*Handler).createToken},
	{"GET", "/v1/tokens", byToken, (*Handler).listTokens},
	{"DELETE", "/v1/tokens/{id}", byToken, (*Handler).revokeToken},

	{"POST", "/v1/webhooks", byToken, (*Handler).createWebhook},
	{"GET", "/v1/webhooks", byToken, (*Handler).listWebhooks},
	{"DELETE", "/v1/webhooks/{id}", byToken, (*Handler).deleteWebhook},
	{"GET", "/v1/webhooks/{id}/deliveries", byToken, (*Handler).webhookDeliveries},

	{"GET", "/v1/audit", byToken, (*Handler).listAudit},
	{"POST", "/v1/audit/verify", byToken, (*Handler).verifyAudit},

	{"GET", "/v1/policy", byToken, (*Handler).getPolicy},
	{"PUT", "/v1/policy", byToken, (*Handler).putPolicy},

	{"POST", "/v1/sessions", byAnyone, (*Handler).signIn},
	{"GET", "/v1/me", bySession, (*Handler).getUser},
	{"GET", "/v1/me/totp", bySession, (*Handler).listTOTP},
	{"POST", "/v1/me/totp", bySession, (*Handler).enrollTOTP},
	{"POST", "/v1/me/totp/{id}/confirm", bySession, (*Handler).confirmTOTP},
	{"DELETE", "/v1/me/totp/{id}", bySession, (*Handler).deleteTOTP},
	{"POST", "/v1/me/backup-codes", bySession, (*Handler).generateBackupCodes},
	{"GET", "/v1/me/backup-codes", bySession, (*Handler).backupCodeStatus},
	{"DELETE", "/v1/me/backup-codes", bySession, (*Handler).deleteBackupCodes},
	{"POST", "/v1/me/access-pass", bySession, (*Handler).selfIssuePass},
	{"GET", "/v1/me/access-pass", bySession, (*Handler).passStatus},
	{"DELETE", "/v1/me/access-pass", bySession, (*Handler).revokePass},
	{"POST", "/v1/me/fraud-report", bySession, (*Handler).reportFraud},
	{"POST", "/v1/me/email", bySession, (*Handler).bindEmail},
	{"POST", "/v1/me/email/confirm", bySession, confirmDestination("email")},
	{"DELETE", "/v1/me/email", bySession, removeDestination("email")},
	{"POST", "/v1/me/phone", bySession, (*Handler).bindPhone},
	{"POST", "/v1/me/phone/confirm", bySession, confirmDestination("sms")},
	{"DELETE", "/v1/me/phone", bySession, removeDestination("sms")},
	{"DELETE", "/v1/me/session", bySession, (*Handler).signOut},
}

// New returns the API handler.
func New(cfg Config) *Handler {
	h := &Handler{
		svc:     cfg.Service,
		log:     cfg.Logger,
		proxies: cfg.TrustedProxies,
		mux:     http.NewServeMux(),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	h.clock = clock
	switch {
	case cfg.SignInRate == 0:
		h.anonRate = DefaultSignInRate
	case cfg.SignInRate > 0:
		h.anonRate = cfg.SignInRate
	}
	for _, rt := range routes {
		h.mux.Handle(rt.method+" "+rt.pattern, h.wrap(rt))
	}
	h.mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	h.mux.HandleFunc("GET /readyz", h.ready)
	if cfg.Metrics != nil {
		h.mux.Handle("GET /metrics", cfg.Metrics)
	}
	// Anything else gets a problem document rather than the mux's plain
	// text.
	h.mux.HandleFunc("/", h.noRoute)
	return h
}

// noRoute answers a request that no route takes. The "/" pattern matches
// every method, so the mux sends here also requests for a known path with
// a method it does not serve; those get 405 and an Allow header (RFC 9110
// §15.5.6) rather than a misleading 404.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	allow := h.allowed(r)
	if len(allow) == 0 {
		writeProblem(w, r, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeProblem(w, r, http.StatusMethodNotAllowed,
		r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", "), nil)
}

var probeMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete,
}

// allowed returns the methods some route serves for r's path.
func (h *Handler) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range probeMethods {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// ServeHTTP handles one request: it assigns a request ID, bounds the body,
// recovers from panics and writes one access log line.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r, id := httpkit.WithRequestID(r)
	w.Header().Set("X-Request-ID", id)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	rec := httpkit.NewStatusRecorder(w)

	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.Error("panic serving request", "request_id", id, "panic", p,
				"stack", string(debug.Stack()))
			// A handler that already began its answer cannot take it back.
			if !rec.Wrote {
				writeProblem(rec, r, http.StatusInternalServerError, "internal error", nil)
			}
		}
		level := slog.LevelInfo
		if rec.Status >= 500 {
			level = slog.LevelError
		}
		// The pattern, not the path, is logged: paths hold user names, and
		// the query string may hold anything a client sent.
		pattern := r.Pattern
		if pattern == "" {
			pattern = "unmatched"
		}
		h.log.Log(r.Context(), level, "http request", "method", r.Method, "route", pattern,
			"status", rec.Status, "duration_ms", time.Since(start).Milliseconds(),
			"client_ip", h.clientIP(r), "request_id", id)
	}()
	h.mux.ServeHTTP(rec, r)
}

// clientIP returns the address of the client. X-Forwarded-For is believed
// only when the connection comes from a configured proxy, and then only as
// far back as the first address that is not itself a trusted proxy
// (SECURITY.md 10).
// ClientIP returns the address r came from, believing X-Forwarded-For only
// from the configured proxies, for other front doors on the same server.
func (h *Handler) ClientIP(r *http.Request) string { return h.clientIP(r) }

func (h *Handler) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !h.trusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !h.trusted(a) {
			return a.Unmap().String()
		}
		peer = a
	}
	return peer.Unmap().String()
}

func (h *Handler) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range h.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// wrap builds a route's handler: it asks for the credential the route's
// access names, then runs the operation.
func (h *Handler) wrap(rt route) http.Handler {
	switch rt.access {
	case byAnyone, byAnyoneOrToken:
		// Each such route counts on its own, so that a locked-out user who
		// spent the sign-in budget can still ask for a pass.
		l := httpkit.NewSourceLimiter(h.anonRate, h.clock)
		anon := h.limited(l, anonymousLimits[rt.pattern], h.anonymous(rt.handle))
		if rt.access == byAnyone {
			return anon
		}
		return tokenOr(h.authenticated(rt.handle), anon)
	case bySession:
		return h.authenticated(own(rt.handle))
	}
	return h.authenticated(rt.handle)
}

// authenticated wraps an API operation: it authenticates the bearer token
// and builds the service request.
func (h *Handler) authenticated(fn operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mfad"`)
			writeProblem(w, r, http.StatusUnauthorized,
				"send an API or session token as Authorization: Bearer TOKEN", nil)
			return
		}
		actor, err := h.svc.Authenticate(r.Context(), token)
		if err != nil {
			if errors.Is(err, mfa.ErrUnauthenticated) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mfad", error="invalid_token"`)
			}
			h.fail(w, r, err)
			return
		}
		fn(h, w, r, h.request(r, actor))
	})
}

// anonymous wraps an API operation that takes no credential. An
// Authorization header is ignored: the caller is signing in to get one.
func (h *Handler) anonymous(fn operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(h, w, r, h.request(r, mfa.Actor{Kind: mfa.ActorAnonymous}))
	})
}

// tokenOr sends a request that carries a bearer token to withToken and any
// other to without. A token that fails to authenticate is refused, not
// taken for no token: a caller that sent one meant to act as its holder.
func tokenOr(withToken, without http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := bearer(r); ok {
			withToken.ServeHTTP(w, r)
			return
		}
		without.ServeHTTP(w, r)
	})
}

// request builds the service request of r, made by actor.
func (h *Handler) request(r *http.Request, actor mfa.Actor) mfa.Request {
	return mfa.Request{
		Actor:     actor,
		Source:    h.clientIP(r),
		FrontDoor: audit.DoorAPI,
		RequestID: httpkit.RequestID(r),
	}
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// ready answers whether the database is reachable.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.svc.Ping(ctx); err != nil {
		h.log.Warn("not ready", "err", err)
		writeProblem(w, r, http.StatusServiceUnavailable, "database unreachable", nil)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ready\n"))
}
