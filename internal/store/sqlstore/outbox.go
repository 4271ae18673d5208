package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mfad/mfad/internal/store"
)

const outboxCols = `seq, id, type, user_id, subject, time_ms, data`

func scanOutbox(row rowScanner) (store.OutboxEvent, error) {
	var ev store.OutboxEvent
	var ms int64
	var data string
	if err := row.Scan(&ev.Seq, &ev.ID, &ev.Type, &ev.UserID, &ev.Subject, &ms,
		&data); err != nil {
		return store.OutboxEvent{}, err
	}
	ev.Time = fromMS(ms)
	ev.Data = []byte(data)
	return ev, nil
}

// scanOutboxRows reads every event rows holds, closing rows.
func scanOutboxRows(rows *sql.Rows) ([]store.OutboxEvent, error) {
	defer rows.Close()
	var out []store.OutboxEvent
	for rows.Next() {
		ev, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

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
	rows, err := r.q.QueryContext(ctx, `SELECT `+outboxCols+`
		FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, defaultLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out, err := scanOutboxRows(rows)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

// OutboxEvent returns the outbox event with the given ID, claimed or not.
func (r reader) OutboxEvent(ctx context.Context, id string) (store.OutboxEvent, error) {
	ev, err := scanOutbox(r.q.QueryRowContext(ctx,
		`SELECT `+outboxCols+` FROM outbox WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.OutboxEvent{}, fmt.Errorf("outbox event %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.OutboxEvent{}, fmt.Errorf("outbox event %q: %w", id, err)
	}
	return ev, nil
}

// claimOutboxSQL claims unclaimed events, lowest seq first, in one
// statement. The inner SELECT picks candidates from the statement's
// snapshot; the outer claimed_at = 0 is checked again on each row as it is
// locked. On PostgreSQL (READ COMMITTED) a claimer that waited for another
// one's lock re-reads the row that one committed, finds it claimed, and
// skips it, so no event goes to two claimers; it may then return fewer
// than limit events, or none, while others remain. SQLite has one writer
// at a time.
//
// The candidates are picked in a CTE ending with the dialect's skipLocked,
// so that on PostgreSQL claimers take disjoint rows instead of queueing;
// a locking CTE is evaluated once, where a subquery in the WHERE could be
// run again and pass its LIMIT. The outer WHERE repeats the condition in
// case a row changed meanwhile.
//
// $1 claim time in milliseconds, $2 limit.
func claimOutboxSQL(d *dialect) string {
	return `WITH candidates AS (
	SELECT seq FROM outbox WHERE claimed_at = 0 ORDER BY seq LIMIT $2` + d.skipLocked + `)
UPDATE outbox SET claimed_at = $1
WHERE seq IN (SELECT seq FROM candidates) AND claimed_at = 0
RETURNING ` + outboxCols
}

// ClaimOutbox marks up to limit unclaimed events claimed at the given time
// and returns them in Seq order; limit 0 means 100. ErrZeroTime if at is
// zero, since claimed_at 0 means "not claimed".
func (t *txn) ClaimOutbox(ctx context.Context, at time.Time, limit int) (
	[]store.OutboxEvent, error) {
	if toMS(at) == 0 {
		return nil, fmt.Errorf("claim outbox: %w", ErrZeroTime)
	}
	rows, err := t.q.QueryContext(ctx, claimOutboxSQL(t.d), toMS(at), defaultLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	out, err := scanOutboxRows(rows)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	// RETURNING gives the rows in no promised order.
	slices.SortFunc(out, func(a, b store.OutboxEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}
