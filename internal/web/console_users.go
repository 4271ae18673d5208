package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

// searchLimit is how many users one page of search results lists.
const searchLimit = 50

// usersData is what the user search page shows.
type usersData struct {
	Query string
	Users []mfa.User
	More  string // the next page's address, "" when this is the last
}

func (h *Handler) consoleUsers(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	q := r.URL.Query()
	d := usersData{Query: strings.TrimSpace(q.Get("q"))}
	users, err := h.svc.ListUsers(r.Context(), req, mfa.UserQuery{Search: d.Query,
		After: q.Get("after"), Limit: searchLimit})
	if err != nil {
		h.fail(w, r, req, "error.html", consoleView("Users", "users", nil), err)
		return
	}
	d.Users = users
	if len(users) == searchLimit {
		d.More = "/console/users?" + url.Values{"q": {d.Query},
			"after": {users[len(users)-1].Name}}.Encode()
	}
	h.render(w, r, req, http.StatusOK, "console_users.html", consoleView("Users", "users", d))
}

// userActivityLimit is how many events a user's page lists.
const userActivityLimit = 20

// userData is what a user's page shows. It holds factors' metadata only:
// nothing the service keeps secret can reach it.
type userData struct {
	User         mfa.User
	TOTPs        []mfa.TOTP
	Keys         []mfa.WebAuthnKey
	Codes        *mfa.BackupCodes // nil when the user has none
	CodesLow     bool
	CodesExpired bool
	Pass         *mfa.AccessPass // the user's latest pass, nil when none
	PassLive     bool            // it works now or will
	Bypass       *mfa.Bypass
	Activity     []audit.Event
	// PassPolicy and BypassMax are the user's policy, for viewers who may
	// read policy; otherwise nil and 0, and the service's refusal says
	// what the bounds are.
	PassPolicy *policy.AccessPass
	BypassMax  time.Duration
	Lifetimes  []choice
	Durations  []choice
	// Form holds what was typed into the page's forms, by field id, when
	// the page is drawn again after a refusal.
	Form map[string]string
	May  userPermissions
	// HandsOff says why the viewer may look at this account but not act
	// on it, or "".
	HandsOff string
}

// userPermissions are what the viewer may do on the user's page, as the
// service would decide.
type userPermissions struct {
	Unlock, RemoveTOTP, RemoveKey, MakeCodes, IssuePass, RevokePass bool
	GrantBypass, RevokeBypass, ClearFraud, ReadAudit                bool
}

// choice is an option of a select.
type choice struct {
	Value string
	Label string
}

// userPath is the address of a user's page.
func userPath(name string) string { return "/console/users/" + url.PathEscape(name) }

func (h *Handler) consoleUser(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	d, err := h.userData(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, req, "error.html", consoleView("User", "users", nil), err)
		return
	}
	h.render(w, r, req, http.StatusOK, "console_user.html",
		consoleView(d.User.Name, "users", d))
}

// userData gathers a user's page. The reads each need the viewer's role;
// a role that may look users up may read every part.
func (h *Handler) userData(ctx context.Context, req mfa.Request, name string) (userData, error) {
	u, err := h.svc.GetUser(ctx, req, name)
	if err != nil {
		return userData{}, err
	}
	d := userData{User: u, Form: map[string]string{}, May: permissions(req.Actor, &u)}
	switch {
	case u.ID == req.Actor.UserID:
		d.HandsOff = "This is your own account. Staff act only on other people's accounts; " +
			"manage your own factors from your security info."
	case !d.May.Unlock:
		d.HandsOff = "This account holds a role at or above yours, so your role lets you " +
			"look at it but not act on it. Ask an admin."
	}
	if d.TOTPs, err = h.svc.ListTOTP(ctx, req, u.Name); err != nil {
		return userData{}, err
	}
	d.Keys, err = h.svc.ListWebAuthn(ctx, req, u.Name)
	if err != nil && !errors.Is(err, mfa.ErrConflict) {
		return userData{}, err
	}
	if err := h.userRecovery(ctx, req, &d); err != nil {
		return userData{}, err
	}
	if d.Activity, err = h.svc.UserActivity(ctx, req, u.Name, userActivityLimit); err != nil {
		return userData{}, err
	}
	if mfa.Permitted(req.Actor, mfa.ActPolicyRead, nil) {
		pol, err := h.svc.UserPolicy(ctx, req, u.Name)
		if err != nil {
			return userData{}, err
		}
		d.PassPolicy, d.BypassMax = &pol.AccessPass, pol.Bypass.MaxDuration.Std()
	}
	d.Lifetimes, d.Durations = passLifetimes(d.PassPolicy), bypassDurations(d.BypassMax)
	return d, nil
}

