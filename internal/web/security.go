package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/qr"
)

// securityData is what the "Security info" page shows.
type securityData struct {
	Authenticators []mfa.TOTP
	Keys           []mfa.WebAuthnKey
	Strong         int              // confirmed authenticators, and keys
	Codes          *mfa.BackupCodes // nil when the user has none
	CodesLow       bool             // the policy's WarnAt or fewer remain, or the set expired
	CodesExpired   bool
	Pass           *mfa.AccessPass // a pass that works now or will
	Passkeys       passkeys
	// Factor is what the session was opened with. A session of a recovery
	// or emailed code may add factors (CanAdd, not for email) but not
	// remove them (CanRemove).
	Factor    string
	CanAdd    bool
	CanRemove bool
	// TOTPName and KeyName are names not yet taken, for the add forms.
	TOTPName string
	KeyName  string
}

// self is the session's own account as mfa.Permitted wants it. Roles do
// not matter for a session, which acts on its own account only.
func self(req mfa.Request) *mfa.User {
	return &mfa.User{ID: req.Actor.UserID, Name: req.Actor.UserName}
}

func (h *Handler) security(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.securityWith(w, r, req, http.StatusOK, "")
}

// securityWith draws the security page with status and a problem to show.
func (h *Handler) securityWith(w http.ResponseWriter, r *http.Request, req mfa.Request,
	status int, problem string) {
	d, err := h.securityInfo(r, req)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Security info"}, err)
		return
	}
	h.render(w, r, req, status, "security.html", view{Title: "Security info", Nav: "security",
		Problem: problem, Data: d})
}

func (h *Handler) securityInfo(r *http.Request, req mfa.Request) (securityData, error) {
	ctx, user := r.Context(), req.Actor.UserName
	totps, keys, err := h.factors(ctx, req)
	if err != nil {
		return securityData{}, err
	}
	strong, err := h.svc.StrongFactors(ctx, req, user)
	if err != nil {
		return securityData{}, err
	}
	d := securityData{Authenticators: totps, Keys: keys, Strong: strong,
		Passkeys: h.passkeys(r), Factor: req.Actor.Factor,
		CanAdd:    mfa.Permitted(req.Actor, mfa.ActTOTPEnroll, self(req)),
		CanRemove: mfa.Permitted(req.Actor, mfa.ActTOTPDelete, self(req)),
		TOTPName:  freeName("Authenticator", totpNames(totps)),
		KeyName:   freeName("Security key", keyNames(keys)),
	}
	codes, err := h.svc.BackupCodeStatus(ctx, req, user)
	switch {
	case err == nil:
		d.Codes = &codes
		d.CodesExpired = codes.Expired(h.clock())
		d.CodesLow = codes.Remaining <= codes.WarnAt || d.CodesExpired
	case !errors.Is(err, mfa.ErrNotFound):
		return securityData{}, err
	}
	pass, err := h.svc.PassStatus(ctx, req, user)
	switch {
	case err == nil && (pass.State == mfa.PassActive || pass.State == mfa.PassScheduled):
		d.Pass = &pass
	case err != nil && !errors.Is(err, mfa.ErrNotFound):
		return securityData{}, err
	}
	return d, nil
}

// factors returns the session user's authenticators and security keys.
func (h *Handler) factors(ctx context.Context, req mfa.Request) ([]mfa.TOTP, []mfa.WebAuthnKey,
	error) {
	totps, err := h.svc.ListTOTP(ctx, req, req.Actor.UserName)
	if err != nil {
		return nil, nil, err
	}
	keys, err := h.svc.ListWebAuthn(ctx, req, req.Actor.UserName)
	if err != nil && !errors.Is(err, mfa.ErrConflict) {
		return nil, nil, err
	}
	return totps, keys, nil
}

func totpNames(ts []mfa.TOTP) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func keyNames(ks []mfa.WebAuthnKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Name
	}
	return out
}

// freeName returns base, or "base 2", "base 3"..., the first not in taken.
func freeName(base string, taken []string) string {
	name := base
	for i := 2; slices.Contains(taken, name); i++ {
		name = base + " " + strconv.Itoa(i)
	}
	return name
}

