package mfa

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store"
)

// AuditQuery selects audit events. Zero fields match all.
type AuditQuery struct {
	User   string    // events about this user
	Action string    // this action, or every action with this prefix if it ends in "."
	Since  time.Time // at or after
	Until  time.Time // before
	Before int64     // events with a lower sequence number, for paging
	Limit  int       // 1 to 1000; 0 means 100
}

// ListAudit returns audit events, newest first.
func (s *Service) ListAudit(ctx context.Context, req Request, q AuditQuery) ([]audit.Event, error) {
	var p problems
	if q.Limit < 0 || q.Limit > 1000 {
		p.add("limit must be between 1 and 1000")
	}
	if q.Before < 0 {
		p.add("before must be a positive sequence number")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		p.add("until must be after since")
	}
	if len(q.Action) > 64 || !printable(q.Action) {
		p.add("action must be printable text of up to 64 characters")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, req, ActAuditRead, nil); err != nil {
		return nil, err
	}
	user := q.User
	if user != "" {
		user = CanonicalName(user)
	}
	events, err := s.store.ListAudit(ctx, store.AuditQuery{
		Subject: user, Action: q.Action, Since: q.Since, Until: q.Until,
		BeforeSeq: q.Before, Limit: q.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return events, nil
}

// sealBatch is how many events one sealing transaction chains.
const sealBatch = 500

// SealAudit chains every audit event written so far into the tamper-evident
// chain, and returns how many it sealed. Any number of processes may call it
// at once; the store lets one sealer run at a time.
func (s *Service) SealAudit(ctx context.Context) (int, error) {
	mac := s.keys.AuditMAC()
	link := func(prev audit.Link, ev audit.Event) (audit.Link, error) {
		return audit.NextLink(mac, prev, ev)
	}
	total := 0
	for {
		n, err := s.store.SealAudit(ctx, sealBatch, link)
		total += n
		if err != nil {
			return total, fmt.Errorf("seal audit: %w", err)
		}
		if n < sealBatch {
			return total, nil
		}
	}
}

// RunSealer seals the audit log every interval until ctx ends. Verifications
// never wait for it: they write their events unsealed, and the sealer chains
// them in the order it finds them.
func (s *Service) RunSealer(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.SealAudit(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("audit sealing failed", "err", err)
		case n > 0:
			s.log.Debug("audit events sealed", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AuditReport is the outcome of checking the audit chain.
type AuditReport struct {
	audit.Result
	// HeadMAC is the hex of the chain head's MAC. Deleting the newest
	// events cannot be seen from the log alone; comparing HeadMAC and
	// Head.Seq with a note kept elsewhere can.
	HeadMAC string
}

// VerifyAudit seals what is unsealed, then checks every event's MAC and every
// link of the chain, and reports the first break.
func (s *Service) VerifyAudit(ctx context.Context, req Request) (AuditReport, error) {
	if err := s.authorize(ctx, req, ActAuditRead, nil); err != nil {
		return AuditReport{}, err
	}
	if _, err := s.SealAudit(ctx); err != nil {
		return AuditReport{}, err
	}
	c := audit.NewChecker(s.keys.AuditMAC())
	// The checker records every break and keeps counting; the scan goes on
	// past a break so the report covers the whole log.
	add := func(ev audit.Event) error {
		c.Add(ev)
		return nil
	}
	if err := s.store.ScanAudit(ctx, add); err != nil {
		return AuditReport{}, fmt.Errorf("scan audit: %w", err)
	}
	r := AuditReport{Result: c.Result()}
	r.HeadMAC = hex.EncodeToString(r.Head.MAC)

	outcome, reason := audit.Success, ""
	if r.First != nil {
		outcome, reason = audit.Failure, "chain_broken"
	}
	ev := s.event(req, "audit.verify", outcome, reason)
	ev.Detail = map[string]string{"events": fmt.Sprint(r.Result.Events)}
	if err := s.store.Update(ctx, func(tx store.Tx) error {
		return s.appendAudit(ctx, tx, ev)
	}); err != nil {
		return AuditReport{}, err
	}
	if r.First != nil {
		s.log.Error("audit chain broken", "breaks", r.Breaks, "first", r.First.Error())
	}
	return r, nil
}
