package mfa

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/codes"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// maxPassLead is how far ahead a pass may be set to start, and
// pastStartSlack how far behind, for clocks that disagree a little; such a
// pass starts now.
const (
	maxPassLead    = 30 * 24 * time.Hour
	pastStartSlack = 5 * time.Minute
)

// AccessPass is a temporary access pass as the service shows it. Pass is
// set only in the answer that issues it: a pass is shown that once, and
// only its keyed hash is kept.
type AccessPass struct {
	User       string
	Pass       string // as displayed, such as "k7qm-2xrt-9hcp"
	OneTime    bool
	SelfIssued bool
	StartsAt   time.Time
	ExpiresAt  time.Time
	CreatedAt  time.Time
	CreatedBy  string
	Reason     string
	Uses       int
	LastUsedAt time.Time
	RevokedAt  time.Time
	State      string // scheduled, active, used, expired or revoked
}

// States of an access pass.
const (
	PassScheduled = "scheduled" // not started yet
	PassActive    = "active"
	PassUsed      = "used" // a one-time pass, used
	PassExpired   = "expired"
	PassRevoked   = "revoked"
)

func passState(p store.AccessPass, now time.Time) string {
	switch {
	case !p.RevokedAt.IsZero():
		return PassRevoked
	case p.OneTime && p.Uses > 0:
		return PassUsed
	case !now.Before(p.ExpiresAt):
		return PassExpired
	case now.Before(p.StartsAt):
		return PassScheduled
	}
	return PassActive
}

func passView(p store.AccessPass, user string, now time.Time) AccessPass {
	return AccessPass{User: user, OneTime: p.OneTime, SelfIssued: p.SelfIssued,
		StartsAt: p.StartsAt, ExpiresAt: p.ExpiresAt, CreatedAt: p.CreatedAt,
		CreatedBy: p.CreatedBy, Reason: p.Reason, Uses: p.Uses, LastUsedAt: p.LastUsedAt,
		RevokedAt: p.RevokedAt, State: passState(p, now)}
}

// passMessage is what a pass's keyed hash is made of; the user's ID binds
// the pass to its owner.
func passMessage(userID, pass string) []byte {
	return []byte("mfad/access-pass/" + userID + "/" + pass)
}

// NewPass is what staff ask for when they issue a pass.
type NewPass struct {
	Lifetime time.Duration // zero for the policy's default
	StartsAt time.Time     // zero for now
	OneTime  bool
	Reason   string // required
}

// PassIssue is the answer to issuing a pass: the pass, or, where policy
// wants a second approver, the request that now waits for one.
type PassIssue struct {
	Pass    AccessPass
	Pending *PassRequest
}

// IssuePass issues an access pass to user on behalf of staff, replacing any
// pass the user had. Tiering decides who may issue to whom; the user's
// policy bounds the lifetime; where the policy wants a second approver for
// users who hold a role, the pass waits for one (see ApprovePassRequest).
func (s *Service) IssuePass(ctx context.Context, req Request, user string, in NewPass) (
	PassIssue, error) {
	reason, err := checkReason(in.Reason, "issue an access pass")
	if err != nil {
		return PassIssue{}, err
	}
	now := s.now()
	switch {
	case in.StartsAt.IsZero():
		in.StartsAt = now
	case in.StartsAt.Before(now.Add(-pastStartSlack)):
		// A start well in the past is a mistake (a wrong year, say) that
		// would give a pass working at once: refuse it.
		return PassIssue{}, invalid("starts_at is in the past")
	case in.StartsAt.Before(now):
		in.StartsAt = now
	}
	if in.StartsAt.Sub(now) > maxPassLead {
		return PassIssue{}, invalid(fmt.Sprintf("starts_at is more than %s ahead",
			policy.Duration(maxPassLead)))
	}
	if in.Lifetime < 0 {
		return PassIssue{}, invalid("lifetime must be positive")
	}
	if req.Actor.Kind == ActorSession {
		return PassIssue{}, forbidden("a session issues itself a pass with POST /v1/me/access-pass")
	}
	u, err := s.subject(ctx, req, ActPassIssue, user)
	if err != nil {
		return PassIssue{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return PassIssue{}, err
	}
	lifetime, err := s.checkPassRequest(ctx, req, u, pol.AccessPass, in.Lifetime, in.OneTime)
	if err != nil {
		return PassIssue{}, err
	}
	in.Lifetime, in.Reason = lifetime, reason

	if needsSecondApprover(pol, u) {
		r, err := s.holdForApproval(ctx, req, u, in, pol, "")
		if err != nil {
			return PassIssue{}, err
		}
		return PassIssue{Pending: &r}, nil
	}
	var out AccessPass
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		out, err = s.issuePass(ctx, tx, req, u, in, pol, nil)
		return err
	})
	if err != nil {
		return PassIssue{}, fmt.Errorf("issue access pass: %w", err)
	}
	return PassIssue{Pass: out}, nil
}

