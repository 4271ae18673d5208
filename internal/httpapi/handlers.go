package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/qr"
)

// verify answers whether a code is right for a user. Every refusal has the
// same body and status, whatever its reason.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		User      string  `json:"user"`
		Code      string  `json:"code"`
		Challenge *string `json:"challenge"`
	}
	if !decode(w, r, &in) {
		return
	}
	var res mfa.VerifyResult
	var err error
	if in.Challenge != nil {
		// A challenge names an emailed or texted code. It is answered by
		// that code alone, even when empty: never by the bypass.
		res, err = h.svc.VerifyChallenge(r.Context(), req, in.User, *in.Challenge, in.Code)
	} else {
		// An empty or missing code goes to the service as it is: it asks
		// for the user's bypass, and the service decides.
		res, err = h.svc.Verify(r.Context(), req, in.User, in.Code)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// A struct, not a map, so "result" comes first for people reading it.
	out := struct {
		Result string `json:"result"`
		Factor string `json:"factor,omitempty"`
	}{Result: "reject"}
	if res.Accepted {
		out.Result, out.Factor = "accept", res.Factor
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Name        string   `json:"name"`
		DisplayName string   `json:"display_name"`
		Email       string   `json:"email"`
		Phone       string   `json:"phone"`
		Roles       []string `json:"roles"`
	}
	if !decode(w, r, &in) {
		return
	}
	u, err := h.svc.CreateUser(r.Context(), req, mfa.NewUser{
		Name: in.Name, DisplayName: in.DisplayName, Email: in.Email, Phone: in.Phone, Roles: in.Roles,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/users/"+url.PathEscape(u.Name))
	writeJSON(w, http.StatusCreated, userView(u))
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, r, "limit")
	if !ok {
		return
	}
	users, err := h.svc.ListUsers(r.Context(), req, mfa.UserQuery{
		Search: q.Get("search"), After: q.Get("after"), Limit: limit,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = userView(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	u, err := h.svc.GetUser(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userView(u))
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		DisplayName *string `json:"display_name"`
		Email       *string `json:"email"`
		Phone       *string `json:"phone"`
		Disabled    *bool   `json:"disabled"`
	}
	if !decode(w, r, &in) {
		return
	}
	u, err := h.svc.UpdateUser(r.Context(), req, r.PathValue("name"), mfa.UserUpdate{
		DisplayName: in.DisplayName, Email: in.Email, Phone: in.Phone, Disabled: in.Disabled,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userView(u))
}

func (h *Handler) setRoles(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Roles []string `json:"roles"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Roles == nil {
		writeProblem(w, r, http.StatusBadRequest, `send {"roles": [...]}, an empty array to remove all`, nil)
		return
	}
	u, err := h.svc.SetRoles(r.Context(), req, r.PathValue("name"), in.Roles)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userView(u))
}

func (h *Handler) unlock(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Reason string `json:"reason"`
	}
	if !decode(w, r, &in) {
		return
	}
	u, err := h.svc.Unlock(r.Context(), req, r.PathValue("name"), in.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userView(u))
}

func (h *Handler) enrollTOTP(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Name      string `json:"name"`
		Algorithm string `json:"algorithm"`
		Digits    int    `json:"digits"`
		Period    int    `json:"period"`
	}
	// An empty body enrols with the policy's defaults. The body is read
	// rather than trusting Content-Length, which is -1 when chunked.
	if !decodeOptional(w, r, &in) {
		return
	}
	e, err := h.svc.EnrollTOTP(r.Context(), req, r.PathValue("name"), mfa.NewTOTP{
		Name: in.Name, Algorithm: in.Algorithm, Digits: in.Digits, Period: in.Period,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	png, err := qr.PNG(e.URI, 256)
	if err != nil {
		h.fail(w, r, fmt.Errorf("qr code: %w", err))
		return
	}
	w.Header().Set("Location", userPath(r)+"/totp/"+url.PathEscape(e.ID))
	writeJSON(w, http.StatusCreated, enrollmentJSON{
		totpJSON: totpView(e.TOTP), Secret: e.Secret, URI: e.URI,
		QRPNG: base64.StdEncoding.EncodeToString(png),
	})
}

func (h *Handler) listTOTP(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	list, err := h.svc.ListTOTP(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]totpJSON, len(list))
	for i, t := range list {
		out[i] = totpView(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"totp": out})
}

func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Code string `json:"code"`
	}
	if !decode(w, r, &in) {
		return
	}
	t, err := h.svc.ConfirmTOTP(r.Context(), req, r.PathValue("name"), r.PathValue("id"), in.Code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, totpView(t))
}

func (h *Handler) deleteTOTP(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.DeleteTOTP(r.Context(), req, r.PathValue("name"), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if !decode(w, r, &in) {
		return
	}
	g, err := h.svc.CreateGroup(r.Context(), req, in.Name, in.Description)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/groups/"+url.PathEscape(g.Name))
	writeJSON(w, http.StatusCreated, groupView(g))
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	groups, err := h.svc.ListGroups(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]groupJSON, len(groups))
	for i, g := range groups {
		out[i] = groupView(g)
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": out})
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	g, err := h.svc.GetGroup(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, groupView(g))
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.DeleteGroup(r.Context(), req, r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.AddMember(r.Context(), req, r.PathValue("name"), r.PathValue("user")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.RemoveMember(r.Context(), req, r.PathValue("name"), r.PathValue("user")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Name string `json:"name"`
		Role string `json:"role"`
		User string `json:"user"`
	}
	if !decode(w, r, &in) {
		return
	}
	t, secret, err := h.svc.CreateToken(r.Context(), req, mfa.NewToken{Name: in.Name, Role: in.Role, User: in.User})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := tokenView(t)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	tokens, err := h.svc.ListTokens(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]tokenJSON, len(tokens))
	for i, t := range tokens {
		out[i] = tokenView(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.RevokeToken(r.Context(), req, r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, r, "limit")
	if !ok {
		return
	}
	before, ok := intParam(w, r, "before")
	if !ok {
		return
	}
	since, ok := timeParam(w, r, "since")
	if !ok {
		return
	}
	until, ok := timeParam(w, r, "until")
	if !ok {
		return
	}
	events, err := h.svc.ListAudit(r.Context(), req, mfa.AuditQuery{
		User: q.Get("user"), Action: q.Get("action"), Since: since, Until: until,
		Before: int64(before), Limit: limit,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]eventJSON, len(events))
	for i, e := range events {
		out[i] = eventView(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

func (h *Handler) verifyAudit(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	rep, err := h.svc.VerifyAudit(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := map[string]any{
		"ok":       rep.First == nil,
		"events":   rep.Events,
		"sealed":   rep.Sealed,
		"unsealed": rep.Unsealed,
		"head_seq": rep.Head.Seq,
		"head_mac": rep.HeadMAC,
	}
	if rep.First != nil {
		out["breaks"] = rep.Breaks
		out["first_break"] = map[string]any{
			"seq": rep.First.Seq, "link_seq": rep.First.LinkSeq, "reason": rep.First.Error(),
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// userPath returns the path of the user r acts on: /v1/me on the
// self-service routes, /v1/users/{name} on the others.
func userPath(r *http.Request) string {
	if r.URL.Path == "/v1/me" || strings.HasPrefix(r.URL.Path, "/v1/me/") {
		return "/v1/me"
	}
	return "/v1/users/" + url.PathEscape(mfa.CanonicalName(r.PathValue("name")))
}

// intParam reads an optional non-negative integer query parameter.
func intParam(w http.ResponseWriter, r *http.Request, name string) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		writeProblem(w, r, http.StatusBadRequest, fmt.Sprintf("%s must be a non-negative integer", name), nil)
		return 0, false
	}
	return n, true
}

// timeParam reads an optional RFC 3339 time query parameter.
func timeParam(w http.ResponseWriter, r *http.Request, name string) (time.Time, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest,
			fmt.Sprintf("%s must be an RFC 3339 time such as 2026-01-31T12:00:00Z", name), nil)
		return time.Time{}, false
	}
	return t, true
}
