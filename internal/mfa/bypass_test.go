package mfa

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

func TestBypass(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		b, err := f.svc.GrantBypass(ctx, f.operator, "alice", 0, "phone flat, on a call with her")
		if err != nil || !b.ExpiresAt.Equal(t0.Add(5*time.Minute)) || b.State != PassActive {
			t.Fatalf("GrantBypass = %+v, %v; want one for 5 minutes", b, err)
		}
		res, err := f.svc.Verify(ctx, f.operator, "alice", "")
		if err != nil || !res.Accepted || res.Factor != "bypass" {
			t.Fatalf("Verify(empty) with a bypass = %+v, %v; want accepted as bypass", res, err)
		}
		ev := f.lastEvent(t, "verify")
		if ev.Factor != "bypass" || ev.Detail["granted_by"] != "operator:tester" {
			t.Errorf("audit = %+v, want factor bypass and who granted it", ev)
		}
		if ok, reason := f.verifyReason(t, "alice", ""); ok || reason != reasonReplay {
			t.Errorf("second empty code = %v (%s), want refused: the bypass is used", ok, reason)
		}
		types := outboxTypes(f.outbox(t))
		if !contains(types, EventBypassGranted) || types[len(types)-1] != EventBypassUsed {
			t.Errorf("outbox = %v, want bypass.granted and bypass.used", types)
		}
		// Codes still work, and the bypass counted no failure.
		if ok, _ := f.verifyReason(t, "alice", f.code(secret, 0)); !ok {
			t.Errorf("authenticator code after the bypass refused")
		}
	})
}

func TestBypassEnds(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "alice")
	f.user(t, "bob")

	// Expired at exactly its end.
	if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", 2*time.Minute, "r"); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(2 * time.Minute)
	if ok, reason := f.verifyReason(t, "alice", ""); ok || reason != reasonExpired {
		t.Errorf("bypass at its end = %v (%s), want expired", ok, reason)
	}

	// Revoked.
	if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", 0, "r"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeBypass(ctx, f.operator, "alice", "granted by mistake"); err != nil {
		t.Fatalf("RevokeBypass = %v", err)
	}
	if ok, reason := f.verifyReason(t, "alice", ""); ok || reason != reasonRevoked {
		t.Errorf("revoked bypass = %v (%s), want revoked", ok, reason)
	}

	// Bob has none; an empty code for him is refused and counts no failure.
	for range 20 {
		if ok, _ := f.verifyReason(t, "bob", ""); ok {
			t.Fatal("empty code accepted without a bypass")
		}
	}
	if u, _ := f.svc.GetUser(ctx, f.operator, "bob"); u.Failures != 0 {
		t.Errorf("empty codes counted %d failures, want none", u.Failures)
	}

	// A bypass never opens a session.
	if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", 0, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SignIn(ctx, anonymous, "alice", ""); !isKind(err, ErrUnauthenticated) {
		t.Errorf("SignIn with an empty code = %v, want refused", err)
	}
	if st, _ := f.svc.BypassStatus(ctx, f.operator, "alice"); st.State != PassActive {
		t.Errorf("bypass after a refused sign-in is %s, want still active", st.State)
	}
}

func TestBypassPolicy(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "alice")
	_, err := f.svc.GrantBypass(ctx, f.operator, "alice", 6*time.Minute, "r")
	if !isKind(err, ErrInvalid) || !strings.Contains(err.Error(), "between 1m and 5m") {
		t.Errorf("bypass of 6m = %v, want ErrInvalid naming 1m and 5m", err)
	}
	if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", time.Minute, ""); !isKind(err, ErrInvalid) {
		t.Errorf("bypass without a reason = %v, want ErrInvalid", err)
	}
	if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", 0, "r"); err != nil {
		t.Fatal(err)
	}
	// Switching bypasses off stops one already granted.
	f.setPolicy(t, `{"bypass": {"enabled": false}}`)
	if ok, reason := f.verifyReason(t, "alice", ""); ok || reason != reasonPolicy {
		t.Errorf("bypass under a policy without them = %v (%s), want refused: policy", ok, reason)
	}
	if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", 0, "r"); !isKind(err, ErrForbidden) {
		t.Errorf("GrantBypass with bypasses off = %v, want ErrForbidden", err)
	}
	f.setPolicy(t, `{"bypass": {"max_duration": "1h"}}`)
	if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", time.Hour, "r"); err != nil {
		t.Errorf("bypass of 1h under a 1h maximum = %v", err)
	}
}

func TestBypassLocked(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	for range 10 {
		f.verifyReason(t, "alice", wrong(f.code(secret, 0)))
	}
	if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", 0, "r"); err != nil {
		t.Fatal(err)
	}
	if ok, reason := f.verifyReason(t, "alice", ""); ok || reason != reasonLocked {
		t.Errorf("bypass of a locked account = %v (%s), want refused: locked", ok, reason)
	}
	if _, err := f.svc.Unlock(ctx, f.operator, "alice", "called her"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.verifyReason(t, "alice", ""); !ok {
		t.Errorf("bypass after unlock refused")
	}
}

func TestConcurrentBypass(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.user(t, "alice")
		if _, err := f.svc.GrantBypass(context.Background(), f.operator, "alice", 0, "r"); err != nil {
			t.Fatal(err)
		}
		if n := f.acceptedOf(t, 50, "alice", ""); n != 1 {
			t.Errorf("%d of 50 concurrent empty codes accepted with one bypass, want 1", n)
		}
	})
}