// userRecovery fills in the user's backup codes, pass and bypass.
func (h *Handler) userRecovery(ctx context.Context, req mfa.Request, d *userData) error {
	name, now := d.User.Name, h.clock()
	codes, err := h.svc.BackupCodeStatus(ctx, req, name)
	switch {
	case err == nil:
		d.Codes = &codes
		d.CodesExpired = codes.Expired(now)
		d.CodesLow = codes.Remaining <= codes.WarnAt || d.CodesExpired
	case !errors.Is(err, mfa.ErrNotFound):
		return err
	}
	pass, err := h.svc.PassStatus(ctx, req, name)
	switch {
	case err == nil:
		d.Pass = &pass
		d.PassLive = pass.State == mfa.PassActive || pass.State == mfa.PassScheduled
	case !errors.Is(err, mfa.ErrNotFound):
		return err
	}
	bp, err := h.svc.BypassStatus(ctx, req, name)
	switch {
	case err == nil:
		d.Bypass = &bp
	case !errors.Is(err, mfa.ErrNotFound):
		return err
	}
	return nil
}

func permissions(a mfa.Actor, u *mfa.User) userPermissions {
	may := func(act mfa.Action) bool { return mfa.Permitted(a, act, u) }
	return userPermissions{
		Unlock: may(mfa.ActUnlock), RemoveTOTP: may(mfa.ActTOTPDelete),
		RemoveKey: may(mfa.ActKeyDelete), MakeCodes: may(mfa.ActCodesMake),
		IssuePass: may(mfa.ActPassIssue), RevokePass: may(mfa.ActPassRevoke),
		GrantBypass: may(mfa.ActBypassGrant), RevokeBypass: may(mfa.ActBypassEnd),
		ClearFraud: may(mfa.ActFraudClear), ReadAudit: mfa.Permitted(a, mfa.ActAuditRead, nil),
	}
}

// passLifetimeChoices are the lifetimes the issue form offers, within the
// user's policy when the viewer may read it.
var passLifetimeChoices = []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour,
	2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour,
	7 * 24 * time.Hour}

func passLifetimes(a *policy.AccessPass) []choice {
	out := []choice{{"", "The policy's default"}}
	if a != nil {
		out[0].Label += " (" + duration(a.DefaultLifetime) + ")"
	}
	for _, d := range passLifetimeChoices {
		if a == nil || d >= a.MinLifetime.Std() && d <= a.MaxLifetime.Std() {
			out = append(out, choice{policy.Duration(d).String(), duration(d)})
		}
	}
	return out
}

var bypassChoices = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}

func bypassDurations(most time.Duration) []choice {
	out := []choice{{"", "5 minutes, or the policy's maximum if shorter"}}
	for _, d := range bypassChoices {
		if most == 0 || d <= most {
			out = append(out, choice{policy.Duration(d).String(), duration(d)})
		}
	}
	return out
}

// userFail draws the user's page again after an action was refused, with
// form, the fields as typed, kept.
func (h *Handler) userFail(w http.ResponseWriter, r *http.Request, req mfa.Request,
	form map[string]string, err error, rules []placement, fallback string) {
	d, derr := h.userData(r.Context(), req, r.PathValue("name"))
	if derr != nil {
		h.fail(w, r, req, "error.html", consoleView("User", "users", nil), derr)
		return
	}
	for k, v := range form {
		d.Form[k] = v
	}
	h.failForm(w, r, req, "console_user.html", consoleView(d.User.Name, "users", d), err,
		rules, fallback)
}

// needReason is the error of a reason left empty where the service takes
// it as optional but the console does not.
var needReason = &mfa.Error{Kind: mfa.ErrInvalid, Message: reasonRequired,
	Problems: []string{reasonRequired}}

