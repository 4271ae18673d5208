package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/mfad/mfad/internal/store"
)

// ErrNoCredentialID is returned by CreateWebAuthnCredential for a
// credential without a credential ID, which no sign-in could name.
var ErrNoCredentialID = errors.New("sqlstore: webauthn credential without credential id")

// ErrInvalidFactor is returned by RenameFactor for a kind other than "totp"
// and "webauthn".
var ErrInvalidFactor = errors.New("sqlstore: invalid factor kind")

const webauthnCols = `id, user_id, credential_id, name, data, sign_count, discoverable,
	created_at, last_used_at`

func scanWebAuthn(row rowScanner) (store.WebAuthnCredential, error) {
	var c store.WebAuthnCredential
	var count, created, used int64
	err := row.Scan(&c.ID, &c.UserID, &c.CredentialID, &c.Name, &c.Data, &count,
		&c.Discoverable, &created, &used)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	// The schema keeps the counter in range; a value outside it is damage,
	// not a counter to compare.
	if count < 0 || count > math.MaxUint32 {
		return store.WebAuthnCredential{}, fmt.Errorf("credential %q: sign count %d out of range",
			c.ID, count)
	}
	c.SignCount = uint32(count)
	c.CredentialID = noEmpty(c.CredentialID)
	c.Data = noEmpty(c.Data)
	c.CreatedAt = fromMS(created)
	c.LastUsedAt = fromMS(used)
	return c, nil
}

// WebAuthnCredentials returns a user's security keys and passkeys, ordered
// by creation time, then ID.
func (r reader) WebAuthnCredentials(ctx context.Context, userID string) (
	[]store.WebAuthnCredential, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+webauthnCols+` FROM webauthn_credentials
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("webauthn credentials of %q: %w", userID, err)
	}
	defer rows.Close()
	var cs []store.WebAuthnCredential
	for rows.Next() {
		c, err := scanWebAuthn(rows)
		if err != nil {
			return nil, fmt.Errorf("webauthn credentials of %q: %w", userID, err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webauthn credentials of %q: %w", userID, err)
	}
	return cs, nil
}

// WebAuthnCredentialByCredentialID returns the credential with the given
// WebAuthn credential ID, of any user. ErrNotFound if there is none.
func (r reader) WebAuthnCredentialByCredentialID(ctx context.Context, credentialID []byte) (
	store.WebAuthnCredential, error) {
	// The ID is left out of errors: it can be a kilobyte long.
	c, err := scanWebAuthn(r.q.QueryRowContext(ctx, `SELECT `+webauthnCols+`
		FROM webauthn_credentials WHERE credential_id = $1`, blob(credentialID)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.WebAuthnCredential{}, fmt.Errorf("webauthn credential by credential id: %w",
			store.ErrNotFound)
	}
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("webauthn credential by credential id: %w",
			err)
	}
	return c, nil
}

// CreateWebAuthnCredential adds a credential as given. ErrConflict if the ID
// or the credential ID is taken, or the user already has one with that
// name; ErrNotFound if there is no such user; ErrNoCredentialID if it has
// no credential ID.
func (t *txn) CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	if len(c.CredentialID) == 0 {
		return fmt.Errorf("create webauthn credential %q: %w", c.ID, ErrNoCredentialID)
	}
	if err := t.userExists(ctx, c.UserID); err != nil {
		return fmt.Errorf("create webauthn credential %q: %w", c.ID, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO webauthn_credentials (`+webauthnCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		c.ID, c.UserID, c.CredentialID, c.Name, blob(c.Data), int64(c.SignCount),
		c.Discoverable, toMS(c.CreatedAt), toMS(c.LastUsedAt))
	return t.needInserted(res, err, "create webauthn credential %q", c.ID)
}

// UseWebAuthnCredential records a sign-in with credential id if, and only
// if, its signature counter grew, or the old and the new counter are both
// zero, in one conditional statement (WebAuthn §6.1.1: a counter that does
// not grow signals a cloned authenticator). It reports whether it did.
// ErrZeroTime if at is zero: the use would read as never.
func (t *txn) UseWebAuthnCredential(ctx context.Context, id string, signCount uint32,
	data []byte, at time.Time) (bool, error) {
	if toMS(at) == 0 {
		return false, fmt.Errorf("use webauthn credential %q: %w", id, ErrZeroTime)
	}
	// As in UseTOTPStep, PostgreSQL makes a concurrent UPDATE of the row
	// wait and then evaluates the WHERE clause again on the committed row,
	// so of callers with the same counter only the first succeeds.
	res, err := t.q.ExecContext(ctx, `UPDATE webauthn_credentials
		SET sign_count = $2, data = $3, last_used_at = $4
		WHERE id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`,
		id, int64(signCount), blob(data), toMS(at))
	return t.changedOne(res, err, "use webauthn credential %q", id)
}

// DeleteWebAuthnCredential removes one of a user's credentials. ErrNotFound
// if the user has none with that ID.
func (t *txn) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	res, err := t.q.ExecContext(ctx,
		`DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2`, id, userID)
	return t.needOne(res, err, "delete webauthn credential %q of %q", id, userID)
}

// RenameFactor renames a user's authenticator (kind "totp") or security key
// ("webauthn"). ErrNotFound if the user has none with that ID, ErrConflict
// if the user already has one of that kind with the name, ErrInvalidFactor
// for any other kind.
func (t *txn) RenameFactor(ctx context.Context, userID, kind, id, name string) error {
	var query string
	switch kind {
	case "totp":
		query = `UPDATE totp_credentials SET name = $3 WHERE id = $1 AND user_id = $2`
	case "webauthn":
		query = `UPDATE webauthn_credentials SET name = $3 WHERE id = $1 AND user_id = $2`
	default:
		return fmt.Errorf("rename factor %q of %q: kind %q: %w", id, userID, kind,
			ErrInvalidFactor)
	}
	res, err := t.q.ExecContext(ctx, query, id, userID, name)
	return t.needOne(res, err, "rename %s factor %q of %q", kind, id, userID)
}
