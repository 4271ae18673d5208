package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/store"
)

// ErrInvalidDecision is returned by DecidePassRequest for a status that is
// not a decision: approved, denied or forwarded.
var ErrInvalidDecision = errors.New("sqlstore: invalid pass request decision")

const passRequestCols = `id, user_id, kind, message, source, requested_by, requester_key,
	lifetime_ms, starts_at, one_time, reason, origin, created_at, expires_at, status,
	decided_by, decided_at, decision_reason`

func scanPassRequest(row rowScanner) (store.PassRequest, error) {
	var r store.PassRequest
	var lifetime, starts, created, expires, decided int64
	err := row.Scan(&r.ID, &r.UserID, &r.Kind, &r.Message, &r.Source, &r.RequestedBy,
		&r.RequesterKey, &lifetime, &starts, &r.OneTime, &r.Reason, &r.Origin, &created,
		&expires, &r.Status, &r.DecidedBy, &decided, &r.DecisionReason)
	if err != nil {
		return store.PassRequest{}, err
	}
	r.Lifetime = time.Duration(lifetime) * time.Millisecond
	r.StartsAt, r.CreatedAt, r.ExpiresAt = fromMS(starts), fromMS(created), fromMS(expires)
	r.DecidedAt = fromMS(decided)
	return r, nil
}

// PassRequest returns the access-pass request with the given ID.
func (r reader) PassRequest(ctx context.Context, id string) (store.PassRequest, error) {
	pr, err := scanPassRequest(r.q.QueryRowContext(ctx,
		`SELECT `+passRequestCols+` FROM pass_requests WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.PassRequest{}, fmt.Errorf("pass request %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.PassRequest{}, fmt.Errorf("pass request %q: %w", id, err)
	}
	return pr, nil
}

// ListPassRequests returns requests matching q, newest first (by creation
// time, then by ID descending).
func (r reader) ListPassRequests(ctx context.Context, q store.PassRequestQuery) (
	[]store.PassRequest, error) {
	var conds []string
	var args []any
	// arg adds v to args and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}

	if q.Status != "" {
		conds = append(conds, "status = "+arg(q.Status))
	}
	if q.Status == store.PassRequestPending && !q.PendingAt.IsZero() {
		// The same boundary as DecidePassRequest: at expires_at it is over.
		conds = append(conds, "expires_at > "+arg(toMS(q.PendingAt)))
	}
	if q.UserID != "" {
		conds = append(conds, "user_id = "+arg(q.UserID))
	}

	query := `SELECT ` + passRequestCols + ` FROM pass_requests`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, " AND ")
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(defaultLimit(q.Limit))

	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list pass requests: %w", err)
	}
	defer rows.Close()
	var out []store.PassRequest
	for rows.Next() {
		pr, err := scanPassRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("list pass requests: %w", err)
		}
		out = append(out, pr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pass requests: %w", err)
	}
	return out, nil
}

// CreatePassRequest adds an access-pass request as given, status and all.
// ErrConflict if the ID is taken, ErrNotFound if there is no such user,
// ErrZeroTime if it has no ExpiresAt: such a request could never be
// decided.
func (t *txn) CreatePassRequest(ctx context.Context, r store.PassRequest) error {
	if toMS(r.ExpiresAt) == 0 {
		return fmt.Errorf("create pass request %q: expiry: %w", r.ID, ErrZeroTime)
	}
	if err := t.userExists(ctx, r.UserID); err != nil {
		return fmt.Errorf("create pass request %q: %w", r.ID, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO pass_requests (`+passRequestCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
			$18)
		ON CONFLICT DO NOTHING`,
		r.ID, r.UserID, r.Kind, r.Message, r.Source, r.RequestedBy, r.RequesterKey,
		r.Lifetime.Milliseconds(), toMS(r.StartsAt), r.OneTime, r.Reason, r.Origin,
		toMS(r.CreatedAt), toMS(r.ExpiresAt), r.Status, r.DecidedBy, toMS(r.DecidedAt),
		r.DecisionReason)
	return t.needInserted(res, err, "create pass request %q", r.ID)
}

// DecidePassRequest records d on a pending, unexpired request in one
// conditional statement. On PostgreSQL a decider that waited for a
// concurrent one re-checks the WHERE clause on the row that one left, finds
// it no longer pending, and changes nothing.
func (t *txn) DecidePassRequest(ctx context.Context, id string, d store.PassDecision) (
	bool, error) {
	switch d.Status {
	case store.PassRequestApproved, store.PassRequestDenied, store.PassRequestForwarded:
	default:
		// Deciding "pending" would leave the request open for a second win.
		return false, fmt.Errorf("decide pass request %q: status %q: %w", id, d.Status,
			ErrInvalidDecision)
	}
	if toMS(d.At) == 0 {
		// At 0 every request would look unexpired.
		return false, fmt.Errorf("decide pass request %q: %w", id, ErrZeroTime)
	}
	res, err := t.q.ExecContext(ctx, `UPDATE pass_requests
		SET status = $2, decided_by = $3, decided_at = $4, decision_reason = $5
		WHERE id = $1 AND status = $6 AND expires_at > $4`,
		id, d.Status, d.By, toMS(d.At), d.Reason, store.PassRequestPending)
	if err != nil {
		return false, fmt.Errorf("decide pass request %q: %w", id, err)
	}
	n, err := affected(res)
	return n == 1, err
}
