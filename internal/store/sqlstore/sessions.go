package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const sessionCols = `id, user_id, hash, key_id, factor, source, verified_at, created_at,
	expires_at, revoked_at`

// Session returns the self-service session with the given ID.
func (r reader) Session(ctx context.Context, id string) (store.Session, error) {
	var s store.Session
	var verified, created, expires, revoked int64
	err := r.q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`,
		id).Scan(&s.ID, &s.UserID, &s.Hash, &s.KeyID, &s.Factor, &s.Source, &verified,
		&created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, fmt.Errorf("session %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("session %q: %w", id, err)
	}
	s.Hash = noEmpty(s.Hash)
	s.VerifiedAt = fromMS(verified)
	s.CreatedAt = fromMS(created)
	s.ExpiresAt = fromMS(expires)
	s.RevokedAt = fromMS(revoked)
	return s, nil
}

// CreateSession adds a session. ErrConflict if the ID is taken; ErrNotFound
// if there is no such user.
func (t *txn) CreateSession(ctx context.Context, s store.Session) error {
	if err := t.userExists(ctx, s.UserID); err != nil {
		return fmt.Errorf("create session %q: %w", s.ID, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		s.ID, s.UserID, blob(s.Hash), s.KeyID, s.Factor, s.Source, toMS(s.VerifiedAt),
		toMS(s.CreatedAt), toMS(s.ExpiresAt), toMS(s.RevokedAt))
	return t.needInserted(res, err, "create session %q", s.ID)
}

// RevokeSession marks a session revoked in one conditional statement.
func (t *txn) RevokeSession(ctx context.Context, id string, at time.Time) error {
	if toMS(at) == 0 {
		return fmt.Errorf("revoke session %q: %w", id, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx,
		`UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0`, id, toMS(at))
	return t.needOne(res, err, "revoke session %q", id)
}

// DeleteSessionsExpiredBefore removes sessions that expired before t.
func (t *txn) DeleteSessionsExpiredBefore(ctx context.Context, before time.Time) (int, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < $1`,
		toMS(before))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := affected(res)
	return int(n), err
}

// RevokeUserSessions revokes every session of a user not yet revoked, in
// one statement, and returns how many it revoked.
func (t *txn) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	if toMS(at) == 0 {
		// revoked_at 0 means "not revoked": storing it would revoke nothing.
		return 0, fmt.Errorf("revoke sessions of %q: %w", userID, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx,
		`UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at = 0`,
		userID, toMS(at))
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of %q: %w", userID, err)
	}
	n, err := affected(res)
	return int(n), err
}
