package mfa

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// caller is someone asking for a pass without signing in.
func caller(source string) Request {
	return Request{Source: source, FrontDoor: audit.DoorAPI, RequestID: "r-ask"}
}

func (f *fixture) pending(t *testing.T, req Request) []PassRequest {
	t.Helper()
	rs, err := f.svc.ListPassRequests(context.Background(), req, PassRequestQuery{})
	if err != nil {
		t.Fatalf("ListPassRequests = %v", err)
	}
	return rs
}

func TestRequestPassSameAnswer(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		f.user(t, "gone")
		if _, err := f.svc.UpdateUser(ctx, f.operator, "gone", UserUpdate{Disabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		for _, user := range []string{"alice", "mallory", "gone"} {
			if err := f.svc.RequestPass(ctx, caller("203.0.113."+user[:1]), user,
				"phone in the taxi"); err != nil {
				t.Errorf("RequestPass(%s) = %v, want the same nil answer for all", user, err)
			}
		}
		rs := f.pending(t, f.operator)
		if len(rs) != 1 || rs[0].User != "alice" || rs[0].Kind != "user" ||
			rs[0].Message != "phone in the taxi" || rs[0].Status != "pending" {
			t.Fatalf("queue = %+v, want alice's request alone", rs)
		}
		ev := f.lastEvent(t, "access_pass.request")
		if ev.Subject != "gone" || ev.Reason != reasonDisabled {
			t.Errorf("audit of the disabled user's request = %s/%q, want gone/disabled",
				ev.Subject, ev.Reason)
		}
		if err := f.svc.RequestPass(ctx, caller("x"), "al ice", ""); !isKind(err, ErrInvalid) {
			t.Errorf("RequestPass with a malformed name = %v, want ErrInvalid", err)
		}
	})
}

func TestRequestPassLimits(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "alice")
	// Per user name, whether or not the user exists: 3 an hour.
	for _, user := range []string{"alice", "mallory"} {
		for i := range 4 {
			err := f.svc.RequestPass(ctx, caller("198.51.100."+string(rune('1'+i))), user, "")
			limited := errors.Is(err, ErrRateLimited)
			if limited != (i == 3) {
				t.Errorf("request %d for %s: %v; want only the fourth limited", i+1, user, err)
			}
		}
	}
	if n := len(f.pending(t, f.operator)); n != 3 {
		t.Errorf("%d requests queued, want the 3 within the limit", n)
	}
	// Per address: 10 an hour, across names.
	var limited int
	for i := range 12 {
		name := "user" + string(rune('a'+i))
		if errors.Is(f.svc.RequestPass(ctx, caller("192.0.2.9"), name, ""), ErrRateLimited) {
			limited++
		}
	}
	if limited != 2 {
		t.Errorf("%d of 12 requests from one address limited, want 2", limited)
	}
	// The next hour counts afresh.
	f.clock.Add(time.Hour)
	if err := f.svc.RequestPass(ctx, caller("192.0.2.9"), "alice", ""); err != nil {
		t.Errorf("request in the next hour = %v, want accepted", err)
	}
}