// afterFactorAdded says where to go once a factor is added, and with which
// message: to the backup codes, with a prompt, when it is the first
// everyday factor and there is no set of codes that works.
func (h *Handler) afterFactorAdded(r *http.Request, req mfa.Request, added string) (
	string, string) {
	strong, err := h.svc.StrongFactors(r.Context(), req, req.Actor.UserName)
	if err != nil || strong != 1 {
		return "/security", added
	}
	codes, err := h.svc.BackupCodeStatus(r.Context(), req, req.Actor.UserName)
	if errors.Is(err, mfa.ErrNotFound) ||
		err == nil && (codes.Remaining == 0 || codes.Expired(h.clock())) {
		return "/security/backup-codes", flashFirstFactor
	}
	return "/security", added
}

// enrollData is what the page that adds an authenticator app shows. The
// secret is shown this once; it travels back in the confirm form only so
// that a mistyped code can be tried again with the same QR code.
type enrollData struct {
	ID     string
	Name   string
	Secret string // in groups of four, for typing
	URI    string
	QR     template.URL // a data: URL of the PNG
	Digits int
	Period int
	// Algorithm is shown only when it is not the SHA1 every app knows.
	Algorithm string
}

func (h *Handler) enrollTOTP(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	e, err := h.svc.EnrollTOTP(r.Context(), req, req.Actor.UserName, mfa.NewTOTP{Name: name})
	if err != nil {
		d, derr := h.securityInfo(r, req)
		if derr != nil {
			h.fail(w, r, req, "error.html", view{Title: "Security info"}, derr)
			return
		}
		d.TOTPName = name
		h.failField(w, r, req, "security.html", view{Title: "Security info", Nav: "security",
			Data: d}, fieldFor(err, "totp-name"), err)
		return
	}
	d, err := enrollment(e.ID, e.Name, e.Secret, e.URI)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Add an authenticator app"}, err)
		return
	}
	h.render(w, r, req, http.StatusOK, "totp_enroll.html", view{
		Title: "Add an authenticator app", Nav: "security", Data: d})
}

// fieldFor returns field when err is a problem with the input, so that
// the message sits by the field, else "" for the top of the page.
func fieldFor(err error, field string) string {
	if errors.Is(err, mfa.ErrInvalid) || errors.Is(err, mfa.ErrConflict) {
		return field
	}
	return ""
}

// enrollment builds the enrolment page from the secret and its URI.
func enrollment(id, name, secret, uri string) (enrollData, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || len(uri) > 1000 {
		return enrollData{}, &mfa.Error{Kind: mfa.ErrInvalid,
			Message: "the enrolment could not be read back; start again"}
	}
	png, err := qr.PNG(uri, 256)
	if err != nil {
		return enrollData{}, fmt.Errorf("qr code: %w", err)
	}
	q := u.Query()
	d := enrollData{ID: id, Name: name, Secret: groups(secret), URI: uri,
		QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		Digits: 6, Period: 30}
	if n, err := strconv.Atoi(q.Get("digits")); err == nil {
		d.Digits = n
	}
	if n, err := strconv.Atoi(q.Get("period")); err == nil {
		d.Period = n
	}
	if a := q.Get("algorithm"); a != "" && !strings.EqualFold(a, "SHA1") {
		d.Algorithm = a
	}
	return d, nil
}

// groups writes a secret in groups of four, as apps accept it typed.
func groups(s string) string {
	s = strings.ReplaceAll(s, " ", "")
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	f := r.PostForm
	id := r.PathValue("id")
	_, err := h.svc.ConfirmTOTP(r.Context(), req, req.Actor.UserName, id, f.Get("code"))
	if err == nil {
		next, key := h.afterFactorAdded(r, req, flashTOTPAdded)
		h.redirect(w, r, next, key)
		return
	}
	if !errors.Is(err, mfa.ErrInvalid) {
		h.fail(w, r, req, "error.html", view{Title: "Add an authenticator app"}, err)
		return
	}
	d, derr := enrollment(id, f.Get("name"), f.Get("secret"), f.Get("uri"))
	if derr != nil {
		h.fail(w, r, req, "error.html", view{Title: "Add an authenticator app"}, derr)
		return
	}
	h.failField(w, r, req, "totp_enroll.html", view{Title: "Add an authenticator app",
		Nav: "security", Data: d}, "code", err)
}

