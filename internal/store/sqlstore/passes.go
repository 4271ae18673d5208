package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const passCols = `id, user_id, hash, key_id, one_time, self_issued, starts_at, expires_at,
	created_at, created_by, reason, uses, last_used_at, revoked_at`

// AccessPass returns a user's access pass, whatever its state.
func (r reader) AccessPass(ctx context.Context, userID string) (store.AccessPass, error) {
	var p store.AccessPass
	var starts, expires, created, used, revoked int64
	err := r.q.QueryRowContext(ctx, `SELECT `+passCols+` FROM access_passes
		WHERE user_id = $1`, userID).Scan(&p.ID, &p.UserID, &p.Hash, &p.KeyID, &p.OneTime,
		&p.SelfIssued, &starts, &expires, &created, &p.CreatedBy, &p.Reason, &p.Uses, &used,
		&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AccessPass{}, fmt.Errorf("access pass of %q: %w", userID, store.ErrNotFound)
	}
	if err != nil {
		return store.AccessPass{}, fmt.Errorf("access pass of %q: %w", userID, err)
	}
	p.Hash = noEmpty(p.Hash)
	p.StartsAt, p.ExpiresAt, p.CreatedAt = fromMS(starts), fromMS(expires), fromMS(created)
	p.LastUsedAt, p.RevokedAt = fromMS(used), fromMS(revoked)
	return p, nil
}

// PutAccessPass replaces the user's pass with p.
func (t *txn) PutAccessPass(ctx context.Context, p store.AccessPass) error {
	if err := t.userExists(ctx, p.UserID); err != nil {
		return fmt.Errorf("put access pass: %w", err)
	}
	if _, err := t.q.ExecContext(ctx, `DELETE FROM access_passes WHERE user_id = $1`,
		p.UserID); err != nil {
		return fmt.Errorf("put access pass of %q: %w", p.UserID, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO access_passes (`+passCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT DO NOTHING`,
		p.ID, p.UserID, blob(p.Hash), p.KeyID, p.OneTime, p.SelfIssued, toMS(p.StartsAt),
		toMS(p.ExpiresAt), toMS(p.CreatedAt), p.CreatedBy, p.Reason, p.Uses,
		toMS(p.LastUsedAt), toMS(p.RevokedAt))
	return t.needInserted(res, err, "put access pass %q", p.ID)
}

// UseAccessPass records one use in one conditional statement.
func (t *txn) UseAccessPass(ctx context.Context, id string, at time.Time) (bool, error) {
	if toMS(at) == 0 {
		return false, fmt.Errorf("use access pass %q: %w", id, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx, `UPDATE access_passes
		SET uses = uses + 1, last_used_at = $2
		WHERE id = $1 AND revoked_at = 0 AND starts_at <= $2 AND expires_at > $2
			AND (NOT one_time OR uses = 0)`, id, toMS(at))
	if err != nil {
		return false, fmt.Errorf("use access pass %q: %w", id, err)
	}
	n, err := affected(res)
	return n == 1, err
}

// RevokeAccessPass revokes a user's pass in one conditional statement.
func (t *txn) RevokeAccessPass(ctx context.Context, userID string, at time.Time) error {
	if toMS(at) == 0 {
		return fmt.Errorf("revoke access pass of %q: %w", userID, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx, `UPDATE access_passes SET revoked_at = $2
		WHERE user_id = $1 AND revoked_at = 0`, userID, toMS(at))
	return t.needOne(res, err, "revoke access pass of %q", userID)
}

const bypassCols = `id, user_id, created_at, expires_at, created_by, reason, used_at, revoked_at`

// Bypass returns a user's bypass, whatever its state.
func (r reader) Bypass(ctx context.Context, userID string) (store.Bypass, error) {
	var b store.Bypass
	var created, expires, used, revoked int64
	err := r.q.QueryRowContext(ctx, `SELECT `+bypassCols+` FROM bypasses WHERE user_id = $1`,
		userID).Scan(&b.ID, &b.UserID, &created, &expires, &b.CreatedBy, &b.Reason, &used,
		&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Bypass{}, fmt.Errorf("bypass of %q: %w", userID, store.ErrNotFound)
	}
	if err != nil {
		return store.Bypass{}, fmt.Errorf("bypass of %q: %w", userID, err)
	}
	b.CreatedAt, b.ExpiresAt = fromMS(created), fromMS(expires)
	b.UsedAt, b.RevokedAt = fromMS(used), fromMS(revoked)
	return b, nil
}

// PutBypass replaces the user's bypass with b.
func (t *txn) PutBypass(ctx context.Context, b store.Bypass) error {
	if err := t.userExists(ctx, b.UserID); err != nil {
		return fmt.Errorf("put bypass: %w", err)
	}
	if _, err := t.q.ExecContext(ctx, `DELETE FROM bypasses WHERE user_id = $1`,
		b.UserID); err != nil {
		return fmt.Errorf("put bypass of %q: %w", b.UserID, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO bypasses (`+bypassCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		b.ID, b.UserID, toMS(b.CreatedAt), toMS(b.ExpiresAt), b.CreatedBy, b.Reason,
		toMS(b.UsedAt), toMS(b.RevokedAt))
	return t.needInserted(res, err, "put bypass %q", b.ID)
}

// UseBypass uses a bypass up in one conditional statement.
func (t *txn) UseBypass(ctx context.Context, id string, at time.Time) (bool, error) {
	if toMS(at) == 0 {
		return false, fmt.Errorf("use bypass %q: %w", id, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx, `UPDATE bypasses SET used_at = $2
		WHERE id = $1 AND used_at = 0 AND revoked_at = 0 AND expires_at > $2`, id, toMS(at))
	if err != nil {
		return false, fmt.Errorf("use bypass %q: %w", id, err)
	}
	n, err := affected(res)
	return n == 1, err
}

// RevokeBypass revokes a user's unused bypass.
func (t *txn) RevokeBypass(ctx context.Context, userID string, at time.Time) error {
	if toMS(at) == 0 {
		return fmt.Errorf("revoke bypass of %q: %w", userID, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx, `UPDATE bypasses SET revoked_at = $2
		WHERE user_id = $1 AND revoked_at = 0 AND used_at = 0`, userID, toMS(at))
	return t.needOne(res, err, "revoke bypass of %q", userID)
}
