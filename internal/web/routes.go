package web

import (
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
)

// access says who may open a route.
type access int

const (
	// public routes take no session: the sign-in pages, the pass request,
	// the report link and the static files. req.Actor is anonymous.
	public access = iota
	// signedIn routes need a session; without one, a page sends the
	// visitor to the sign-in page and a script call answers 401. req.Actor
	// is the session.
	signedIn
	// staff routes need a session that mfa.StaffActor turns into a staff
	// actor (a user with roles, signed in with an everyday factor); others
	// see its refusal. req.Actor is the staff actor.
	staff
)

// operation handles one route with the service request already built.
type operation func(h *Handler, w http.ResponseWriter, r *http.Request, req mfa.Request)

// route is one page or script endpoint.
type route struct {
	pattern string // a ServeMux pattern with its method
	access  access
	// script marks the endpoints the page's script calls: they read and
	// answer JSON, never a page.
	script bool
	handle operation
}

// routes are every path the handler serves. The console's are under
// /console/, with staff access.
var routes = []route{
	{"GET /static/{file}", public, false, (*Handler).static},
	{"GET /{$}", signedIn, false, (*Handler).home},

	// Signing in and out (login.go).
	{"GET /login", public, false, (*Handler).loginPage},
	{"POST /login", public, false, (*Handler).login},
	{"POST /login/code", public, false, (*Handler).sendCode},
	{"POST /login/request-pass", public, false, (*Handler).requestPass},
	{"POST /login/passkey/begin", public, true, (*Handler).beginPasskeyLogin},
	{"POST /login/passkey/finish", public, true, (*Handler).finishPasskeyLogin},
	{"POST /logout", public, false, (*Handler).logout},

	// Security info: factors (security.go) and backup codes (codes.go).
	{"GET /security", signedIn, false, (*Handler).security},
	{"POST /security/totp", signedIn, false, (*Handler).enrollTOTP},
	{"POST /security/totp/{id}/confirm", signedIn, false, (*Handler).confirmTOTP},
	{"POST /security/keys", signedIn, false, (*Handler).keysWithoutScript},
	{"POST /security/keys/begin", signedIn, true, (*Handler).beginKey},
	{"POST /security/keys/finish", signedIn, true, (*Handler).finishKey},
	{"GET /security/factors/{kind}/{id}", signedIn, false, (*Handler).factorPage},
	{"POST /security/factors/{kind}/{id}/rename", signedIn, false, (*Handler).renameFactor},
	{"POST /security/factors/{kind}/{id}/remove", signedIn, false, (*Handler).removeFactor},
	{"GET /security/backup-codes", signedIn, false, (*Handler).codesPage},
	{"POST /security/backup-codes", signedIn, false, (*Handler).generateCodes},
	{"POST /security/backup-codes/saved", signedIn, false, (*Handler).codesSaved},

	// Access pass (pass.go), activity and "this was not me" (activity.go).
	{"GET /security/access-pass", signedIn, false, (*Handler).passPage},
	{"POST /security/access-pass", signedIn, false, (*Handler).issuePass},
	{"POST /security/access-pass/revoke", signedIn, false, (*Handler).revokePass},
	{"GET /activity", signedIn, false, (*Handler).activity},
	{"GET /activity/report", signedIn, false, (*Handler).notMePage},
	{"POST /activity/report", signedIn, false, (*Handler).notMe},

	// The link in a notice (report.go).
	{"GET /report", public, false, (*Handler).reportForm},
	{"POST /report", public, false, (*Handler).report},

	// The admin console: its start page (console.go), users and the
	// actions on them (console_users.go, console_pass.go), the pass
	// request queue (console_pass.go), policy (console_policy.go), API
	// tokens (console_tokens.go) and the audit log (console_audit.go).
	{"GET /console", staff, false, (*Handler).consoleHome},
	{"GET /console/{$}", staff, false, (*Handler).consoleHome},
	{"GET /console/users", staff, false, (*Handler).consoleUsers},
	{"GET /console/users/{name}", staff, false, (*Handler).consoleUser},
	{"POST /console/users/{name}/unlock", staff, false, (*Handler).consoleUnlock},
	{"POST /console/users/{name}/unblock", staff, false, (*Handler).consoleUnblock},
	{"POST /console/users/{name}/factors/{kind}/{id}/remove", staff, false,
		(*Handler).consoleRemoveFactor},
	{"POST /console/users/{name}/backup-codes", staff, false, (*Handler).consoleCodes},
	{"POST /console/users/{name}/access-pass", staff, false, (*Handler).consoleIssuePass},
	{"POST /console/users/{name}/access-pass/revoke", staff, false,
		(*Handler).consoleRevokePass},
	{"POST /console/users/{name}/bypass", staff, false, (*Handler).consoleGrantBypass},
	{"POST /console/users/{name}/bypass/revoke", staff, false, (*Handler).consoleRevokeBypass},
	{"GET /console/requests", staff, false, (*Handler).consoleRequests},
	{"POST /console/requests/{id}/approve", staff, false, (*Handler).consoleApprove},
	{"POST /console/requests/{id}/deny", staff, false, (*Handler).consoleDeny},
	{"GET /console/policy", staff, false, (*Handler).consolePolicy},
	{"POST /console/policy", staff, false, (*Handler).consoleSetPolicy},
	{"GET /console/groups/{name}/policy", staff, false, (*Handler).consoleGroupPolicy},
	{"POST /console/groups/{name}/policy", staff, false, (*Handler).consoleSetGroupPolicy},
	{"POST /console/groups/{name}/policy/delete", staff, false,
		(*Handler).consoleDeleteGroupPolicy},
	{"GET /console/tokens", staff, false, (*Handler).consoleTokens},
	{"POST /console/tokens", staff, false, (*Handler).consoleCreateToken},
	{"POST /console/tokens/{id}/revoke", staff, false, (*Handler).consoleRevokeToken},
	{"GET /console/audit", staff, false, (*Handler).consoleAudit},
	{"POST /console/audit/verify", staff, false, (*Handler).consoleAuditVerify},

	{"/", public, false, (*Handler).notFound},
}

// wrap builds a route's handler: it finds the session the route's access
// asks for and builds the service request.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := h.request(r, anonymous)
		if rt.access == public {
			rt.handle(h, w, r, req)
			return
		}
		actor, ok := h.session(w, r, rt.script)
		if !ok {
			return
		}
		req.Actor = actor
		if rt.access == staff {
			a, err := h.svc.StaffActor(r.Context(), actor)
			if err != nil {
				h.refuseConsole(w, r, req, err)
				return
			}
			req.Actor = a
		}
		rt.handle(h, w, r, req)
	})
}

// home sends a signed-in visitor to their security info.
func (h *Handler) home(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	http.Redirect(w, r, "/security", http.StatusSeeOther)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.render(w, r, req, http.StatusNotFound, "error.html", view{Title: "Page not found",
		Problem: "There is no page at this address."})
}
