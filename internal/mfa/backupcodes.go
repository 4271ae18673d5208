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
	"github.com/mfad/mfad/internal/store"
)

// BackupCodes is a user's set of backup codes as the service shows it. Codes
// is filled in only in the answer to GenerateBackupCodes: codes are shown
// that once and can never be read back.
type BackupCodes struct {
	User      string
	Codes     []string // as displayed, such as "abcde-fghjk", in set order
	Total     int
	Remaining int
	CreatedAt time.Time
	ExpiresAt time.Time // zero when the set does not expire
	Issuer    string    // the issuer name for the printed sheet
	// WarnAt is the policy's warning level: at this many remaining codes or
	// fewer, the user should make a new set.
	WarnAt int
}

// Expired reports whether the set no longer works at now.
func (b BackupCodes) Expired(now time.Time) bool {
	return !b.ExpiresAt.IsZero() && !now.Before(b.ExpiresAt)
}

// codeMessage is what a backup code's keyed hash is made of. The user's ID
// binds the code to its owner: the same code typed for another user hashes
// to something else.
func codeMessage(userID, code string) []byte {
	return []byte("mfad/backup-code/" + userID + "/" + code)
}

// GenerateBackupCodes makes a new set of backup codes for user, replacing
// any set they had in the same transaction, and returns the codes. Only
// their keyed hashes are kept.
func (s *Service) GenerateBackupCodes(ctx context.Context, req Request, user string) (
	BackupCodes, error) {
	return s.GenerateBackupCodesFor(ctx, req, user, "")
}

// GenerateBackupCodesFor is GenerateBackupCodes with the reason staff give
// for making a set for someone, kept in the audit event.
func (s *Service) GenerateBackupCodesFor(ctx context.Context, req Request, user, reason string) (
	BackupCodes, error) {
	reason = strings.TrimSpace(reason)
	if len(reason) > 500 || !printable(reason) {
		return BackupCodes{}, invalid("the reason must be text of up to 500 characters")
	}
	u, err := s.subject(ctx, req, ActCodesMake, user)
	if err != nil {
		return BackupCodes{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return BackupCodes{}, err
	}
	bp := pol.BackupCodes
	plain, err := codes.GenerateBackup(s.rand, bp.Count, bp.Length)
	if err != nil {
		return BackupCodes{}, err
	}
	setID, err := s.newID()
	if err != nil {
		return BackupCodes{}, err
	}
	now := s.now()
	set := store.BackupCodeSet{ID: setID, UserID: u.ID, Total: len(plain), CreatedAt: now,
		CreatedBy: req.Actor.String()}
	if bp.Lifetime > 0 {
		set.ExpiresAt = now.Add(bp.Lifetime.Std())
	}
	rows := make([]store.BackupCode, len(plain))
	shown := make([]string, len(plain))
	for i, c := range plain {
		hash, keyID := s.keys.MAC(keyring.CodeHash, codeMessage(u.ID, c))
		rows[i] = store.BackupCode{SetID: setID, Position: i + 1, Hash: hash, KeyID: keyID,
			CreatedAt: now}
		shown[i] = codes.Display(c)
	}

	err = s.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.BackupCodeSet(ctx, u.ID)
		replaced := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.ReplaceBackupCodes(ctx, set, rows); err != nil {
			return err
		}
		ev := s.event(req, string(ActCodesMake), audit.Success, "")
		ev.Subject = u.Name
		ev.Factor = "backup_code"
		ev.Detail = map[string]string{"set": setID, "count": strconv.Itoa(len(rows)),
			"replaced": strconv.FormatBool(replaced)}
		if reason != "" {
			ev.Detail["reason"] = reason
		}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventCodesGenerated, u, map[string]any{
			"count": len(rows), "replaced": replaced, "by_user": isSelf(req, u)})
	})
	if err != nil {
		return BackupCodes{}, fmt.Errorf("generate backup codes: %w", err)
	}
	s.log.Info("backup codes generated", "user", u.Name, "count", len(rows),
		"actor", req.Actor.String(), "request_id", req.RequestID)
	return BackupCodes{User: u.Name, Codes: shown, Total: len(rows), Remaining: len(rows),
		CreatedAt: now, ExpiresAt: set.ExpiresAt, Issuer: s.issuer, WarnAt: bp.WarnAt}, nil
}

// isSelf reports whether req acts on its own account.
func isSelf(req Request, u store.User) bool {
	return req.Actor.UserID != "" && req.Actor.UserID == u.ID
}

