package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const ceremonyCols = `id, user_id, kind, data, created_at, expires_at, used_at`

// CreateCeremony stores the server side of a WebAuthn registration or
// sign-in. ErrConflict if the ID is taken; ErrNotFound if it names a user
// who does not exist; ErrZeroTime if it has no expiry: it would never stop
// working. A ceremony without a user (a sign-in with a passkey) is kept
// with a NULL user_id.
func (t *txn) CreateCeremony(ctx context.Context, c store.Ceremony) error {
	if toMS(c.ExpiresAt) == 0 {
		return fmt.Errorf("create ceremony %q: expiry: %w", c.ID, ErrZeroTime)
	}
	if c.UserID != "" {
		if err := t.userExists(ctx, c.UserID); err != nil {
			return fmt.Errorf("create ceremony %q: %w", c.ID, err)
		}
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO ceremonies (`+ceremonyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		c.ID, nullString(c.UserID), c.Kind, blob(c.Data), toMS(c.CreatedAt),
		toMS(c.ExpiresAt), toMS(c.UsedAt))
	return t.needInserted(res, err, "create ceremony %q", c.ID)
}

// UseCeremony uses a ceremony once, in one conditional statement, and
// returns it, used. At expires_at it has expired. ok is false when it did
// not use it.
func (t *txn) UseCeremony(ctx context.Context, id string, at time.Time) (
	store.Ceremony, bool, error) {
	if toMS(at) == 0 {
		return store.Ceremony{}, false, fmt.Errorf("use ceremony %q: %w", id, ErrZeroTime)
	}
	var c store.Ceremony
	var userID sql.NullString
	var created, expires, used int64
	err := t.q.QueryRowContext(ctx, `UPDATE ceremonies SET used_at = $2
		WHERE id = $1 AND used_at = 0 AND expires_at > $2
		RETURNING `+ceremonyCols, id, toMS(at)).Scan(&c.ID, &userID, &c.Kind, &c.Data,
		&created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Ceremony{}, false, nil
	}
	if err != nil {
		return store.Ceremony{}, false, fmt.Errorf("use ceremony %q: %w", id, err)
	}
	c.UserID = userID.String
	c.Data = noEmpty(c.Data)
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return c, true, nil
}

// DeleteCeremoniesExpiredBefore removes ceremonies that expired before t.
func (t *txn) DeleteCeremoniesExpiredBefore(ctx context.Context, before time.Time) (
	int, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM ceremonies WHERE expires_at < $1`,
		toMS(before))
	if err != nil {
		return 0, fmt.Errorf("delete expired ceremonies: %w", err)
	}
	n, err := affected(res)
	return int(n), err
}
