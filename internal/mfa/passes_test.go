package mfa

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/codes"
	"github.com/mfad/mfad/internal/store/sqlstore"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// issued issues user a pass as the operator.
func (f *fixture) issued(t *testing.T, user string, in NewPass) AccessPass {
	t.Helper()
	if in.Reason == "" {
		in.Reason = "lost phone, identity checked by video call"
	}
	got, err := f.svc.IssuePass(context.Background(), f.operator, user, in)
	if err != nil {
		t.Fatalf("IssuePass(%q) = %v", user, err)
	}
	if got.Pending != nil {
		t.Fatalf("IssuePass(%q) is pending approval, want a pass", user)
	}
	return got.Pass
}

// setPolicy puts a global policy document in force.
func (f *fixture) setPolicy(t *testing.T, doc string) {
	t.Helper()
	if _, err := f.svc.SetPolicy(context.Background(), f.operator, []byte(doc)); err != nil {
		t.Fatalf("SetPolicy(%s) = %v", doc, err)
	}
}

func (f *fixture) verifyReason(t *testing.T, user, code string) (bool, string) {
	t.Helper()
	res, err := f.svc.Verify(context.Background(), f.operator, user, code)
	if err != nil {
		t.Fatalf("Verify(%s) = %v", user, err)
	}
	return res.Accepted, f.lastEvent(t, "verify").Reason
}

func TestPassIssued(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.user(t, "alice")
		p := f.issued(t, "alice", NewPass{OneTime: true})
		clean, ok := codes.Clean(p.Pass)
		if !ok || len(clean) != 12 || codes.Classify(clean) != codes.Passcode {
			t.Errorf("pass %q: want 12 symbols of the code alphabet", p.Pass)
		}
		if !p.StartsAt.Equal(t0) || !p.ExpiresAt.Equal(t0.Add(time.Hour)) || !p.OneTime ||
			p.State != PassActive {
			t.Errorf("pass = %+v, want one-time, active, from now for the default hour", p)
		}
		ev := f.lastEvent(t, string(ActPassIssue))
		if ev.Subject != "alice" || ev.Detail["reason"] == "" || ev.Detail["one_time"] != "true" {
			t.Errorf("audit event = %+v, want alice, the reason and one_time", ev)
		}
		if got := outboxTypes(f.outbox(t)); got[len(got)-1] != EventPassIssued {
			t.Errorf("last outbox event %v, want %s", got, EventPassIssued)
		}

		// Staff see the metadata, never the pass.
		st, err := f.svc.PassStatus(context.Background(), f.operator, "alice")
		if err != nil || st.Pass != "" || st.CreatedBy != "operator:tester" ||
			st.Reason != "lost phone, identity checked by video call" {
			t.Errorf("PassStatus = %+v, %v; want metadata without the pass", st, err)
		}

		// Typed as read out, in any case, with or without dashes.
		typed := strings.ToUpper(strings.ReplaceAll(p.Pass, "-", " "))
		if ok, reason := f.verifyReason(t, "alice", typed); !ok || reason != reasonAccepted {
			t.Fatalf("Verify(pass) = %v (%s), want accepted", ok, reason)
		}
		ev = f.lastEvent(t, "verify")
		if ev.Factor != "access_pass" {
			t.Errorf("verify audited with factor %q, want access_pass", ev.Factor)
		}
		if ok, reason := f.verifyReason(t, "alice", p.Pass); ok || reason != reasonReplay {
			t.Errorf("second use of a one-time pass = %v (%s), want refused as replay", ok, reason)
		}
		if st, _ := f.svc.PassStatus(context.Background(), f.operator, "alice"); st.State != PassUsed {
			t.Errorf("state after use = %s, want used", st.State)
		}
	})
}

// TestPassWindow checks the validity window at exact instants.
func TestPassWindow(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	f.user(t, "alice")
	start := t0.Add(2 * time.Hour)
	p := f.issued(t, "alice", NewPass{StartsAt: start, Lifetime: 3 * time.Hour})
	if p.State != PassScheduled || !p.ExpiresAt.Equal(start.Add(3*time.Hour)) {
		t.Fatalf("pass = %+v, want scheduled until %v", p, start)
	}
	tests := []struct {
		at     time.Time
		ok     bool
		reason string
	}{
		{start.Add(-time.Second), false, reasonNotYet},
		{start, true, reasonAccepted},
		{start.Add(3*time.Hour - time.Second), true, reasonAccepted},
		{start.Add(3 * time.Hour), false, reasonExpired},
	}
	for _, tt := range tests {
		f.clock.Set(tt.at)
		ok, reason := f.verifyReason(t, "alice", p.Pass)
		if ok != tt.ok || reason != tt.reason {
			t.Errorf("at start%+v: Verify = %v (%s), want %v (%s)", tt.at.Sub(start), ok, reason,
				tt.ok, tt.reason)
		}
	}
}

