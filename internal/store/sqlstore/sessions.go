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
	expires_at, revoked_at, last_seen_at`

// Session returns the self-service session with the given ID.
func (r reader) Session(ctx context.Context, id string) (store.Session, error) {
	var s store.Session
	var verified, created, expires, revoked, seen int64
	err := r.q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`,
		id).Scan(&s.ID, &s.UserID, &s.Hash, &s.KeyID, &s.Factor, &s.Source, &verified,
		&created, &expires, &revoked, &seen)
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
	s.LastSeenAt = fromMS(seen)
	return s, nil
}

// CreateSession adds a session. ErrConflict if the ID is taken; ErrNotFound
// if there is no such user. A zero LastSeenAt is stored as CreatedAt: a
// session is seen when it is opened.
func (t *txn) CreateSession(ctx context.Context, s store.Session) error {
	if err := t.userExists(ctx, s.UserID); err != nil {
		return fmt.Errorf("create session %q: %w", s.ID, err)
	}
	seen := s.LastSeenAt
	if seen.IsZero() {
		seen = s.CreatedAt
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		s.ID, s.UserID, blob(s.Hash), s.KeyID, s.Factor, s.Source, toMS(s.VerifiedAt),
		toMS(s.CreatedAt), toMS(s.ExpiresAt), toMS(s.RevokedAt), toMS(seen))
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

// ErrNegativeInterval is returned by TouchSession for a negative interval,
// which would let a session's last use move backwards.
var ErrNegativeInterval = errors.New("sqlstore: negative interval")

// TouchSession records at as the time session id was last seen if it was
// last seen at or before at minus every, in one conditional statement, so
// that a busy session is written at most once per every and its last use
// never moves backwards. It reports whether it wrote. ErrZeroTime if at is
// zero: the session would read as never seen.
func (t *txn) TouchSession(ctx context.Context, id string, at time.Time, every time.Duration) (
	bool, error) {
	if toMS(at) == 0 {
		return false, fmt.Errorf("touch session %q: %w", id, ErrZeroTime)
	}
	if every < 0 {
		return false, fmt.Errorf("touch session %q: every %v: %w", id, every, ErrNegativeInterval)
	}
	// NOTE: at minus every is worked out here, not in SQL, where PostgreSQL
	// cannot infer the types of "$2 - $3" without a cast.
	res, err := t.q.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2
		WHERE id = $1 AND last_seen_at <= $3`, id, toMS(at), toMS(at)-every.Milliseconds())
	return t.changedOne(res, err, "touch session %q", id)
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
