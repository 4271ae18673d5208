// Package web is mfad's front door for people in a browser: the
// self-service portal where a person signs in, manages their factors and
// keeps a way back in; the admin console under /console, where staff act
// on users' accounts as their roles allow (console.go describes it); and
// the page that the "this was not me" link in a notice opens. Pages are rendered on the server with html/template from
// embedded files; the only script is for security keys and passkeys, copy
// buttons and the "I saved my codes" guard, and every page but those
// buttons works without it. Like every front door, it decides nothing: the
// mfa service does.
//
// # Sessions and protection
//
// A session is an mfa session whose token sits in the mfad_session cookie
// (HttpOnly, SameSite=Strict, Path=/, Secure when Config.Secure). Every
// state-changing request passes net/http's CrossOriginProtection, and
// every answer carries the headers of setHeaders: a CSP without inline
// script or style, nosniff, a referrer policy, and no-store for all but the
// static files.
//
// # Adding a page
//
//  1. Write templates/NAME.html defining {{define "main"}}: the page's
//     content inside the layout (templates/layout.html), which draws the
//     header, navigation, flash message and v.Problem. Start at <h1>; use
//     the "field-error" partial (templates/partials.html) to tie an error
//     to its input. Add no inline script or style: put CSS in
//     static/style.css and script in static/portal.js.
//  2. Add a route to the routes table in routes.go: its pattern, who may
//     open it (public, signedIn or staff; staff turns the session into
//     mfa.StaffActor's actor), and its handler, a func(h *Handler, w, r,
//     req mfa.Request). req is ready for the service: actor, client
//     address, front door and request ID.
//  3. In the handler, call the service with req, then
//     h.render(w, r, req, status, "NAME.html", view{...}) to show a page,
//     or h.redirect(w, r, path, flash) after a change (post, redirect,
//     get), with a message from the flash catalogue in flash.go. Read a
//     form with h.form; h.fail shows a service error on the page it came
//     from: an *mfa.Error's message as v.Problem (or v.Errors[field]), any
//     other error logged and shown as a generic message.
//  4. Hide links the viewer may not follow with mfa.Permitted (the view's
//     actor is in the template as .Actor); the service refuses them anyway.
package web

import (
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/httpkit"
	"github.com/mfad/mfad/internal/mfa"
)

// Config holds what the pages need. Service is required.
type Config struct {
	Service *mfa.Service
	Logger  *slog.Logger // default: discard
	// ClientIP returns the address a request came from, trusting
	// forwarded headers only from configured proxies. Default: the
	// connection's peer.
	ClientIP func(*http.Request) string
	// Clock is the time for the sign-in limit; default time.Now.
	Clock func() time.Time
	// Name is the organisation or service name in page titles; default
	// "mfad".
	Name string
	// PublicURL is where people reach mfad, such as
	// "https://mfa.example.com". Forms posted from it pass the cross-origin
	// check even when a proxy changes the Host header.
	PublicURL string
	// Secure marks the session cookie Secure: set it when mfad serves TLS
	// or PublicURL is https.
	Secure bool
	// WebAuthnOrigins are the exact origins security keys and passkeys
	// work from, as the service's relying party has them; empty when they
	// are off.
	WebAuthnOrigins []string
	// SignInRate is how many sign-in attempts one client address may make
	// per minute on each sign-in form; 0 means 10, negative no limit.
	SignInRate int
}

// Handler serves the pages. Build one with New; it is safe for concurrent
// use.
type Handler struct {
	svc       *mfa.Service
	log       *slog.Logger
	clientIP  func(*http.Request) string
	clock     func() time.Time
	name      string
	secure    bool
	origins   []string
	limiter   *httpkit.SourceLimiter
	mux       *http.ServeMux
	protected http.Handler // mux behind the cross-origin check
}

