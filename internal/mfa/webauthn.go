package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store"
)

// Security keys and passkeys (WebAuthn Level 3). mfad is the relying party:
// it sends a challenge, the browser has the authenticator sign it, and mfad
// checks the signature against the public key it kept at registration. The
// challenge is kept server-side and works once (one conditional update in
// the database, so once across replicas too), the origin and relying-party
// ID must match the configured ones, and a signature counter that does not
// grow marks a cloned authenticator and is refused.

// WebAuthnConfig names the relying party. RPID is the domain passkeys are
// bound to (such as "mfa.example.com" or "example.com"); Origins are the
// exact origins pages are served from ("https://mfa.example.com").
type WebAuthnConfig struct {
	RPID    string
	RPName  string
	Origins []string
}

// ceremonyLifetime is how long a browser has to answer a challenge.
const ceremonyLifetime = 5 * time.Minute

// Kinds of ceremony.
const (
	ceremonyRegister = "register"
	ceremonyLogin    = "login"
)

// errNoWebAuthn answers every WebAuthn call on a server that has no
// relying party configured.
var errNoWebAuthn = conflict("security keys and passkeys are not configured on this server")

// newRelyingParty builds the library's relying party from cfg.
func newRelyingParty(cfg *WebAuthnConfig, issuer string) (*webauthn.WebAuthn, error) {
	if cfg == nil || cfg.RPID == "" {
		return nil, nil
	}
	name := cfg.RPName
	if name == "" {
		name = issuer
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: name, RPOrigins: cfg.Origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyLifetime},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyLifetime},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: webauthn: %w", err)
	}
	return wa, nil
}

// waUser is a user as the library sees one. The user handle is mfad's
// random user ID, so it names nobody.
type waUser struct {
	u     store.User
	creds []webauthn.Credential
}

func (w waUser) WebAuthnID() []byte   { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string { return w.u.Name }
func (w waUser) WebAuthnDisplayName() string {
	if w.u.DisplayName != "" {
		return w.u.DisplayName
	}
	return w.u.Name
}
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// loadWAUser reads u's credentials in the library's form.
func loadWAUser(ctx context.Context, r store.Reader, u store.User) (waUser, []store.WebAuthnCredential,
	error) {
	rows, err := r.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return waUser{}, nil, fmt.Errorf("load security keys: %w", err)
	}
	w := waUser{u: u}
	for _, row := range rows {
		var c webauthn.Credential
		if err := json.Unmarshal(row.Data, &c); err != nil {
			return waUser{}, nil, fmt.Errorf("security key %s: %w", row.ID, err)
		}
		w.creds = append(w.creds, c)
	}
	return w, rows, nil
}

// Ceremony is a WebAuthn challenge on its way to the browser: its ID, to
// send back with the answer, and the options to pass to
// navigator.credentials.create or .get, as JSON.
type Ceremony struct {
	ID      string
	Options json.RawMessage
}

// ceremonyData is what a stored ceremony holds besides the library's
// session: the name the new credential is to have.
type ceremonyData struct {
	Session webauthn.SessionData `json:"session"`
	Name    string               `json:"name,omitempty"`
}

// WebAuthnKey is a security key or passkey as the service shows it: never
// its key.
type WebAuthnKey struct {
	ID         string
	Name       string
	Passkey    bool
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// BeginWebAuthnRegistration starts registering a security key or passkey
// named name for user: the options for navigator.credentials.create. It
// asks for a discoverable credential, so the key can sign in without a
// user name, and prefers user verification.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, req Request, user, name string) (
	Ceremony, error) {
	if s.webauthn == nil {
		return Ceremony{}, errNoWebAuthn
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Security key"
	}
	if len(name) > 64 || !printable(name) {
		return Ceremony{}, invalid("name must be printable text of up to 64 characters")
	}
	u, err := s.subject(ctx, req, ActKeyEnroll, user)
	if err != nil {
		return Ceremony{}, err
	}
	w, rows, err := loadWAUser(ctx, s.store, u)
	if err != nil {
		return Ceremony{}, err
	}
	for _, r := range rows {
		if r.Name == name {
			return Ceremony{}, conflict("user %q already has a security key named %q", u.Name, name)
		}
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range w.creds {
		exclude = append(exclude, c.Descriptor())
	}
	options, session, err := s.webauthn.BeginRegistration(w, webauthn.WithExclusions(exclude))
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin registration: %w", err)
	}
	return s.storeCeremony(ctx, u.ID, ceremonyRegister, ceremonyData{Session: *session, Name: name},
		options)
}

