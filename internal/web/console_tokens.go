package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mfad/mfad/internal/mfa"
)

// tokensData is what the API tokens page shows. Secret is the token just
// made, shown this once; the list holds no secret, since the service keeps
// none.
type tokensData struct {
	Tokens []mfa.Token
	New    *mfa.Token
	Secret string
	Roles  []mfa.Role
	// Form holds what was typed into the form when it is drawn again.
	Form map[string]string
}

func (h *Handler) consoleTokens(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.tokensPage(w, r, req, tokensData{}, nil)
}

// tokensPage draws the page with d's new token or form; after a refusal,
// with err by the field it is about.
func (h *Handler) tokensPage(w http.ResponseWriter, r *http.Request, req mfa.Request,
	d tokensData, refused error) {
	tokens, err := h.svc.ListTokens(r.Context(), req)
	if err != nil {
		h.fail(w, r, req, "error.html", consoleView("API tokens", "tokens", nil), err)
		return
	}
	d.Tokens, d.Roles = tokens, mfa.Roles
	if d.Form == nil {
		d.Form = map[string]string{"token-role": string(mfa.RoleVerifier)}
	}
	v := consoleView("API tokens", "tokens", d)
	if refused != nil {
		h.failForm(w, r, req, "console_tokens.html", v, refused, []placement{
			{"name", "token-name"}, {"unknown role", "token-role"}, {"user", "token-user"},
		}, "token-name")
		return
	}
	h.render(w, r, req, http.StatusOK, "console_tokens.html", v)
}

func (h *Handler) consoleCreateToken(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	f := r.PostForm
	in := mfa.NewToken{Name: f.Get("name"), Role: f.Get("role"),
		User: strings.TrimSpace(f.Get("user"))}
	t, secret, err := h.svc.CreateToken(r.Context(), req, in)
	if errors.Is(err, mfa.ErrNotFound) && in.User != "" {
		// No such user: a mistake in the form's user field, shown there.
		err = &mfa.Error{Kind: mfa.ErrInvalid, Message: err.Error(),
			Problems: []string{err.Error()}}
	}
	if err != nil {
		h.tokensPage(w, r, req, tokensData{Form: map[string]string{"token-name": in.Name,
			"token-role": in.Role, "token-user": in.User}}, err)
		return
	}
	h.tokensPage(w, r, req, tokensData{New: &t, Secret: secret}, nil)
}

func (h *Handler) consoleRevokeToken(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.RevokeToken(r.Context(), req, r.PathValue("id")); err != nil {
		h.fail(w, r, req, "error.html", consoleView("API tokens", "tokens", nil), err)
		return
	}
	h.redirect(w, r, "/console/tokens", flashTokenRevoked)
}
