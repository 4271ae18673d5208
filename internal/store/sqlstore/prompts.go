package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const promptCols = `id, user_id, client, challenge_id, created_at, expires_at, used_at`

// CreatePromptState adds the State of an Access-Challenge. ErrZeroTime if it
// has no expiry: it would never stop working.
func (t *txn) CreatePromptState(ctx context.Context, p store.PromptState) error {
	if toMS(p.ExpiresAt) == 0 {
		return fmt.Errorf("create prompt state: expiry: %w", ErrZeroTime)
	}
	if err := t.userExists(ctx, p.UserID); err != nil {
		return fmt.Errorf("create prompt state: %w", err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO prompt_states (`+promptCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		p.ID, p.UserID, p.Client, p.Challenge, toMS(p.CreatedAt), toMS(p.ExpiresAt),
		toMS(p.UsedAt))
	return t.needInserted(res, err, "create prompt state")
}

// UsePromptState uses a state once, in one conditional statement, and
// returns it.
func (t *txn) UsePromptState(ctx context.Context, id, userID, client string, at time.Time) (
	store.PromptState, bool, error) {
	if toMS(at) == 0 {
		return store.PromptState{}, false, fmt.Errorf("use prompt state: %w", ErrZeroTime)
	}
	var p store.PromptState
	var created, expires, used int64
	err := t.q.QueryRowContext(ctx, `UPDATE prompt_states SET used_at = $4
		WHERE id = $1 AND user_id = $2 AND client = $3 AND used_at = 0 AND expires_at > $4
		RETURNING `+promptCols, id, userID, client, toMS(at)).Scan(&p.ID, &p.UserID, &p.Client,
		&p.Challenge, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return store.PromptState{}, false, nil
	}
	if err != nil {
		return store.PromptState{}, false, fmt.Errorf("use prompt state: %w", err)
	}
	p.CreatedAt, p.ExpiresAt, p.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return p, true, nil
}

// DeletePromptStatesExpiredBefore removes states that expired before t.
func (t *txn) DeletePromptStatesExpiredBefore(ctx context.Context, tm time.Time) (int, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM prompt_states WHERE expires_at < $1`, toMS(tm))
	if err != nil {
		return 0, fmt.Errorf("delete prompt states: %w", err)
	}
	n, err := affected(res)
	return int(n), err
}