// storeCeremony keeps the server side of a ceremony and returns what the
// browser needs.
func (s *Service) storeCeremony(ctx context.Context, userID, kind string, data ceremonyData,
	options any) (Ceremony, error) {
	id, err := s.newID()
	if err != nil {
		return Ceremony{}, err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Ceremony{}, err
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return Ceremony{}, err
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		return tx.CreateCeremony(ctx, store.Ceremony{ID: id, UserID: userID, Kind: kind, Data: raw,
			CreatedAt: now, ExpiresAt: now.Add(ceremonyLifetime)})
	})
	if err != nil {
		return Ceremony{}, fmt.Errorf("store ceremony: %w", err)
	}
	return Ceremony{ID: id, Options: opts}, nil
}

// errCeremony is the one answer to a ceremony that does not work: unknown,
// used, expired, another user's, or answered wrongly.
var errCeremony = invalid("the security key's answer was not accepted; try again")

// FinishWebAuthnRegistration checks the browser's answer to a registration
// and keeps the new credential. The ceremony is used up first, once.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, req Request, user, ceremony string,
	response []byte) (WebAuthnKey, error) {
	if s.webauthn == nil {
		return WebAuthnKey{}, errNoWebAuthn
	}
	u, err := s.subject(ctx, req, ActKeyEnroll, user)
	if err != nil {
		return WebAuthnKey{}, err
	}
	data, err := s.useCeremony(ctx, ceremony, ceremonyRegister, u.ID)
	if err != nil {
		return WebAuthnKey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return WebAuthnKey{}, s.refuseKey(ctx, req, "webauthn.enroll", u.Name, "malformed", err)
	}
	w, _, err := loadWAUser(ctx, s.store, u)
	if err != nil {
		return WebAuthnKey{}, err
	}
	cred, err := s.webauthn.CreateCredential(w, data.Session, parsed)
	if err != nil {
		return WebAuthnKey{}, s.refuseKey(ctx, req, "webauthn.enroll", u.Name, "invalid", err)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return WebAuthnKey{}, err
	}
	id, err := s.newID()
	if err != nil {
		return WebAuthnKey{}, err
	}
	now := s.now()
	row := store.WebAuthnCredential{ID: id, UserID: u.ID, CredentialID: cred.ID, Name: data.Name,
		Data: raw, SignCount: cred.Authenticator.SignCount, Discoverable: true, CreatedAt: now}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateWebAuthnCredential(ctx, row); err != nil {
			return err
		}
		ev := s.event(req, string(ActKeyEnroll), audit.Success, "")
		ev.Subject, ev.Factor = u.Name, "webauthn"
		ev.Detail = map[string]string{"credential": id, "name": data.Name,
			"backup_eligible": fmt.Sprint(cred.Flags.BackupEligible)}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventKeyAdded, u, map[string]any{
			"credential": data.Name, "by_user": isSelf(req, u)})
	})
	if errors.Is(err, store.ErrConflict) {
		return WebAuthnKey{}, conflict("this security key is registered already, or the name "+
			"%q is taken", data.Name)
	}
	if err != nil {
		return WebAuthnKey{}, fmt.Errorf("register security key: %w", err)
	}
	s.log.Info("security key registered", "user", u.Name, "credential", id,
		"actor", req.Actor.String(), "request_id", req.RequestID)
	return keyView(row), nil
}