// checkPassRequest refuses, with the reason audited, a pass the user's
// policy does not allow, and returns the lifetime the pass gets.
func (s *Service) checkPassRequest(ctx context.Context, req Request, u store.User,
	a policy.AccessPass, requested time.Duration, oneTime bool) (time.Duration, error) {
	if !a.Enabled {
		return 0, s.refusePolicy(ctx, req, ActPassIssue, u, "passes_disabled",
			fmt.Sprintf("the policy in force for %s does not allow access passes", u.Name))
	}
	lifetime, ok := a.Lifetime(requested)
	if !ok {
		return 0, invalid(fmt.Sprintf("lifetime %s is outside the policy for %s: it must be "+
			"between %s and %s", policy.Duration(requested), u.Name, a.MinLifetime, a.MaxLifetime))
	}
	if !oneTime && !a.AllowMultiUse {
		return 0, invalid(fmt.Sprintf("the policy in force for %s allows one-time passes only",
			u.Name))
	}
	return lifetime, nil
}

// needsSecondApprover reports whether a pass for u waits for a second
// admin.
func needsSecondApprover(pol policy.Policy, u store.User) bool {
	return pol.AccessPass.SecondApproverForRoles && len(u.Roles) > 0
}

// issuePass makes a pass, stores its keyed hash in place of the user's old
// pass, and audits it, in tx. approver is set when a second person approved
// it. It returns the pass, shown this once.
func (s *Service) issuePass(ctx context.Context, tx store.Tx, req Request, u store.User,
	in NewPass, pol policy.Policy, approval *store.PassRequest) (AccessPass, error) {
	plain, err := codes.GeneratePass(s.rand, pol.AccessPass.Length)
	if err != nil {
		return AccessPass{}, err
	}
	id, err := s.newID()
	if err != nil {
		return AccessPass{}, err
	}
	now := s.now()
	starts := in.StartsAt
	if starts.Before(now) {
		starts = now // zero, or a start that passed while the pass waited for approval
	}
	hash, keyID := s.keys.MAC(keyring.CodeHash, passMessage(u.ID, plain))
	p := store.AccessPass{ID: id, UserID: u.ID, Hash: hash, KeyID: keyID, OneTime: in.OneTime,
		SelfIssued: isSelf(req, u), StartsAt: starts, ExpiresAt: starts.Add(in.Lifetime),
		CreatedAt: now, CreatedBy: req.Actor.String(), Reason: in.Reason}

	old, err := tx.AccessPass(ctx, u.ID)
	replaced := err == nil && passState(old, now) != PassRevoked
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return AccessPass{}, err
	}
	if err := tx.PutAccessPass(ctx, p); err != nil {
		return AccessPass{}, err
	}
	ev := s.event(req, string(ActPassIssue), audit.Success, "")
	ev.Subject = u.Name
	ev.Factor = "access_pass"
	ev.Detail = map[string]string{"pass": id, "reason": in.Reason,
		"starts_at": p.StartsAt.Format(time.RFC3339), "expires_at": p.ExpiresAt.Format(time.RFC3339),
		"one_time": strconv.FormatBool(p.OneTime), "replaced": strconv.FormatBool(replaced),
		"self_issued": strconv.FormatBool(p.SelfIssued)}
	data := map[string]any{"one_time": p.OneTime, "starts_at": p.StartsAt,
		"expires_at": p.ExpiresAt, "replaced": replaced, "by_user": p.SelfIssued,
		"reason": in.Reason}
	if approval != nil {
		ev.Detail["request"] = approval.ID
		data["request"] = approval.ID
		if approval.RequestedBy != "" {
			ev.Detail["requested_by"] = approval.RequestedBy
			data["requested_by"] = approval.RequestedBy
		}
	}
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return AccessPass{}, err
	}
	if err := s.emit(ctx, tx, req, EventPassIssued, u, data); err != nil {
		return AccessPass{}, err
	}
	s.log.Info("access pass issued", "user", u.Name, "one_time", p.OneTime,
		"expires_at", p.ExpiresAt, "actor", req.Actor.String(), "request_id", req.RequestID)
	view := passView(p, u.Name, now)
	view.Pass = codes.DisplayPass(plain)
	return view, nil
}