func TestPassLifetimeBounds(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "alice")
	tests := []struct {
		name     string
		in       NewPass
		wantErr  string
		lifetime time.Duration
	}{
		{"default", NewPass{Reason: "r"}, "", time.Hour},
		{"shortest", NewPass{Lifetime: time.Hour, Reason: "r"}, "", time.Hour},
		{"start a moment ago: now", NewPass{Reason: "r", StartsAt: t0.Add(-time.Minute)}, "",
			time.Hour},
		{"longest", NewPass{Lifetime: 8 * time.Hour, Reason: "r"}, "", 8 * time.Hour},
		{"too short", NewPass{Lifetime: 59 * time.Minute, Reason: "r"},
			"lifetime 59m is outside the policy for alice: it must be between 1h and 8h", 0},
		{"too long", NewPass{Lifetime: 8*time.Hour + time.Second, Reason: "r"},
			"between 1h and 8h", 0},
		{"no reason", NewPass{Lifetime: time.Hour}, "a reason", 0},
		{"start too far", NewPass{Reason: "r", StartsAt: t0.Add(31 * 24 * time.Hour)},
			"starts_at is more than 30d ahead", 0},
		{"start in the past", NewPass{Reason: "r", StartsAt: t0.Add(-time.Hour)},
			"starts_at is in the past", 0},
	}
	for _, tt := range tests {
		got, err := f.svc.IssuePass(ctx, f.operator, "alice", tt.in)
		if tt.wantErr != "" {
			if !isKind(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: IssuePass = %v, want ErrInvalid containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Pass.ExpiresAt.Sub(got.Pass.StartsAt) != tt.lifetime {
			t.Errorf("%s: IssuePass = %+v, %v; want a pass of %s", tt.name, got.Pass, err, tt.lifetime)
		}
	}

	// A refused request changed nothing: the last good pass still stands.
	st, err := f.svc.PassStatus(ctx, f.operator, "alice")
	if err != nil || st.ExpiresAt.Sub(st.StartsAt) != 8*time.Hour {
		t.Errorf("PassStatus after refusals = %+v, %v; want the 8h pass", st, err)
	}

	f.setPolicy(t, `{"access_pass": {"allow_multi_use": false}}`)
	_, err = f.svc.IssuePass(ctx, f.operator, "alice", NewPass{Reason: "r", OneTime: false})
	if !isKind(err, ErrInvalid) || !strings.Contains(err.Error(), "one-time passes only") {
		t.Errorf("multi-use pass under a one-time policy: %v, want ErrInvalid", err)
	}
	f.setPolicy(t, `{"access_pass": {"enabled": false}}`)
	_, err = f.svc.IssuePass(ctx, f.operator, "alice", NewPass{Reason: "r", OneTime: true})
	if !isKind(err, ErrForbidden) || f.lastEvent(t, string(ActPassIssue)).Reason != "passes_disabled" {
		t.Errorf("pass with passes disabled: %v, want ErrForbidden audited as passes_disabled", err)
	}
}

func TestMultiUsePass(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	f.user(t, "alice")
	p := f.issued(t, "alice", NewPass{OneTime: false})
	for i := range 3 {
		if ok, reason := f.verifyReason(t, "alice", p.Pass); !ok {
			t.Errorf("use %d of a multi-use pass refused (%s)", i+1, reason)
		}
	}
	if st, _ := f.svc.PassStatus(context.Background(), f.operator, "alice"); st.Uses != 3 {
		t.Errorf("uses = %d, want 3", st.Uses)
	}
}

func TestOnePassPerUser(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		f.user(t, "bob")
		first := f.issued(t, "alice", NewPass{OneTime: false})
		second := f.issued(t, "alice", NewPass{OneTime: false})
		if f.lastEvent(t, string(ActPassIssue)).Detail["replaced"] != "true" {
			t.Errorf("second pass not audited as replacing the first")
		}
		if ok, _ := f.verifyReason(t, "alice", first.Pass); ok {
			t.Errorf("the replaced pass was accepted")
		}
		if ok, _ := f.verifyReason(t, "alice", second.Pass); !ok {
			t.Errorf("the new pass was refused")
		}
		// A pass of alice's never works for bob.
		if ok, _ := f.verifyReason(t, "bob", second.Pass); ok {
			t.Errorf("alice's pass accepted for bob")
		}

		if err := f.svc.RevokePass(ctx, f.operator, "alice", "found her phone"); err != nil {
			t.Fatalf("RevokePass = %v", err)
		}
		if ok, reason := f.verifyReason(t, "alice", second.Pass); ok || reason != reasonRevoked {
			t.Errorf("revoked pass: %v (%s), want refused as revoked", ok, reason)
		}
		if err := f.svc.RevokePass(ctx, f.operator, "alice", ""); !isKind(err, ErrNotFound) {
			t.Errorf("RevokePass twice = %v, want ErrNotFound", err)
		}
		types := outboxTypes(f.outbox(t))
		if types[len(types)-1] != EventPassRevoked {
			t.Errorf("outbox ends %v, want %s", types, EventPassRevoked)
		}
	})
}

