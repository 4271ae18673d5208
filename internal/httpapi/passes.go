package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

// requestReceived is the one answer to a request for an access pass that
// the service took, whether or not the user exists or may have a pass
// (SECURITY.md 9).
var requestReceived = struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}{
	Status: "received",
	Message: "If the account exists and may receive a pass, the helpdesk will see your " +
		"request. Call them to confirm who you are.",
}

// passInput is the body of issuing a pass and of approving a request for
// one.
type passInput struct {
	Lifetime *string `json:"lifetime"`
	StartsAt *string `json:"starts_at"`
	OneTime  *bool   `json:"one_time"`
	Reason   string  `json:"reason"`
}

// passAsked is what a passInput asks for.
type passAsked struct {
	lifetime time.Duration // zero: the policy's default
	startsAt time.Time     // zero: now
	oneTime  bool
}

// read checks the body's values and answers 400 listing every bad one. A
// pass is one-time unless the body says "one_time": false.
func (in passInput) read(w http.ResponseWriter, r *http.Request) (passAsked, bool) {
	var bad []string
	out := passAsked{
		lifetime: durationField("lifetime", in.Lifetime, &bad),
		startsAt: timeField("starts_at", in.StartsAt, &bad),
		oneTime:  in.OneTime == nil || *in.OneTime,
	}
	return out, badFields(w, r, bad)
}

func (h *Handler) issuePass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.issueAsked(w, r, func(in mfa.NewPass) (mfa.PassIssue, error) {
		return h.svc.IssuePass(r.Context(), req, r.PathValue("name"), in)
	})
}

// issueAsked reads the terms of a pass from the body and answers with what
// issue makes of them: staff issuing a pass and an approver answering a
// request ask in the same words.
func (h *Handler) issueAsked(w http.ResponseWriter, r *http.Request,
	issue func(mfa.NewPass) (mfa.PassIssue, error)) {
	var in passInput
	if !decode(w, r, &in) {
		return
	}
	asked, ok := in.read(w, r)
	if !ok {
		return
	}
	res, err := issue(mfa.NewPass{Lifetime: asked.lifetime, StartsAt: asked.startsAt,
		OneTime: asked.oneTime, Reason: in.Reason})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeIssue(w, r, res)
}

// selfIssuePass issues the signed-in user a one-time pass, for a device
// that has none of their factors.
func (h *Handler) selfIssuePass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Lifetime *string `json:"lifetime"`
		Note     string  `json:"note"`
	}
	if !decodeOptional(w, r, &in) {
		return
	}
	var bad []string
	lifetime := durationField("lifetime", in.Lifetime, &bad)
	if !badFields(w, r, bad) {
		return
	}
	p, err := h.svc.SelfIssuePass(r.Context(), req, lifetime, in.Note)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeIssue(w, r, mfa.PassIssue{Pass: p})
}

// writeIssue answers an issued pass with 201 and the pass, shown this
// once, or a pass that waits for a second approver with 202 and the
// request it waits in.
func writeIssue(w http.ResponseWriter, r *http.Request, res mfa.PassIssue) {
	if res.Pending != nil {
		writeJSON(w, http.StatusAccepted, pendingJSON{
			Status: "pending_approval", Request: passRequestView(*res.Pending),
		})
		return
	}
	loc := "/v1/users/" + url.PathEscape(res.Pass.User) + "/access-pass"
	if userPath(r) == "/v1/me" {
		loc = "/v1/me/access-pass"
	}
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusCreated, passView(res.Pass))
}

func (h *Handler) passStatus(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	p, err := h.svc.PassStatus(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, passView(p))
}

func (h *Handler) revokePass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	reason := r.URL.Query().Get("reason")
	if err := h.svc.RevokePass(r.Context(), req, r.PathValue("name"), reason); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// requestPass takes a locked-out user's request for a pass, made without
// signing in. Whatever the service found, the answer is the same.
func (h *Handler) requestPass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		User    string `json:"user"`
		Message string `json:"message"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := h.svc.RequestPass(r.Context(), req, in.User, in.Message); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, requestReceived)
}

func (h *Handler) listPassRequests(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, r, "limit")
	if !ok {
		return
	}
	list, err := h.svc.ListPassRequests(r.Context(), req, mfa.PassRequestQuery{
		Status: q.Get("status"), User: q.Get("user"), Limit: limit,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]passRequestJSON, len(list))
	for i, pr := range list {
		out[i] = passRequestView(pr)
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": out})
}

func (h *Handler) approvePassRequest(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.issueAsked(w, r, func(in mfa.NewPass) (mfa.PassIssue, error) {
		return h.svc.ApprovePassRequest(r.Context(), req, r.PathValue("id"), in)
	})
}

func (h *Handler) denyPassRequest(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var in struct {
		Reason string `json:"reason"`
	}
	if !decode(w, r, &in) {
		return
	}
	if err := h.svc.DenyPassRequest(r.Context(), req, r.PathValue("id"), in.Reason); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// durationField reads an optional duration such as "90m", "2h" or "3d" as
// the policy writes them. Left out, it is zero; a value that is no
// positive duration is added to bad.
func durationField(name string, s *string, bad *[]string) time.Duration {
	if s == nil {
		return 0
	}
	d, err := policy.ParseDuration(*s)
	switch {
	case err != nil:
		*bad = append(*bad, name+` must be a duration such as "90m", "2h" or "3d"`)
	case d <= 0:
		*bad = append(*bad, name+" must be positive; leave it out for the policy's default")
	}
	return d.Std()
}

// timeField reads an optional RFC 3339 time. Left out, it is zero; a value
// that is no such time is added to bad.
func timeField(name string, s *string, bad *[]string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		*bad = append(*bad, name+" must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
	}
	return t
}

// badFields answers 400 listing every problem in bad, if there is one, and
// reports whether there was none.
func badFields(w http.ResponseWriter, r *http.Request, bad []string) bool {
	if len(bad) == 0 {
		return true
	}
	writeProblem(w, r, http.StatusBadRequest, strings.Join(bad, "; "), bad)
	return false
}