// SelfIssuePass issues the signed-in user a one-time pass, for a device
// that has none of their factors, where policy allows: the session must
// have been opened with a factor of a class the policy names (never a
// backup code, another pass or an out-of-band code) recently enough. A
// zero lifetime takes the longest self-service passes may have, up to the
// policy's default. Every refusal says why.
func (s *Service) SelfIssuePass(ctx context.Context, req Request, lifetime time.Duration,
	note string) (AccessPass, error) {
	name, err := s.SessionUser(req)
	if err != nil {
		return AccessPass{}, err
	}
	note = strings.TrimSpace(note)
	if len(note) > 200 || !printable(note) {
		return AccessPass{}, invalid("the note must be text of up to 200 characters")
	}
	if lifetime < 0 {
		return AccessPass{}, invalid("lifetime must be positive")
	}
	if limitedSession(req.Actor.Factor) {
		// Refused by the session rules anyway; say why in the user's terms.
		u, err := s.lookup(ctx, s.store, name)
		if err != nil {
			return AccessPass{}, err
		}
		return AccessPass{}, s.refusePolicy(ctx, req, ActPassIssue, u, "recovery_session",
			fmt.Sprintf("issuing yourself an access pass needs a session opened with an "+
				"authenticator or security key, not with %s; sign in again with one",
				strings.ReplaceAll(req.Actor.Factor, "_", " ")))
	}
	u, err := s.subject(ctx, req, ActPassIssue, name)
	if err != nil {
		return AccessPass{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return AccessPass{}, err
	}
	if reason, msg := passSelfRefusal(pol.AccessPass, req.Actor, s.now()); reason != "" {
		return AccessPass{}, s.refusePolicy(ctx, req, ActPassIssue, u, reason, msg)
	}
	ss := pol.AccessPass.SelfService
	if lifetime == 0 {
		lifetime = min(pol.AccessPass.DefaultLifetime.Std(), ss.MaxLifetime.Std())
	}
	if lifetime < policy.MinPassLifetime || lifetime > ss.MaxLifetime.Std() {
		return AccessPass{}, invalid(fmt.Sprintf("lifetime %s is outside the policy: a pass "+
			"you issue yourself lasts between %s and %s", policy.Duration(lifetime),
			policy.Duration(policy.MinPassLifetime), ss.MaxLifetime))
	}
	if note == "" {
		note = "self-service"
	}
	var out AccessPass
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		out, err = s.issuePass(ctx, tx, req, u,
			NewPass{Lifetime: lifetime, OneTime: true, Reason: note}, pol, nil)
		return err
	})
	if err != nil {
		return AccessPass{}, fmt.Errorf("issue access pass: %w", err)
	}
	return out, nil
}

