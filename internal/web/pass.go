package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

// passData is what the access pass page shows.
type passData struct {
	Current *mfa.AccessPass // the pass the user has, without the pass itself
	New     *mfa.AccessPass // the pass just issued: shown this once
	// Lifetimes are the choices of the form; the service bounds them by
	// policy and says so when one is outside it.
	Lifetimes []lifetime
	Lifetime  string
	Note      string
	// Everyday says the session was opened with an authenticator or key,
	// which self-issued passes need; the page says so beforehand.
	Everyday bool
	// Limits are what the user's policy allows: whether they may issue
	// themselves a pass at all, and for how long at most.
	Limits mfa.SelfServiceLimits
}

type lifetime struct {
	Value string
	Label string
}

// selfLifetimes are the lifetimes the form offers, up to the policy's
// maximum for passes people issue themselves.
var selfLifetimes = []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour,
	2 * time.Hour, 4 * time.Hour, 8 * time.Hour}

func lifetimesUpTo(most time.Duration) []lifetime {
	out := []lifetime{{"", "As long as allowed (at most " + duration(most) + ")"}}
	for _, d := range selfLifetimes {
		if d <= most {
			out = append(out, lifetime{policy.Duration(d).String(), duration(d)})
		}
	}
	return out
}

func (h *Handler) passData(r *http.Request, req mfa.Request) (passData, error) {
	limits, err := h.svc.Limits(r.Context(), req)
	if err != nil {
		return passData{}, err
	}
	d := passData{Lifetimes: lifetimesUpTo(limits.PassMaxLifetime), Limits: limits,
		Everyday: mfa.Permitted(req.Actor, mfa.ActPassIssue, self(req))}
	p, err := h.svc.PassStatus(r.Context(), req, req.Actor.UserName)
	switch {
	case err == nil:
		d.Current = &p
	case !errors.Is(err, mfa.ErrNotFound):
		return passData{}, err
	}
	return d, nil
}

func (h *Handler) passPage(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	d, err := h.passData(r, req)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Access pass"}, err)
		return
	}
	h.render(w, r, req, http.StatusOK, "pass.html", view{Title: "Access pass", Nav: "pass",
		Data: d})
}

// issuePass issues the user a one-time pass for a device without their
// factors. Where policy or the session does not allow it, the service's
// refusal says why, and the page shows it.
func (h *Handler) issuePass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	d, err := h.passData(r, req)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Access pass"}, err)
		return
	}
	d.Lifetime, d.Note = r.PostForm.Get("lifetime"), r.PostForm.Get("note")
	v := view{Title: "Access pass", Nav: "pass", Data: d}
	var life time.Duration
	if d.Lifetime != "" {
		pd, perr := policy.ParseDuration(d.Lifetime)
		if life = pd.Std(); perr != nil || life <= 0 {
			v.Errors = map[string]string{"lifetime": "Choose one of the lifetimes offered."}
			h.render(w, r, req, http.StatusBadRequest, "pass.html", v)
			return
		}
	}
	p, err := h.svc.SelfIssuePass(r.Context(), req, life, d.Note)
	if err != nil {
		h.fail(w, r, req, "pass.html", v, err)
		return
	}
	d.New, d.Current, d.Note = &p, &p, ""
	v.Data = d
	h.render(w, r, req, http.StatusOK, "pass.html", v)
}

func (h *Handler) revokePass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	err := h.svc.RevokePass(r.Context(), req, req.Actor.UserName, "revoked by the user")
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Access pass"}, err)
		return
	}
	h.redirect(w, r, "/security/access-pass", flashPassRevoked)
}
