package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/store"
)

// ErrInvalidLockRule is returned by ReserveAttempt for a rule it cannot
// apply: Threshold, Duration and MaxFailures must be positive and
// MaxDuration at least Duration.
var ErrInvalidLockRule = errors.New("sqlstore: invalid lock rule")

// reserveSQL counts one failure and, at every Threshold-th, locks the
// account, in one statement. The right-hand sides of SET all see the row as
// it was before the statement, in both engines, so (failures + 1) is the new
// count and next_lock_ms the current lock length (0 meaning Duration). The
// WHERE clause is evaluated again on the newest row version when PostgreSQL
// had to wait for a concurrent update, so parallel callers cannot overshoot.
//
// $1 user ID, $2 now, $3 Threshold, $4 Duration, $5 MaxDuration,
// $6 MaxFailures; durations and times in milliseconds.
const reserveSQL = `UPDATE users SET
	failures = failures + 1,
	locked_until = CASE WHEN (failures + 1) % $3 = 0
		THEN $2 + (CASE WHEN next_lock_ms > 0 THEN next_lock_ms ELSE $4 END)
		ELSE locked_until END,
	next_lock_ms = CASE WHEN (failures + 1) % $3 = 0
		THEN (CASE WHEN 2 * (CASE WHEN next_lock_ms > 0 THEN next_lock_ms ELSE $4 END) > $5
			THEN $5
			ELSE 2 * (CASE WHEN next_lock_ms > 0 THEN next_lock_ms ELSE $4 END) END)
		ELSE next_lock_ms END
WHERE id = $1 AND locked_until <= $2 AND failures < $6
RETURNING failures, locked_until`

// ReserveAttempt counts one failure against userID before a code is
// checked, in one conditional statement committed on its own. See
// store.Store.
func (db *DB) ReserveAttempt(ctx context.Context, userID string, now time.Time,
	rule store.LockRule) (store.LockState, bool, error) {
	return reserve(ctx, db.wr, db.rd, userID, now, rule)
}

// ReserveAttempt counts one failure against userID inside the transaction.
// The row lock it takes is held until the transaction ends, so parallel
// attempts on the same user wait for this one's outcome. See store.Tx.
func (t *txn) ReserveAttempt(ctx context.Context, userID string, now time.Time,
	rule store.LockRule) (store.LockState, bool, error) {
	return reserve(ctx, t.q, t.q, userID, now, rule)
}

// reserve runs reserveSQL on w and, when nothing was updated, reads the
// current state on r to tell a locked account from a missing one.
func reserve(ctx context.Context, w, r querier, userID string, now time.Time,
	rule store.LockRule) (store.LockState, bool, error) {
	if rule.Threshold <= 0 || rule.MaxFailures <= 0 || rule.Duration < time.Millisecond ||
		rule.MaxDuration < rule.Duration {
		return store.LockState{}, false, ErrInvalidLockRule
	}

	var st store.LockState
	var lockedUntil int64
	err := w.QueryRowContext(ctx, reserveSQL, userID, toMS(now), rule.Threshold,
		rule.Duration.Milliseconds(), rule.MaxDuration.Milliseconds(), rule.MaxFailures,
	).Scan(&st.Failures, &lockedUntil)
	if err == nil {
		st.LockedUntil = fromMS(lockedUntil)
		return st, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.LockState{}, false, fmt.Errorf("reserve attempt for %q: %w", userID, err)
	}

	// Nothing was updated: either there is no such user or it is locked.
	// This read only reports; it decides nothing.
	err = r.QueryRowContext(ctx,
		`SELECT failures, locked_until FROM users WHERE id = $1`, userID,
	).Scan(&st.Failures, &lockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return store.LockState{}, false, fmt.Errorf("user id %q: %w", userID, store.ErrNotFound)
	}
	if err != nil {
		return store.LockState{}, false, fmt.Errorf("reserve attempt for %q: %w", userID, err)
	}
	st.LockedUntil = fromMS(lockedUntil)
	return st, false, nil
}
