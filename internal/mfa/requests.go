package mfa

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// PassRequest is a request for an access pass as staff see it: one a user
// made without signing in, or a pass a member of staff issued that waits
// for a second approver.
type PassRequest struct {
	ID          string
	User        string
	Kind        string // "user" or "staff"
	Message     string // what the user wrote
	Source      string
	RequestedBy string // the staff member who issued it (staff requests)
	Lifetime    time.Duration
	StartsAt    time.Time
	OneTime     bool
	Reason      string
	Origin      string // the user request a staff request came from
	CreatedAt   time.Time
	ExpiresAt   time.Time
	Status      string // pending, approved, denied, forwarded or expired
	DecidedBy   string
	DecidedAt   time.Time
	// DecisionReason is the reason the decider gave.
	DecisionReason string

	requesterKey string // the person behind RequestedBy
}

// MayApprove reports whether a may be the one to approve r, as far as the
// request itself decides: a staff request needs an admin, or the operator,
// who is not the one who issued it. Whether a may issue the user a pass at
// all is tiering's question (Permitted with ActPassIssue).
func MayApprove(a Actor, r PassRequest) bool {
	if r.Kind != store.PassRequestStaff {
		return true
	}
	return a.key() != r.requesterKey && (a.Kind == ActorOperator || a.holds(RoleAdmin))
}

// PassRequestExpired is the state of a request that waited too long.
const PassRequestExpired = "expired"

func requestView(r store.PassRequest, user string, now time.Time) PassRequest {
	v := PassRequest{ID: r.ID, User: user, Kind: r.Kind, Message: r.Message, Source: r.Source,
		RequestedBy: r.RequestedBy, Lifetime: r.Lifetime, StartsAt: r.StartsAt,
		OneTime: r.OneTime, Reason: r.Reason, Origin: r.Origin, CreatedAt: r.CreatedAt,
		ExpiresAt: r.ExpiresAt, Status: r.Status, DecidedBy: r.DecidedBy,
		DecidedAt: r.DecidedAt, DecisionReason: r.DecisionReason, requesterKey: r.RequesterKey}
	if r.Status == store.PassRequestPending && !now.Before(r.ExpiresAt) {
		v.Status = PassRequestExpired
	}
	return v
}

// RequestPass records a locked-out user's request for an access pass,
// made without signing in. The answer is the same whether the user exists,
// may have passes or not, so that nobody learns which users exist; only
// the audit log says. Requests are limited per user name and per address,
// counted in the database so that every replica shares the count.
func (s *Service) RequestPass(ctx context.Context, req Request, user, message string) error {
	req.Actor = Actor{Kind: ActorAnonymous}
	name := CanonicalName(user)
	message = strings.TrimSpace(message)
	var bad problems
	if p := checkName("user", name); p != "" {
		bad.add("%s", p)
	}
	if len(message) > 500 || !printable(message) {
		bad.add("the message must be text of up to 500 characters")
	}
	if err := bad.err(); err != nil {
		return err
	}
	global, err := s.policy(ctx, s.store)
	if err != nil {
		return err
	}
	if err := s.limitRequests(ctx, req, name, global.AccessPass.Requests); err != nil {
		return err
	}
	now := s.now()
	start := time.Now()
	var queued bool
	err = s.store.Update(ctx, func(tx store.Tx) error {
		queued = false
		ev := s.event(req, "access_pass.request", audit.Failure, "")
		ev.Subject = name
		ev.Detail = map[string]string{"kind": store.PassRequestUser}
		u, err := tx.User(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			ev.Reason = reasonUnknownUser
			return s.appendAudit(ctx, tx, ev)
		}
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		pol, err := s.userPolicy(ctx, tx, u)
		if err != nil {
			return err
		}
		switch {
		case u.Disabled:
			ev.Reason = reasonDisabled
		case !u.BlockedAt.IsZero():
			ev.Reason = reasonBlocked
		case !pol.AccessPass.Enabled || !pol.AccessPass.Requests.Enabled:
			ev.Reason = reasonPolicy
		}
		if ev.Reason != "" {
			return s.appendAudit(ctx, tx, ev)
		}
		id, err := s.newID()
		if err != nil {
			return err
		}
		r := store.PassRequest{ID: id, UserID: u.ID, Kind: store.PassRequestUser,
			Message: message, Source: req.Source, OneTime: true, CreatedAt: now,
			ExpiresAt: now.Add(pol.AccessPass.Requests.Lifetime.Std()),
			Status:    store.PassRequestPending}
		if err := tx.CreatePassRequest(ctx, r); err != nil {
			return err
		}
		ev.Outcome, ev.Reason = audit.Success, ""
		ev.Detail["request"] = id
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		queued = true
		return s.emit(ctx, tx, req, EventPassRequested, u, map[string]any{"request": id})
	})
	if err != nil {
		return err
	}
	// Queueing a request writes more than refusing one; hold the refusals
	// back to the time of the full path, so timing tells nobody who exists.
	if queued {
		s.requestPace.observe(time.Since(start))
	} else {
		s.sleep(ctx, s.requestPace.pause(time.Since(start)))
	}
	return nil
}