// factorData is what the page of one authenticator or key shows.
type factorData struct {
	Kind      string // "totp" or "webauthn"
	ID        string
	Name      string
	Passkey   bool
	Confirmed bool
	CreatedAt time.Time
	LastUsed  time.Time
	// Last says that removing it leaves no everyday factor, only backup
	// codes and the helpdesk.
	Last      bool
	CanRename bool
	CanRemove bool
	// SignInAgain is where a fresh sign-in starts that comes back here,
	// for removing the last factor, and Freshness how recent that sign-in
	// must be, by policy.
	SignInAgain string
	Freshness   time.Duration
}

// factor finds the session user's factor of kind and id.
func (h *Handler) factor(r *http.Request, req mfa.Request) (factorData, error) {
	kind, id := r.PathValue("kind"), r.PathValue("id")
	totps, keys, err := h.factors(r.Context(), req)
	if err != nil {
		return factorData{}, err
	}
	back := "/security/factors/" + url.PathEscape(kind) + "/" + url.PathEscape(id)
	d := factorData{Kind: kind, ID: id, SignInAgain: "/login?next=" + url.QueryEscape(back)}
	found := false
	switch kind {
	case "totp":
		for _, t := range totps {
			if t.ID == id {
				d.Name, d.Confirmed, d.CreatedAt, d.LastUsed = t.Name, t.Confirmed, t.CreatedAt,
					t.LastUsedAt
				found = true
			}
		}
		d.CanRename = mfa.Permitted(req.Actor, mfa.ActTOTPEnroll, self(req))
		d.CanRemove = mfa.Permitted(req.Actor, mfa.ActTOTPDelete, self(req))
	case "webauthn":
		for _, k := range keys {
			if k.ID == id {
				d.Name, d.Passkey, d.Confirmed, d.CreatedAt, d.LastUsed = k.Name, k.Passkey, true,
					k.CreatedAt, k.LastUsedAt
				found = true
			}
		}
		d.CanRename = mfa.Permitted(req.Actor, mfa.ActKeyEnroll, self(req))
		d.CanRemove = mfa.Permitted(req.Actor, mfa.ActKeyDelete, self(req))
	}
	if !found {
		return factorData{}, &mfa.Error{Kind: mfa.ErrNotFound,
			Message: "you have no such authenticator or security key"}
	}
	strong, err := h.svc.StrongFactors(r.Context(), req, req.Actor.UserName)
	if err != nil {
		return factorData{}, err
	}
	d.Last = d.Confirmed && strong == 1
	if d.Last {
		limits, err := h.svc.Limits(r.Context(), req)
		if err != nil {
			return factorData{}, err
		}
		d.Freshness = limits.Freshness
	}
	return d, nil
}

func (h *Handler) factorPage(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	d, err := h.factor(r, req)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Factor"}, err)
		return
	}
	h.render(w, r, req, http.StatusOK, "factor.html", view{Title: d.Name, Nav: "security",
		Data: d})
}

func (h *Handler) renameFactor(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	d, err := h.factor(r, req)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Factor"}, err)
		return
	}
	name := r.PostForm.Get("name")
	err = h.svc.RenameFactor(r.Context(), req, req.Actor.UserName, d.Kind, d.ID, name)
	if err != nil {
		h.failField(w, r, req, "factor.html", view{Title: d.Name, Nav: "security", Data: d},
			fieldFor(err, "name"), err)
		return
	}
	h.redirect(w, r, "/security", flashRenamed)
}

func (h *Handler) removeFactor(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	d, err := h.factor(r, req)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Factor"}, err)
		return
	}
	if d.Kind == "totp" {
		err = h.svc.DeleteTOTP(r.Context(), req, req.Actor.UserName, d.ID)
	} else {
		err = h.svc.DeleteWebAuthn(r.Context(), req, req.Actor.UserName, d.ID)
	}
	if err != nil {
		h.fail(w, r, req, "factor.html", view{Title: d.Name, Nav: "security", Data: d}, err)
		return
	}
	h.redirect(w, r, "/security", flashRemoved)
}
