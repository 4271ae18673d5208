package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mfad/mfad/internal/store"
)

// Policy returns the policy document stored for scope.
func (r reader) Policy(ctx context.Context, scope string) (store.PolicyDoc, error) {
	p := store.PolicyDoc{Scope: scope}
	var updated int64
	err := r.q.QueryRowContext(ctx,
		`SELECT doc, updated_at, updated_by FROM policies WHERE scope = $1`, scope,
	).Scan(&p.Doc, &updated, &p.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return store.PolicyDoc{}, fmt.Errorf("policy %q: %w", scope, store.ErrNotFound)
	}
	if err != nil {
		return store.PolicyDoc{}, fmt.Errorf("policy %q: %w", scope, err)
	}
	p.Doc = noEmpty(p.Doc)
	p.UpdatedAt = fromMS(updated)
	return p, nil
}

// PutPolicy stores the policy document for its scope, replacing any.
func (t *txn) PutPolicy(ctx context.Context, p store.PolicyDoc) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO policies (scope, doc, updated_at, updated_by)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (scope) DO UPDATE SET
			doc = excluded.doc, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		p.Scope, blob(p.Doc), toMS(p.UpdatedAt), p.UpdatedBy)
	if err != nil {
		return t.fail(err, "put policy %q", p.Scope)
	}
	return nil
}

// ListPolicies returns every stored policy document ordered by scope.
func (r reader) ListPolicies(ctx context.Context) ([]store.PolicyDoc, error) {
	rows, err := r.q.QueryContext(ctx,
		`SELECT scope, doc, updated_at, updated_by FROM policies ORDER BY scope`)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	defer rows.Close()
	var ps []store.PolicyDoc
	for rows.Next() {
		var p store.PolicyDoc
		var updated int64
		if err := rows.Scan(&p.Scope, &p.Doc, &updated, &p.UpdatedBy); err != nil {
			return nil, fmt.Errorf("list policies: %w", err)
		}
		p.Doc = noEmpty(p.Doc)
		p.UpdatedAt = fromMS(updated)
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	return ps, nil
}

// DeletePolicy removes the document stored for scope. ErrNotFound if there
// is none.
func (t *txn) DeletePolicy(ctx context.Context, scope string) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM policies WHERE scope = $1`, scope)
	return t.needOne(res, err, "delete policy %q", scope)
}
