package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/mfad/mfad/internal/store"
)

// ErrNoEvents is returned by CreateWebhook for an endpoint that would
// receive no events.
var ErrNoEvents = errors.New("sqlstore: webhook without events")

const webhookCols = `id, url, events, secret, key_id, created_at, created_by`

func scanWebhook(row rowScanner) (store.Webhook, error) {
	var w store.Webhook
	var events string
	var created int64
	err := row.Scan(&w.ID, &w.URL, &events, &w.Secret, &w.KeyID, &created, &w.CreatedBy)
	if err != nil {
		return store.Webhook{}, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return store.Webhook{}, fmt.Errorf("events: %w", err)
	}
	w.Secret = noEmpty(w.Secret)
	w.CreatedAt = fromMS(created)
	return w, nil
}

// Webhook returns the webhook endpoint with the given ID.
func (r reader) Webhook(ctx context.Context, id string) (store.Webhook, error) {
	w, err := scanWebhook(r.q.QueryRowContext(ctx,
		`SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Webhook{}, fmt.Errorf("webhook %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Webhook{}, fmt.Errorf("webhook %q: %w", id, err)
	}
	return w, nil
}

// ListWebhooks returns every webhook endpoint, oldest first (by creation
// time, then by ID).
func (r reader) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+webhookCols+` FROM webhooks
		ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// CreateWebhook adds a webhook endpoint, with its event types sorted.
// ErrConflict if the ID is taken, ErrNoEvents if w.Events is empty.
func (t *txn) CreateWebhook(ctx context.Context, w store.Webhook) error {
	if len(w.Events) == 0 {
		return fmt.Errorf("create webhook %q: %w", w.ID, ErrNoEvents)
	}
	events := slices.Sorted(slices.Values(w.Events))
	text, err := json.Marshal(events)
	if err != nil {
		return fmt.Errorf("create webhook %q: %w", w.ID, err)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO webhooks (`+webhookCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		w.ID, w.URL, string(text), blob(w.Secret), w.KeyID, toMS(w.CreatedAt), w.CreatedBy)
	return t.needInserted(res, err, "create webhook %q", w.ID)
}

// DeleteWebhook removes an endpoint; its deliveries stay, for the log.
// ErrNotFound if there is none.
func (t *txn) DeleteWebhook(ctx context.Context, id string) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	return t.needOne(res, err, "delete webhook %q", id)
}

// ResealWebhook replaces an endpoint's sealed secret if it is still sealed
// under oldKeyID, and reports whether it did.
func (t *txn) ResealWebhook(ctx context.Context, id, oldKeyID string, secret []byte,
	keyID string) (bool, error) {
	res, err := t.q.ExecContext(ctx, `UPDATE webhooks SET secret = $3, key_id = $4
		WHERE id = $1 AND key_id = $2`, id, oldKeyID, blob(secret), keyID)
	return t.changedOne(res, err, "reseal webhook %q", id)
}
