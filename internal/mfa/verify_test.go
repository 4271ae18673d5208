package mfa

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

func TestVerifyAcceptsEachStepOnce(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		now, next := f.code(secret, 0), f.code(secret, 1)

		steps := []struct {
			name       string
			code       string
			wantAccept bool
			wantReason string
		}{
			{"current step", now, true, reasonAccepted},
			{"same code again", now, false, reasonReplay},
			{"confirmation step", f.code(secret, -1), false, reasonReplay},
			{"next step, inside the window", next, true, reasonAccepted},
			{"older step after a newer one", now, false, reasonReplay},
			{"two steps ahead", f.code(secret, 2), false, reasonWrongCode},
		}
		for _, s := range steps {
			res, err := f.svc.Verify(ctx, f.operator, "alice", s.code)
			if err != nil {
				t.Fatalf("%s: Verify = %v", s.name, err)
			}
			if res.Accepted != s.wantAccept {
				t.Errorf("%s: Verify(alice, code).Accepted = %v, want %v", s.name, res.Accepted, s.wantAccept)
			}
			if s.wantAccept && (res.Factor != "totp" || res.Credential != "phone") {
				t.Errorf("%s: Verify = %+v, want factor totp from credential phone", s.name, res)
			}
			if ev := f.lastEvent(t, "verify"); ev.Reason != s.wantReason || ev.Subject != "alice" {
				t.Errorf("%s: audit reason %q subject %q, want %q alice", s.name, ev.Reason, ev.Subject, s.wantReason)
			}
		}
	})
}

func TestVerifyWindowEdges(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	base := f.clock.Now()
	tests := []struct {
		name   string
		offset int64
		at     time.Duration // how far into the current step we check
		want   bool
	}{
		{"previous step at the first second", -1, 0, false}, // used by the confirmation
		{"next step at the last second", 1, 29 * time.Second, true},
		{"two back", -2, 0, false},
		{"two ahead at the last second", 2, 29 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Set(base)
			code := f.code(secret, tt.offset)
			f.clock.Set(base.Add(tt.at))
			res, err := f.svc.Verify(ctx, f.operator, "alice", code)
			if err != nil || res.Accepted != tt.want {
				t.Errorf("Verify(step %+d at +%s) = %v, %v, want %v", tt.offset, tt.at, res.Accepted, err, tt.want)
			}
		})
	}
}

// TestVerifySameAnswerForEveryReason checks that the caller cannot tell why
// a code was refused, while the audit log can.
func TestVerifySameAnswerForEveryReason(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		f.user(t, "nofactor")
		f.enrolled(t, "bob")
		if _, err := f.svc.UpdateUser(ctx, f.operator, "bob", UserUpdate{Disabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		f.user(t, "pending")
		if _, err := f.svc.EnrollTOTP(ctx, f.operator, "pending", NewTOTP{}); err != nil {
			t.Fatal(err)
		}
		carol := f.enrolled(t, "carol")
		for range 10 { // the default threshold locks carol
			f.svc.Verify(ctx, f.operator, "carol", wrong(f.code(carol, 0)))
		}
		used := f.code(secret, 0)
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", used); !res.Accepted {
			t.Fatal("first use of a code refused")
		}

		tests := []struct {
			name, user, code, reason string
		}{
			{"unknown user", "mallory", "123456", reasonUnknownUser},
			{"disabled user", "bob", "123456", reasonDisabled},
			{"no factor", "nofactor", "123456", reasonNoFactor},
			{"only unconfirmed factor", "pending", "123456", reasonNoFactor},
			{"wrong code", "alice", wrong(f.code(secret, 0)), reasonWrongCode},
			{"replayed code", "alice", used, reasonReplay},
			{"locked account, right code", "carol", f.code(carol, 0), reasonLocked},
			{"empty code, no bypass", "alice", "", reasonNoBypass},
			{"blank code, no bypass", "alice", "  ", reasonNoBypass},
			{"empty code, unknown user", "mallory", "", reasonUnknownUser},
			{"dashes alone", "alice", "--", reasonMalformed},
			{"too long", "alice", "1234567890123456789012345678901234567890123456789012345678901234567890", reasonMalformed},
			{"arabic-indic digits", "alice", "١٢٣٤٥٦", reasonMalformed},
			{"seven digits", "alice", "1234567", reasonMalformed},
			{"bad user name", "al ice\x00", "123456", reasonMalformed},
		}
		for _, tt := range tests {
			res, err := f.svc.Verify(ctx, f.operator, tt.user, tt.code)
			if err != nil {
				t.Errorf("%s: Verify = %v, want a refusal without error", tt.name, err)
			}
			if res != (VerifyResult{}) {
				t.Errorf("%s: Verify = %+v, want the zero result", tt.name, res)
			}
			if ev := f.lastEvent(t, "verify"); ev.Reason != tt.reason || ev.Outcome != audit.Failure {
				t.Errorf("%s: audit says %s/%q, want failure/%q", tt.name, ev.Outcome, ev.Reason, tt.reason)
			}
		}
	})
}

