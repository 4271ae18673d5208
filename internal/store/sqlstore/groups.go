package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const groupCols = `g.id, g.name, g.description, g.created_at`

func scanGroup(row rowScanner) (store.Group, error) {
	var g store.Group
	var created int64
	if err := row.Scan(&g.ID, &g.Name, &g.Description, &created); err != nil {
		return store.Group{}, err
	}
	g.CreatedAt = fromMS(created)
	return g, nil
}

// Group returns the group with the given name.
func (r reader) Group(ctx context.Context, name string) (store.Group, error) {
	g, err := scanGroup(r.q.QueryRowContext(ctx,
		`SELECT `+groupCols+` FROM groups g WHERE g.name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Group{}, fmt.Errorf("group %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Group{}, fmt.Errorf("group %q: %w", name, err)
	}
	return g, nil
}

// ListGroups returns all groups ordered by name.
func (r reader) ListGroups(ctx context.Context) ([]store.Group, error) {
	gs, err := r.groups(ctx, `SELECT `+groupCols+` FROM groups g ORDER BY g.name`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return gs, nil
}

// UserGroups returns the groups a user belongs to ordered by name.
func (r reader) UserGroups(ctx context.Context, userID string) ([]store.Group, error) {
	gs, err := r.groups(ctx, `SELECT `+groupCols+`
		FROM groups g JOIN group_members m ON m.group_id = g.id
		WHERE m.user_id = $1 ORDER BY g.name`, userID)
	if err != nil {
		return nil, fmt.Errorf("groups of %q: %w", userID, err)
	}
	return gs, nil
}

func (r reader) groups(ctx context.Context, query string, args ...any) ([]store.Group, error) {
	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var gs []store.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	return gs, rows.Err()
}

// CreateGroup adds a group. ErrConflict if the name or ID is taken.
func (t *txn) CreateGroup(ctx context.Context, g store.Group) error {
	res, err := t.q.ExecContext(ctx, `INSERT INTO groups (id, name, description, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		g.ID, g.Name, g.Description, toMS(g.CreatedAt))
	return t.needInserted(res, err, "create group %q", g.Name)
}

// DeleteGroup removes a group and, by cascade, its memberships.
// ErrNotFound if there is none.
func (t *txn) DeleteGroup(ctx context.Context, groupID string) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM groups WHERE id = $1`, groupID)
	return t.needOne(res, err, "delete group id %q", groupID)
}

// AddMember adds a user to a group. ErrConflict if already a member,
// ErrNotFound if the group or the user does not exist.
func (t *txn) AddMember(ctx context.Context, groupID, userID string, at time.Time) error {
	// Checking first keeps a PostgreSQL transaction usable after
	// ErrNotFound; the foreign keys still guard against a concurrent delete.
	var groups, users int
	err := t.q.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM groups WHERE id = $1),
			(SELECT COUNT(*) FROM users WHERE id = $2)`, groupID, userID,
	).Scan(&groups, &users)
	if err != nil {
		return fmt.Errorf("add member %q to %q: %w", userID, groupID, err)
	}
	if groups == 0 {
		return fmt.Errorf("group id %q: %w", groupID, store.ErrNotFound)
	}
	if users == 0 {
		return fmt.Errorf("user id %q: %w", userID, store.ErrNotFound)
	}

	res, err := t.q.ExecContext(ctx, `INSERT INTO group_members (group_id, user_id, added_at)
		VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, groupID, userID, toMS(at))
	return t.needInserted(res, err, "add member %q to %q", userID, groupID)
}

// RemoveMember removes a user from a group. ErrNotFound if not a member.
func (t *txn) RemoveMember(ctx context.Context, groupID, userID string) error {
	res, err := t.q.ExecContext(ctx,
		`DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, groupID, userID)
	return t.needOne(res, err, "remove member %q from %q", userID, groupID)
}

// needInserted checks an INSERT ... ON CONFLICT DO NOTHING: ErrConflict if
// it inserted nothing.
func (r reader) needInserted(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return r.fail(err, format, args...)
	}
	n, err := affected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), store.ErrConflict)
	}
	return nil
}
