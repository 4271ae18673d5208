package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/mfad/mfad/internal/httpkit"
	"github.com/mfad/mfad/internal/mfa"
)

// sessionCookie holds the token of the visitor's mfa session. The service
// keeps the session and enforces its idle and absolute timeouts; the
// cookie only carries the token.
const sessionCookie = "mfad_session"

// setSession puts a new session's token in the cookie.
//
// NOTE: the cookie has no expiry of its own, so it lasts until the browser
// closes: a cookie the browser dropped at the session's end would leave
// the server unable to tell "your session ended" from "never signed in".
// The token is dead server-side either way.
func (h *Handler) setSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/",
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
}

func (h *Handler) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
}

// sessionToken returns the token in r's cookie, or "".
func sessionToken(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// errNoCookie is the session lookup's answer to a visitor without one.
var errNoCookie = errors.New("no session cookie")

// currentSession returns the session r's cookie stands for. It is an
// mfa.ErrUnauthenticated error when the session ended, errNoCookie
// without a cookie, and anything else when the service could not tell.
func (h *Handler) currentSession(r *http.Request) (mfa.Actor, error) {
	token := sessionToken(r)
	if token == "" {
		return mfa.Actor{}, errNoCookie
	}
	a, err := h.svc.Authenticate(r.Context(), token)
	if err != nil {
		return mfa.Actor{}, err
	}
	if a.Kind != mfa.ActorSession {
		// An API token pasted into the cookie opens no page.
		return mfa.Actor{}, &mfa.Error{Kind: mfa.ErrUnauthenticated, Message: "not a session"}
	}
	return a, nil
}

// session returns the visitor's session for a route that needs one. When
// there is none it answers (a redirect to the sign-in page, or 401 for a
// script) and returns false. A database that cannot be read fails closed.
func (h *Handler) session(w http.ResponseWriter, r *http.Request, script bool) (mfa.Actor, bool) {
	a, err := h.currentSession(r)
	if err == nil {
		return a, true
	}
	req := h.request(r, anonymous)
	ended := errors.Is(err, mfa.ErrUnauthenticated)
	if !ended && !errors.Is(err, errNoCookie) {
		h.fail(w, r, req, "error.html", view{Title: "Something went wrong"}, err)
		return mfa.Actor{}, false
	}
	login := "/login"
	if r.Method == http.MethodGet {
		login += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if ended {
		h.clearSession(w)
		h.setFlash(w, flashSessionEnded)
	}
	if script {
		writeJSON(w, http.StatusUnauthorized, scriptAnswer{
			Error: "Your session has ended. Sign in again.", Redirect: login})
		return mfa.Actor{}, false
	}
	http.Redirect(w, r, login, http.StatusSeeOther)
	return mfa.Actor{}, false
}

// startSession finishes a sign-in: it ends the session the browser held
// before, if any, so that one browser holds one session, and puts the new
// token in the cookie. The new session always has a new token: a token
// planted in the browser before the sign-in never becomes signed in.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, s mfa.Session) {
	if old, err := h.currentSession(r); err == nil {
		if err := h.svc.SignOut(r.Context(), h.request(r, old)); err != nil {
			h.log.Warn("end previous session", "user", old.UserName,
				"request_id", httpkit.RequestID(r), "err", err)
		}
	}
	h.setSession(w, s.Token)
	h.log.Info("signed in", "outcome", "accept", "user", s.User, "factor", s.Factor,
		"client_ip", h.clientIP(r), "request_id", httpkit.RequestID(r))
}

// nextPath returns where to go after signing in: next when it is a path on
// this site, else /security. A next of "//evil.example" or "/\evil" would
// leave the site, so only a single leading slash passes.
func nextPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "/login") {
		return "/security"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/security"
	}
	return next
}
