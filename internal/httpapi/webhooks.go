package httpapi

import (
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
)

// createWebhook adds a webhook endpoint and answers with its signing
// secret, shown this once.
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if !decode(w, r, &in) {
		return
	}
	hook, secret, err := h.svc.CreateWebhook(r.Context(), req, in.URL, in.Events)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := webhookView(hook)
	out.Secret = secret
	writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	hooks, err := h.svc.ListWebhooks(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]webhookJSON, len(hooks))
	for i, hook := range hooks {
		out[i] = webhookView(hook)
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.DeleteWebhook(r.Context(), req, r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// webhookDeliveries lists the newest deliveries to an endpoint, which
// stay readable after it is deleted.
func (h *Handler) webhookDeliveries(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	limit, ok := intParam(w, r, "limit")
	if !ok {
		return
	}
	ds, err := h.svc.WebhookDeliveries(r.Context(), req, r.PathValue("id"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = deliveryView(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
}
