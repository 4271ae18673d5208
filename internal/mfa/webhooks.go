package mfa

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/store"
)

// webhookSecretPrefix marks a webhook signing secret, so that secret
// scanners and people recognise one.
const webhookSecretPrefix = "whsec_"

// Webhook is a webhook endpoint as the service shows it. Its signing secret
// is shown once, when it is made.
type Webhook struct {
	ID        string
	URL       string
	Events    []string
	CreatedAt time.Time
	CreatedBy string
}

func webhookView(h store.Webhook) Webhook {
	return Webhook{ID: h.ID, URL: h.URL, Events: h.Events, CreatedAt: h.CreatedAt,
		CreatedBy: h.CreatedBy}
}

// webhookAAD binds a sealed webhook secret to its endpoint.
func webhookAAD(id string) []byte { return []byte("mfad/webhook/" + id) }

// CreateWebhook adds an endpoint that receives the named event types ("*"
// for all) as signed JSON, and returns it with its signing secret, shown
// this once. The secret is kept sealed, since mfad must use it to sign.
func (s *Service) CreateWebhook(ctx context.Context, req Request, rawURL string,
	events []string) (Webhook, string, error) {
	if err := s.authorize(ctx, req, ActWebhook, nil); err != nil {
		return Webhook{}, "", err
	}
	var bad problems
	if msg := checkWebhookURL(rawURL); msg != "" {
		bad.add("%s", msg)
	}
	events = slices.Clone(events)
	slices.Sort(events)
	events = slices.Compact(events)
	if len(events) == 0 {
		bad.add("events must name at least one event type, or \"*\" for all")
	}
	for _, e := range events {
		if e != "*" && !slices.Contains(EventTypes, e) {
			bad.add("unknown event type %q; the types are %s", e, strings.Join(EventTypes, ", "))
		}
	}
	if err := bad.err(); err != nil {
		return Webhook{}, "", err
	}
	raw, err := notify.NewSecret(s.rand)
	if err != nil {
		return Webhook{}, "", err
	}
	secret := webhookSecretPrefix + base64.RawURLEncoding.EncodeToString(raw)
	id, err := s.newID()
	if err != nil {
		return Webhook{}, "", err
	}
	sealed, keyID, err := s.keys.Seal([]byte(secret), webhookAAD(id))
	if err != nil {
		return Webhook{}, "", fmt.Errorf("seal webhook secret: %w", err)
	}
	h := store.Webhook{ID: id, URL: rawURL, Events: events, Secret: sealed, KeyID: keyID,
		CreatedAt: s.now(), CreatedBy: req.Actor.String()}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateWebhook(ctx, h); err != nil {
			return err
		}
		ev := s.event(req, "webhook.create", audit.Success, "")
		ev.Detail = map[string]string{"webhook": id, "url": redactURL(rawURL),
			"events": strings.Join(events, ",")}
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return Webhook{}, "", fmt.Errorf("create webhook: %w", err)
	}
	s.log.Info("webhook created", "webhook", id, "url", redactURL(rawURL),
		"actor", req.Actor.String(), "request_id", req.RequestID)
	return webhookView(h), secret, nil
}

// checkWebhookURL returns what is wrong with a webhook URL, or "".
func checkWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "url must be an absolute http or https URL"
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("url has scheme %q; it must be https (or http)", u.Scheme)
	case u.User != nil:
		return "url must not carry a user name or password; the signature authenticates mfad"
	case len(raw) > 2000:
		return "url is longer than 2000 characters"
	}
	return ""
}

// redactURL drops the query, which may hold a receiver's own token, for
// logs and the audit log.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "..."
	}
	return u.String()
}

// ListWebhooks returns every endpoint, oldest first, without secrets.
func (s *Service) ListWebhooks(ctx context.Context, req Request) ([]Webhook, error) {
	if err := s.authorize(ctx, req, ActWebhook, nil); err != nil {
		return nil, err
	}
	hs, err := s.store.ListWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]Webhook, len(hs))
	for i, h := range hs {
		out[i] = webhookView(h)
	}
	return out, nil
}

// DeleteWebhook removes an endpoint; deliveries still due to it are given
// up, and its delivery log stays.
func (s *Service) DeleteWebhook(ctx context.Context, req Request, id string) error {
	if err := s.authorize(ctx, req, ActWebhook, nil); err != nil {
		return err
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteWebhook(ctx, id); err != nil {
			return err
		}
		ev := s.event(req, "webhook.delete", audit.Success, "")
		ev.Detail = map[string]string{"webhook": id}
		return s.appendAudit(ctx, tx, ev)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no webhook %q", id)
	}
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// Delivery is one delivery of an event to a webhook, for its log.
type Delivery struct {
	ID          string
	EventID     string
	EventType   string
	CreatedAt   time.Time
	Attempts    int
	NextAt      time.Time
	DeliveredAt time.Time
	GaveUpAt    time.Time
	LastError   string
	LastStatus  int
	State       string // pending, delivered or given_up
}

// WebhookDeliveries returns the newest deliveries to an endpoint, deleted
// or not, newest first.
func (s *Service) WebhookDeliveries(ctx context.Context, req Request, id string, limit int) (
	[]Delivery, error) {
	if err := s.authorize(ctx, req, ActWebhook, nil); err != nil {
		return nil, err
	}
	if limit < 0 || limit > 500 {
		return nil, invalid("limit must be between 1 and 500 (0 means 100)")
	}
	if _, err := s.store.Webhook(ctx, id); errors.Is(err, store.ErrNotFound) {
		// A deleted endpoint keeps its log; one that never existed has none.
		ds, err := s.store.ListDeliveries(ctx, store.DeliveryQuery{Channel: store.ChannelWebhook,
			Target: id, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		if len(ds) == 0 {
			return nil, notFound("no webhook %q", id)
		}
	}
	ds, err := s.store.ListDeliveries(ctx, store.DeliveryQuery{Channel: store.ChannelWebhook,
		Target: id, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		out[i] = deliveryView(d)
	}
	return out, nil
}

func deliveryView(d store.Delivery) Delivery {
	v := Delivery{ID: d.ID, EventID: d.EventID, EventType: d.EventType, CreatedAt: d.CreatedAt,
		Attempts: d.Attempts, NextAt: d.NextAt, DeliveredAt: d.DeliveredAt, GaveUpAt: d.GaveUpAt,
		LastError: d.LastError, LastStatus: d.LastStatus, State: "pending"}
	switch {
	case !d.DeliveredAt.IsZero():
		v.State, v.NextAt = "delivered", time.Time{}
	case !d.GaveUpAt.IsZero():
		v.State, v.NextAt = "given_up", time.Time{}
	}
	return v
}