// BackupCodeStatus tells how many of a user's backup codes remain and when
// the set was made; never the codes.
func (s *Service) BackupCodeStatus(ctx context.Context, req Request, user string) (
	BackupCodes, error) {
	u, err := s.subject(ctx, req, ActCodesRead, user)
	if err != nil {
		return BackupCodes{}, err
	}
	set, err := s.store.BackupCodeSet(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return BackupCodes{}, notFound("user %q has no backup codes", u.Name)
	}
	if err != nil {
		return BackupCodes{}, fmt.Errorf("load backup codes: %w", err)
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return BackupCodes{}, err
	}
	return BackupCodes{User: u.Name, Total: set.Total, Remaining: set.Remaining,
		CreatedAt: set.CreatedAt, ExpiresAt: set.ExpiresAt, Issuer: s.issuer,
		WarnAt: pol.BackupCodes.WarnAt}, nil
}

// DeleteBackupCodes removes a user's set of backup codes.
func (s *Service) DeleteBackupCodes(ctx context.Context, req Request, user string) error {
	u, err := s.subject(ctx, req, ActCodesDelete, user)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteBackupCodes(ctx, u.ID); err != nil {
			return err
		}
		ev := s.event(req, string(ActCodesDelete), audit.Success, "")
		ev.Subject = u.Name
		ev.Factor = "backup_code"
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventCodesDeleted, u, map[string]any{
			"by_user": isSelf(req, u)})
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user %q has no backup codes", u.Name)
	}
	if err != nil {
		return fmt.Errorf("delete backup codes: %w", err)
	}
	s.log.Info("backup codes deleted", "user", u.Name, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return nil
}

// checkBackupCode checks code against u's backup codes and, on a match,
// uses the code up with one conditional update. A code already used, or
// from an expired set, is refused like a wrong one; the audit log says
// which.
func (s *Service) checkBackupCode(ctx context.Context, tx store.Tx, req Request, u store.User,
	code string, now time.Time, warnAt int, v *verdict) error {
	set, err := tx.BackupCodeSet(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Do the hashing a user with codes gets, so the refusal takes as long.
		s.keys.MAC(keyring.CodeHash, codeMessage(u.ID, code))
		v.reason = reasonNoFactor
		return nil
	}
	if err != nil {
		return fmt.Errorf("load backup codes: %w", err)
	}
	rows, err := tx.BackupCodes(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("load backup codes: %w", err)
	}
	// One hash per key the set's codes were made under (one, unless the
	// key ring was rotated while the set was being made), then a
	// constant-time comparison with every code.
	sums := map[string][]byte{}
	var match *store.BackupCode
	for i := range rows {
		c := &rows[i]
		sum, ok := sums[c.KeyID]
		if !ok {
			sum, err = s.keys.MACWith(keyring.CodeHash, c.KeyID, codeMessage(u.ID, code))
			if err != nil {
				return fmt.Errorf("hash backup code: %w", err)
			}
			sums[c.KeyID] = sum
		}
		if hmac.Equal(sum, c.Hash) {
			match = c
		}
	}
	switch {
	case match == nil:
		v.reason = reasonWrongCode
		return nil
	case !match.UsedAt.IsZero():
		v.reason = reasonReplay
		v.position = match.Position
		return nil
	case !set.ExpiresAt.IsZero() && !now.Before(set.ExpiresAt):
		v.reason = reasonExpired
		v.position = match.Position
		return nil
	}
	used, err := tx.UseBackupCode(ctx, set.ID, match.Position, now)
	if err != nil {
		return fmt.Errorf("use backup code: %w", err)
	}
	v.position = match.Position
	if !used {
		v.reason = reasonReplay
		return nil
	}
	v.Accepted, v.Factor, v.reason = true, "backup_code", reasonAccepted
	v.Credential = "backup code " + strconv.Itoa(match.Position)

	// The user's row is locked by the attempt's reservation, so no other
	// verification of this user runs between the update and this count.
	after, err := tx.BackupCodeSet(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("count backup codes: %w", err)
	}
	v.remaining = after.Remaining
	data := map[string]any{"position": match.Position, "remaining": after.Remaining,
		"total": after.Total}
	if err := s.emit(ctx, tx, req, EventCodeUsed, u, data); err != nil {
		return err
	}
	switch {
	case after.Remaining == 0:
		return s.emit(ctx, tx, req, EventCodesExhausted, u, data)
	case after.Remaining == warnAt:
		return s.emit(ctx, tx, req, EventCodesLow, u, data)
	}
	return nil
}
