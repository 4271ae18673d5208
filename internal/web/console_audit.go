package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/mfa"
)

// auditLimit is how many events one page of the audit log lists.
const auditLimit = 50

// maxBack bounds the pages the newer link can walk back through; beyond,
// it goes to the newest page.
const maxBack = 30

// auditData is what the audit log page shows.
type auditData struct {
	// The filters as typed.
	User, Action, Since, Until string
	Events                     []audit.Event
	// Older and Newer are the addresses of the pages around this one, ""
	// when there is none; Newest when this is not the newest page.
	Older, Newer, Newest string
	Chain                *mfa.AuditReport // nil until checked
	Actions              []string         // suggestions for the action filter
	ReadUsers            bool             // subjects link to their user page
}

// auditPage is where a page of the log starts: before a sequence number
// (0 for the newest) and the starts of the newer pages the viewer came
// through, newest first, so that "newer" can go back.
type auditPage struct {
	before int64
	back   []int64
}

func readAuditPage(q url.Values) auditPage {
	var p auditPage
	p.before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	for _, s := range strings.Split(q.Get("back"), ".") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			p.back = append(p.back, n)
		}
	}
	if len(p.back) > maxBack {
		p.back = p.back[len(p.back)-maxBack:]
	}
	return p
}

// link is the address of the page that starts at before, with d's filters
// and back to walk newer pages.
func (d auditData) link(before int64, back []int64) string {
	q := url.Values{}
	for k, v := range map[string]string{"user": d.User, "action": d.Action,
		"since": d.Since, "until": d.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if len(back) > 0 {
		parts := make([]string, len(back))
		for i, b := range back {
			parts[i] = strconv.FormatInt(b, 10)
		}
		q.Set("back", strings.Join(parts, "."))
	}
	if len(q) == 0 {
		return "/console/audit"
	}
	return "/console/audit?" + q.Encode()
}

// auditRules place the service's problems with the filters.
var auditRules = []placement{
	{"until", "audit-until"},
	{"action", "audit-action"},
}

func (h *Handler) consoleAudit(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.auditLog(w, r, req, r.URL.Query(), false)
}

// consoleAuditVerify shows the same page with the chain checked. The check
// reads every event of the log, so it runs when someone asks, not on every
// view, and each run is itself audited.
func (h *Handler) consoleAuditVerify(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	h.auditLog(w, r, req, r.PostForm, true)
}

// auditLog draws a page of the log filtered by q, with the chain checked
// when check is set.
func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, req mfa.Request, q url.Values,
	check bool) {
	d := auditData{User: strings.TrimSpace(q.Get("user")), Action: strings.TrimSpace(q.Get("action")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until")),
		Actions: auditActions, ReadUsers: mfa.Permitted(req.Actor, mfa.ActUserRead, nil)}
	v := consoleView("Audit log", "audit", d)
	page := readAuditPage(q)
	aq := mfa.AuditQuery{User: d.User, Action: d.Action, Before: page.before, Limit: auditLimit}
	var err error
	if d.Since != "" {
		if aq.Since, _, err = parseWhen(d.Since); err != nil {
			h.failForm(w, r, req, "console_audit.html", v, err, nil, "audit-since")
			return
		}
	}
	if d.Until != "" {
		var day bool
		if aq.Until, day, err = parseWhen(d.Until); err != nil {
			h.failForm(w, r, req, "console_audit.html", v, err, nil, "audit-until")
			return
		}
		if day {
			aq.Until = aq.Until.Add(24 * time.Hour) // the whole day
		}
	}
	events, err := h.svc.ListAudit(r.Context(), req, aq)
	switch {
	case errors.Is(err, mfa.ErrInvalid):
		h.failForm(w, r, req, "console_audit.html", v, err, auditRules, "audit-filter")
		return
	case err != nil:
		h.fail(w, r, req, "error.html", consoleView("Audit log", "audit", nil), err)
		return
	}
	if check {
		chain, err := h.svc.VerifyAudit(r.Context(), req)
		if err != nil {
			h.fail(w, r, req, "console_audit.html", v, err)
			return
		}
		d.Chain = &chain
	}
	d.Events = events
	d.paging(page)
	v.Data = d
	h.render(w, r, req, http.StatusOK, "console_audit.html", v)
}

// paging fills in the links to the pages around page.
func (d *auditData) paging(page auditPage) {
	if len(d.Events) == auditLimit {
		d.Older = d.link(d.Events[len(d.Events)-1].Seq, append(slices.Clone(page.back),
			page.before))
	}
	if page.before == 0 {
		return
	}
	d.Newest = d.link(0, nil)
	if n := len(page.back); n > 0 {
		d.Newer = d.link(page.back[n-1], page.back[:n-1])
	} else {
		d.Newer = d.Newest
	}
}

// auditActions are suggestions for the action filter: the actions staff
// look for most.
var auditActions = []string{
	"verify", "session.create", "session.end", "user.create", "user.update", "user.roles",
	"user.lock", "user.unlock", "user.disable", "user.enable", "totp.confirm", "totp.delete",
	"webauthn.enroll", "webauthn.delete", "factor.remove", "backup_codes.generate",
	"access_pass.", "access_pass.issue", "access_pass.revoke", "access_pass.request",
	"bypass.grant", "bypass.revoke", "fraud.report", "fraud.clear", "policy.update",
	"policy.delete", "token.create", "token.revoke", "audit.verify",
}
