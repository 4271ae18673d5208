package httpapi

import (
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
)

// grantBypass lets the next verification of a user through without a
// code, once. POST /v1/verify with an empty code uses it; the service
// decides.
func (h *Handler) grantBypass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Duration *string `json:"duration"`
		Reason   string  `json:"reason"`
	}
	if !decode(w, r, &in) {
		return
	}
	var bad []string
	d := durationField("duration", in.Duration, &bad)
	if !badFields(w, r, bad) {
		return
	}
	b, err := h.svc.GrantBypass(r.Context(), req, r.PathValue("name"), d, in.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", userPath(r)+"/bypass")
	writeJSON(w, http.StatusCreated, bypassView(b))
}

func (h *Handler) bypassStatus(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	b, err := h.svc.BypassStatus(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, bypassView(b))
}

func (h *Handler) revokeBypass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	reason := r.URL.Query().Get("reason")
	if err := h.svc.RevokeBypass(r.Context(), req, r.PathValue("name"), reason); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
