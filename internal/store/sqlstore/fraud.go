package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mfad/mfad/internal/store"
)

// FraudReports returns a user's fraud reports, newest first (by creation
// time, then by ID descending).
func (r reader) FraudReports(ctx context.Context, userID string) ([]store.FraudReport, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT id, user_id, link_id, source, message,
			created_at
		FROM fraud_reports WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("fraud reports of %q: %w", userID, err)
	}
	defer rows.Close()
	var out []store.FraudReport
	for rows.Next() {
		var fr store.FraudReport
		var link sql.NullString
		var created int64
		if err := rows.Scan(&fr.ID, &fr.UserID, &link, &fr.Source, &fr.Message,
			&created); err != nil {
			return nil, fmt.Errorf("fraud reports of %q: %w", userID, err)
		}
		fr.LinkID = link.String
		fr.CreatedAt = fromMS(created)
		out = append(out, fr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fraud reports of %q: %w", userID, err)
	}
	return out, nil
}

// CreateFraudReport records a report. ErrConflict if the ID is taken or a
// report was already made with r.LinkID; ErrNotFound if there is no such
// user.
func (t *txn) CreateFraudReport(ctx context.Context, r store.FraudReport) error {
	if err := t.userExists(ctx, r.UserID); err != nil {
		return fmt.Errorf("create fraud report %q: %w", r.ID, err)
	}
	// An empty LinkID is stored as NULL, which the unique index on link_id
	// lets repeat: reports made from a session carry no link. A concurrent
	// insert of the same link waits for the other transaction, then finds
	// the conflict and inserts nothing.
	res, err := t.q.ExecContext(ctx, `INSERT INTO fraud_reports (id, user_id, link_id, source,
			message, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		r.ID, r.UserID, nullString(r.LinkID), r.Source, r.Message, toMS(r.CreatedAt))
	return t.needInserted(res, err, "create fraud report %q", r.ID)
}
