package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// hitSQL counts a hit in one upsert. The right-hand sides of SET see the
// row as it was before the statement, in both engines. Only a strictly
// later window restarts the count: a replica whose clock lags sends an
// earlier window, and that hit counts in the newer one rather than reset
// it. On PostgreSQL, concurrent upserts of one key take the row lock in
// turn and each sees the count the previous one committed.
//
// $1 key, $2 window start in milliseconds.
const hitSQL = `INSERT INTO hit_counters (key, window_start, count) VALUES ($1, $2, 1)
ON CONFLICT (key) DO UPDATE SET
	count = CASE WHEN excluded.window_start > hit_counters.window_start
		THEN 1 ELSE hit_counters.count + 1 END,
	window_start = CASE WHEN excluded.window_start > hit_counters.window_start
		THEN excluded.window_start ELSE hit_counters.window_start END
RETURNING count`

// Hit counts one hit against key in the window that began at windowStart
// and returns the hits in the key's current window, this one included.
// ErrZeroTime if windowStart is zero.
func (t *txn) Hit(ctx context.Context, key string, windowStart time.Time) (int, error) {
	if toMS(windowStart) == 0 {
		return 0, fmt.Errorf("hit %q: window start: %w", key, ErrZeroTime)
	}
	var n int
	if err := t.q.QueryRowContext(ctx, hitSQL, key, toMS(windowStart)).Scan(&n); err != nil {
		return 0, fmt.Errorf("hit %q: %w", key, err)
	}
	return n, nil
}

// DeleteHitsBefore forgets keys whose window began before t and returns how
// many it forgot.
func (t *txn) DeleteHitsBefore(ctx context.Context, before time.Time) (int, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM hit_counters WHERE window_start < $1`,
		toMS(before))
	if err != nil {
		return 0, fmt.Errorf("delete hits: %w", err)
	}
	n, err := affected(res)
	return int(n), err
}
