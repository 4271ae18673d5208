package mfa

import (
	"context"
	"fmt"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store"
)

// activityActions are the audit actions a person's own activity shows:
// sign-ins and verifications, and what changed their factors or recovery.
var activityActions = map[string]bool{
	"verify": true, "session.create": true, "session.end": true,
	"totp.confirm": true, "totp.delete": true, string(ActKeyEnroll): true,
	string(ActKeyDelete): true, "factor.rename": true,
	string(ActCodesMake): true, string(ActCodesDelete): true,
	string(ActPassIssue): true, string(ActPassRevoke): true,
	string(ActBypassGrant): true, string(ActBypassEnd): true,
	"user.lock": true, "user.unlock": true, string(ActFraudReport): true,
	string(ActFraudClear): true, "destination.confirm": true, string(ActDestRemove): true,
}

// UserActivity returns the newest events about user that the user would
// recognise: sign-ins, verifications and changes to their factors. Staff
// who may look users up see it on a user's page; a session sees its own.
func (s *Service) UserActivity(ctx context.Context, req Request, user string, limit int) (
	[]audit.Event, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	u, err := s.subject(ctx, req, ActActivityRead, user)
	if err != nil {
		return nil, err
	}
	// Read more than asked, since the log also holds what the user would
	// not recognise (denied staff actions, say), and keep the first limit.
	events, err := s.store.ListAudit(ctx, store.AuditQuery{Subject: u.Name, Limit: limit * 4})
	if err != nil {
		return nil, fmt.Errorf("activity: %w", err)
	}
	out := events[:0]
	for _, ev := range events {
		if activityActions[ev.Action] && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

// RemoveFactor removes one of a user's authenticators (kind "totp") or
// security keys ("webauthn"), as staff do when a device is lost or stolen:
// with a reason, audited, and notified to the user.
func (s *Service) RemoveFactor(ctx context.Context, req Request, user, kind, id,
	reason string) error {
	reason, err := checkReason(reason, "remove a factor")
	if err != nil {
		return err
	}
	// The reason goes into the removal's own audit event and notice, in
	// its transaction.
	switch kind {
	case "totp":
		return s.deleteTOTP(ctx, req, user, id, reason)
	case "webauthn":
		return s.deleteWebAuthn(ctx, req, user, id, reason)
	}
	return invalid("kind must be totp or webauthn")
}

// Permitted reports whether a may take act on target (nil for an action on
// no user), as the service would decide: for pages to hide what would be
// refused anyway.
func Permitted(a Actor, act Action, target *User) bool {
	var subject *store.User
	if target != nil {
		roles := make([]string, len(target.Roles))
		for i, r := range target.Roles {
			roles[i] = string(r)
		}
		subject = &store.User{ID: target.ID, Name: target.Name, Roles: roles}
	}
	return refusal(a, act, subject) == ""
}