// useCeremony uses a stored ceremony up, once, and returns its data; it
// must be of kind and, for a registration, of userID.
func (s *Service) useCeremony(ctx context.Context, id, kind, userID string) (ceremonyData, error) {
	if checkName("id", id) != "" {
		return ceremonyData{}, errCeremony
	}
	var c store.Ceremony
	var ok bool
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		c, ok, err = tx.UseCeremony(ctx, id, s.now())
		return err
	})
	if err != nil {
		return ceremonyData{}, fmt.Errorf("use ceremony: %w", err)
	}
	if !ok || c.Kind != kind || c.UserID != userID {
		return ceremonyData{}, errCeremony
	}
	var data ceremonyData
	if err := json.Unmarshal(c.Data, &data); err != nil {
		return ceremonyData{}, fmt.Errorf("ceremony %s: %w", id, err)
	}
	return data, nil
}

// refuseKey audits a refused WebAuthn answer and returns errCeremony; the
// library's reason goes to the log and the audit log, not to the caller.
func (s *Service) refuseKey(ctx context.Context, req Request, action, user, reason string,
	cause error) error {
	ev := s.event(req, action, audit.Failure, reason)
	ev.Subject, ev.Factor = user, "webauthn"
	if err := s.store.Update(ctx, func(tx store.Tx) error {
		return s.appendAudit(ctx, tx, ev)
	}); err != nil {
		return err
	}
	s.log.Warn("security key answer refused", "action", action, "user", user, "reason", reason,
		"client_ip", req.Source, "request_id", req.RequestID, "err", cause)
	return errCeremony
}

func keyView(r store.WebAuthnCredential) WebAuthnKey {
	return WebAuthnKey{ID: r.ID, Name: r.Name, Passkey: r.Discoverable, CreatedAt: r.CreatedAt,
		LastUsedAt: r.LastUsedAt}
}

// ListWebAuthn returns a user's security keys and passkeys.
func (s *Service) ListWebAuthn(ctx context.Context, req Request, user string) ([]WebAuthnKey, error) {
	u, err := s.subject(ctx, req, ActKeyRead, user)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("list security keys: %w", err)
	}
	out := make([]WebAuthnKey, len(rows))
	for i, r := range rows {
		out[i] = keyView(r)
	}
	return out, nil
}

// BeginWebAuthnLogin starts a sign-in with a passkey: options for
// navigator.credentials.get that name no user and list no credential, so
// they tell nobody who exists. The authenticator offers the passkeys it
// holds for mfad.
func (s *Service) BeginWebAuthnLogin(ctx context.Context, req Request) (Ceremony, error) {
	if s.webauthn == nil {
		return Ceremony{}, errNoWebAuthn
	}
	options, session, err := s.webauthn.BeginDiscoverableLogin()
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin login: %w", err)
	}
	return s.storeCeremony(ctx, "", ceremonyLogin, ceremonyData{Session: *session}, options)
}

// FinishWebAuthnLogin checks a passkey's answer and opens a self-service
// session for its user: a phishing-resistant one. Every refusal is the
// same ErrUnauthenticated error; the audit log says why.
func (s *Service) FinishWebAuthnLogin(ctx context.Context, req Request, ceremony string,
	response []byte) (Session, error) {
	start := time.Now()
	req.Actor = Actor{Kind: ActorAnonymous}
	if s.webauthn == nil {
		return Session{}, errNoWebAuthn
	}
	data, err := s.useCeremony(ctx, ceremony, ceremonyLogin, "")
	if errors.Is(err, ErrInvalid) {
		return Session{}, s.refuseLogin(ctx, req, start, "", "bad_ceremony", err)
	}
	if err != nil {
		return Session{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return Session{}, s.refuseLogin(ctx, req, start, "", "malformed", err)
	}
	var owner store.User
	var row store.WebAuthnCredential
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		var err error
		row, err = s.store.WebAuthnCredentialByCredentialID(ctx, rawID)
		if err != nil {
			return nil, err
		}
		if string(userHandle) != row.UserID {
			return nil, errors.New("the user handle is not the credential's user")
		}
		if owner, err = s.store.UserByID(ctx, row.UserID); err != nil {
			return nil, err
		}
		w, _, err := loadWAUser(ctx, s.store, owner)
		return w, err
	}
	cred, err := s.webauthn.ValidateDiscoverableLogin(handler, data.Session, parsed)
	if err != nil {
		return Session{}, s.refuseLogin(ctx, req, start, owner.Name, reasonWrongCode, err)
	}
	return s.keySession(ctx, req, start, owner, row, cred)
}

