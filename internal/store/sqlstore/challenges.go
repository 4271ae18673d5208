package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const challengeCols = `id, user_id, purpose, channel, destination, hash, key_id, created_at,
	expires_at, used_at, voided_at`

// Challenge returns the out-of-band challenge with the given ID, whatever
// its state.
func (r reader) Challenge(ctx context.Context, id string) (store.Challenge, error) {
	var c store.Challenge
	var created, expires, used, voided int64
	err := r.q.QueryRowContext(ctx, `SELECT `+challengeCols+` FROM challenges WHERE id = $1`,
		id).Scan(&c.ID, &c.UserID, &c.Purpose, &c.Channel, &c.Destination, &c.Hash, &c.KeyID,
		&created, &expires, &used, &voided)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Challenge{}, fmt.Errorf("challenge %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Challenge{}, fmt.Errorf("challenge %q: %w", id, err)
	}
	c.Hash = noEmpty(c.Hash)
	c.CreatedAt, c.ExpiresAt = fromMS(created), fromMS(expires)
	c.UsedAt, c.VoidedAt = fromMS(used), fromMS(voided)
	return c, nil
}

// CreateChallenge adds a challenge as given. ErrConflict if the ID is
// taken, ErrNotFound if there is no such user, ErrZeroTime if it has no
// ExpiresAt: such a challenge could never be used.
func (t *txn) CreateChallenge(ctx context.Context, c store.Challenge) error {
	if toMS(c.ExpiresAt) == 0 {
		return fmt.Errorf("create challenge %q: expiry: %w", c.ID, ErrZeroTime)
	}
	if err := t.userExists(ctx, c.UserID); err != nil {
		return fmt.Errorf("create challenge %q: %w", c.ID, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO challenges (`+challengeCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		c.ID, c.UserID, c.Purpose, c.Channel, c.Destination, blob(c.Hash), c.KeyID,
		toMS(c.CreatedAt), toMS(c.ExpiresAt), toMS(c.UsedAt), toMS(c.VoidedAt))
	return t.needInserted(res, err, "create challenge %q", c.ID)
}

// VoidChallenges voids, in one statement, a user's challenges of the given
// channel and purpose that are neither used nor voided, and returns how
// many it voided.
func (t *txn) VoidChallenges(ctx context.Context, userID, channel, purpose string,
	at time.Time) (int, error) {
	if toMS(at) == 0 {
		// voided_at 0 means "not voided": storing it would void nothing.
		return 0, fmt.Errorf("void challenges of %q: %w", userID, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx, `UPDATE challenges SET voided_at = $4
		WHERE user_id = $1 AND channel = $2 AND purpose = $3 AND used_at = 0
			AND voided_at = 0`, userID, channel, purpose, toMS(at))
	if err != nil {
		return 0, fmt.Errorf("void challenges of %q: %w", userID, err)
	}
	n, err := affected(res)
	return int(n), err
}

// UseChallenge uses a challenge up in one conditional statement. At
// expires_at it has expired.
func (t *txn) UseChallenge(ctx context.Context, id string, at time.Time) (bool, error) {
	if toMS(at) == 0 {
		return false, fmt.Errorf("use challenge %q: %w", id, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx, `UPDATE challenges SET used_at = $2
		WHERE id = $1 AND used_at = 0 AND voided_at = 0 AND expires_at > $2`, id, toMS(at))
	if err != nil {
		return false, fmt.Errorf("use challenge %q: %w", id, err)
	}
	n, err := affected(res)
	return n == 1, err
}

// DeleteChallengesExpiredBefore removes challenges that expired before t.
func (t *txn) DeleteChallengesExpiredBefore(ctx context.Context, before time.Time) (
	int, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM challenges WHERE expires_at < $1`,
		toMS(before))
	if err != nil {
		return 0, fmt.Errorf("delete expired challenges: %w", err)
	}
	n, err := affected(res)
	return int(n), err
}