// passSelfRefusal returns why a session may not issue itself a pass under
// policy a, with a message for the user, or "" if it may.
func passSelfRefusal(a policy.AccessPass, sess Actor, now time.Time) (reason, msg string) {
	ss := a.SelfService
	class := FactorClass(sess.Factor)
	classes := strings.ReplaceAll(strings.Join(ss.Factors, " or "), "_", "-")
	switch {
	case !a.Enabled:
		return "passes_disabled", "the policy in force for you does not allow access passes"
	case !ss.Enabled:
		return "self_service_disabled",
			"the policy in force for you does not let you issue yourself an access pass; " +
				"ask the helpdesk"
	case !containsClass(ss.Factors, class):
		return "factor_class", fmt.Sprintf("issuing yourself an access pass needs a session "+
			"opened with a %s factor; this one was opened with %s; sign in again with your "+
			"authenticator", classes, strings.ReplaceAll(sess.Factor, "_", " "))
	case now.Sub(sess.VerifiedAt) > ss.Freshness.Std():
		return "not_fresh", fmt.Sprintf("issuing yourself an access pass needs a factor proved "+
			"within the last %s; sign in again", ss.Freshness)
	}
	return "", ""
}

func containsClass(classes []string, c string) bool {
	for _, x := range classes {
		if x == c {
			return true
		}
	}
	return false
}

// refusePolicy audits a refusal that the policy, not the role, decided and
// returns it as ErrForbidden with msg.
func (s *Service) refusePolicy(ctx context.Context, req Request, act Action, u store.User,
	reason, msg string) error {
	ev := s.event(req, string(act), audit.Denied, reason)
	ev.Subject = u.Name
	if err := s.store.Update(ctx, func(tx store.Tx) error {
		return s.appendAudit(ctx, tx, ev)
	}); err != nil {
		return err
	}
	s.log.Warn("action refused by policy", "action", act, "user", u.Name, "reason", reason,
		"actor", req.Actor.String(), "client_ip", req.Source, "request_id", req.RequestID)
	return forbidden("%s", msg)
}

// PassStatus returns a user's pass, without the pass itself.
func (s *Service) PassStatus(ctx context.Context, req Request, user string) (AccessPass, error) {
	u, err := s.subject(ctx, req, ActPassRead, user)
	if err != nil {
		return AccessPass{}, err
	}
	p, err := s.store.AccessPass(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return AccessPass{}, notFound("user %q has no access pass", u.Name)
	}
	if err != nil {
		return AccessPass{}, fmt.Errorf("load access pass: %w", err)
	}
	return passView(p, u.Name, s.now()), nil
}

// RevokePass ends a user's pass at once. Staff and the user themselves may;
// the reason is optional, since revoking only takes a way in away.
func (s *Service) RevokePass(ctx context.Context, req Request, user, reason string) error {
	reason = strings.TrimSpace(reason)
	if len(reason) > 500 || !printable(reason) {
		return invalid("the reason must be text of up to 500 characters")
	}
	u, err := s.subject(ctx, req, ActPassRevoke, user)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		return s.revokePass(ctx, tx, req, u, reason)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user %q has no access pass to revoke", u.Name)
	}
	if err != nil {
		return fmt.Errorf("revoke access pass: %w", err)
	}
	s.log.Info("access pass revoked", "user", u.Name, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return nil
}

