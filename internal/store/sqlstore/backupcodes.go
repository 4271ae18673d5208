package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

// BackupCodeSet returns a user's set of backup codes with the number of
// codes not yet used.
func (r reader) BackupCodeSet(ctx context.Context, userID string) (store.BackupCodeSet, error) {
	var s store.BackupCodeSet
	var created, expires int64
	err := r.q.QueryRowContext(ctx, `SELECT s.id, s.user_id, s.total, s.created_at,
			s.expires_at, s.created_by,
			(SELECT COUNT(*) FROM backup_codes c WHERE c.set_id = s.id AND c.used_at = 0)
		FROM backup_code_sets s WHERE s.user_id = $1`, userID,
	).Scan(&s.ID, &s.UserID, &s.Total, &created, &expires, &s.CreatedBy, &s.Remaining)
	if errors.Is(err, sql.ErrNoRows) {
		return store.BackupCodeSet{}, fmt.Errorf("backup codes of %q: %w", userID,
			store.ErrNotFound)
	}
	if err != nil {
		return store.BackupCodeSet{}, fmt.Errorf("backup codes of %q: %w", userID, err)
	}
	s.CreatedAt = fromMS(created)
	s.ExpiresAt = fromMS(expires)
	return s, nil
}

// BackupCodes returns the codes of a user's set ordered by position.
func (r reader) BackupCodes(ctx context.Context, userID string) ([]store.BackupCode, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT c.set_id, c.position, c.hash, c.key_id,
			c.created_at, c.used_at
		FROM backup_codes c JOIN backup_code_sets s ON s.id = c.set_id
		WHERE s.user_id = $1 ORDER BY c.position`, userID)
	if err != nil {
		return nil, fmt.Errorf("backup codes of %q: %w", userID, err)
	}
	defer rows.Close()
	var out []store.BackupCode
	for rows.Next() {
		var c store.BackupCode
		var created, used int64
		if err := rows.Scan(&c.SetID, &c.Position, &c.Hash, &c.KeyID, &created,
			&used); err != nil {
			return nil, fmt.Errorf("backup codes of %q: %w", userID, err)
		}
		c.Hash = noEmpty(c.Hash)
		c.CreatedAt = fromMS(created)
		c.UsedAt = fromMS(used)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backup codes of %q: %w", userID, err)
	}
	return out, nil
}

// ReplaceBackupCodes deletes the user's set, if any, and inserts the new one
// with its codes, all in the caller's transaction.
func (t *txn) ReplaceBackupCodes(ctx context.Context, set store.BackupCodeSet,
	codes []store.BackupCode) error {
	if err := t.userExists(ctx, set.UserID); err != nil {
		return fmt.Errorf("replace backup codes: %w", err)
	}
	// The cascade removes the old codes. A verification that read an old
	// code before this commits finds no row to mark used afterwards.
	if _, err := t.q.ExecContext(ctx, `DELETE FROM backup_code_sets WHERE user_id = $1`,
		set.UserID); err != nil {
		return fmt.Errorf("replace backup codes of %q: %w", set.UserID, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO backup_code_sets (user_id, id, total,
			created_at, expires_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		set.UserID, set.ID, set.Total, toMS(set.CreatedAt), toMS(set.ExpiresAt), set.CreatedBy)
	if err := t.needInserted(res, err, "create backup code set %q", set.ID); err != nil {
		return err
	}
	for _, c := range codes {
		if c.SetID != set.ID {
			return fmt.Errorf("backup code %d belongs to set %q, not %q", c.Position, c.SetID,
				set.ID)
		}
		res, err := t.q.ExecContext(ctx, `INSERT INTO backup_codes (set_id, position, hash,
				key_id, created_at, used_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			c.SetID, c.Position, blob(c.Hash), c.KeyID, toMS(c.CreatedAt), toMS(c.UsedAt))
		if err := t.needInserted(res, err, "backup code %d of set %q", c.Position,
			c.SetID); err != nil {
			return err
		}
	}
	return nil
}

// DeleteBackupCodes removes a user's set and its codes.
func (t *txn) DeleteBackupCodes(ctx context.Context, userID string) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM backup_code_sets WHERE user_id = $1`, userID)
	return t.needOne(res, err, "delete backup codes of %q", userID)
}

// UseBackupCode marks one code used in one conditional statement: of any
// number of concurrent callers, one sees a row change.
func (t *txn) UseBackupCode(ctx context.Context, setID string, position int,
	at time.Time) (bool, error) {
	if toMS(at) == 0 {
		// used_at 0 means "unused": storing it would use nothing up.
		return false, fmt.Errorf("use backup code %d of %q: %w", position, setID, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx, `UPDATE backup_codes SET used_at = $3
		WHERE set_id = $1 AND position = $2 AND used_at = 0`, setID, position, toMS(at))
	if err != nil {
		return false, fmt.Errorf("use backup code %d of %q: %w", position, setID, err)
	}
	n, err := affected(res)
	return n == 1, err
}