func TestConcurrentPass(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.user(t, "alice")
		p := f.issued(t, "alice", NewPass{OneTime: true})
		if n := f.acceptedOf(t, 50, "alice", p.Pass); n != 1 {
			t.Errorf("%d of 50 concurrent uses of one one-time pass accepted, want 1", n)
		}
	})
}

func TestPassFailureCounts(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	f.user(t, "alice")
	p := f.issued(t, "alice", NewPass{OneTime: true})
	clean, _ := codes.Clean(p.Pass)
	wrongPass := strings.Repeat("2", 4) + clean[4:]
	if wrongPass == clean {
		wrongPass = strings.Repeat("3", 4) + clean[4:]
	}
	for range 10 {
		f.verifyReason(t, "alice", wrongPass)
	}
	if ok, reason := f.verifyReason(t, "alice", p.Pass); ok || reason != reasonLocked {
		t.Errorf("right pass after 10 wrong ones = %v (%s), want refused: locked", ok, reason)
	}
}

// TestPassTiers checks the full role by target matrix: who may issue a
// pass to whom.
func TestPassTiers(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "boss", "admin")
	f.user(t, "boss2", "admin")
	f.user(t, "authadm", "authentication-admin")
	f.user(t, "authadm2", "authentication-admin")
	f.user(t, "agent", "helpdesk")
	f.user(t, "agent2", "helpdesk")
	f.user(t, "reader", "auditor")
	f.user(t, "app", "verifier")
	f.user(t, "plain")
	actors := map[string]Request{}
	for user, role := range map[string]string{"boss": "admin", "authadm": "authentication-admin",
		"agent": "helpdesk", "reader": "auditor", "app": "verifier"} {
		actors[user], _ = f.token(t, role, user)
	}
	targets := []string{"plain", "agent2", "authadm2", "boss2", "reader"}
	// want[actor] lists the targets the actor may issue to; everyone is
	// refused on their own account.
	want := map[string][]string{
		"boss":    {"plain", "agent2", "authadm2", "boss2", "reader"},
		"authadm": {"plain", "agent2"},
		"agent":   {"plain"},
		"reader":  {},
		"app":     {},
	}
	for actor, req := range actors {
		for _, target := range append(targets, actor) {
			_, err := f.svc.IssuePass(ctx, req, target, NewPass{Reason: "tier test", OneTime: true})
			allowed := contains(want[actor], target)
			if allowed && err != nil {
				t.Errorf("%s issuing to %s: %v, want allowed", actor, target, err)
			}
			if !allowed && !isKind(err, ErrForbidden) {
				t.Errorf("%s issuing to %s: %v, want ErrForbidden", actor, target, err)
			}
		}
	}
	// Bypasses follow the same tiers.
	if _, err := f.svc.GrantBypass(ctx, actors["agent"], "boss2", 0, "tier"); !isKind(err, ErrForbidden) {
		t.Errorf("helpdesk granting an admin a bypass: %v, want ErrForbidden", err)
	}
	if _, err := f.svc.GrantBypass(ctx, actors["agent"], "plain", 0, "tier"); err != nil {
		t.Errorf("helpdesk granting a plain user a bypass: %v, want allowed", err)
	}
}