func TestApprovePassRequest(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		f.user(t, "boss", "admin")
		f.user(t, "desk", "helpdesk")
		desk, _ := f.token(t, "helpdesk", "desk")
		reader, _ := f.token(t, "auditor", "")

		for _, u := range []string{"alice", "boss"} {
			if err := f.svc.RequestPass(ctx, caller("203.0.113.5"), u, "locked out"); err != nil {
				t.Fatal(err)
			}
			f.clock.Add(time.Second) // newest first is then boss, alice
		}
		if _, err := f.svc.ListPassRequests(ctx, reader, PassRequestQuery{}); !isKind(err, ErrForbidden) {
			t.Errorf("auditor listing requests = %v, want ErrForbidden", err)
		}
		byUser := map[string]PassRequest{}
		for _, r := range f.pending(t, desk) {
			byUser[r.User] = r
		}
		// Helpdesk may not approve an admin's request.
		_, err := f.svc.ApprovePassRequest(ctx, desk, byUser["boss"].ID,
			Approval{OneTime: true, Reason: "called"})
		if !isKind(err, ErrForbidden) {
			t.Errorf("helpdesk approving an admin's request = %v, want ErrForbidden", err)
		}
		if _, err := f.svc.ApprovePassRequest(ctx, desk, byUser["alice"].ID,
			Approval{OneTime: true}); !isKind(err, ErrInvalid) {
			t.Errorf("approval without a reason = %v, want ErrInvalid", err)
		}
		got, err := f.svc.ApprovePassRequest(ctx, desk, byUser["alice"].ID,
			Approval{OneTime: true, Lifetime: 2 * time.Hour, Reason: "called back on her desk phone"})
		if err != nil || got.Pass.Pass == "" || got.Pass.ExpiresAt.Sub(got.Pass.StartsAt) != 2*time.Hour {
			t.Fatalf("ApprovePassRequest = %+v, %v; want a 2h pass", got, err)
		}
		if ok, _ := f.verifyReason(t, "alice", got.Pass.Pass); !ok {
			t.Errorf("the approved pass was refused")
		}
		if ev := f.lastEvent(t, string(ActPassIssue)); ev.Detail["request"] != byUser["alice"].ID {
			t.Errorf("issue audited without its request: %v", ev.Detail)
		}
		_, err = f.svc.ApprovePassRequest(ctx, desk, byUser["alice"].ID,
			Approval{OneTime: true, Reason: "again"})
		if !isKind(err, ErrConflict) || !strings.Contains(err.Error(), "approved") {
			t.Errorf("approving twice = %v, want ErrConflict: the request is approved", err)
		}

		if err := f.svc.DenyPassRequest(ctx, f.operator, byUser["boss"].ID, "not him on the phone"); err != nil {
			t.Fatalf("DenyPassRequest = %v", err)
		}
		if rs := f.pending(t, desk); len(rs) != 0 {
			t.Errorf("queue after approve and deny = %+v, want empty", rs)
		}
		all, _ := f.svc.ListPassRequests(ctx, desk, PassRequestQuery{Status: "all"})
		if len(all) != 2 || all[0].User != "boss" || all[0].Status != "denied" ||
			all[0].DecisionReason != "not him on the phone" || all[1].Status != "approved" {
			t.Errorf("all requests = %+v, want boss's denied, then alice's approved", all)
		}

		// A request waits a day, then no longer counts.
		f.clock.Add(time.Second)
		if err := f.svc.RequestPass(ctx, caller("203.0.113.6"), "alice", ""); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(24 * time.Hour)
		if rs := f.pending(t, desk); len(rs) != 0 {
			t.Errorf("pending after a day = %+v, want none", rs)
		}
		old, _ := f.svc.ListPassRequests(ctx, desk, PassRequestQuery{Status: "all"})
		if old[0].Status != PassRequestExpired {
			t.Errorf("state of a day-old request = %s, want expired", old[0].Status)
		}
		_, err = f.svc.ApprovePassRequest(ctx, desk, old[0].ID, Approval{OneTime: true, Reason: "late"})
		if !isKind(err, ErrConflict) {
			t.Errorf("approving an expired request = %v, want ErrConflict", err)
		}
	})
}

// TestApproveOnce races approvers: one wins, and one pass exists.
func TestApproveOnce(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		if err := f.svc.RequestPass(ctx, caller("203.0.113.5"), "alice", ""); err != nil {
			t.Fatal(err)
		}
		id := f.pending(t, f.operator)[0].ID
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				_, err := f.svc.ApprovePassRequest(ctx, f.operator, id,
					Approval{OneTime: true, Reason: "race"})
				switch {
				case err == nil:
					wins.Add(1)
				case !isKind(err, ErrConflict):
					t.Errorf("ApprovePassRequest = %v, want success or ErrConflict", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d of 20 concurrent approvals succeeded, want 1", wins.Load())
		}
	})
}

