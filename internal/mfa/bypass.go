package mfa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// Bypass lets the next verification of a user through without a code,
// once, until it expires.
type Bypass struct {
	User      string
	CreatedAt time.Time
	ExpiresAt time.Time
	CreatedBy string
	Reason    string
	UsedAt    time.Time
	RevokedAt time.Time
	State     string // active, used, expired or revoked
}

// defaultBypass is how long a bypass lasts when staff name no duration.
const defaultBypass = 5 * time.Minute

func bypassView(b store.Bypass, user string, now time.Time) Bypass {
	v := Bypass{User: user, CreatedAt: b.CreatedAt, ExpiresAt: b.ExpiresAt,
		CreatedBy: b.CreatedBy, Reason: b.Reason, UsedAt: b.UsedAt, RevokedAt: b.RevokedAt,
		State: PassActive}
	switch {
	case !b.RevokedAt.IsZero():
		v.State = PassRevoked
	case !b.UsedAt.IsZero():
		v.State = PassUsed
	case !now.Before(b.ExpiresAt):
		v.State = PassExpired
	}
	return v
}

// GrantBypass lets the next verification of user through without a code,
// once, for d (zero: five minutes, or the policy's maximum if shorter). A
// reason is required; tiering decides who may grant whom. A new bypass
// replaces an old one. A bypass does not lift a lock, and never opens a
// self-service session.
func (s *Service) GrantBypass(ctx context.Context, req Request, user string, d time.Duration,
	reason string) (Bypass, error) {
	reason, err := checkReason(reason, "grant a bypass")
	if err != nil {
		return Bypass{}, err
	}
	if d < 0 {
		return Bypass{}, invalid("the duration must be positive")
	}
	if req.Actor.Kind == ActorSession {
		return Bypass{}, forbidden("a session may not grant a bypass")
	}
	u, err := s.subject(ctx, req, ActBypassGrant, user)
	if err != nil {
		return Bypass{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return Bypass{}, err
	}
	bp := pol.Bypass
	if !bp.Enabled {
		return Bypass{}, s.refusePolicy(ctx, req, ActBypassGrant, u, "bypass_disabled",
			fmt.Sprintf("the policy in force for %s does not allow bypasses", u.Name))
	}
	if d == 0 {
		d = min(defaultBypass, bp.MaxDuration.Std())
	}
	if d < time.Minute || d > bp.MaxDuration.Std() {
		return Bypass{}, invalid(fmt.Sprintf("duration %s is outside the policy for %s: it "+
			"must be between 1m and %s", policy.Duration(d), u.Name, bp.MaxDuration))
	}
	id, err := s.newID()
	if err != nil {
		return Bypass{}, err
	}
	now := s.now()
	b := store.Bypass{ID: id, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(d),
		CreatedBy: req.Actor.String(), Reason: reason}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutBypass(ctx, b); err != nil {
			return err
		}
		ev := s.event(req, string(ActBypassGrant), audit.Success, "")
		ev.Subject = u.Name
		ev.Factor = "bypass"
		ev.Detail = map[string]string{"bypass": id, "reason": reason,
			"expires_at": b.ExpiresAt.Format(time.RFC3339)}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventBypassGranted, u, map[string]any{
			"expires_at": b.ExpiresAt, "reason": reason})
	})
	if err != nil {
		return Bypass{}, fmt.Errorf("grant bypass: %w", err)
	}
	s.log.Info("bypass granted", "user", u.Name, "expires_at", b.ExpiresAt,
		"actor", req.Actor.String(), "request_id", req.RequestID)
	return bypassView(b, u.Name, now), nil
}

// BypassStatus returns a user's bypass.
func (s *Service) BypassStatus(ctx context.Context, req Request, user string) (Bypass, error) {
	u, err := s.subject(ctx, req, ActBypassRead, user)
	if err != nil {
		return Bypass{}, err
	}
	b, err := s.store.Bypass(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Bypass{}, notFound("user %q has no bypass", u.Name)
	}
	if err != nil {
		return Bypass{}, fmt.Errorf("load bypass: %w", err)
	}
	return bypassView(b, u.Name, s.now()), nil
}

// RevokeBypass ends a user's unused bypass at once.
func (s *Service) RevokeBypass(ctx context.Context, req Request, user, reason string) error {
	reason = strings.TrimSpace(reason)
	if len(reason) > 500 || !printable(reason) {
		return invalid("the reason must be text of up to 500 characters")
	}
	u, err := s.subject(ctx, req, ActBypassEnd, user)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		return s.revokeBypass(ctx, tx, req, u, reason)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user %q has no unused bypass to revoke", u.Name)
	}
	if err != nil {
		return fmt.Errorf("revoke bypass: %w", err)
	}
	s.log.Info("bypass revoked", "user", u.Name, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return nil
}

func (s *Service) revokeBypass(ctx context.Context, tx store.Tx, req Request, u store.User,
	reason string) error {
	if err := tx.RevokeBypass(ctx, u.ID, s.now()); err != nil {
		return err
	}
	ev := s.event(req, string(ActBypassEnd), audit.Success, "")
	ev.Subject = u.Name
	ev.Factor = "bypass"
	if reason != "" {
		ev.Detail = map[string]string{"reason": reason}
	}
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return err
	}
	return s.emit(ctx, tx, req, EventBypassRevoked, u, map[string]any{"reason": reason})
}

// useBypass answers a verification with an empty code: accepted once if
// the user has a bypass that is unused, unrevoked and unexpired, used up
// with one conditional update so that concurrent requests get it once. It
// counts no failure, since nothing was guessed, and clears none, since
// nothing was proved; a locked account stays locked.
func (s *Service) useBypass(ctx context.Context, tx store.Tx, req Request, u store.User,
	now time.Time, pol policy.Policy, v *verdict) error {
	v.tried = "bypass"
	if u.Lock.LockedUntil.After(now) || u.Lock.Failures >= pol.Lockout.MaxFailures {
		v.reason = reasonLocked
		return nil
	}
	b, err := tx.Bypass(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		v.reason = reasonNoBypass
		return nil
	}
	if err != nil {
		return fmt.Errorf("load bypass: %w", err)
	}
	v.detail = map[string]string{"bypass": b.ID}
	switch {
	case !b.RevokedAt.IsZero():
		v.reason = reasonRevoked
	case !b.UsedAt.IsZero():
		v.reason = reasonReplay
	case !now.Before(b.ExpiresAt):
		v.reason = reasonExpired
	case !pol.Bypass.Enabled:
		v.reason = reasonPolicy
	}
	if v.reason != "" {
		return nil
	}
	used, err := tx.UseBypass(ctx, b.ID, now)
	if err != nil {
		return fmt.Errorf("use bypass: %w", err)
	}
	if !used {
		v.reason = reasonReplay
		return nil
	}
	v.Accepted, v.Factor, v.Credential, v.reason = true, "bypass", "bypass", reasonAccepted
	v.detail["granted_by"] = b.CreatedBy
	return s.emit(ctx, tx, req, EventBypassUsed, u, map[string]any{
		"granted_by": b.CreatedBy, "reason": b.Reason})
}
