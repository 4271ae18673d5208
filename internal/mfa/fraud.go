package mfa

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// reportLinkLifetime is how long the "this was not me" link in a notice
// works.
const reportLinkLifetime = 30 * 24 * time.Hour

// reportLinkPath is where the link in a notice points, under the public
// URL.
const reportLinkPath = "/report"

// FraudReport is the answer to a "this was not me" report.
type FraudReport struct {
	User    string
	Blocked bool // whether policy blocked the account's sign-ins
	// What the block ended.
	PassRevoked     bool
	BypassRevoked   bool
	SessionsEnded   int
	RequestsDenied  int
	ReportedAt      time.Time
	ReportedByLink  bool
	LinkedEventType string // the notice's event, for a report made by link
}

// ReportFraud records a signed-in user's "this was not me". By policy it
// blocks the account's sign-ins, revokes its pass and bypass, denies its
// waiting pass requests and ends its sessions (this one too) until staff
// clear it.
func (s *Service) ReportFraud(ctx context.Context, req Request, message string) (
	FraudReport, error) {
	name, err := s.SessionUser(req)
	if err != nil {
		return FraudReport{}, err
	}
	message, err = checkMessage(message)
	if err != nil {
		return FraudReport{}, err
	}
	u, err := s.subject(ctx, req, ActFraudReport, name)
	if err != nil {
		return FraudReport{}, err
	}
	return s.reportFraud(ctx, req, u, "", "", message)
}