func TestLockoutEscalatesAndResets(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		pol := `{"lockout": {"threshold": 3, "duration": "1m", "max_duration": "10m", "max_failures": 100}}`
		if _, err := f.svc.SetPolicy(ctx, f.operator, []byte(pol)); err != nil {
			t.Fatal(err)
		}
		fail := func(n int) {
			t.Helper()
			for range n {
				if res, err := f.svc.Verify(ctx, f.operator, "alice", wrong(f.code(secret, 0))); err != nil || res.Accepted {
					t.Fatalf("wrong code: Verify = %v, %v", res.Accepted, err)
				}
			}
		}
		verifies := func(offset int64) bool {
			t.Helper()
			res, err := f.svc.Verify(ctx, f.operator, "alice", f.code(secret, offset))
			if err != nil {
				t.Fatal(err)
			}
			return res.Accepted
		}

		fail(2)
		u, _ := f.svc.GetUser(ctx, f.operator, "alice")
		if u.Locked || u.Failures != 2 {
			t.Fatalf("after 2 failures: locked %v failures %d, want unlocked, 2", u.Locked, u.Failures)
		}
		fail(1)
		if lock := f.lastEvent(t, "user.lock"); lock.Detail["failures"] != "3" {
			t.Errorf("user.lock event detail = %v, want failures 3", lock.Detail)
		}
		if verifies(0) {
			t.Fatal("right code accepted while locked")
		}
		f.clock.Add(time.Minute + 30*time.Second) // first lock: 1m
		if !verifies(0) {
			t.Fatal("right code refused after the lock ended")
		}
		u, _ = f.svc.GetUser(ctx, f.operator, "alice")
		if u.Failures != 0 || u.Locked {
			t.Fatalf("after success: failures %d locked %v, want 0, false", u.Failures, u.Locked)
		}

		// Without a success in between, each lock lasts twice as long.
		fail(3)
		f.clock.Add(time.Minute + time.Second)
		fail(3) // the lock of 1m has passed: 3 more failures lock for 2m
		f.clock.Add(time.Minute + 30*time.Second)
		if verifies(0) {
			t.Error("right code accepted 1m30s into a 2m lock")
		}
		f.clock.Add(time.Minute)
		if !verifies(0) {
			t.Error("right code refused after the 2m lock ended")
		}
	})
}

func TestLockoutMaxFailuresNeedsStaff(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		pol := `{"lockout": {"threshold": 2, "duration": "1s", "max_duration": "1s", "max_failures": 4}}`
		if _, err := f.svc.SetPolicy(ctx, f.operator, []byte(pol)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			for range 2 {
				f.svc.Verify(ctx, f.operator, "alice", wrong(f.code(secret, 0)))
			}
			f.clock.Add(2 * time.Second)
		}
		f.clock.Add(24 * time.Hour)
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", f.code(secret, 0)); res.Accepted {
			t.Fatal("right code accepted after max_failures, before any unlock")
		}
		if ev := f.lastEvent(t, "verify"); ev.Reason != reasonLocked {
			t.Errorf("audit reason = %q, want locked", ev.Reason)
		}
		if _, err := f.svc.Unlock(ctx, f.operator, "alice", ""); !isKind(err, ErrInvalid) {
			t.Errorf("Unlock without reason = %v, want ErrInvalid", err)
		}
		if _, err := f.svc.Unlock(ctx, f.operator, "alice", "called the helpdesk, identity checked"); err != nil {
			t.Fatalf("Unlock = %v", err)
		}
		if ev := f.lastEvent(t, "user.unlock"); ev.Detail["failures_before"] != "4" || ev.Detail["reason"] == "" {
			t.Errorf("unlock audit detail = %v", ev.Detail)
		}
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", f.code(secret, 0)); !res.Accepted {
			t.Error("right code refused after unlock")
		}
	})
}

// TestConcurrentVerifyOneCode sends one valid code 50 times at once: exactly
// one verification may accept it.
func TestConcurrentVerifyOneCode(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		secret := f.enrolled(t, "alice")
		if n := f.acceptedOf(t, 50, "alice", f.code(secret, 0)); n != 1 {
			t.Errorf("%d of 50 concurrent verifications of one code accepted, want exactly 1", n)
		}
	})
}

// acceptedOf verifies code for user n times at once and returns how many
// verifications accepted it.
func (f *fixture) acceptedOf(t *testing.T, n int, user, code string) int {
	t.Helper()
	var accepted atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			res, err := f.svc.Verify(context.Background(), f.operator, user, code)
			if err != nil {
				t.Errorf("Verify = %v", err)
			}
			if res.Accepted {
				accepted.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(accepted.Load())
}

// TestConcurrentGuessesCannotOvershoot sends 100 wrong codes at once with a
// threshold of 10: exactly 10 are checked, and the rest meet the lock.
func TestConcurrentGuessesCannotOvershoot(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		bad := wrong(f.code(secret, 0))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-start
				if _, err := f.svc.Verify(ctx, f.operator, "alice", bad); err != nil {
					t.Errorf("Verify = %v", err)
				}
			})
		}
		close(start)
		wg.Wait()

		events, err := f.st.ListAudit(ctx, store.AuditQuery{Action: "verify", Subject: "alice", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		reasons := map[string]int{}
		for _, ev := range events {
			reasons[ev.Reason]++
		}
		if reasons[reasonWrongCode] != 10 || reasons[reasonLocked] != 90 {
			t.Errorf("reasons = %v, want 10 wrong_code and 90 locked", reasons)
		}
		u, _ := f.svc.GetUser(ctx, f.operator, "alice")
		if u.Failures != 10 || !u.Locked {
			t.Errorf("user failures %d locked %v, want 10, true", u.Failures, u.Locked)
		}
	})
}

