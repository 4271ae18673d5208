package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/store"
)

// ErrInvalidLease is returned by ClaimDeliveries for a lease without an
// owner, or one that ends before it begins.
var ErrInvalidLease = errors.New("sqlstore: invalid delivery lease")

const deliveryCols = `id, event_id, event_type, user_id, channel, target, role, created_at,
	attempts, next_at, lease_until, lease_owner, delivered_at, gave_up_at, last_error,
	last_status`

func scanDelivery(row rowScanner) (store.Delivery, error) {
	var d store.Delivery
	var created, next, lease, delivered, gaveUp int64
	err := row.Scan(&d.ID, &d.EventID, &d.EventType, &d.UserID, &d.Channel, &d.Target,
		&d.Role, &created, &d.Attempts, &next, &lease, &d.LeaseOwner, &delivered, &gaveUp,
		&d.LastError, &d.LastStatus)
	if err != nil {
		return store.Delivery{}, err
	}
	d.CreatedAt, d.NextAt, d.LeaseUntil = fromMS(created), fromMS(next), fromMS(lease)
	d.DeliveredAt, d.GaveUpAt = fromMS(delivered), fromMS(gaveUp)
	return d, nil
}

// scanDeliveryRows reads every delivery rows holds, closing rows.
func scanDeliveryRows(rows *sql.Rows) ([]store.Delivery, error) {
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ListDeliveries returns deliveries matching q, newest first (by creation
// time, then by ID descending).
func (r reader) ListDeliveries(ctx context.Context, q store.DeliveryQuery) (
	[]store.Delivery, error) {
	var conds []string
	var args []any
	// arg adds v to args and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}

	if q.Channel != "" {
		conds = append(conds, "channel = "+arg(q.Channel))
	}
	if q.Target != "" {
		conds = append(conds, "target = "+arg(q.Target))
	}
	if q.EventID != "" {
		conds = append(conds, "event_id = "+arg(q.EventID))
	}

	query := `SELECT ` + deliveryCols + ` FROM deliveries`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, " AND ")
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(defaultLimit(q.Limit))

	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out, err := scanDeliveryRows(rows)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// CreateDelivery adds a delivery as given. ErrConflict if the ID is taken
// or the event already has a delivery to that channel and target.
func (t *txn) CreateDelivery(ctx context.Context, d store.Delivery) error {
	res, err := t.q.ExecContext(ctx, `INSERT INTO deliveries (`+deliveryCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT DO NOTHING`,
		d.ID, d.EventID, d.EventType, d.UserID, d.Channel, d.Target, d.Role,
		toMS(d.CreatedAt), d.Attempts, toMS(d.NextAt), toMS(d.LeaseUntil), d.LeaseOwner,
		toMS(d.DeliveredAt), toMS(d.GaveUpAt), d.LastError, d.LastStatus)
	return t.needInserted(res, err, "create delivery %q", d.ID)
}

// claimDeliveriesSQL leases due deliveries, earliest first, in one
// statement, the way claimOutboxSQL claims events: rows another claimer
// holds are skipped on PostgreSQL, and the outer WHERE repeats what makes a
// row due.
//
// $1 owner, $2 now, $3 lease end (both in milliseconds), $4 limit.
func claimDeliveriesSQL(d *dialect) string {
	return `WITH candidates AS (
	SELECT id FROM deliveries
	WHERE delivered_at = 0 AND gave_up_at = 0 AND next_at <= $2 AND lease_until <= $2
	ORDER BY next_at, id LIMIT $4` + d.skipLocked + `)
UPDATE deliveries
SET lease_owner = $1, lease_until = $3, attempts = attempts + 1
WHERE id IN (SELECT id FROM candidates)
	AND delivered_at = 0 AND gave_up_at = 0 AND next_at <= $2 AND lease_until <= $2
RETURNING ` + deliveryCols
}

// ClaimDeliveries leases up to limit due deliveries to owner until
// leaseUntil and returns them as changed, by NextAt and then ID; limit 0
// means 100. ErrZeroTime if now or leaseUntil is zero, ErrInvalidLease if
// owner is empty or the lease would not outlast now.
func (t *txn) ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time,
	limit int) ([]store.Delivery, error) {
	switch {
	case toMS(now) == 0 || toMS(leaseUntil) == 0:
		// lease_until 0 means "not leased".
		return nil, fmt.Errorf("claim deliveries: %w", ErrZeroTime)
	case owner == "":
		// An empty owner would match a delivery no one ever claimed.
		return nil, fmt.Errorf("claim deliveries: no owner: %w", ErrInvalidLease)
	case toMS(leaseUntil) <= toMS(now):
		return nil, fmt.Errorf("claim deliveries: lease ends at its start: %w",
			ErrInvalidLease)
	}
	rows, err := t.q.QueryContext(ctx, claimDeliveriesSQL(t.d), owner, toMS(now),
		toMS(leaseUntil), defaultLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	out, err := scanDeliveryRows(rows)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	// RETURNING gives the rows in no promised order.
	slices.SortFunc(out, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// FinishDelivery records o on delivery id and ends the lease, in one
// conditional statement, if owner holds the lease and the delivery is
// neither delivered nor given up. NextAt stays as it was when o.NextAt is
// zero. lease_owner is kept, for the log.
func (t *txn) FinishDelivery(ctx context.Context, id, owner string, o store.DeliveryOutcome) (
	bool, error) {
	// NOTE: lease_until <> 0 makes a lease end with the first outcome: the
	// owner must claim again before it records another.
	res, err := t.q.ExecContext(ctx, `UPDATE deliveries
		SET delivered_at = $3, next_at = COALESCE($4, next_at), gave_up_at = $5,
			last_error = $6, last_status = $7, lease_until = 0
		WHERE id = $1 AND lease_owner = $2 AND lease_until <> 0
			AND delivered_at = 0 AND gave_up_at = 0`,
		id, owner, toMS(o.DeliveredAt), nullMS(o.NextAt), toMS(o.GaveUpAt), o.LastError,
		o.LastStatus)
	if err != nil {
		return false, fmt.Errorf("finish delivery %q: %w", id, err)
	}
	n, err := affected(res)
	return n == 1, err
}

// nullMS is toMS(t), or NULL for the zero time.
func nullMS(t time.Time) sql.NullInt64 {
	ms := toMS(t)
	return sql.NullInt64{Int64: ms, Valid: ms != 0}
}
