package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store"
)

// ErrChainGap is returned by SealAudit when the link function returns a
// link whose Seq does not follow its predecessor's: the chain is numbered
// from 1 without gaps.
var ErrChainGap = errors.New("sqlstore: link out of sequence")

const eventCols = `seq, id, time_ms, action, outcome, reason, actor, subject, source,
	front_door, request_id, factor, detail, key_id, mac, link_seq, link_mac, link_key_id`

// scanPage is how many events ScanAudit reads at a time. The rows are read
// into memory before fn sees them, so that fn may use the database.
const scanPage = 500

func scanEvent(row rowScanner) (audit.Event, error) {
	var ev audit.Event
	var outcome string
	var ms int64
	var detail, linkKeyID sql.NullString
	var linkSeq sql.NullInt64
	var linkMAC []byte
	err := row.Scan(&ev.Seq, &ev.ID, &ms, &ev.Action, &outcome, &ev.Reason, &ev.Actor,
		&ev.Subject, &ev.Source, &ev.FrontDoor, &ev.RequestID, &ev.Factor, &detail,
		&ev.KeyID, &ev.MAC, &linkSeq, &linkMAC, &linkKeyID)
	if err != nil {
		return audit.Event{}, err
	}
	ev.Time = fromMS(ms)
	ev.Outcome = audit.Outcome(outcome)
	ev.MAC = noEmpty(ev.MAC)
	if detail.Valid {
		if err := json.Unmarshal([]byte(detail.String), &ev.Detail); err != nil {
			return audit.Event{}, fmt.Errorf("detail of event %d: %w", ev.Seq, err)
		}
	}
	if linkSeq.Valid {
		ev.Link = &audit.Link{Seq: linkSeq.Int64, MAC: noEmpty(linkMAC), KeyID: linkKeyID.String}
	}
	return ev, nil
}

func queryEvents(ctx context.Context, q querier, query string, args ...any) (
	[]audit.Event, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []audit.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, rows.Err()
}

// AppendAudit writes an event and returns the Seq the database gave it.
// ErrConflict if an event with the same ID exists.
func (t *txn) AppendAudit(ctx context.Context, ev audit.Event) (int64, error) {
	if ev.Link != nil {
		return 0, fmt.Errorf("append audit event %q: link must be nil until sealed", ev.ID)
	}
	// A nil Detail stays NULL, so that it reads back nil rather than empty.
	var detail sql.NullString
	if ev.Detail != nil {
		b, err := json.Marshal(ev.Detail)
		if err != nil {
			return 0, fmt.Errorf("append audit event %q: %w", ev.ID, err)
		}
		detail = sql.NullString{String: string(b), Valid: true}
	}

	var seq int64
	err := t.q.QueryRowContext(ctx, `INSERT INTO audit_events (id, time_ms, action, outcome,
			reason, actor, subject, source, front_door, request_id, factor, detail, key_id, mac)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT DO NOTHING RETURNING seq`,
		ev.ID, toMS(ev.Time), ev.Action, string(ev.Outcome), ev.Reason, ev.Actor, ev.Subject,
		ev.Source, ev.FrontDoor, ev.RequestID, ev.Factor, detail, ev.KeyID, blob(ev.MAC),
	).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("append audit event %q: %w", ev.ID, store.ErrConflict)
	}
	if err != nil {
		return 0, t.fail(err, "append audit event %q", ev.ID)
	}
	return seq, nil
}

// ListAudit returns audit events matching q, newest (highest Seq) first.
func (r reader) ListAudit(ctx context.Context, q store.AuditQuery) ([]audit.Event, error) {
	var conds []string
	var args []any
	// arg adds v to args and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}

	if q.Subject != "" {
		conds = append(conds, "subject = "+arg(q.Subject))
	}
	switch {
	case strings.HasSuffix(q.Action, "."):
		// A prefix as a range, which the index on action serves: in byte
		// order '/' follows '.', so every action beginning with "user." is
		// at least "user." and below "user/".
		end := strings.TrimSuffix(q.Action, ".") + "/"
		conds = append(conds, "action >= "+arg(q.Action), "action < "+arg(end))
	case q.Action != "":
		conds = append(conds, "action = "+arg(q.Action))
	}
	if !q.Since.IsZero() {
		conds = append(conds, "time_ms >= "+arg(toMS(q.Since)))
	}
	if !q.Until.IsZero() {
		conds = append(conds, "time_ms < "+arg(toMS(q.Until)))
	}
	if q.BeforeSeq > 0 {
		conds = append(conds, "seq < "+arg(q.BeforeSeq))
	}

	query := `SELECT ` + eventCols + ` FROM audit_events`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, " AND ")
	}
	query += ` ORDER BY seq DESC LIMIT ` + arg(defaultLimit(q.Limit))

	evs, err := queryEvents(ctx, r.q, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return evs, nil
}