// New returns the handler.
func New(cfg Config) *Handler {
	h := &Handler{svc: cfg.Service, log: cfg.Logger, clientIP: cfg.ClientIP, clock: cfg.Clock,
		name: cfg.Name, secure: cfg.Secure, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.clientIP == nil {
		h.clientIP = peerIP
	}
	if h.clock == nil {
		h.clock = time.Now
	}
	if h.name == "" {
		h.name = "mfad"
	}
	for _, o := range cfg.WebAuthnOrigins {
		h.origins = append(h.origins, strings.TrimRight(o, "/"))
	}
	rate := cfg.SignInRate
	if rate == 0 {
		rate = 10
	}
	h.limiter = httpkit.NewSourceLimiter(rate, h.clock)
	for _, rt := range routes {
		h.mux.Handle(rt.pattern, h.wrap(rt))
	}
	h.protected = h.crossOrigin(cfg.PublicURL).Handler(h.mux)
	return h
}

// crossOrigin returns the check that refuses state-changing requests from
// other sites. Browsers say where a request comes from (Sec-Fetch-Site,
// Origin); the public URL and the WebAuthn origins are trusted besides the
// Host the request names, for proxies that rewrite Host.
func (h *Handler) crossOrigin(publicURL string) *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	trusted := append([]string{}, h.origins...)
	if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		trusted = append(trusted, u.Scheme+"://"+u.Host)
	}
	for _, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			h.log.Warn("origin not trusted for forms", "origin", o, "err", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "client_ip", h.clientIP(r),
			"request_id", httpkit.RequestID(r))
		h.render(w, r, h.request(r, anonymous), http.StatusForbidden, "error.html", view{
			Title: "Request refused",
			Problem: "This form was sent from another site, so it was refused. Open " +
				"the page here and send it again.",
		})
	}))
	return cop
}

// ServeHTTP serves one request: it assigns a request ID, sets the security
// headers, refuses cross-origin changes, recovers from panics and writes
// one access log line.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r, id := httpkit.WithRequestID(r)
	w.Header().Set("X-Request-ID", id)
	setHeaders(w.Header())
	rec := httpkit.NewStatusRecorder(w)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.Error("panic serving page", "request_id", id, "panic", p,
				"stack", string(debug.Stack()))
			if !rec.Wrote {
				h.render(rec, r, h.request(r, anonymous), http.StatusInternalServerError,
					"error.html", view{Title: "Something went wrong", Problem: genericProblem})
			}
		}
		level := slog.LevelInfo
		switch {
		case rec.Status >= 500:
			level = slog.LevelError
		case strings.HasPrefix(r.URL.Path, "/static/"):
			level = slog.LevelDebug
		}
		// The pattern, not the path: the query string of /report holds a
		// token.
		pattern := r.Pattern
		if pattern == "" {
			pattern = "unmatched"
		}
		h.log.Log(r.Context(), level, "http request", "front_door", audit.DoorWeb,
			"method", r.Method, "route", pattern, "status", rec.Status,
			"duration_ms", time.Since(start).Milliseconds(), "client_ip", h.clientIP(r),
			"request_id", id)
	}()
	h.protected.ServeHTTP(rec, r)
}

// contentSecurityPolicy allows the page's own files and nothing inline;
// data: images are the QR codes of authenticator enrolment.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setHeaders sets the headers every answer carries. Pages may loosen
// Cache-Control (the static files) or tighten Referrer-Policy (/report).
func setHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	// Pages show secrets (codes, passes, authenticator keys) and who is
	// signed in: no cache may keep one.
	hd.Set("Cache-Control", "no-store")
}

// peerIP is the connection's address, for a handler built without a
// ClientIP.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// anonymous is the actor of a visitor who is not signed in.
var anonymous = mfa.Actor{Kind: mfa.ActorAnonymous}

// request builds the service request of r, made by actor.
func (h *Handler) request(r *http.Request, actor mfa.Actor) mfa.Request {
	return mfa.Request{Actor: actor, Source: h.clientIP(r), FrontDoor: audit.DoorWeb,
		RequestID: httpkit.RequestID(r)}
}
