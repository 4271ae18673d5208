package httpapi

import (
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
)

// reportFraud records a signed-in user's "this was not me". By policy it
// blocks the account, which ends this session too.
func (h *Handler) reportFraud(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Message string `json:"message"`
	}
	if !decodeOptional(w, r, &in) {
		return
	}
	rep, err := h.svc.ReportFraud(r.Context(), req, in.Message)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, fraudReportView(rep))
}

// reportFraudByLink records a "this was not me" made with the signed link
// of a notice, without signing in.
func (h *Handler) reportFraudByLink(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Token   string `json:"token"`
		Message string `json:"message"`
	}
	if !decode(w, r, &in) {
		return
	}
	rep, err := h.svc.ReportFraudByLink(r.Context(), req, in.Token, in.Message)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, fraudReportView(rep))
}

// unblock lifts the block a fraud report put on a user and answers with
// the user.
func (h *Handler) unblock(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Reason string `json:"reason"`
	}
	if !decode(w, r, &in) {
		return
	}
	name := r.PathValue("name")
	if err := h.svc.ClearFraud(r.Context(), req, name, in.Reason); err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.svc.GetUser(r.Context(), req, name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userView(u))
}
