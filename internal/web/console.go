package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mfad/mfad/internal/mfa"
)

// The admin console is the pages under /console, for staff: people whose
// account holds a role, signed in with an authenticator app or a security
// key. Its routes have staff access, so their req.Actor is the staff actor
// mfa.StaffActor made of the session, with the user's roles read again on
// every request. Every action goes through the service, which refuses what
// the role or tiering does not allow (SECURITY.md 8); the pages also hide
// what the viewer may not do, with mfa.Permitted, so that nobody is shown
// a button that can only fail. The files:
//
//	console.go          the start page, the refusal page, shared helpers
//	console_users.go    search, a user's page and the actions on it
//	console_pass.go     access passes (the read-out page), the request queue
//	console_policy.go   the policy editor and its table of bounds
//	console_tokens.go   API tokens
//	console_audit.go    the audit log and its chain check

// consoleView is the view of a console page.
func consoleView(title, nav string, data any) view {
	return view{Title: title, Nav: nav, Console: true, Data: data}
}

// holdsRole reports whether the signed-in user holds a staff role, for the
// navigation's console link. A session opened with a backup code still
// gets the link: the console then explains why it stays shut.
func (h *Handler) holdsRole(r *http.Request, req mfa.Request) bool {
	if req.Actor.Kind == mfa.ActorStaff {
		return true
	}
	if req.Actor.Kind != mfa.ActorSession {
		return false
	}
	u, err := h.svc.GetUser(r.Context(), req, req.Actor.UserName)
	if err != nil {
		h.log.Debug("roles for the navigation", "user", req.Actor.UserName,
			"request_id", req.RequestID, "err", err)
		return false
	}
	return len(u.Roles) > 0
}

// refusedData is what the page shows a session the console stays shut to.
type refusedData struct {
	// Limited says the session was opened with a recovery or emailed code:
	// signing in again with an everyday factor opens the console.
	Limited     bool
	Factor      string
	SignInAgain string
}

// refuseConsole answers a console page for a session that mfa.StaffActor
// refused: no role, or a sign-in with a factor that opens no staff powers.
func (h *Handler) refuseConsole(w http.ResponseWriter, r *http.Request, req mfa.Request,
	err error) {
	var e *mfa.Error
	if !errors.As(err, &e) || !errors.Is(err, mfa.ErrForbidden) {
		h.fail(w, r, req, "error.html", view{Title: "Something went wrong"}, err)
		return
	}
	class := mfa.FactorClass(req.Actor.Factor)
	d := refusedData{Limited: class == "recovery" || class == "out_of_band",
		Factor: req.Actor.Factor, SignInAgain: "/login"}
	if r.Method == http.MethodGet {
		d.SignInAgain += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	h.render(w, r, req, http.StatusForbidden, "console_refused.html", view{
		Title: "The console is not open to this session", Problem: sentence(e.Message),
		Data: d})
}

// consoleSection is one entry of the console's start page.
type consoleSection struct {
	Path, Name, About string
}

var consoleSections = []struct {
	act mfa.Action
	consoleSection
}{
	{mfa.ActUserRead, consoleSection{"/console/users", "Users", "Find a user; see their " +
		"factors, backup codes, lock and recent activity; unlock them, issue an access pass " +
		"or a bypass, as your role allows."}},
	{mfa.ActPassQueue, consoleSection{"/console/requests", "Pass requests", "Requests for " +
		"an access pass from people who are locked out, and passes waiting for a second admin."}},
	{mfa.ActPolicyRead, consoleSection{"/console/policy", "Policy", "The policy in force, " +
		"for everyone and per group, with the bounds of every setting."}},
	{mfa.ActTokenManage, consoleSection{"/console/tokens", "API tokens", "Tokens for " +
		"applications and scripts: make one, see them all, revoke one."}},
	{mfa.ActAuditRead, consoleSection{"/console/audit", "Audit log", "Every sign-in, " +
		"change and staff action, with filters, and the check of the log's chain."}},
}

// homeData is what the console's start page shows.
type homeData struct {
	Roles    []mfa.Role
	Sections []consoleSection
}

func (h *Handler) consoleHome(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	d := homeData{Roles: req.Actor.Roles}
	for _, s := range consoleSections {
		if mfa.Permitted(req.Actor, s.act, nil) {
			d.Sections = append(d.Sections, s.consoleSection)
		}
	}
	h.render(w, r, req, http.StatusOK, "console.html", consoleView("Console", "", d))
}

// may is the template's mfa.Permitted for an action on no user. An action
// the service does not know is a mistake in a template, caught by the
// tests that draw every page.
func may(a mfa.Actor, act string) bool {
	if !slices.Contains(mfa.Actions(), mfa.Action(act)) {
		panic("web: no such action " + act)
	}
	return mfa.Permitted(a, mfa.Action(act), nil)
}

// placement says which field of a form a service problem belongs to: the
// first rule whose prefix the problem starts with.
type placement struct {
	prefix string
	field  string
}

// failForm draws page name again after the service refused an action
// sent from one of its forms. The problems of an ErrInvalid error go by
// the fields they are about (v.Errors), each problem that no rule places
// by field fallback; any other refusal, such as a role or tiering one, is
// the page's problem, with the status its kind maps to.
//
// NOTE: the service says which field a problem is about only in words, so
// the problem's first words decide; a problem placed wrong is still shown,
// just by another field of the same form.
func (h *Handler) failForm(w http.ResponseWriter, r *http.Request, req mfa.Request, name string,
	v view, err error, rules []placement, fallback string) {
	var e *mfa.Error
	if !errors.As(err, &e) || !errors.Is(err, mfa.ErrInvalid) {
		h.fail(w, r, req, name, v, err)
		return
	}
	problems := e.Problems
	if len(problems) == 0 {
		problems = []string{e.Message}
	}
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	for _, p := range problems {
		field := fallback
		for _, rule := range rules {
			if strings.HasPrefix(p, rule.prefix) {
				field = rule.field
				break
			}
		}
		if v.Errors[field] != "" {
			v.Errors[field] += " "
		}
		v.Errors[field] += sentence(p)
	}
	h.render(w, r, req, statusOf(e), name, v)
}

// reasonRequired is the message by a reason left empty where the service
// takes it as optional but the console does not (SECURITY.md 8: every
// staff action has a reason).
const reasonRequired = "Give a reason: it goes into the audit log with your name."
