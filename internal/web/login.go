package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
)

// signInRefused is the one answer to every refused sign-in, whatever the
// reason: unknown user, wrong, used or expired code, locked, disabled or
// blocked (SECURITY.md 9). Only the audit log says which.
const signInRefused = "Sign-in refused. Check your user name and the code, and try again. " +
	"Each code works once, and after too many wrong tries the account locks for a while."

// tooFast is the answer when one address tries to sign in too often.
const tooFast = "Too many attempts from your address. Wait a minute and try again."

// allow reports whether addr may use form now. Sign-in needs no credential
// but counts toward the account's one lockout, so the pages bound it as the
// API does, or they would be the way around its bound. Each form counts on
// its own, so that someone who spent the sign-in budget can still ask for
// a pass.
func (h *Handler) allow(form, addr string) bool {
	ok, _ := h.limiter.Allow(form + "|" + addr)
	return ok
}

// loginData is what the sign-in page shows.
type loginData struct {
	User string // the name typed, kept when the page is drawn again
	Next string // where to go once signed in
	// Challenge is the ID of a code sent by email or SMS, and Channel how
	// it was sent; the next sign-in checks the code against it.
	Challenge string
	Channel   string
	Expires   time.Time
	// SignedInAs names the user of the session the browser holds already:
	// signing in again is how a person proves a fresh factor.
	SignedInAs string
	Passkeys   passkeys
	// The pass request form's fields, kept when it is drawn again.
	RequestUser    string
	RequestMessage string
}

func (h *Handler) loginView(r *http.Request, d loginData) view {
	d.Passkeys = h.passkeys(r)
	if a, err := h.currentSession(r); err == nil {
		d.SignedInAs = a.UserName
	}
	return view{Title: "Sign in", Data: d}
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	d := loginData{Next: nextPath(r.URL.Query().Get("next"))}
	h.render(w, r, req, http.StatusOK, "login.html", h.loginView(r, d))
}

// login signs in with a user name and a code: from an authenticator, a
// backup code, an access pass or, with a challenge, one sent by email or
// SMS.
func (h *Handler) login(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	f := r.PostForm
	d := loginData{User: strings.TrimSpace(f.Get("user")), Next: nextPath(f.Get("next")),
		Challenge: f.Get("challenge"), Channel: f.Get("channel")}
	if !h.allow("login", req.Source) {
		w.Header().Set("Retry-After", "60")
		v := h.loginView(r, d)
		v.Problem = tooFast
		h.render(w, r, req, http.StatusTooManyRequests, "login.html", v)
		return
	}
	var s mfa.Session
	var err error
	if d.Challenge != "" {
		s, err = h.svc.SignInChallenge(r.Context(), req, d.User, d.Challenge, f.Get("code"))
	} else {
		s, err = h.svc.SignIn(r.Context(), req, d.User, f.Get("code"))
	}
	if errors.Is(err, mfa.ErrUnauthenticated) {
		v := h.loginView(r, d)
		v.Problem = signInRefused
		h.render(w, r, req, http.StatusUnauthorized, "login.html", v)
		return
	}
	if err != nil {
		h.fail(w, r, req, "login.html", h.loginView(r, d), err)
		return
	}
	h.startSession(w, r, s)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// sendCode sends a code by email or SMS for the sign-in form. The answer
// is the same whether or not the user exists or can receive codes.
func (h *Handler) sendCode(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	f := r.PostForm
	d := loginData{User: strings.TrimSpace(f.Get("user")), Next: nextPath(f.Get("next"))}
	if !h.allow("code", req.Source) {
		w.Header().Set("Retry-After", "60")
		v := h.loginView(r, d)
		v.Problem = tooFast
		h.render(w, r, req, http.StatusTooManyRequests, "login.html", v)
		return
	}
	factor := f.Get("factor")
	c, err := h.svc.SendChallenge(r.Context(), req, d.User, factor)
	if err != nil {
		h.fail(w, r, req, "login.html", h.loginView(r, d), err)
		return
	}
	d.Challenge, d.Channel, d.Expires = c.ID, factor, c.ExpiresAt
	h.render(w, r, req, http.StatusOK, "login.html", h.loginView(r, d))
}

// requestPass asks the helpdesk for an access pass, without signing in.
// The answer is the same for every name (the service sees to that), so
// the form tells nobody who has an account.
func (h *Handler) requestPass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	f := r.PostForm
	d := loginData{Next: "/security", RequestUser: strings.TrimSpace(f.Get("user")),
		RequestMessage: f.Get("message")}
	if !h.allow("request", req.Source) {
		w.Header().Set("Retry-After", "60")
		v := h.loginView(r, d)
		v.Problem = tooFast
		h.render(w, r, req, http.StatusTooManyRequests, "login.html", v)
		return
	}
	err := h.svc.RequestPass(r.Context(), req, d.RequestUser, d.RequestMessage)
	var e *mfa.Error
	if errors.As(err, &e) && errors.Is(e, mfa.ErrInvalid) {
		v := h.loginView(r, d)
		v.Errors = map[string]string{"request-user": sentence(e.Message)}
		h.render(w, r, req, http.StatusBadRequest, "login.html", v)
		return
	}
	if err != nil {
		h.fail(w, r, req, "login.html", h.loginView(r, d), err)
		return
	}
	h.render(w, r, req, http.StatusOK, "request_sent.html", view{Title: "Request sent",
		Data: d.RequestUser})
}

func (h *Handler) beginPasskeyLogin(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.allow("passkey-begin", req.Source) {
		writeJSON(w, http.StatusTooManyRequests, scriptAnswer{Error: tooFast})
		return
	}
	if pk := h.passkeys(r); !pk.On {
		writeJSON(w, http.StatusConflict, scriptAnswer{Error: pk.why()})
		return
	}
	c, err := h.svc.BeginWebAuthnLogin(r.Context(), req)
	if err != nil {
		h.failScript(w, r, req, err)
		return
	}
	writeJSON(w, http.StatusOK, scriptAnswer{Ceremony: c.ID, Options: c.Options})
}

func (h *Handler) finishPasskeyLogin(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var call scriptCall
	if !readCall(w, r, &call) {
		return
	}
	if !h.allow("passkey", req.Source) {
		writeJSON(w, http.StatusTooManyRequests, scriptAnswer{Error: tooFast})
		return
	}
	s, err := h.svc.FinishWebAuthnLogin(r.Context(), req, call.Ceremony, call.Credential)
	if errors.Is(err, mfa.ErrUnauthenticated) {
		writeJSON(w, http.StatusUnauthorized, scriptAnswer{Error: "Sign-in refused. This " +
			"passkey is not registered here, or its answer was not accepted."})
		return
	}
	if err != nil {
		h.failScript(w, r, req, err)
		return
	}
	h.startSession(w, r, s)
	writeJSON(w, http.StatusOK, scriptAnswer{Redirect: nextPath(call.Next)})
}

// logout ends the session on the server, at once and on every replica,
// and clears the cookie. It is a POST, like every change.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if a, err := h.currentSession(r); err == nil {
		if err := h.svc.SignOut(r.Context(), h.request(r, a)); err != nil &&
			!errors.Is(err, mfa.ErrUnauthenticated) {
			h.fail(w, r, req, "error.html", view{Title: "Not signed out"}, err)
			return
		}
	}
	h.clearSession(w)
	h.redirect(w, r, "/login", flashSignedOut)
}
