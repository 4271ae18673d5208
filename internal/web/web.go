// Package web is mfad's front door for people in a browser. For now it
// serves the page that the "this was not me" link in a notice opens: it
// asks the person to confirm, and only a confirmation reports the event,
// since mail scanners and link previews open links too.
package web

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/mfa"
)

//go:embed templates/*.html
var files embed.FS

var pages = template.Must(template.ParseFS(files, "templates/*.html"))

// Config holds what the pages need. Service and ClientIP are required.
type Config struct {
	Service *mfa.Service
	Logger  *slog.Logger
	// ClientIP returns the address a request came from, trusting
	// forwarded headers only from configured proxies.
	ClientIP func(*http.Request) string
}

// Handler serves the pages. Build one with New.
type Handler struct {
	svc      *mfa.Service
	log      *slog.Logger
	clientIP func(*http.Request) string
	mux      *http.ServeMux
}

// New returns the handler.
func New(cfg Config) *Handler {
	h := &Handler{svc: cfg.Service, log: cfg.Logger, clientIP: cfg.ClientIP,
		mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("GET /report", h.reportForm)
	h.mux.HandleFunc("POST /report", h.report)
	return h
}

// Routes lists the paths the handler serves, for the server's mux.
func Routes() []string { return []string{"/report"} }

// ServeHTTP serves a page with headers that keep the link's token out of
// caches, referrers and frames.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy",
		"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

type reportPage struct {
	Token   string
	Problem string // why the link does not work, when it does not
	Done    *mfa.FraudReport
}

func (h *Handler) reportForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if err := h.svc.CheckReportLink(token); err != nil {
		h.render(w, http.StatusBadRequest, reportPage{Problem: message(err)})
		return
	}
	h.render(w, http.StatusOK, reportPage{Token: token})
}

func (h *Handler) report(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, reportPage{Problem: "The form could not be read."})
		return
	}
	req := mfa.Request{Source: h.clientIP(r), FrontDoor: audit.DoorWeb,
		RequestID: r.Header.Get("X-Request-Id")}
	rep, err := h.svc.ReportFraudByLink(r.Context(), req, r.PostForm.Get("token"),
		r.PostForm.Get("message"))
	var e *mfa.Error
	switch {
	case errors.As(err, &e):
		h.render(w, http.StatusBadRequest, reportPage{Token: r.PostForm.Get("token"),
			Problem: e.Message})
	case err != nil:
		h.log.Error("fraud report failed", "client_ip", req.Source, "err", err)
		h.render(w, http.StatusInternalServerError, reportPage{
			Problem: "Your report could not be recorded. Please call the helpdesk."})
	default:
		h.render(w, http.StatusOK, reportPage{Done: &rep})
	}
}

func message(err error) string {
	var e *mfa.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "This link does not work."
}

func (h *Handler) render(w http.ResponseWriter, status int, p reportPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "report.html", p); err != nil {
		h.log.Error("render page", "err", err)
	}
}