// keySession records a valid passkey sign-in of u, begun at start, and
// opens its session in one transaction: the counter check, the audit and
// the session.
func (s *Service) keySession(ctx context.Context, req Request, start time.Time, u store.User,
	row store.WebAuthnCredential, cred *webauthn.Credential) (Session, error) {
	now := s.now()
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return Session{}, err
	}
	var reason string
	switch {
	case u.Disabled:
		reason = reasonDisabled
	case !u.BlockedAt.IsZero():
		reason = reasonBlocked
	case u.Lock.LockedUntil.After(now) || u.Lock.Failures >= pol.Lockout.MaxFailures:
		reason = reasonLocked
	case cred.Authenticator.CloneWarning:
		reason = "sign_count"
	}
	if reason != "" {
		return Session{}, s.refuseLogin(ctx, req, start, u.Name, reason, nil)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return Session{}, err
	}
	var out Session
	var counted bool
	v := verdict{VerifyResult: VerifyResult{Accepted: true, Factor: "webauthn",
		Credential: row.Name}, reason: reasonAccepted}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		counted, err = tx.UseWebAuthnCredential(ctx, row.ID, cred.Authenticator.SignCount, raw, now)
		if err != nil || !counted {
			return err
		}
		if err := tx.ClearFailures(ctx, u.ID); err != nil {
			return err
		}
		if err := s.recordVerdict(ctx, tx, req, u.Name, now, v); err != nil {
			return err
		}
		return s.openSession(ctx, req, &out)(tx, u, v)
	})
	if err != nil {
		return Session{}, fmt.Errorf("sign in with a security key: %w", err)
	}
	if !counted {
		// Another sign-in with the same counter got there first, or the
		// authenticator was cloned: either way, not twice.
		return Session{}, s.refuseLogin(ctx, req, start, u.Name, "sign_count", nil)
	}
	s.report(req, u.Name, v, 0, time.Since(start))
	return out, nil
}

// refuseLogin audits a refused passkey sign-in and returns the one
// refusal.
func (s *Service) refuseLogin(ctx context.Context, req Request, start time.Time,
	user, reason string, cause error) error {
	ev := s.event(req, "verify", audit.Failure, reason)
	ev.Subject, ev.Factor = user, "webauthn"
	ev.Detail = map[string]string{"purpose": "sign_in"}
	if err := s.store.Update(ctx, func(tx store.Tx) error {
		return s.appendAudit(ctx, tx, ev)
	}); err != nil {
		return err
	}
	s.log.Warn("verification refused", "outcome", "reject", "reason", reason, "factor", "webauthn",
		"user", user, "client_ip", req.Source, "request_id", req.RequestID, "err", cause)
	s.obs.Verification("webauthn", false, time.Since(start))
	return errSignIn
}

