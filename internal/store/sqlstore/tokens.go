package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const tokenCols = `id, name, role, user_id, hash, key_id, created_by, created_at, revoked_at`

func scanToken(row rowScanner) (store.Token, error) {
	var tk store.Token
	var userID sql.NullString
	var created, revoked int64
	err := row.Scan(&tk.ID, &tk.Name, &tk.Role, &userID, &tk.Hash, &tk.KeyID,
		&tk.CreatedBy, &created, &revoked)
	if err != nil {
		return store.Token{}, err
	}
	tk.UserID = userID.String
	tk.Hash = noEmpty(tk.Hash)
	tk.CreatedAt = fromMS(created)
	tk.RevokedAt = fromMS(revoked)
	return tk, nil
}

// Token returns the API token with the given ID, revoked or not.
func (r reader) Token(ctx context.Context, id string) (store.Token, error) {
	tk, err := scanToken(r.q.QueryRowContext(ctx,
		`SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, fmt.Errorf("token %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("token %q: %w", id, err)
	}
	return tk, nil
}

// ListTokens returns all API tokens, newest first (by creation time, then
// by ID descending).
func (r reader) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens
		ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var tks []store.Token
	for rows.Next() {
		tk, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		tks = append(tks, tk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tks, nil
}

// CreateToken adds an API token. ErrConflict if the ID is taken;
// ErrNotFound if it names a user that does not exist.
func (t *txn) CreateToken(ctx context.Context, tk store.Token) error {
	if tk.UserID != "" {
		if err := t.userExists(ctx, tk.UserID); err != nil {
			return fmt.Errorf("create token %q: %w", tk.ID, err)
		}
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO api_tokens (`+tokenCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		tk.ID, tk.Name, tk.Role, nullString(tk.UserID), blob(tk.Hash), tk.KeyID,
		tk.CreatedBy, toMS(tk.CreatedAt), toMS(tk.RevokedAt))
	return t.needInserted(res, err, "create token %q", tk.ID)
}

// ErrZeroTime is returned for a time that must be set but is zero.
var ErrZeroTime = errors.New("sqlstore: zero time")

// RevokeToken marks a token revoked at the given time, in one conditional
// statement. ErrNotFound if there is no such token or it is already revoked.
func (t *txn) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if toMS(at) == 0 {
		// revoked_at 0 means "not revoked": storing it would revoke nothing.
		return fmt.Errorf("revoke token %q: %w", id, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx,
		`UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0`, id, toMS(at))
	return t.needOne(res, err, "revoke token %q", id)
}
