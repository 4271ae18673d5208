package httpapi

import (
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
)

// sendChallenge has a one-time code sent to a user by email or SMS, for a
// sign-in page (no credential) or an application (a token). The answer is
// the same whether or not a code went anywhere (SECURITY.md 9).
func (h *Handler) sendChallenge(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		User   string `json:"user"`
		Factor string `json:"factor"`
	}
	if !decode(w, r, &in) {
		return
	}
	c, err := h.svc.SendChallenge(r.Context(), req, in.User, in.Factor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, challengeView(c))
}

// bindEmail sends a code to an email address the user is to receive codes
// at; confirming with it makes the address theirs.
func (h *Handler) bindEmail(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !decode(w, r, &in) {
		return
	}
	h.bind(w, r, req, "email", in.Email)
}

// bindPhone is bindEmail for a phone number and SMS codes.
func (h *Handler) bindPhone(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Phone string `json:"phone"`
	}
	if !decode(w, r, &in) {
		return
	}
	h.bind(w, r, req, "sms", in.Phone)
}

func (h *Handler) bind(w http.ResponseWriter, r *http.Request, req mfa.Request,
	factor, address string) {
	c, err := h.svc.BindDestination(r.Context(), req, r.PathValue("name"), factor, address)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, challengeView(c))
}

// confirmDestination returns the operation that finishes binding an
// address ("email") or number ("sms") with the code sent there, and
// answers with the user.
func confirmDestination(factor string) operation {
	return func(h *Handler, w http.ResponseWriter, r *http.Request, req mfa.Request) {
		var in struct {
			Challenge string `json:"challenge"`
			Code      string `json:"code"`
		}
		if !decode(w, r, &in) {
			return
		}
		u, err := h.svc.ConfirmDestination(r.Context(), req, r.PathValue("name"), factor,
			in.Challenge, in.Code)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, userView(u))
	}
}

// removeDestination returns the operation that stops codes going to the
// user's address ("email") or number ("sms"), and answers with the user.
func removeDestination(factor string) operation {
	return func(h *Handler, w http.ResponseWriter, r *http.Request, req mfa.Request) {
		u, err := h.svc.RemoveDestination(r.Context(), req, r.PathValue("name"), factor)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, userView(u))
	}
}
