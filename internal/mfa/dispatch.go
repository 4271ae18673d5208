package mfa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// Delivery from the outbox works in two steps, each safe on any number of
// replicas at once. Fanning out claims new events (each goes to one
// claimer) and, in the same transaction, creates one delivery per channel
// and target the event should reach: the user's address, their old
// address, the security contact, each webhook that wants it. Delivering
// leases due deliveries (each to one replica until its lease ends), makes
// one attempt each, and records delivered, retry later, or given up. A
// crash between the attempt and the record leaves the lease to run out and
// the delivery to be made again: delivery is at least once, and webhooks
// carry the event ID so receivers can tell.
const (
	dispatchBatch = 50
	// A replica leases deliveryBatch deliveries at a time, attempts them
	// with deliveryWorkers side by side, each for attemptTimeout at most, so
	// a round ends well within deliveryLease even against a stalled mail
	// server, and no other replica takes them over while they are tried.
	deliveryBatch   = 16
	deliveryWorkers = 4
	attemptTimeout  = time.Minute
	deliveryLease   = 10 * time.Minute
	// maxAttempts gives a delivery about eight hours of retries, with the
	// back-off below, before it is given up.
	maxAttempts  = 12
	firstBackoff = 30 * time.Second
	maxBackoff   = time.Hour
)

// DispatchStats says what one round of Dispatch did.
type DispatchStats struct {
	Events    int // events fanned out
	Attempts  int // deliveries attempted
	Delivered int
	Failed    int // attempts that failed (retried later or given up)
}