// limitRequests counts a request against the user name and the address,
// each in its own hourly window, and refuses it when either is over the
// policy's bound. The windows are fixed clock hours, so up to twice a bound
// can pass across the turn of an hour; what matters is that it is bounded,
// on every replica alike. The count is by name, whether or not the user exists,
// so that the limit tells nobody anything.
func (s *Service) limitRequests(ctx context.Context, req Request, name string,
	rq policy.PassRequests) error {
	window := s.now().Truncate(time.Hour)
	var over string
	err := s.store.Update(ctx, func(tx store.Tx) error {
		over = ""
		n, err := tx.Hit(ctx, "pass_request/user/"+name, window)
		if err != nil {
			return err
		}
		if n > rq.PerUser {
			over = "user"
		}
		n, err = tx.Hit(ctx, "pass_request/source/"+req.Source, window)
		if err != nil {
			return err
		}
		if n > rq.PerSource && over == "" {
			over = "source"
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count requests: %w", err)
	}
	if over != "" {
		s.log.Warn("access pass requests limited", "limit", over, "user", name,
			"client_ip", req.Source, "request_id", req.RequestID)
		return &Error{Kind: ErrRateLimited, RetryAfter: window.Add(time.Hour).Sub(s.now()),
			Message: "too many requests for an access pass; try again within the hour or " +
				"call the helpdesk"}
	}
	return nil
}

// holdForApproval records a pass that staff issued and a second admin must
// approve, and audits it. origin is the user request it came from, if any.
func (s *Service) holdForApproval(ctx context.Context, req Request, u store.User, in NewPass,
	pol policy.Policy, origin string) (PassRequest, error) {
	var out PassRequest
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		out, err = s.holdInTx(ctx, tx, req, u, in, pol, origin)
		return err
	})
	if err != nil {
		return PassRequest{}, fmt.Errorf("hold access pass for approval: %w", err)
	}
	return out, nil
}

func (s *Service) holdInTx(ctx context.Context, tx store.Tx, req Request, u store.User,
	in NewPass, pol policy.Policy, origin string) (PassRequest, error) {
	id, err := s.newID()
	if err != nil {
		return PassRequest{}, err
	}
	now := s.now()
	starts := in.StartsAt
	if !starts.After(now) {
		starts = time.Time{} // when approved
	}
	r := store.PassRequest{ID: id, UserID: u.ID, Kind: store.PassRequestStaff,
		Source: req.Source, RequestedBy: req.Actor.String(), RequesterKey: req.Actor.key(),
		Lifetime: in.Lifetime, StartsAt: starts, OneTime: in.OneTime, Reason: in.Reason,
		Origin: origin, CreatedAt: now,
		ExpiresAt: now.Add(pol.AccessPass.Requests.Lifetime.Std()),
		Status:    store.PassRequestPending}
	if err := tx.CreatePassRequest(ctx, r); err != nil {
		return PassRequest{}, err
	}
	ev := s.event(req, "access_pass.request", audit.Success, "second_approver_required")
	ev.Subject = u.Name
	ev.Detail = map[string]string{"kind": store.PassRequestStaff, "request": id,
		"reason": in.Reason, "lifetime": policy.Duration(in.Lifetime).String(),
		"one_time": strconv.FormatBool(in.OneTime)}
	if origin != "" {
		ev.Detail["origin"] = origin
	}
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return PassRequest{}, err
	}
	if err := s.emit(ctx, tx, req, EventPassApprovalPending, u, map[string]any{
		"request": id, "reason": in.Reason}); err != nil {
		return PassRequest{}, err
	}
	s.log.Info("access pass awaits a second approver", "user", u.Name, "request", id,
		"actor", req.Actor.String(), "request_id", req.RequestID)
	return requestView(r, u.Name, now), nil
}