func TestVerifyNeedsVerifierRole(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	f.user(t, "agent", "helpdesk")
	helpdesk, _ := f.token(t, "helpdesk", "agent")
	if _, err := f.svc.Verify(ctx, helpdesk, "alice", f.code(secret, 0)); !isKind(err, ErrForbidden) {
		t.Fatalf("Verify by helpdesk = %v, want ErrForbidden", err)
	}
	if ev := f.lastEvent(t, "verify"); ev.Outcome != audit.Denied || ev.RequestID != "req-1" {
		t.Errorf("denied verify audited as %s (request %q), want denied (req-1)", ev.Outcome, ev.RequestID)
	}
	verifier, _ := f.token(t, "verifier", "")
	res, err := f.svc.Verify(ctx, verifier, "alice", f.code(secret, 0))
	if err != nil || !res.Accepted {
		t.Fatalf("Verify by verifier = %+v, %v, want accepted", res, err)
	}
	if ev := f.lastEvent(t, "verify"); ev.Source != "192.0.2.1" || ev.FrontDoor != audit.DoorAPI {
		t.Errorf("audit source %q door %q, want 192.0.2.1 api", ev.Source, ev.FrontDoor)
	}
}

// TestVerifyFailsClosed checks that a secret that cannot be opened (a wrong
// key file) is an error, not an acceptance nor a silent refusal.
func TestVerifyFailsClosed(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	other, err := keyring.Create(t.TempDir()+"/other.json", rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Store: f.st, Keys: other, Clock: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Verify(ctx, f.operator, "alice", f.code(secret, 0))
	if err == nil || res.Accepted {
		t.Fatalf("Verify with the wrong key ring = %+v, %v, want an error", res, err)
	}
}

func TestAuditChainAfterUse(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		for i := range 5 {
			f.svc.Verify(ctx, f.operator, "alice", f.code(secret, int64(i%2)))
		}
		rep, err := f.svc.VerifyAudit(ctx, f.operator)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Unsealed != 0 || rep.Events < 8 || rep.Sealed != rep.Events {
			t.Fatalf("VerifyAudit = %+v, want an intact, fully sealed chain", rep.Result)
		}
		if ev := f.lastEvent(t, "audit.verify"); ev.Outcome != audit.Success {
			t.Errorf("audit.verify recorded %s, want success", ev.Outcome)
		}
	})
}

func TestResealSecretsAfterRotation(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secrets := map[string][]byte{}
		for i := range 3 {
			name := fmt.Sprintf("user%d", i)
			secrets[name] = f.enrolled(t, name)
		}
		hook, secret, err := f.svc.CreateWebhook(ctx, f.operator, "https://x.example/", []string{"*"})
		if err != nil {
			t.Fatal(err)
		}
		old := f.ring.ActiveID()
		newID, err := keyring.Rotate(f.keyFile, rand.Reader, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.ring.Reload(); err != nil {
			t.Fatal(err)
		}
		n, err := f.svc.ResealSecrets(ctx, f.operator)
		if err != nil || n != 4 {
			t.Fatalf("ResealSecrets = %d, %v, want 4 (3 authenticators, 1 webhook)", n, err)
		}
		row, _ := f.st.Webhook(ctx, hook.ID)
		opened, err := f.ring.Open(row.KeyID, row.Secret, webhookAAD(hook.ID))
		if row.KeyID != newID || err != nil || string(opened) != secret {
			t.Errorf("webhook secret after reseal: key %s, %v; want it under %s, unchanged",
				row.KeyID, err, newID)
		}
		left, err := f.st.TOTPCredentialsNotSealedWith(ctx, newID, 10)
		if err != nil || len(left) != 0 {
			t.Fatalf("after reseal, %d secrets not under %s (old %s), err %v", len(left), newID, old, err)
		}
		for name, secret := range secrets {
			res, err := f.svc.Verify(ctx, f.operator, name, f.code(secret, 0))
			if err != nil || !res.Accepted {
				t.Errorf("Verify(%s) after rotation = %+v, %v", name, res, err)
			}
		}
		if n, err := f.svc.ResealSecrets(ctx, f.operator); err != nil || n != 0 {
			t.Errorf("second ResealSecrets = %d, %v, want 0", n, err)
		}
	})
}

// wrong returns a code that differs from code in its last digit.
func wrong(code string) string {
	b := []byte(code)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

func ptr[T any](v T) *T { return &v }
