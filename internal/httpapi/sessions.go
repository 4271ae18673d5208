package httpapi

import (
	"errors"
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
)

// signIn opens a self-service session for a user who proves a factor.
// Every refusal has the same status, headers and body, whatever its reason;
// only the audit log says which.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		User      string  `json:"user"`
		Code      string  `json:"code"`
		Challenge *string `json:"challenge"`
	}
	if !decode(w, r, &in) {
		return
	}
	var s mfa.Session
	var err error
	if in.Challenge != nil {
		s, err = h.svc.SignInChallenge(r.Context(), req, in.User, *in.Challenge, in.Code)
	} else {
		s, err = h.svc.SignIn(r.Context(), req, in.User, in.Code)
	}
	if errors.Is(err, mfa.ErrUnauthenticated) {
		// A 401 carries a challenge (RFC 9110 §15.5.2). It is the same for
		// every refusal: one that named an invalid token for some reasons
		// only would tell them apart.
		w.Header().Set("WWW-Authenticate", `Bearer realm="mfad"`)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sessionJSON{
		Token: s.Token, ExpiresAt: jsonTime(s.ExpiresAt), Factor: s.Factor,
	})
}

// signOut ends the caller's session at once.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.SignOut(r.Context(), req); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// own turns an operation on /v1/users/{name} into the same operation on
// the account of the session that calls it, for the /v1/me routes. Any
// other caller is refused: staff name the user they act on. What the
// session may then do is the service's decision.
func own(fn operation) operation {
	return func(h *Handler, w http.ResponseWriter, r *http.Request, req mfa.Request) {
		user, err := h.svc.SessionUser(req)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		r.SetPathValue("name", user)
		fn(h, w, r, req)
	}
}
