package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/store"
)

// userCols are the columns scanUser reads, in order, from a users row
// aliased u.
const userCols = `u.id, u.name, u.display_name, u.email, u.phone, u.disabled,
	u.failures, u.locked_until, u.blocked_at, u.email_verified_at, u.phone_verified_at,
	u.created_at, u.updated_at`

type rowScanner interface {
	Scan(dest ...any) error
}

func scanUser(row rowScanner, extra ...any) (store.User, error) {
	var u store.User
	var lockedUntil, blocked, emailVerified, phoneVerified, created, updated int64
	dest := append([]any{&u.ID, &u.Name, &u.DisplayName, &u.Email, &u.Phone, &u.Disabled,
		&u.Lock.Failures, &lockedUntil, &blocked, &emailVerified, &phoneVerified, &created,
		&updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.User{}, err
	}
	u.Lock.LockedUntil = fromMS(lockedUntil)
	u.BlockedAt = fromMS(blocked)
	u.EmailVerifiedAt = fromMS(emailVerified)
	u.PhoneVerifiedAt = fromMS(phoneVerified)
	u.CreatedAt = fromMS(created)
	u.UpdatedAt = fromMS(updated)
	return u, nil
}

// User returns the user with the given name.
func (r reader) User(ctx context.Context, name string) (store.User, error) {
	u, err := r.oneUser(ctx, `u.name = $1`, name)
	if err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// UserByID returns the user with the given ID.
func (r reader) UserByID(ctx context.Context, id string) (store.User, error) {
	u, err := r.oneUser(ctx, `u.id = $1`, id)
	if err != nil {
		return store.User{}, fmt.Errorf("user id %q: %w", id, err)
	}
	return u, nil
}

// oneUser reads the user matching where and then the user's roles.
func (r reader) oneUser(ctx context.Context, where string, arg any) (store.User, error) {
	row := r.q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users u WHERE `+where, arg)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, err
	}

	rows, err := r.q.QueryContext(ctx,
		`SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role`, u.ID)
	if err != nil {
		return store.User{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var role string
		if err := rows.Scan(&role); err != nil {
			return store.User{}, err
		}
		u.Roles = append(u.Roles, role)
	}
	return u, rows.Err()
}

// ListUsers returns users whose name, display name or email contains
// q.Search, ignoring ASCII case, ordered by name, starting after q.After, at
// most q.Limit.
func (r reader) ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	pattern := "%" + escapeLike(strings.ToLower(q.Search)) + "%"
	// The inner query picks the page of users; the join then adds their
	// roles, one row per role, in the same statement for both engines.
	users, err := r.usersWithRoles(ctx, `
		SELECT u.* FROM users u
		WHERE u.name > $1
		  AND (lower(u.name) LIKE $2 ESCAPE '\'
		       OR lower(u.display_name) LIKE $2 ESCAPE '\'
		       OR lower(u.email) LIKE $2 ESCAPE '\')
		ORDER BY u.name LIMIT $3`,
		q.After, pattern, defaultLimit(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// GroupMembers returns the members of a group ordered by name.
func (r reader) GroupMembers(ctx context.Context, groupID string) ([]store.User, error) {
	users, err := r.usersWithRoles(ctx, `
		SELECT u.* FROM users u JOIN group_members m ON m.user_id = u.id
		WHERE m.group_id = $1`, groupID)
	if err != nil {
		return nil, fmt.Errorf("members of group %q: %w", groupID, err)
	}
	return users, nil
}

// usersWithRoles runs inner, a query for whole users rows, and returns
// those users with their roles, ordered by name.
func (r reader) usersWithRoles(ctx context.Context, inner string, args ...any) (
	[]store.User, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+userCols+`, ur.role
		FROM (`+inner+`) u LEFT JOIN user_roles ur ON ur.user_id = u.id
		ORDER BY u.name, ur.role`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var users []store.User
	for rows.Next() {
		var role sql.NullString
		u, err := scanUser(rows, &role)
		if err != nil {
			return nil, err
		}
		if n := len(users); n == 0 || users[n-1].ID != u.ID {
			users = append(users, u)
		}
		if role.Valid {
			last := &users[len(users)-1]
			last.Roles = append(last.Roles, role.String)
		}
	}
	return users, rows.Err()
}

// escapeLike escapes the LIKE wildcards in s, with '\' as the escape.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CreateUser adds a user with its roles and verified times. ErrConflict if
// the name or ID is taken. u.BlockedAt is ignored: only SetBlocked writes
// it.
func (t *txn) CreateUser(ctx context.Context, u store.User) error {
	// ON CONFLICT DO NOTHING rather than a failing INSERT: on PostgreSQL a
	// failed statement would doom the whole transaction, and the contract
	// promises only that nothing changes.
	res, err := t.q.ExecContext(ctx, `INSERT INTO users (id, name, display_name, email, phone,
			disabled, failures, locked_until, next_lock_ms, email_verified_at,
			phone_verified_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12)
		ON CONFLICT DO NOTHING`,
		u.ID, u.Name, u.DisplayName, u.Email, u.Phone, u.Disabled,
		u.Lock.Failures, toMS(u.Lock.LockedUntil), toMS(u.EmailVerifiedAt),
		toMS(u.PhoneVerifiedAt), toMS(u.CreatedAt), toMS(u.UpdatedAt))
	if err := t.needInserted(res, err, "create user %q", u.Name); err != nil {
		return err
	}
	if err := t.insertRoles(ctx, u.ID, u.Roles); err != nil {
		return fmt.Errorf("create user %q: %w", u.Name, err)
	}
	return nil
}

// UpdateUser stores u's display name, email, phone, their verified times,
// disabled flag and UpdatedAt. ErrNotFound if there is no user with u.ID.
func (t *txn) UpdateUser(ctx context.Context, u store.User) error {
	res, err := t.q.ExecContext(ctx, `UPDATE users
		SET display_name = $2, email = $3, phone = $4, disabled = $5, updated_at = $6,
			email_verified_at = $7, phone_verified_at = $8
		WHERE id = $1`,
		u.ID, u.DisplayName, u.Email, u.Phone, u.Disabled, toMS(u.UpdatedAt),
		toMS(u.EmailVerifiedAt), toMS(u.PhoneVerifiedAt))
	return t.needOne(res, err, "update user id %q", u.ID)
}

// ErrInvalidChannel is returned by SetDestination for a channel other than
// email and SMS.
var ErrInvalidChannel = errors.New("sqlstore: invalid channel")

// SetDestination sets a user's email address (store.ChannelEmail) or phone
// number (store.ChannelSMS) and when it was verified, zero for not
// verified. ErrNotFound if there is no such user, ErrInvalidChannel for any
// other channel.
func (t *txn) SetDestination(ctx context.Context, userID, channel, address string,
	verifiedAt time.Time) error {
	var query string
	switch channel {
	case store.ChannelEmail:
		query = `UPDATE users SET email = $2, email_verified_at = $3 WHERE id = $1`
	case store.ChannelSMS:
		query = `UPDATE users SET phone = $2, phone_verified_at = $3 WHERE id = $1`
	default:
		return fmt.Errorf("set destination of %q: channel %q: %w", userID, channel,
			ErrInvalidChannel)
	}
	res, err := t.q.ExecContext(ctx, query, userID, address, toMS(verifiedAt))
	return t.needOne(res, err, "set %s destination of %q", channel, userID)
}

// SetRoles replaces a user's roles. ErrNotFound if there is no such user.
func (t *txn) SetRoles(ctx context.Context, userID string, roles []string) error {
	if err := t.userExists(ctx, userID); err != nil {
		return fmt.Errorf("set roles: %w", err)
	}
	_, err := t.q.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = $1`, userID)
	if err != nil {
		return fmt.Errorf("set roles of %q: %w", userID, err)
	}
	if err := t.insertRoles(ctx, userID, roles); err != nil {
		return fmt.Errorf("set roles of %q: %w", userID, err)
	}
	return nil
}

func (t *txn) insertRoles(ctx context.Context, userID string, roles []string) error {
	roles = slices.Clone(roles)
	slices.Sort(roles)
	for _, role := range slices.Compact(roles) {
		_, err := t.q.ExecContext(ctx,
			`INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, userID, role)
		if err != nil {
			return t.fail(err, "role %q", role)
		}
	}
	return nil
}

// SetBlocked records when a user's sign-ins were blocked, or lifts the
// block when at is zero. ErrNotFound if there is no such user.
func (t *txn) SetBlocked(ctx context.Context, userID string, at time.Time) error {
	res, err := t.q.ExecContext(ctx, `UPDATE users SET blocked_at = $2 WHERE id = $1`,
		userID, toMS(at))
	return t.needOne(res, err, "set blocked of %q", userID)
}

// userExists returns ErrNotFound, wrapped, if there is no user with id.
func (t *txn) userExists(ctx context.Context, id string) error {
	var one int
	err := t.q.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user id %q: %w", id, store.ErrNotFound)
	}
	return err
}

// ClearFailures sets a user's failure count to zero and lifts any lock,
// including the doubling of later locks.
func (t *txn) ClearFailures(ctx context.Context, userID string) error {
	res, err := t.q.ExecContext(ctx, `UPDATE users
		SET failures = 0, locked_until = 0, next_lock_ms = 0 WHERE id = $1`, userID)
	return t.needOne(res, err, "clear failures of %q", userID)
}

// fail wraps a driver error, mapping constraint violations to the store's
// sentinels.
func (r reader) fail(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch r.d.violation(err) {
	case uniqueViolation:
		return fmt.Errorf("%s: %w", msg, store.ErrConflict)
	case foreignKeyViolation:
		return fmt.Errorf("%s: %w", msg, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// needOne checks that a statement succeeded and changed a row; ErrNotFound
// if it changed none.
func (r reader) needOne(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return r.fail(err, format, args...)
	}
	n, err := affected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), store.ErrNotFound)
	}
	return nil
}