// ReportLink returns the signed, single-use "this was not me" link for a
// notice of ev, under the configured public URL (never one taken from a
// request). The link names the event and its user and expires after 30
// days; only the key ring can make one.
func (s *Service) ReportLink(ev store.OutboxEvent) (string, error) {
	if ev.UserID == "" || ev.ID == "" {
		return "", errors.New("report link: the event concerns no user")
	}
	exp := s.now().Add(reportLinkLifetime).Unix()
	keyID := s.keys.ActiveID()
	payload := strings.Join([]string{"v1", keyID, ev.ID, ev.UserID, ev.Type,
		strconv.FormatInt(exp, 10)}, "|")
	mac, err := s.keys.MACWith(keyring.LinkMAC, keyID, []byte(payload))
	if err != nil {
		return "", fmt.Errorf("report link: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(mac)
	return s.publicURL + reportLinkPath + "?token=" + url.QueryEscape(token), nil
}

// reportLink is what a valid link says.
type reportLink struct {
	eventID, userID, eventType string
}

var errBadLink = &Error{Kind: ErrInvalid,
	Message: "this link is not valid: it may be mistyped, expired or already used"}

// parseReportLink checks a link's token: its form, its MAC (compared in
// constant time) and its expiry.
func (s *Service) parseReportLink(token string) (reportLink, error) {
	if len(token) > 1000 {
		return reportLink{}, errBadLink
	}
	p64, m64, ok := strings.Cut(token, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if !ok || err1 != nil || err2 != nil {
		return reportLink{}, errBadLink
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 6 || f[0] != "v1" {
		return reportLink{}, errBadLink
	}
	if !s.keys.Equal(keyring.LinkMAC, f[1], payload, mac) {
		return reportLink{}, errBadLink
	}
	exp, err := strconv.ParseInt(f[5], 10, 64)
	if err != nil || !s.now().Before(time.Unix(exp, 0)) {
		return reportLink{}, errBadLink
	}
	return reportLink{eventID: f[2], userID: f[3], eventType: f[4]}, nil
}

// CheckReportLink reports whether a link's token is valid, so that the
// page it opens can ask for confirmation before anything happens (mail
// scanners open links too).
func (s *Service) CheckReportLink(token string) error {
	_, err := s.parseReportLink(token)
	return err
}

// ReportFraudByLink records a "this was not me" made with the signed link
// of a notice, without signing in. Each link works once.
func (s *Service) ReportFraudByLink(ctx context.Context, req Request, token, message string) (
	FraudReport, error) {
	req.Actor = Actor{Kind: ActorAnonymous}
	message, err := checkMessage(message)
	if err != nil {
		return FraudReport{}, err
	}
	link, err := s.parseReportLink(token)
	if err != nil {
		return FraudReport{}, err
	}
	u, err := s.store.UserByID(ctx, link.userID)
	if errors.Is(err, store.ErrNotFound) {
		return FraudReport{}, errBadLink
	}
	if err != nil {
		return FraudReport{}, fmt.Errorf("load user: %w", err)
	}
	rep, err := s.reportFraud(ctx, req, u, link.eventID, link.eventType, message)
	if errors.Is(err, store.ErrConflict) {
		return FraudReport{}, errBadLink
	}
	return rep, err
}

func checkMessage(m string) (string, error) {
	m = strings.TrimSpace(m)
	if len(m) > 500 || !printable(m) {
		return "", invalid("the message must be text of up to 500 characters")
	}
	return m, nil
}

// reportFraud records the report and, by the user's policy, blocks them,
// in one transaction.
func (s *Service) reportFraud(ctx context.Context, req Request, u store.User, linkID,
	eventType, message string) (FraudReport, error) {
	now := s.now()
	var out FraudReport
	err := s.store.Update(ctx, func(tx store.Tx) error {
		out = FraudReport{User: u.Name, ReportedAt: now, ReportedByLink: linkID != "",
			LinkedEventType: eventType}
		id, err := s.newID()
		if err != nil {
			return err
		}
		if err := tx.CreateFraudReport(ctx, store.FraudReport{ID: id, UserID: u.ID,
			LinkID: linkID, Source: req.Source, Message: message, CreatedAt: now}); err != nil {
			return err
		}
		pol, err := s.userPolicy(ctx, tx, u)
		if err != nil {
			return err
		}
		if pol.FraudReport.Block {
			if err := s.block(ctx, tx, req, u, &out); err != nil {
				return err
			}
		}
		ev := s.event(req, string(ActFraudReport), audit.Success, "")
		ev.Subject = u.Name
		ev.Detail = map[string]string{"report": id, "blocked": strconv.FormatBool(out.Blocked),
			"message": message}
		if linkID != "" {
			ev.Detail["event"], ev.Detail["event_type"] = linkID, eventType
		}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventFraudReported, u, map[string]any{
			"report": id, "blocked": out.Blocked, "event": linkID, "event_type": eventType,
			"pass_revoked": out.PassRevoked, "bypass_revoked": out.BypassRevoked,
			"sessions_ended": out.SessionsEnded, "requests_denied": out.RequestsDenied})
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return FraudReport{}, err
		}
		return FraudReport{}, fmt.Errorf("report fraud: %w", err)
	}
	s.log.Warn("fraud reported", "user", u.Name, "blocked", out.Blocked,
		"by_link", linkID != "", "client_ip", req.Source, "request_id", req.RequestID)
	return out, nil
}

// block stops u's sign-ins and ends every way in that staff or a thief may
// have opened: the pass, the bypass, waiting pass requests and sessions.
func (s *Service) block(ctx context.Context, tx store.Tx, req Request, u store.User,
	out *FraudReport) error {
	now := s.now()
	// BlockedAt is the latest report's time, so that staff clearing an
	// older one notice a new one (see ClearFraud).
	if err := tx.SetBlocked(ctx, u.ID, now); err != nil {
		return err
	}
	out.Blocked = true
	const why = "fraud report"
	switch err := s.revokePass(ctx, tx, req, u, why); {
	case err == nil:
		out.PassRevoked = true
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	switch err := s.revokeBypass(ctx, tx, req, u, why); {
	case err == nil:
		out.BypassRevoked = true
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	pending, err := tx.ListPassRequests(ctx, store.PassRequestQuery{UserID: u.ID,
		Status: store.PassRequestPending, PendingAt: now, Limit: 500})
	if err != nil {
		return err
	}
	for _, r := range pending {
		switch err := s.recordDecision(ctx, tx, req, r, u, store.PassRequestDenied, why); {
		case err == nil:
			out.RequestsDenied++
		case !errors.Is(err, errDecided):
			return err
		}
	}
	n, err := tx.RevokeUserSessions(ctx, u.ID, now)
	out.SessionsEnded = n
	return err
}

// ClearFraud lifts the block a fraud report put on a user's sign-ins, once
// staff have looked into it. A reason is required.
func (s *Service) ClearFraud(ctx context.Context, req Request, user, reason string) error {
	reason, err := checkReason(reason, "clear a fraud report")
	if err != nil {
		return err
	}
	u, err := s.subject(ctx, req, ActFraudClear, user)
	if err != nil {
		return err
	}
	if u.BlockedAt.IsZero() {
		return conflict("user %q is not blocked", u.Name)
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		// Clear only the block that was looked at: a report that came in
		// meanwhile deserves a look of its own.
		cur, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if !cur.BlockedAt.Equal(u.BlockedAt) {
			return conflict("user %q was reported again meanwhile; look at the new report first",
				u.Name)
		}
		if err := tx.SetBlocked(ctx, u.ID, time.Time{}); err != nil {
			return err
		}
		ev := s.event(req, string(ActFraudClear), audit.Success, "")
		ev.Subject = u.Name
		ev.Detail = map[string]string{"reason": reason,
			"blocked_at": u.BlockedAt.Format(time.RFC3339)}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventFraudCleared, u, map[string]any{"reason": reason,
			"blocked_for": policy.Duration(s.now().Sub(u.BlockedAt).Round(time.Second)).String()})
	})
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if err != nil {
		return fmt.Errorf("clear fraud report: %w", err)
	}
	s.log.Info("fraud block cleared", "user", u.Name, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return nil
}