// PassRequestQuery selects requests for ListPassRequests.
type PassRequestQuery struct {
	Status string // "" or "pending" for those waiting; "all" for every one
	User   string
	Limit  int
}

// ListPassRequests returns requests for staff to decide, newest first: by
// default those still waiting.
func (s *Service) ListPassRequests(ctx context.Context, req Request, q PassRequestQuery) (
	[]PassRequest, error) {
	if err := s.authorize(ctx, req, ActPassQueue, nil); err != nil {
		return nil, err
	}
	now := s.now()
	sq := store.PassRequestQuery{Limit: q.Limit}
	switch q.Status {
	case "", store.PassRequestPending:
		sq.Status, sq.PendingAt = store.PassRequestPending, now
	case "all":
	case store.PassRequestApproved, store.PassRequestDenied, store.PassRequestForwarded:
		sq.Status = q.Status
	default:
		return nil, invalid(fmt.Sprintf("unknown status %q; use pending, approved, denied, "+
			"forwarded or all", q.Status))
	}
	if q.Limit < 0 || q.Limit > 500 {
		return nil, invalid("limit must be between 1 and 500 (0 means 100)")
	}
	if q.User != "" {
		u, err := s.lookup(ctx, s.store, q.User)
		if err != nil {
			return nil, err
		}
		sq.UserID = u.ID
	}
	rows, err := s.store.ListPassRequests(ctx, sq)
	if err != nil {
		return nil, fmt.Errorf("list access pass requests: %w", err)
	}
	names := map[string]string{}
	out := make([]PassRequest, len(rows))
	for i, r := range rows {
		name, ok := names[r.UserID]
		if !ok {
			u, err := s.store.UserByID(ctx, r.UserID)
			if err != nil {
				return nil, fmt.Errorf("load user of request: %w", err)
			}
			name, names[r.UserID] = u.Name, u.Name
		}
		out[i] = requestView(r, name, now)
	}
	return out, nil
}

// Approval is what the approver of a user's request decides: the terms of
// the pass, as an issuer gives them, and the approver's reason. A staff
// request keeps what its issuer asked for.
type Approval = NewPass

// ApprovePassRequest approves a request and issues the pass to the
// approver, who passes it on after checking who is asking. The approver
// must be allowed to issue the user a pass (tiering). A staff request
// needs an admin other than its issuer. A user's request for someone who
// holds a role, where policy wants a second approver, becomes a staff
// request that waits for one.
func (s *Service) ApprovePassRequest(ctx context.Context, req Request, id string, in Approval) (
	PassIssue, error) {
	reason, err := checkReason(in.Reason, "approve a request")
	if err != nil {
		return PassIssue{}, err
	}
	in.Reason = reason
	if in.StartsAt.Sub(s.now()) > maxPassLead {
		return PassIssue{}, invalid(fmt.Sprintf("starts_at is more than %s ahead",
			policy.Duration(maxPassLead)))
	}
	if in.Lifetime < 0 {
		return PassIssue{}, invalid("lifetime must be positive")
	}
	r, u, err := s.loadRequest(ctx, req, id)
	if err != nil {
		return PassIssue{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return PassIssue{}, err
	}
	if r.Kind == store.PassRequestStaff {
		return s.approveStaff(ctx, req, r, u, pol, reason)
	}
	lifetime, err := s.checkPassRequest(ctx, req, u, pol.AccessPass, in.Lifetime, in.OneTime)
	if err != nil {
		return PassIssue{}, err
	}
	pass := NewPass{Lifetime: lifetime, StartsAt: in.StartsAt, OneTime: in.OneTime,
		Reason: reason}
	second := needsSecondApprover(pol, u)
	var out PassIssue
	err = s.store.Update(ctx, func(tx store.Tx) error {
		status := store.PassRequestApproved
		if second {
			status = store.PassRequestForwarded
		}
		if err := s.recordDecision(ctx, tx, req, r, u, status, reason); err != nil {
			return err
		}
		if second {
			held, err := s.holdInTx(ctx, tx, req, u, pass, pol, r.ID)
			if err == nil {
				out = PassIssue{Pending: &held}
			}
			return err
		}
		p, err := s.issuePass(ctx, tx, req, u, pass, pol, &r)
		out = PassIssue{Pass: p}
		return err
	})
	if err != nil {
		return PassIssue{}, requestErr(err)
	}
	return out, nil
}

// approveStaff issues the pass a staff request holds, for a second admin.
func (s *Service) approveStaff(ctx context.Context, req Request, r store.PassRequest,
	u store.User, pol policy.Policy, reason string) (PassIssue, error) {
	if req.Actor.key() == r.RequesterKey {
		return PassIssue{}, s.refusePolicy(ctx, req, ActPassIssue, u, "same_approver",
			"a second admin, not the one who issued the pass, must approve it")
	}
	if req.Actor.Kind != ActorOperator && !req.Actor.holds(RoleAdmin) {
		return PassIssue{}, s.refusePolicy(ctx, req, ActPassIssue, u, "second_approver_role",
			"only an admin may be the second approver of a pass")
	}
	if !pol.AccessPass.Enabled {
		return PassIssue{}, s.refusePolicy(ctx, req, ActPassIssue, u, "passes_disabled",
			fmt.Sprintf("the policy in force for %s does not allow access passes", u.Name))
	}
	pass := NewPass{Lifetime: r.Lifetime, StartsAt: r.StartsAt, OneTime: r.OneTime,
		Reason: r.Reason}
	var out AccessPass
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.recordDecision(ctx, tx, req, r, u, store.PassRequestApproved, reason); err != nil {
			return err
		}
		var err error
		out, err = s.issuePass(ctx, tx, req, u, pass, pol, &r)
		return err
	})
	if err != nil {
		return PassIssue{}, requestErr(err)
	}
	return PassIssue{Pass: out}, nil
}

