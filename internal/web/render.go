package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mfad/mfad/internal/mfa"
)

//go:embed templates static
var files embed.FS

// pages holds one template set per page: the layout, the partials and
// the page's own file, which defines "main".
var pages = parsePages()

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files,
		"templates/layout.html", "templates/partials.html"))
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		file := path.Base(name)
		if file == "layout.html" || file == "partials.html" {
			continue
		}
		out[file] = template.Must(template.Must(base.Clone()).ParseFS(files, name))
	}
	return out
}

// view is what the layout and a page's template get. Handlers fill in the
// first fields; render fills in the rest.
type view struct {
	Title string // the page's <title> and, usually, its <h1>
	// Nav is the navigation entry to mark as the current page:
	// "security", "codes", "pass" or "activity"; on a console page
	// (Console set), "users", "requests", "policy", "tokens" or "audit".
	Nav string
	// Console marks a page of the admin console: the layout draws the
	// console's own navigation and a wider column.
	Console bool
	// Problem is a message for the whole page, drawn as an alert above
	// the content.
	Problem string
	// Errors are messages for single fields, by the field's id; the
	// "field-error" partial draws one and the field's aria-describedby
	// names it.
	Errors map[string]string
	Data   any // the page's own data

	Site  string    // Config.Name
	User  string    // the signed-in user's name, "" for a visitor
	Actor mfa.Actor // who is looking, for mfa.Permitted
	Staff bool      // the user holds a staff role: the navigation links the console
	Flash *flash    // the message queued by the previous change
	Now   time.Time // for "expires in" wording
}

// render draws page name with v and answers with status. The page is
// drawn into a buffer first, so a template error gives a clean 500, never
// half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, req mfa.Request, status int,
	name string, v view) {
	t, ok := pages[name]
	if !ok {
		h.log.Error("no such page template", "page", name, "request_id", req.RequestID)
		http.Error(w, genericProblem, http.StatusInternalServerError)
		return
	}
	v.Site, v.Actor, v.Now = h.name, req.Actor, h.clock()
	if req.Actor.Kind == mfa.ActorSession || req.Actor.Kind == mfa.ActorStaff {
		v.User = req.Actor.UserName
		v.Staff = h.holdsRole(r, req)
	}
	v.Flash = h.takeFlash(w, r)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.log.Error("render page", "page", name, "request_id", req.RequestID, "err", err)
		http.Error(w, genericProblem, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// genericProblem is what a visitor sees of an error that is not theirs.
const genericProblem = "Something went wrong on our side. Try again in a minute; if it " +
	"keeps happening, call the helpdesk."

// fail shows err on page name: an *mfa.Error's message as v.Problem with
// the status its kind maps to; anything else is logged and shown as a
// generic error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, req mfa.Request, name string,
	v view, err error) {
	h.failField(w, r, req, name, v, "", err)
}

// failField is fail for an error that belongs to one field: the message
// goes to v.Errors[field] instead of v.Problem.
func (h *Handler) failField(w http.ResponseWriter, r *http.Request, req mfa.Request, name string,
	v view, field string, err error) {
	var e *mfa.Error
	if !errors.As(err, &e) {
		h.log.Error("page failed", "route", r.Pattern, "client_ip", req.Source,
			"request_id", req.RequestID, "err", err)
		h.render(w, r, req, http.StatusInternalServerError, "error.html",
			view{Title: "Something went wrong", Problem: genericProblem})
		return
	}
	if e.Kind == mfa.ErrRateLimited && e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	if field != "" {
		if v.Errors == nil {
			v.Errors = map[string]string{}
		}
		v.Errors[field] = sentence(e.Message)
	} else {
		v.Problem = sentence(e.Message)
	}
	h.render(w, r, req, statusOf(e), name, v)
}

// statusOf maps a service error's kind to the page's status.
func statusOf(e *mfa.Error) int {
	switch {
	case errors.Is(e, mfa.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(e, mfa.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(e, mfa.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(e, mfa.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(e, mfa.ErrConflict):
		return http.StatusConflict
	case errors.Is(e, mfa.ErrRateLimited):
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// sentence turns a service message ("the code does not match") into one
// to show: a capital first letter and a full stop. A message that starts
// with a name as it is written, such as the field "lockout.threshold" or
// "starts_at", keeps it as it is.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	first, _, _ := strings.Cut(msg, " ")
	if !strings.ContainsAny(first, "._") {
		msg = string(unicode.ToUpper(r)) + msg[n:]
	}
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") {
		msg += "."
	}
	return msg
}

// maxForm bounds a form's body; the largest is a message of 500
// characters.
const maxForm = 64 << 10

// form parses r's form. When it cannot, it answers 400 and returns false.
func (h *Handler) form(w http.ResponseWriter, r *http.Request, req mfa.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, req, http.StatusBadRequest, "error.html", view{Title: "Form not read",
			Problem: "The form could not be read. Go back and send it again."})
		return false
	}
	return true
}

// scriptAnswer is what the script endpoints answer: a ceremony's options,
// or where to go next, or an error to show.
type scriptAnswer struct {
	Ceremony string          `json:"ceremony,omitempty"`
	Options  json.RawMessage `json:"options,omitempty"`
	Redirect string          `json:"redirect,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// scriptCall is what the page's script sends to finish a ceremony, or to
// begin a registration (Name).
type scriptCall struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name"`
	Next       string          `json:"next"`
}

// readCall decodes a script's JSON body. When it cannot, it answers 400
// and returns false.
func readCall(w http.ResponseWriter, r *http.Request, into *scriptCall) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType,
			scriptAnswer{Error: "The page sent something unexpected; reload it and try again."})
		return false
	}
	if err := json.NewDecoder(r.Body).Decode(into); err != nil {
		writeJSON(w, http.StatusBadRequest,
			scriptAnswer{Error: "The page sent something unexpected; reload it and try again."})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v scriptAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// failScript answers a script with err: an *mfa.Error's message and
// status, anything else logged and generic.
func (h *Handler) failScript(w http.ResponseWriter, r *http.Request, req mfa.Request, err error) {
	var e *mfa.Error
	if errors.As(err, &e) {
		writeJSON(w, statusOf(e), scriptAnswer{Error: sentence(e.Message)})
		return
	}
	h.log.Error("script call failed", "route", r.Pattern, "client_ip", req.Source,
		"request_id", req.RequestID, "err", err)
	writeJSON(w, http.StatusInternalServerError, scriptAnswer{Error: genericProblem})
}