// revokePass revokes u's pass in tx and audits it. ErrNotFound if there is
// none to revoke.
func (s *Service) revokePass(ctx context.Context, tx store.Tx, req Request, u store.User,
	reason string) error {
	if err := tx.RevokeAccessPass(ctx, u.ID, s.now()); err != nil {
		return err
	}
	ev := s.event(req, string(ActPassRevoke), audit.Success, "")
	ev.Subject = u.Name
	ev.Factor = "access_pass"
	if reason != "" {
		ev.Detail = map[string]string{"reason": reason}
	}
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return err
	}
	return s.emit(ctx, tx, req, EventPassRevoked, u, map[string]any{
		"by_user": isSelf(req, u), "reason": reason})
}

// checkPasscode checks a code of the passcode shape: first against the
// user's access pass, then, if it has a backup code's length, against
// their backup codes.
func (s *Service) checkPasscode(ctx context.Context, tx store.Tx, req Request, u store.User,
	code string, now time.Time, pol policy.Policy, v *verdict) error {
	matched, hasPass, err := s.checkPass(ctx, tx, req, u, code, now, pol.AccessPass, v)
	if err != nil || matched {
		return err
	}
	if codes.IsBackupLength(len(code)) {
		err := s.checkBackupCode(ctx, tx, req, u, code, now, pol.BackupCodes.WarnAt, v)
		if v.reason == reasonNoFactor && hasPass {
			v.reason = reasonWrongCode
		}
		return err
	}
	// Too long for a backup code: it can only have been meant as a pass.
	v.tried = "access_pass"
	v.reason = reasonWrongCode
	if !hasPass {
		// Hash as a user with a pass would, so the refusal takes as long.
		s.keys.MAC(keyring.CodeHash, passMessage(u.ID, code))
		v.reason = reasonNoFactor
	}
	return nil
}

// checkPass reports whether code is u's access pass and, if it is, decides
// whether it is accepted: a one-time pass is used up with one conditional
// update, so that of concurrent uses one at most is accepted. A pass
// before its start, at or after its expiry, used, revoked or no longer
// allowed by policy is refused like a wrong code; the audit log says which.
// hasPass reports whether u has a pass at all.
func (s *Service) checkPass(ctx context.Context, tx store.Tx, req Request, u store.User,
	code string, now time.Time, a policy.AccessPass, v *verdict) (matched, hasPass bool,
	err error) {
	p, err := tx.AccessPass(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("load access pass: %w", err)
	}
	sum, err := s.keys.MACWith(keyring.CodeHash, p.KeyID, passMessage(u.ID, code))
	if err != nil {
		return false, true, fmt.Errorf("hash access pass: %w", err)
	}
	if !hmac.Equal(sum, p.Hash) {
		return false, true, nil
	}
	v.tried = "access_pass"
	v.detail = map[string]string{"pass": p.ID}
	switch {
	case !p.RevokedAt.IsZero():
		v.reason = reasonRevoked
	case !a.Enabled:
		v.reason = reasonPolicy
	case now.Before(p.StartsAt):
		v.reason = reasonNotYet
	case !now.Before(p.ExpiresAt):
		v.reason = reasonExpired
	case p.OneTime && p.Uses > 0:
		v.reason = reasonReplay
	}
	if v.reason != "" {
		return true, true, nil
	}
	used, err := tx.UseAccessPass(ctx, p.ID, now)
	if err != nil {
		return true, true, fmt.Errorf("use access pass: %w", err)
	}
	if !used {
		v.reason = reasonReplay
		return true, true, nil
	}
	v.Accepted, v.Factor, v.Credential, v.reason = true, "access_pass", "access pass", reasonAccepted
	v.notAfter = p.ExpiresAt
	return true, true, s.emit(ctx, tx, req, EventPassUsed, u, map[string]any{
		"one_time": p.OneTime, "uses": p.Uses + 1, "expires_at": p.ExpiresAt,
		"self_issued": p.SelfIssued})
}

// checkReason trims and checks the reason staff give for an action.
func checkReason(reason, what string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 500 || !printable(reason) {
		return "", invalid(fmt.Sprintf("a reason (up to 500 characters of text) is required "+
			"to %s", what))
	}
	return reason, nil
}
