package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

func (h *Handler) getPolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	p, err := h.svc.GetPolicy(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writePolicy(w, p)
}

func (h *Handler) putPolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	doc, ok := readDocument(w, r)
	if !ok {
		return
	}
	p, err := h.svc.SetPolicy(r.Context(), req, doc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writePolicy(w, p)
}

// userPolicy shows the policy in force for one user, after their groups'
// documents are combined.
func (h *Handler) userPolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	p, err := h.svc.UserPolicy(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writePolicy(w, p)
}

func (h *Handler) getGroupPolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	g, err := h.svc.GetGroupPolicy(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, groupPolicyView(g))
}

// putGroupPolicy stores a group's own document: only what it changes from
// the global policy.
func (h *Handler) putGroupPolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	doc, ok := readDocument(w, r)
	if !ok {
		return
	}
	g, err := h.svc.SetGroupPolicy(r.Context(), req, r.PathValue("name"), doc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, groupPolicyView(g))
}

func (h *Handler) deleteGroupPolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.DeleteGroupPolicy(r.Context(), req, r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writePolicy answers with a policy document in its canonical form.
func writePolicy(w http.ResponseWriter, p policy.Policy) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(p.Marshal())
}

// readDocument reads a policy document from the body. It must be a JSON
// object; the service checks the fields and their bounds.
func readDocument(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if !jsonContent(w, r) {
		return nil, false
	}
	doc, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, r, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit), nil)
		return nil, false
	}
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, "the body could not be read", nil)
		return nil, false
	}
	if !json.Valid(doc) {
		writeProblem(w, r, http.StatusBadRequest, "the body is not valid JSON", nil)
		return nil, false
	}
	if trimmed := bytes.TrimLeft(doc, " \t\r\n"); trimmed[0] != '{' {
		writeProblem(w, r, http.StatusBadRequest, "the body must be a JSON object", nil)
		return nil, false
	}
	return doc, true
}