// DenyPassRequest turns a request down. A reason is required; the user is
// told through the event.
func (s *Service) DenyPassRequest(ctx context.Context, req Request, id, reason string) error {
	reason, err := checkReason(reason, "deny a request")
	if err != nil {
		return err
	}
	r, u, err := s.loadRequest(ctx, req, id)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.recordDecision(ctx, tx, req, r, u, store.PassRequestDenied, reason); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventPassRequestDenied, u, map[string]any{
			"request": r.ID, "kind": r.Kind, "reason": reason})
	})
	return requestErr(err)
}

// loadRequest authorizes a decision on request id: the role first, so a
// caller who may not decide learns nothing, then tiering on its user.
func (s *Service) loadRequest(ctx context.Context, req Request, id string) (
	store.PassRequest, store.User, error) {
	if err := s.authorize(ctx, req, ActPassQueue, nil); err != nil {
		return store.PassRequest{}, store.User{}, err
	}
	if checkName("id", id) != "" {
		return store.PassRequest{}, store.User{}, notFound("no access pass request %q", id)
	}
	r, err := s.store.PassRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.PassRequest{}, store.User{}, notFound("no access pass request %q", id)
	}
	if err != nil {
		return store.PassRequest{}, store.User{}, fmt.Errorf("load request: %w", err)
	}
	u, err := s.store.UserByID(ctx, r.UserID)
	if err != nil {
		return store.PassRequest{}, store.User{}, fmt.Errorf("load user of request: %w", err)
	}
	if err := s.authorize(ctx, req, ActPassIssue, &u); err != nil {
		return store.PassRequest{}, store.User{}, err
	}
	if v := requestView(r, u.Name, s.now()); v.Status != store.PassRequestPending {
		return store.PassRequest{}, store.User{}, conflict("the request is %s", v.Status)
	}
	return r, u, nil
}

// errDecided is returned inside a transaction when another decider won.
var errDecided = conflict("the request was decided meanwhile or has expired")

// recordDecision records a decision on r, once: of concurrent deciders, one wins
// and the others get errDecided. It audits the decision.
func (s *Service) recordDecision(ctx context.Context, tx store.Tx, req Request, r store.PassRequest,
	u store.User, status, reason string) error {
	ok, err := tx.DecidePassRequest(ctx, r.ID, store.PassDecision{Status: status,
		By: req.Actor.String(), At: s.now(), Reason: reason})
	if err != nil {
		return err
	}
	if !ok {
		return errDecided
	}
	ev := s.event(req, "access_pass.request."+status, audit.Success, "")
	ev.Subject = u.Name
	ev.Detail = map[string]string{"request": r.ID, "kind": r.Kind, "reason": reason}
	return s.appendAudit(ctx, tx, ev)
}

func requestErr(err error) error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	}
	return fmt.Errorf("decide access pass request: %w", err)
}

// PurgeRateCounters forgets the request counters of windows that ended
// more than an hour ago; every replica may run it.
func (s *Service) PurgeRateCounters(ctx context.Context) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteHitsBefore(ctx, s.now().Add(-2*time.Hour))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge rate counters: %w", err)
	}
	return n, nil
}