func TestSelfIssuePass(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		codesSet := f.generated(t, "alice")

		fresh, _ := f.signIn(t, "alice", f.code(secret, 0))
		p, err := f.svc.SelfIssuePass(ctx, fresh, 0, "meeting room laptop")
		if err != nil {
			t.Fatalf("SelfIssuePass from a fresh authenticator session = %v", err)
		}
		if !p.OneTime || !p.SelfIssued || p.ExpiresAt.Sub(p.StartsAt) != time.Hour || p.Pass == "" {
			t.Errorf("self-issued pass = %+v, want a one-time pass for 1h", p)
		}
		if ev := f.lastEvent(t, string(ActPassIssue)); ev.Detail["self_issued"] != "true" {
			t.Errorf("audit detail = %v, want self_issued", ev.Detail)
		}
		if _, err := f.svc.SelfIssuePass(ctx, fresh, 2*time.Hour, ""); !isKind(err, ErrInvalid) ||
			!strings.Contains(err.Error(), "between 10m and 1h") {
			t.Errorf("self-issued pass of 2h = %v, want ErrInvalid naming 10m and 1h", err)
		}

		// The session proved the factor at sign-in; ten minutes later it is
		// no longer fresh enough.
		f.clock.Add(10*time.Minute + time.Second)
		_, err = f.svc.SelfIssuePass(ctx, fresh, 0, "")
		if !isKind(err, ErrForbidden) || !strings.Contains(err.Error(), "within the last 10m") {
			t.Errorf("SelfIssuePass from a stale session = %v, want ErrForbidden", err)
		}

		// A session from a backup code or a pass never qualifies.
		fromCode, _ := f.signIn(t, "alice", codesSet.Codes[0])
		_, err = f.svc.SelfIssuePass(ctx, fromCode, 0, "")
		if !isKind(err, ErrForbidden) ||
			f.lastEvent(t, string(ActPassIssue)).Reason != "recovery_session" {
			t.Errorf("SelfIssuePass from a backup-code session = %v, want ErrForbidden", err)
		}
		staff := f.issued(t, "alice", NewPass{OneTime: true})
		fromPass, _ := f.signIn(t, "alice", staff.Pass)
		if _, err := f.svc.SelfIssuePass(ctx, fromPass, 0, ""); !isKind(err, ErrForbidden) {
			t.Errorf("SelfIssuePass from a pass session = %v, want ErrForbidden", err)
		}
		// Nor does an API token, even an admin's.
		admin, _ := f.token(t, "admin", "")
		if _, err := f.svc.SelfIssuePass(ctx, admin, 0, ""); !isKind(err, ErrForbidden) {
			t.Errorf("SelfIssuePass with a token = %v, want ErrForbidden", err)
		}

		// Policy can switch self-service off.
		f.clock.Add(time.Minute)
		again, _ := f.signIn(t, "alice", f.code(secret, 0))
		f.setPolicy(t, `{"access_pass": {"self_service": {"enabled": false}}}`)
		_, err = f.svc.SelfIssuePass(ctx, again, 0, "")
		if !isKind(err, ErrForbidden) || !strings.Contains(err.Error(), "ask the helpdesk") {
			t.Errorf("SelfIssuePass with self-service off = %v, want ErrForbidden", err)
		}
		// And a session may not use the staff route to get round the rules.
		_, err = f.svc.IssuePass(ctx, again, "alice", NewPass{Reason: "me", OneTime: true})
		if !isKind(err, ErrForbidden) {
			t.Errorf("IssuePass from a session = %v, want ErrForbidden", err)
		}
	})
}

// TestPassSession checks what a session opened with a pass may do, and
// that it ends with the pass.
func TestPassSession(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.enrolled(t, "alice")
	f.setPolicy(t, `{"sessions": {"lifetime": "2h"}, "access_pass": {"min_lifetime": "10m"}}`)
	p := f.issued(t, "alice", NewPass{Lifetime: 30 * time.Minute, OneTime: true})
	req, sess := f.signIn(t, "alice", p.Pass)
	if sess.Factor != "access_pass" || !sess.ExpiresAt.Equal(p.ExpiresAt) {
		t.Errorf("pass session = %+v, want factor access_pass ending with the pass at %v",
			sess, p.ExpiresAt)
	}
	if _, err := f.svc.EnrollTOTP(ctx, req, "alice", NewTOTP{Name: "new phone"}); err != nil {
		t.Errorf("pass session enrolling an authenticator: %v, want allowed", err)
	}
	if _, err := f.svc.GenerateBackupCodes(ctx, req, "alice"); err != nil {
		t.Errorf("pass session generating backup codes: %v, want allowed", err)
	}
	creds, _ := f.svc.ListTOTP(ctx, f.operator, "alice")
	if err := f.svc.DeleteTOTP(ctx, req, "alice", creds[0].ID); !isKind(err, ErrForbidden) {
		t.Errorf("pass session deleting an authenticator: %v, want ErrForbidden", err)
	}
	f.clock.Set(p.ExpiresAt)
	if _, err := f.svc.Authenticate(ctx, sess.Token); !isKind(err, ErrUnauthenticated) {
		t.Errorf("pass session after the pass expired: %v, want ErrUnauthenticated", err)
	}
}

func TestPassNeverStoredInClear(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlstore.Open(context.Background(), dir+"/mfad.db")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, st)
	f.user(t, "alice")
	p := f.issued(t, "alice", NewPass{OneTime: true})
	clean, _ := codes.Clean(p.Pass)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mfad.db", "mfad.db-wal"} {
		b, err := os.ReadFile(dir + "/" + name)
		if os.IsNotExist(err) && name != "mfad.db" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []string{clean, p.Pass, strings.ToLower(clean)} {
			if strings.Contains(string(b), form) {
				t.Errorf("%s holds the pass %q in clear", name, form)
			}
		}
	}
}