// ScanAudit calls fn for every audit event: first the sealed ones in chain
// order, then the unsealed ones in Seq order. On a Tx it sees the
// transaction's view, statement by statement.
func (r reader) ScanAudit(ctx context.Context, fn func(audit.Event) error) error {
	return scanAudit(ctx, r.q, fn)
}

// ScanAudit calls fn for every audit event: first the sealed ones in chain
// order, then the unsealed ones in Seq order. It stops at the first error fn
// returns and returns it.
//
// It reads from one snapshot, so an event sealed while the scan runs is seen
// exactly once, in the state it had when the scan began. Holding the
// snapshot keeps SQLite from completing a WAL checkpoint until the scan
// ends, so fn should be quick.
func (db *DB) ScanAudit(ctx context.Context, fn func(audit.Event) error) error {
	tx, err := db.rd.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead,
		ReadOnly: true})
	if err != nil {
		return fmt.Errorf("scan audit: begin: %w", err)
	}
	defer tx.Rollback()
	return scanAudit(ctx, tx, fn)
}

func scanAudit(ctx context.Context, q querier, fn func(audit.Event) error) error {
	queries := []string{
		`SELECT ` + eventCols + ` FROM audit_events
			WHERE link_seq > $1 ORDER BY link_seq LIMIT $2`,
		`SELECT ` + eventCols + ` FROM audit_events
			WHERE link_seq IS NULL AND seq > $1 ORDER BY seq LIMIT $2`,
	}
	for phase, query := range queries {
		var after int64
		for {
			evs, err := queryEvents(ctx, q, query, after, scanPage)
			if err != nil {
				return fmt.Errorf("scan audit: %w", err)
			}
			for _, ev := range evs {
				if err := fn(ev); err != nil {
					return err
				}
			}
			if len(evs) < scanPage {
				break
			}
			last := evs[len(evs)-1]
			after = last.Seq
			if phase == 0 {
				after = last.Link.Seq
			}
		}
	}
	return nil
}

// SealAudit chains up to limit unsealed events (100 when limit is not
// positive), in Seq order, after the head of the chain, in one transaction.
// It returns how many events it sealed.
//
// On PostgreSQL the transaction locks the head row, so sealers on every
// replica take turns; on SQLite the IMMEDIATE transaction does the same. An
// event whose transaction commits after a later event was sealed is sealed
// in a later round: chain order is sealing order.
func (db *DB) SealAudit(ctx context.Context, limit int,
	link func(prev audit.Link, ev audit.Event) (audit.Link, error)) (int, error) {
	tx, err := db.wr.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("seal audit: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()

	var head audit.Link
	if err := tx.QueryRowContext(ctx, db.d.selectHead).Scan(
		&head.Seq, &head.MAC, &head.KeyID); err != nil {
		return 0, fmt.Errorf("seal audit: chain head: %w", err)
	}
	head.MAC = noEmpty(head.MAC)
	if head.Seq == 0 {
		head = audit.Link{} // the zero Link precedes the first event
	}

	// Read the batch first: a PostgreSQL connection cannot run the updates
	// while it still streams rows.
	evs, err := queryEvents(ctx, tx, `SELECT `+eventCols+` FROM audit_events
		WHERE link_seq IS NULL ORDER BY seq LIMIT $1`, defaultLimit(limit))
	if err != nil {
		return 0, fmt.Errorf("seal audit: %w", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}

	for _, ev := range evs {
		next, err := link(head, ev)
		if err != nil {
			return 0, fmt.Errorf("seal audit event %d: %w", ev.Seq, err)
		}
		if next.Seq != head.Seq+1 {
			return 0, fmt.Errorf("seal audit event %d: link %d after %d: %w",
				ev.Seq, next.Seq, head.Seq, ErrChainGap)
		}
		res, err := tx.ExecContext(ctx, `UPDATE audit_events
			SET link_seq = $2, link_mac = $3, link_key_id = $4
			WHERE seq = $1 AND link_seq IS NULL`,
			ev.Seq, next.Seq, blob(next.MAC), next.KeyID)
		if err := db.needOne(res, err, "seal audit event %d", ev.Seq); err != nil {
			return 0, err
		}
		head = next
	}

	_, err = tx.ExecContext(ctx, `UPDATE audit_chain SET seq = $1, mac = $2, key_id = $3
		WHERE id = 1`, head.Seq, blob(head.MAC), head.KeyID)
	if err != nil {
		return 0, fmt.Errorf("seal audit: chain head: %w", err)
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("seal audit: commit: %w", err)
	}
	return len(evs), nil
}
