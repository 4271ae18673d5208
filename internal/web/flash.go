package web

import "net/http"

// A flash is a one-line message shown on the next page after a change:
// the change's handler redirects (post, redirect, get) with h.redirect and
// a key of the catalogue below, the cookie carries the key, and the next
// page rendered shows the message once. Only keys travel, never text, so
// a cookie planted by someone else can show nothing but these messages.
const flashCookie = "mfad_flash"

// flash is a message of the catalogue.
type flash struct {
	Text string
	Warn bool // drawn as a warning rather than a confirmation
}

// Keys of the catalogue. The console adds its own here.
const (
	flashSignedOut    = "signed-out"
	flashSessionEnded = "session-ended"
	flashTOTPAdded    = "totp-added"
	flashKeyAdded     = "key-added"
	flashFirstFactor  = "first-factor"
	flashRenamed      = "renamed"
	flashRemoved      = "removed"
	flashCodesSaved   = "codes-saved"
	flashCodesUnsure  = "codes-unconfirmed"
	flashPassRevoked  = "pass-revoked"

	// The console's.
	flashUnlocked         = "unlocked"
	flashFraudCleared     = "fraud-cleared"
	flashFactorRemoved    = "factor-removed"
	flashStaffPassRevoked = "staff-pass-revoked"
	flashBypassGranted    = "bypass-granted"
	flashBypassRevoked    = "bypass-revoked"
	flashRequestDenied    = "request-denied"
	flashPolicySaved      = "policy-saved"
	flashGroupPolicySaved = "group-policy-saved"
	flashGroupPolicyGone  = "group-policy-removed"
	flashTokenRevoked     = "token-revoked"
)

var flashes = map[string]flash{
	flashSignedOut: {Text: "You are signed out."},
	flashSessionEnded: {Text: "Your session has ended: it was unused for a while or " +
		"reached its time limit. Sign in again.", Warn: true},
	flashTOTPAdded: {Text: "Your authenticator app is added."},
	flashKeyAdded:  {Text: "Your security key or passkey is registered."},
	flashFirstFactor: {Text: "Your new factor is ready. Now make a set of backup codes: " +
		"they get you back in if you lose your phone or key.", Warn: true},
	flashRenamed:    {Text: "The name is changed."},
	flashRemoved:    {Text: "The factor is removed."},
	flashCodesSaved: {Text: "Your backup codes are ready for when you need them."},
	flashCodesUnsure: {Text: "You did not confirm that you saved your backup codes. If you " +
		"did not, make a new set now: the old one cannot be shown again.", Warn: true},
	flashPassRevoked: {Text: "Your access pass no longer works."},

	flashUnlocked: {Text: "The account is unlocked and its failed tries are cleared. The " +
		"user is told."},
	flashFraudCleared: {Text: "The block is lifted: the user can sign in again. The user " +
		"is told."},
	flashFactorRemoved:    {Text: "The factor is removed. The user is told."},
	flashStaffPassRevoked: {Text: "The access pass no longer works. The user is told."},
	flashBypassGranted: {Text: "The bypass is granted: the user's next sign-in to an " +
		"application goes through without a code, once, until it expires. The user is told."},
	flashBypassRevoked:    {Text: "The bypass no longer works. The user is told."},
	flashRequestDenied:    {Text: "The request is denied. The user is told."},
	flashPolicySaved:      {Text: "The policy is saved and in force on every server now."},
	flashGroupPolicySaved: {Text: "The group's policy is saved and in force now."},
	flashGroupPolicyGone: {Text: "The group's own policy is removed: its members follow " +
		"the global policy again."},
	flashTokenRevoked: {Text: "The token is revoked: it stops working at once."},
}

// setFlash queues the message of key for the next page.
func (h *Handler) setFlash(w http.ResponseWriter, key string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: key, Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
}

// takeFlash returns the message queued for this page, if any, and clears
// it.
func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
	if f, ok := flashes[c.Value]; ok {
		return &f
	}
	return nil
}

// redirect answers a change with a redirect to path (303, so the browser
// gets the page) and, unless key is "", a flash message for it.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, path, key string) {
	if key != "" {
		h.setFlash(w, key)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}
