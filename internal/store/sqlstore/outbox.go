package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mfad/mfad/internal/store"
)

// AppendOutbox writes an event for delivery and returns its Seq. ErrConflict
// if an event with the same ID exists.
func (t *txn) AppendOutbox(ctx context.Context, ev store.OutboxEvent) (int64, error) {
	data := ev.Data
	if len(data) == 0 {
		data = []byte("{}")
	}
	if !json.Valid(data) {
		return 0, fmt.Errorf("append outbox event %q: data is not JSON", ev.ID)
	}
	var seq int64
	err := t.q.QueryRowContext(ctx, `INSERT INTO outbox (id, type, user_id, subject, time_ms,
			data)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING seq`,
		ev.ID, ev.Type, ev.UserID, ev.Subject, toMS(ev.Time), string(data)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("append outbox event %q: %w", ev.ID, store.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("append outbox event %q: %w", ev.ID, err)
	}
	return seq, nil
}

// ListOutbox returns up to limit events after afterSeq in Seq order.
func (r reader) ListOutbox(ctx context.Context, afterSeq int64, limit int) (
	[]store.OutboxEvent, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT seq, id, type, user_id, subject, time_ms, data
		FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, defaultLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	defer rows.Close()
	var out []store.OutboxEvent
	for rows.Next() {
		var ev store.OutboxEvent
		var ms int64
		var data string
		if err := rows.Scan(&ev.Seq, &ev.ID, &ev.Type, &ev.UserID, &ev.Subject, &ms,
			&data); err != nil {
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		ev.Time = fromMS(ms)
		ev.Data = []byte(data)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}