func TestSecondApprover(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "boss", "admin")
		f.user(t, "boss2", "admin")
		f.user(t, "authy", "authentication-admin")
		f.user(t, "desk", "helpdesk")
		f.user(t, "plain")
		f.setPolicy(t, `{"access_pass": {"second_approver_for_roles": true}}`)
		boss, _ := f.token(t, "admin", "boss")
		boss2, _ := f.token(t, "admin", "boss2")
		authy, _ := f.token(t, "authentication-admin", "authy")

		// No role, no second approver.
		got, err := f.svc.IssuePass(ctx, authy, "plain", NewPass{Reason: "r", OneTime: true})
		if err != nil || got.Pending != nil || got.Pass.Pass == "" {
			t.Fatalf("IssuePass to a user without roles = %+v, %v; want a pass at once", got, err)
		}

		got, err = f.svc.IssuePass(ctx, authy, "desk", NewPass{Lifetime: 2 * time.Hour,
			Reason: "agent's phone broke", OneTime: true})
		if err != nil || got.Pending == nil || got.Pass.Pass != "" {
			t.Fatalf("IssuePass to a helpdesk agent = %+v, %v; want it held", got, err)
		}
		if _, err := f.svc.PassStatus(ctx, f.operator, "desk"); !isKind(err, ErrNotFound) {
			t.Errorf("a held pass exists before approval: %v", err)
		}
		id := got.Pending.ID
		// Authentication admins may issue to agents but not be the second
		// approver; the issuer may not approve their own.
		for name, req := range map[string]Request{"issuer": authy} {
			if _, err := f.svc.ApprovePassRequest(ctx, req, id, Approval{Reason: "me"}); !isKind(err, ErrForbidden) {
				t.Errorf("%s approving = %v, want ErrForbidden", name, err)
			}
		}
		approved, err := f.svc.ApprovePassRequest(ctx, boss, id, Approval{Reason: "checked"})
		if err != nil || approved.Pass.Pass == "" || approved.Pass.ExpiresAt.Sub(approved.Pass.StartsAt) != 2*time.Hour {
			t.Fatalf("second admin approving = %+v, %v; want the 2h pass", approved, err)
		}
		if ok, _ := f.verifyReason(t, "desk", approved.Pass.Pass); !ok {
			t.Errorf("the approved pass was refused")
		}

		// An admin's own request for another admin waits for a third person.
		got, err = f.svc.IssuePass(ctx, boss, "boss2", NewPass{Reason: "r", OneTime: true})
		if err != nil || got.Pending == nil {
			t.Fatalf("admin issuing to an admin = %+v, %v; want it held", got, err)
		}
		if _, err := f.svc.ApprovePassRequest(ctx, boss, got.Pending.ID, Approval{Reason: "me"}); !isKind(err, ErrForbidden) ||
			f.lastEvent(t, string(ActPassIssue)).Reason != "same_approver" {
			t.Errorf("issuer approving their own = %v, want ErrForbidden (same_approver)", err)
		}
		if _, err := f.svc.ApprovePassRequest(ctx, boss2, got.Pending.ID, Approval{Reason: "me"}); !isKind(err, ErrForbidden) {
			t.Errorf("the pass's own user approving = %v, want ErrForbidden", err)
		}

		// A locked-out agent's own request, approved once, waits again.
		if err := f.svc.RequestPass(ctx, caller("203.0.113.7"), "desk", ""); err != nil {
			t.Fatal(err)
		}
		var userReq PassRequest
		for _, r := range f.pending(t, boss) {
			if r.Kind == "user" {
				userReq = r
			}
		}
		fwd, err := f.svc.ApprovePassRequest(ctx, authy, userReq.ID, Approval{OneTime: true, Reason: "r"})
		if err != nil || fwd.Pending == nil || fwd.Pending.Origin != userReq.ID {
			t.Fatalf("first approval of an agent's request = %+v, %v; want a held staff request", fwd, err)
		}
		if _, err := f.svc.ApprovePassRequest(ctx, boss2, fwd.Pending.ID, Approval{Reason: "ok"}); err != nil {
			t.Errorf("second approval = %v, want the pass", err)
		}
	})
}
