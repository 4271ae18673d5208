package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const totpCols = `id, user_id, name, algorithm, digits, period, secret, key_id,
	confirmed, last_step, created_at, confirmed_at, last_used_at`

func scanTOTP(row rowScanner) (store.TOTPCredential, error) {
	var c store.TOTPCredential
	var created, confirmed, used int64
	err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.Algorithm, &c.Digits, &c.Period,
		&c.Secret, &c.KeyID, &c.Confirmed, &c.LastStep, &created, &confirmed, &used)
	if err != nil {
		return store.TOTPCredential{}, err
	}
	c.Secret = noEmpty(c.Secret)
	c.CreatedAt = fromMS(created)
	c.ConfirmedAt = fromMS(confirmed)
	c.LastUsedAt = fromMS(used)
	return c, nil
}

// TOTPCredentials returns a user's authenticators, confirmed or not,
// ordered by creation time (then ID).
func (r reader) TOTPCredentials(ctx context.Context, userID string) (
	[]store.TOTPCredential, error) {
	cs, err := r.totps(ctx, `SELECT `+totpCols+` FROM totp_credentials
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("authenticators of %q: %w", userID, err)
	}
	return cs, nil
}

// TOTPCredentialsNotSealedWith returns up to limit authenticators (100 when
// limit is not positive) whose secret is sealed under a key other than
// keyID, ordered by ID.
func (r reader) TOTPCredentialsNotSealedWith(ctx context.Context, keyID string, limit int) (
	[]store.TOTPCredential, error) {
	cs, err := r.totps(ctx, `SELECT `+totpCols+` FROM totp_credentials
		WHERE key_id <> $1 ORDER BY id LIMIT $2`, keyID, defaultLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("authenticators not sealed with %q: %w", keyID, err)
	}
	return cs, nil
}

func (r reader) totps(ctx context.Context, query string, args ...any) (
	[]store.TOTPCredential, error) {
	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []store.TOTPCredential
	for rows.Next() {
		c, err := scanTOTP(rows)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// CreateTOTP adds an authenticator as given. ErrConflict if the user already
// has one with that name, or the ID is taken; ErrNotFound if there is no
// such user.
func (t *txn) CreateTOTP(ctx context.Context, c store.TOTPCredential) error {
	if err := t.userExists(ctx, c.UserID); err != nil {
		return fmt.Errorf("create authenticator %q: %w", c.Name, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO totp_credentials (`+totpCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT DO NOTHING`,
		c.ID, c.UserID, c.Name, c.Algorithm, c.Digits, c.Period, blob(c.Secret), c.KeyID,
		c.Confirmed, c.LastStep, toMS(c.CreatedAt), toMS(c.ConfirmedAt), toMS(c.LastUsedAt))
	return t.needInserted(res, err, "create authenticator %q", c.Name)
}

// ConfirmTOTP marks an unconfirmed authenticator of userID confirmed and
// records step as its last accepted step, in one conditional statement. It
// reports false if there is no such unconfirmed authenticator.
func (t *txn) ConfirmTOTP(ctx context.Context, userID, id string, step int64, at time.Time) (
	bool, error) {
	res, err := t.q.ExecContext(ctx, `UPDATE totp_credentials
		SET confirmed = TRUE, last_step = $3, confirmed_at = $4
		WHERE id = $1 AND user_id = $2 AND NOT confirmed`,
		id, userID, step, toMS(at))
	return t.changedOne(res, err, "confirm authenticator %q", id)
}

// UseTOTPStep records step as the last accepted step of a confirmed
// authenticator if, and only if, it is strictly greater than the last one
// (RFC 6238 §5.2: a code is accepted at most once), in one conditional
// statement. It reports whether it did.
func (t *txn) UseTOTPStep(ctx context.Context, id string, step int64, at time.Time) (
	bool, error) {
	// On PostgreSQL a concurrent UPDATE of the row makes this one wait and
	// then evaluate the WHERE clause again on the committed row, so of two
	// callers with the same step only the first succeeds.
	res, err := t.q.ExecContext(ctx, `UPDATE totp_credentials
		SET last_step = $2, last_used_at = $3
		WHERE id = $1 AND confirmed AND last_step < $2`,
		id, step, toMS(at))
	return t.changedOne(res, err, "use step of authenticator %q", id)
}

// ResealTOTP replaces an authenticator's sealed secret if it is still
// sealed under oldKeyID, and reports whether it did.
func (t *txn) ResealTOTP(ctx context.Context, id, oldKeyID string, secret []byte,
	keyID string) (bool, error) {
	res, err := t.q.ExecContext(ctx, `UPDATE totp_credentials
		SET secret = $3, key_id = $4 WHERE id = $1 AND key_id = $2`,
		id, oldKeyID, blob(secret), keyID)
	return t.changedOne(res, err, "reseal authenticator %q", id)
}

// DeleteTOTP removes one of a user's authenticators. ErrNotFound if the user
// has none with that ID.
func (t *txn) DeleteTOTP(ctx context.Context, userID, id string) error {
	res, err := t.q.ExecContext(ctx,
		`DELETE FROM totp_credentials WHERE id = $1 AND user_id = $2`, id, userID)
	return t.needOne(res, err, "delete authenticator %q of %q", id, userID)
}

// changedOne reports whether a conditional UPDATE changed a row.
func (r reader) changedOne(res sql.Result, err error,
	format string, args ...any) (bool, error) {
	if err != nil {
		return false, r.fail(err, format, args...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: rows affected: %w", fmt.Sprintf(format, args...), err)
	}
	return n == 1, nil
}