// reasonOf returns the form's reason, trimmed.
func reasonOf(r *http.Request) string { return strings.TrimSpace(r.PostForm.Get("reason")) }

func (h *Handler) consoleUnlock(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	name, reason := r.PathValue("name"), r.PostForm.Get("reason")
	if _, err := h.svc.Unlock(r.Context(), req, name, reason); err != nil {
		h.userFail(w, r, req, map[string]string{"unlock-reason": reason}, err, nil,
			"unlock-reason")
		return
	}
	h.redirect(w, r, userPath(name), flashUnlocked)
}

func (h *Handler) consoleUnblock(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	name, reason := r.PathValue("name"), r.PostForm.Get("reason")
	if err := h.svc.ClearFraud(r.Context(), req, name, reason); err != nil {
		h.userFail(w, r, req, map[string]string{"unblock-reason": reason}, err, nil,
			"unblock-reason")
		return
	}
	h.redirect(w, r, userPath(name), flashFraudCleared)
}

func (h *Handler) consoleRemoveFactor(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	name, kind, id := r.PathValue("name"), r.PathValue("kind"), r.PathValue("id")
	reason := r.PostForm.Get("reason")
	field := "remove-reason-" + kind + "-" + id
	if err := h.svc.RemoveFactor(r.Context(), req, name, kind, id, reason); err != nil {
		h.userFail(w, r, req, map[string]string{field: reason}, err, nil, field)
		return
	}
	h.redirect(w, r, userPath(name), flashFactorRemoved)
}

func (h *Handler) consoleRevokePass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	name, reason := r.PathValue("name"), reasonOf(r)
	form := map[string]string{"revoke-pass-reason": reason}
	err := error(needReason)
	if reason != "" {
		err = h.svc.RevokePass(r.Context(), req, name, reason)
	}
	if err != nil {
		h.userFail(w, r, req, form, err, nil, "revoke-pass-reason")
		return
	}
	h.redirect(w, r, userPath(name), flashStaffPassRevoked)
}

func (h *Handler) consoleRevokeBypass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	name, reason := r.PathValue("name"), reasonOf(r)
	form := map[string]string{"revoke-bypass-reason": reason}
	err := error(needReason)
	if reason != "" {
		err = h.svc.RevokeBypass(r.Context(), req, name, reason)
	}
	if err != nil {
		h.userFail(w, r, req, form, err, nil, "revoke-bypass-reason")
		return
	}
	h.redirect(w, r, userPath(name), flashBypassRevoked)
}

// consoleCodes makes a new set of backup codes for the user, with the
// reason in its audit event, and shows it, once, with the downloads the
// portal offers.
func (h *Handler) consoleCodes(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	name, reason := r.PathValue("name"), reasonOf(r)
	if reason == "" || len(reason) > 500 {
		h.userFail(w, r, req, map[string]string{"codes-reason": reason}, needReason, nil,
			"codes-reason")
		return
	}
	set, err := h.svc.GenerateBackupCodesFor(r.Context(), req, name, reason)
	if err != nil {
		h.userFail(w, r, req, map[string]string{"codes-reason": reason}, err, nil,
			"codes-reason")
		return
	}
	d, err := newCodes(set)
	if err != nil {
		h.fail(w, r, req, "error.html", consoleView("Backup codes", "users", nil), err)
		return
	}
	h.render(w, r, req, http.StatusOK, "console_codes.html",
		consoleView("New backup codes for "+set.User, "users", d))
}

// removeFactorData is what the "remove-factor" template of a user's page
// draws: the form that removes one factor, with its reason.
type removeFactorData struct {
	Path, Kind, ID, Name string
	Field, Value         string // the reason field's id and what was typed
	Error                *fieldMessage
}

// removeFactorInput builds the remove form of factor kind/id, called name,
// on the user page v at path.
func removeFactorInput(v view, path, kind, id, name string) removeFactorData {
	field := "remove-reason-" + kind + "-" + id
	d := removeFactorData{Path: path, Kind: kind, ID: id, Name: name, Field: field,
		Error: fieldError(v.Errors, field)}
	if u, ok := v.Data.(userData); ok {
		d.Value = u.Form[field]
	}
	return d
}