// RunDispatcher delivers the outbox until ctx ends, a round every
// interval.
func (s *Service) RunDispatcher(ctx context.Context, interval time.Duration) {
	if s.mailer == nil {
		s.log.Info("notices by email are off: no mail server configured")
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := s.Dispatch(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("dispatching notices", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Dispatch does one round: it fans out every new event, then attempts the
// deliveries that are due.
func (s *Service) Dispatch(ctx context.Context) (DispatchStats, error) {
	var st DispatchStats
	for {
		n, err := s.fanOut(ctx)
		st.Events += n
		if err != nil {
			return st, err
		}
		if n < dispatchBatch {
			break
		}
	}
	err := s.deliverDue(ctx, &st)
	return st, err
}

// fanOut claims up to a batch of new events and creates their deliveries.
func (s *Service) fanOut(ctx context.Context) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		evs, err := tx.ClaimOutbox(ctx, now, dispatchBatch)
		n = len(evs)
		if err != nil || n == 0 {
			return err
		}
		hooks, err := tx.ListWebhooks(ctx)
		if err != nil {
			return err
		}
		ps, err := s.loadPolicies(ctx, tx)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if err := s.fanOutEvent(ctx, tx, ps, hooks, ev, now); err != nil {
				return fmt.Errorf("event %s: %w", ev.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("fan out: %w", err)
	}
	return n, nil
}

// target is one place an event should reach.
type target struct{ channel, to, role string }

func (s *Service) fanOutEvent(ctx context.Context, tx store.Tx, ps policies,
	hooks []store.Webhook, ev store.OutboxEvent, now time.Time) error {
	var u store.User
	pol := ps.global
	if ev.UserID != "" {
		var err error
		u, err = tx.UserByID(ctx, ev.UserID)
		switch {
		case err == nil:
			if pol, err = s.policyFrom(ctx, tx, ps, u); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	targets, err := s.noticeTargets(ctx, tx, ev, u, pol, now)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if slices.Contains(h.Events, ev.Type) || slices.Contains(h.Events, "*") {
			targets = append(targets, target{store.ChannelWebhook, h.ID, toWebhook})
		}
	}
	for _, t := range targets {
		id, err := s.newID()
		if err != nil {
			return err
		}
		err = tx.CreateDelivery(ctx, store.Delivery{ID: id, EventID: ev.ID, EventType: ev.Type,
			UserID: ev.UserID, Channel: t.channel, Target: t.to, Role: t.role, CreatedAt: now,
			NextAt: now})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// noticeTargets lists the email addresses that should hear of ev: the
// user's, when their policy names the event and the hourly bound allows;
// the old address, when the address changed; the security contact, when
// the policy names the event for it.
func (s *Service) noticeTargets(ctx context.Context, tx store.Tx, ev store.OutboxEvent,
	u store.User, pol policy.Policy, now time.Time) ([]target, error) {
	if s.mailer == nil {
		return nil, nil
	}
	var out []target
	if u.ID != "" && u.Email != "" && slices.Contains(pol.Notices.User, ev.Type) {
		n, err := tx.Hit(ctx, "notice/"+u.ID, now.Truncate(time.Hour))
		if err != nil {
			return nil, err
		}
		if n <= pol.Notices.PerHour {
			out = append(out, target{store.ChannelEmail, u.Email, toUser})
		} else {
			s.log.Warn("notice held back: hourly bound reached", "user", u.Name,
				"event", ev.Type, "bound", pol.Notices.PerHour)
		}
	}
	if ev.Type == EventEmailChanged {
		// The old address hears of the change too: that is the owner's
		// chance to notice a takeover that moved their notices away.
		old := str(eventData(ev), "old")
		if old != "" && old != u.Email {
			out = append(out, target{store.ChannelEmail, old, toOldAddress})
		}
	}
	if s.securityContact != "" && slices.Contains(pol.Notices.SecurityContact, ev.Type) {
		out = append(out, target{store.ChannelEmail, s.securityContact, toSecurityContact})
	}
	return out, nil
}

// policyFrom returns the policy in force for u, with the documents already
// read. Nothing depends on membership when no group has a document and no
// list names a group, and then it spares the verify path a query.
func (s *Service) policyFrom(ctx context.Context, r store.Reader, ps policies, u store.User) (
	policy.Policy, error) {
	a := ps.global.AccessPass
	if len(ps.groups) == 0 && len(a.Groups) == 0 && len(a.SelfService.Groups) == 0 {
		return ps.global, nil
	}
	groups, err := r.UserGroups(ctx, u.ID)
	if err != nil {
		return policy.Policy{}, fmt.Errorf("policy: groups of user: %w", err)
	}
	names := make([]string, len(groups))
	byName := map[string]policy.Policy{}
	for i, g := range groups {
		names[i] = g.Name
		if p, ok := ps.groups[g.ID]; ok {
			byName[g.Name] = p
		}
	}
	return policy.ForUser(ps.global, byName, names), nil
}

// deliverDue leases the deliveries that are due and attempts each.
func (s *Service) deliverDue(ctx context.Context, st *DispatchStats) error {
	var due []store.Delivery
	err := s.store.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		var err error
		due, err = tx.ClaimDeliveries(ctx, s.owner, now, now.Add(deliveryLease), deliveryBatch)
		return err
	})
	if err != nil {
		return fmt.Errorf("claim deliveries: %w", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan store.Delivery)
	for range min(deliveryWorkers, len(due)) {
		wg.Go(func() {
			for d := range work {
				ok, err := s.deliver(ctx, d)
				mu.Lock()
				st.Attempts++
				if ok {
					st.Delivered++
				} else {
					st.Failed++
				}
				mu.Unlock()
				if err != nil && ctx.Err() == nil {
					s.log.Error("recording a delivery", "delivery", d.ID, "err", err)
				}
			}
		})
	}
	for _, d := range due {
		work <- d
	}
	close(work)
	wg.Wait()
	return nil
}

// deliver makes one attempt at d and records how it went. It reports
// whether d was delivered.
func (s *Service) deliver(ctx context.Context, d store.Delivery) (bool, error) {
	if ctx.Err() != nil {
		// Shutting down: hand the delivery back, due at once, to whichever
		// replica runs next, rather than count an attempt never made.
		return false, s.finish(ctx, d, store.DeliveryOutcome{NextAt: s.now(),
			LastError: "not attempted: the server was shutting down", LastStatus: d.LastStatus})
	}
	attempt, cancel := context.WithTimeout(ctx, attemptTimeout)
	sendErr, status, final := s.attemptDelivery(attempt, d)
	cancel()
	now := s.now()
	o := store.DeliveryOutcome{LastStatus: status}
	switch {
	case sendErr == nil:
		// Keep why earlier attempts failed, for the log.
		o.DeliveredAt, o.LastError = now, d.LastError
	case final || d.Attempts >= maxAttempts:
		o.GaveUpAt, o.LastError = now, errText(sendErr)
	default:
		o.NextAt, o.LastError = now.Add(backoff(d.Attempts)), errText(sendErr)
	}
	attrs := []any{"delivery", d.ID, "event", d.EventID, "type", d.EventType,
		"channel", d.Channel, "attempt", d.Attempts}
	switch {
	case sendErr == nil:
		s.log.Info("notice delivered", attrs...)
	case !o.GaveUpAt.IsZero():
		s.log.Error("notice given up", append(attrs, "err", sendErr)...)
	default:
		s.log.Warn("notice not delivered; will retry", append(attrs, "next_at", o.NextAt,
			"err", sendErr)...)
	}
	return sendErr == nil, s.finish(ctx, d, o)
}

// finish records the outcome of d with a context of its own: an attempt
// that succeeded as the server shuts down must still be marked, or it is
// made again.
func (s *Service) finish(ctx context.Context, d store.Delivery, o store.DeliveryOutcome) error {
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.store.Update(rec, func(tx store.Tx) error {
		_, err := tx.FinishDelivery(rec, d.ID, s.owner, o)
		return err
	})
}

// attemptDelivery sends d once. final reports a failure that no retry can
// mend (the event or the webhook is gone, no mail server is configured).
func (s *Service) attemptDelivery(ctx context.Context, d store.Delivery) (err error, status int,
	final bool) {
	ev, err := s.store.OutboxEvent(ctx, d.EventID)
	if errors.Is(err, store.ErrNotFound) {
		return errors.New("the event no longer exists"), 0, true
	}
	if err != nil {
		return err, 0, false
	}
	switch d.Channel {
	case store.ChannelEmail:
		return s.deliverEmail(ctx, d, ev)
	case store.ChannelWebhook:
		return s.deliverWebhook(ctx, d, ev)
	}
	return fmt.Errorf("unknown channel %q", d.Channel), 0, true
}

func (s *Service) deliverEmail(ctx context.Context, d store.Delivery, ev store.OutboxEvent) (
	error, int, bool) {
	if s.mailer == nil {
		// Another replica made this delivery, so it has a mail server and
		// this one does not: leave it for a replica that can send.
		s.log.Error("email delivery leased by a replica without a mail server; replicas " +
			"should share one configuration")
		return errors.New("no mail server is configured on this replica"), 0, false
	}
	var u store.User
	if ev.UserID != "" {
		var err error
		if u, err = s.store.UserByID(ctx, ev.UserID); err != nil &&
			!errors.Is(err, store.ErrNotFound) {
			return err, 0, false
		}
	}
	subject, text, html, err := s.templates.Render(s.notice(ev, u, d.Role))
	if err != nil {
		return fmt.Errorf("render notice: %w", err), 0, true
	}
	err = s.mailer.Send(ctx, notify.Message{To: []string{d.Target}, Subject: subject, Text: text,
		HTML: html})
	return err, 0, false
}

func (s *Service) deliverWebhook(ctx context.Context, d store.Delivery, ev store.OutboxEvent) (
	error, int, bool) {
	h, err := s.store.Webhook(ctx, d.Target)
	if errors.Is(err, store.ErrNotFound) {
		return errors.New("the webhook was deleted"), 0, true
	}
	if err != nil {
		return err, 0, false
	}
	secret, err := s.keys.Open(h.KeyID, h.Secret, webhookAAD(h.ID))
	if err != nil {
		return fmt.Errorf("open webhook secret: %w", err), 0, false
	}
	defer clear(secret)
	body, err := webhookBody(ev)
	if err != nil {
		return err, 0, true
	}
	status, err := notify.PostWebhook(ctx, s.webhooks, h.URL, secret, ev.ID, body, s.now())
	return err, status, false
}

// backoff is how long to wait after attempt n failed: 30 s, doubling, up
// to an hour.
func backoff(n int) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// errText keeps a delivery error short for the log in the database.
func errText(err error) string {
	const max = 300
	s := err.Error()
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