// RenameFactor renames one of a user's authenticators (kind "totp") or
// security keys ("webauthn").
func (s *Service) RenameFactor(ctx context.Context, req Request, user, kind, id, name string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 || !printable(name) {
		return invalid("name must be printable text of up to 64 characters")
	}
	act := ActTOTPEnroll
	switch kind {
	case "totp":
	case "webauthn":
		act = ActKeyEnroll
	default:
		return invalid("kind must be totp or webauthn")
	}
	u, err := s.subject(ctx, req, act, user)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.RenameFactor(ctx, u.ID, kind, id, name); err != nil {
			return err
		}
		ev := s.event(req, "factor.rename", audit.Success, "")
		ev.Subject, ev.Factor = u.Name, kind
		ev.Detail = map[string]string{"credential": id, "name": name}
		return s.appendAudit(ctx, tx, ev)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user %q has no %s %q", u.Name, kind, id)
	case errors.Is(err, store.ErrConflict):
		return conflict("user %q already has a factor named %q", u.Name, name)
	case err != nil:
		return fmt.Errorf("rename factor: %w", err)
	}
	return nil
}

// DeleteWebAuthn removes one of a user's security keys or passkeys.
func (s *Service) DeleteWebAuthn(ctx context.Context, req Request, user, id string) error {
	return s.deleteWebAuthn(ctx, req, user, id, "")
}

func (s *Service) deleteWebAuthn(ctx context.Context, req Request, user, id, reason string) error {
	u, err := s.subject(ctx, req, ActKeyDelete, user)
	if err != nil {
		return err
	}
	if err := s.checkLastStrong(ctx, req, u, "webauthn", id); err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		rows, err := tx.WebAuthnCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		name := ""
		for _, r := range rows {
			if r.ID == id {
				name = r.Name
			}
		}
		if err := tx.DeleteWebAuthnCredential(ctx, u.ID, id); err != nil {
			return err
		}
		ev := s.event(req, string(ActKeyDelete), audit.Success, "")
		ev.Subject, ev.Factor = u.Name, "webauthn"
		ev.Detail = map[string]string{"credential": id}
		if reason != "" {
			ev.Detail["reason"] = reason
		}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventKeyRemoved, u, map[string]any{
			"credential": name, "by_user": isSelf(req, u), "reason": reason})
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user %q has no security key %q", u.Name, id)
	}
	if err != nil {
		return fmt.Errorf("delete security key: %w", err)
	}
	return nil
}

// StrongFactors counts a user's everyday factors: confirmed authenticators
// and security keys, the ones that are not for recovery, so that a page can
// warn before the last one goes.
func (s *Service) StrongFactors(ctx context.Context, req Request, user string) (int, error) {
	u, err := s.subject(ctx, req, ActTOTPRead, user)
	if err != nil {
		return 0, err
	}
	return s.strongFactors(ctx, s.store, u.ID)
}

func (s *Service) strongFactors(ctx context.Context, r store.Reader, userID string) (int, error) {
	creds, err := r.TOTPCredentials(ctx, userID)
	if err != nil {
		return 0, err
	}
	keys, err := r.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := len(keys)
	for _, c := range creds {
		if c.Confirmed {
			n++
		}
	}
	return n, nil
}

// checkLastStrong refuses a session removing the user's last everyday
// factor unless it proved a factor within the policy's freshness: without
// one, the account is left to recovery codes and the helpdesk, which is a
// step to take knowingly.
func (s *Service) checkLastStrong(ctx context.Context, req Request, u store.User, kind,
	id string) error {
	if req.Actor.Kind != ActorSession {
		return nil
	}
	n, err := s.strongFactors(ctx, s.store, u.ID)
	if err != nil {
		return fmt.Errorf("count factors: %w", err)
	}
	if n > 1 {
		return nil
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return err
	}
	if s.now().Sub(req.Actor.VerifiedAt) > pol.Sessions.Freshness.Std() {
		return s.refusePolicy(ctx, req, ActKeyDelete, u, "last_factor_not_fresh",
			fmt.Sprintf("this is your last authenticator or security key; removing it needs a "+
				"sign-in within the last %s; sign in again first", pol.Sessions.Freshness))
	}
	return nil
}
