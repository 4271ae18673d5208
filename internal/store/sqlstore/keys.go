package sqlstore

import (
	"context"
	"fmt"

	"github.com/mfad/mfad/internal/store"
)

// AnchorKey records the database's key anchor unless one is recorded, and
// returns the anchor in force. See store.Store.
func (db *DB) AnchorKey(ctx context.Context, a store.KeyAnchor) (store.KeyAnchor, error) {
	// ON CONFLICT DO NOTHING makes the first writer win when replicas start
	// together; every caller then reads the one anchor.
	_, err := db.wr.ExecContext(ctx, `INSERT INTO key_anchor (id, key_id, check_mac, created_at)
		VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING`,
		a.KeyID, blob(a.Check), toMS(a.CreatedAt))
	if err != nil {
		return store.KeyAnchor{}, fmt.Errorf("anchor key: %w", err)
	}
	var got store.KeyAnchor
	var created int64
	err = db.wr.QueryRowContext(ctx,
		`SELECT key_id, check_mac, created_at FROM key_anchor WHERE id = 1`,
	).Scan(&got.KeyID, &got.Check, &created)
	if err != nil {
		return store.KeyAnchor{}, fmt.Errorf("read key anchor: %w", err)
	}
	got.CreatedAt = fromMS(created)
	return got, nil
}
