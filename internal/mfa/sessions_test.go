package mfa

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// anonymous is the request of someone signing in.
var anonymous = Request{Source: "198.51.100.4", FrontDoor: audit.DoorAPI, RequestID: "r-sign"}

// signIn opens a session and returns the request it authenticates.
func (f *fixture) signIn(t *testing.T, user, code string) (Request, Session) {
	t.Helper()
	ctx := context.Background()
	sess, err := f.svc.SignIn(ctx, anonymous, user, code)
	if err != nil {
		t.Fatalf("SignIn(%s) = %v", user, err)
	}
	actor, err := f.svc.Authenticate(ctx, sess.Token)
	if err != nil {
		t.Fatalf("Authenticate(session) = %v", err)
	}
	return Request{Actor: actor, Source: anonymous.Source, FrontDoor: audit.DoorAPI}, sess
}

func TestSignIn(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		req, sess := f.signIn(t, "alice", f.code(secret, 0))
		if sess.Factor != "totp" || sess.User != "alice" ||
			!sess.ExpiresAt.Equal(t0.Add(15*time.Minute)) ||
			!strings.HasPrefix(sess.Token, "mfads_") {
			t.Errorf("SignIn = %+v, want a totp session of alice for 15 minutes", sess)
		}
		if req.Actor.Kind != ActorSession || req.Actor.UserName != "alice" {
			t.Errorf("session actor = %+v, want alice's session", req.Actor)
		}
		if ev := f.lastEvent(t, "session.create"); ev.Subject != "alice" ||
			ev.Actor != "anonymous" || ev.Source != anonymous.Source || ev.Factor != "totp" {
			t.Errorf("session.create event = %+v", ev)
		}
		if strings.Contains(f.lastEvent(t, "session.create").Detail["session"], "_") {
			t.Errorf("the audit event holds more than the session ID")
		}

		if ev := f.lastEvent(t, "verify"); ev.Detail["purpose"] != "sign_in" {
			t.Errorf("sign-in verify event detail = %v, want purpose sign_in", ev.Detail)
		}

		// The code was used up by the sign-in.
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", f.code(secret, 0)); res.Accepted {
			t.Errorf("the sign-in code was accepted again by Verify")
		}

		// Every refusal is the same error.
		f.user(t, "nofactor")
		for _, tc := range []struct{ user, code string }{
			{"alice", wrong(f.code(secret, 0))}, {"alice", f.code(secret, 0)},
			{"mallory", "123456"}, {"nofactor", "abcde-fghjk"}, {"alice", ""},
		} {
			_, err := f.svc.SignIn(ctx, anonymous, tc.user, tc.code)
			var e *Error
			if !isKind(err, ErrUnauthenticated) || !asError(err, &e) ||
				e.Message != "sign-in refused" {
				t.Errorf("SignIn(%s, %q) = %v, want the one refusal", tc.user, tc.code, err)
			}
		}

		// Expiry and sign-out end a session at once.
		f.clock.Add(15 * time.Minute)
		if _, err := f.svc.Authenticate(ctx, sess.Token); !isKind(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(expired session) = %v, want ErrUnauthenticated", err)
		}
		f.clock.Add(time.Minute)
		req2, sess2 := f.signIn(t, "alice", f.code(secret, 0))
		if err := f.svc.SignOut(ctx, req2); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, sess2.Token); !isKind(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(after sign-out) = %v, want ErrUnauthenticated", err)
		}
		if err := f.svc.SignOut(ctx, f.operator); !isKind(err, ErrForbidden) {
			t.Errorf("SignOut(operator) = %v, want ErrForbidden", err)
		}

		// A forged token with a real session ID is refused.
		id := strings.Split(sess2.Token, "_")[1]
		if _, err := f.svc.Authenticate(ctx, "mfads_"+id+"_AAAA"); !isKind(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(forged) = %v, want ErrUnauthenticated", err)
		}
	})
}

func TestSessionOfDisabledUser(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	_, sess := f.signIn(t, "alice", f.code(secret, 0))
	if _, err := f.svc.UpdateUser(ctx, f.operator, "alice", UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, sess.Token); !isKind(err, ErrUnauthenticated) {
		t.Errorf("Authenticate(session of a disabled user) = %v, want ErrUnauthenticated", err)
	}
}

// TestSelfService checks what a session may do, by the factor that opened
// it: recovery with a backup code may add an authenticator and make new
// codes, but not remove factors; no session acts on anyone else or holds a
// staff role.
func TestSelfService(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		codes := f.generated(t, "alice").Codes
		f.enrolled(t, "bob")
		f.user(t, "boss", "admin")
		bossCodes := f.generated(t, "boss").Codes

		recovery, _ := f.signIn(t, "alice", codes[0])
		if recovery.Actor.Factor != "backup_code" {
			t.Fatalf("session factor = %q, want backup_code", recovery.Actor.Factor)
		}
		everyday, _ := f.signIn(t, "alice", f.code(secret, 0))
		admin, _ := f.signIn(t, "boss", bossCodes[0])

		creds, err := f.svc.ListTOTP(ctx, recovery, "alice")
		if err != nil || len(creds) != 1 {
			t.Fatalf("ListTOTP(own, recovery session) = %v, %v", creds, err)
		}
		phone := creds[0].ID

		allowed := []struct {
			name string
			do   func() error
		}{
			{"read own account", func() error {
				_, err := f.svc.GetUser(ctx, recovery, "alice")
				return err
			}},
			{"enrol a new authenticator", func() error {
				_, err := f.svc.EnrollTOTP(ctx, recovery, "alice", NewTOTP{Name: "new phone"})
				return err
			}},
			{"see remaining codes", func() error {
				_, err := f.svc.BackupCodeStatus(ctx, recovery, "alice")
				return err
			}},
			{"make a new set of codes", func() error {
				_, err := f.svc.GenerateBackupCodes(ctx, recovery, "alice")
				return err
			}},
			{"remove an authenticator with an everyday session", func() error {
				return f.svc.DeleteTOTP(ctx, everyday, "alice", phone)
			}},
		}
		for _, tc := range allowed {
			if err := tc.do(); err != nil {
				t.Errorf("%s: %v, want allowed", tc.name, err)
			}
		}

		refused := []struct {
			name, reason string
			do           func() error
		}{
			{"remove codes with a recovery session", "recovery_session", func() error {
				return f.svc.DeleteBackupCodes(ctx, recovery, "alice")
			}},
			{"read another user", "own_account_only", func() error {
				_, err := f.svc.GetUser(ctx, recovery, "bob")
				return err
			}},
			{"make codes for another user", "own_account_only", func() error {
				_, err := f.svc.GenerateBackupCodes(ctx, everyday, "bob")
				return err
			}},
			{"list users", "own_account_only", func() error {
				_, err := f.svc.ListUsers(ctx, everyday, UserQuery{})
				return err
			}},
			{"verify codes", "not_self_service", func() error {
				_, err := f.svc.Verify(ctx, everyday, "alice", "123456")
				return err
			}},
			{"create a token as an admin's session", "not_self_service", func() error {
				_, _, err := f.svc.CreateToken(ctx, admin, NewToken{Name: "x", Role: "admin"})
				return err
			}},
			{"unlock another user as an admin's session", "not_self_service", func() error {
				_, err := f.svc.Unlock(ctx, admin, "bob", "because")
				return err
			}},
		}
		for _, tc := range refused {
			err := tc.do()
			if !isKind(err, ErrForbidden) {
				t.Errorf("%s: %v, want ErrForbidden", tc.name, err)
				continue
			}
			events, _ := f.svc.ListAudit(ctx, f.operator, AuditQuery{Limit: 1})
			if len(events) == 0 || events[0].Outcome != audit.Denied ||
				events[0].Reason != tc.reason {
				t.Errorf("%s: last audit event %+v, want denied/%s", tc.name, events, tc.reason)
			}
		}

		// The recovery session removed nothing; the everyday one removed
		// the old phone.
		if st, err := f.svc.BackupCodeStatus(ctx, f.operator, "alice"); err != nil || st.Total != 10 {
			t.Errorf("alice's codes after the refused delete = %+v, %v", st, err)
		}
	})
}

// TestSelfServiceMatchesDocs keeps docs/sessions.md and the selfService
// table in step.
func TestSelfServiceMatchesDocs(t *testing.T) {
	got := map[string]string{}
	for _, row := range docTable(t, "sessions.md", "self-service-table") {
		got[row[0]] = strings.Join(row[1:], ",")
	}
	want := map[string]string{}
	yes := map[bool]string{true: "yes", false: "no"}
	for act := range selfService {
		_, recovery, oob := SelfService(act)
		want[string(act)] = "yes," + yes[recovery] + "," + yes[oob]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docs/sessions.md differs from sessions.go (-code +docs):\n%s", diff)
	}
}

// TestSessionIdle checks the idle timeout and that a session in use records
// its use at most once a minute.
func TestSessionIdle(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.setPolicy(t, `{"sessions": {"lifetime": "1h", "idle": "5m"}}`)
	secret := f.enrolled(t, "alice")
	req, sess := f.signIn(t, "alice", f.code(secret, 0))
	seen := func() time.Time {
		t.Helper()
		s, err := f.st.Session(ctx, req.Actor.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s.LastSeenAt
	}
	start := seen()
	f.clock.Add(30 * time.Second)
	if _, err := f.svc.Authenticate(ctx, sess.Token); err != nil {
		t.Fatalf("Authenticate after 30s = %v", err)
	}
	if !seen().Equal(start) {
		t.Errorf("a use within the minute was written: last seen %v, want %v", seen(), start)
	}
	// Used every four minutes, it outlives the five-minute idle timeout.
	for range 3 {
		f.clock.Add(4 * time.Minute)
		if _, err := f.svc.Authenticate(ctx, sess.Token); err != nil {
			t.Fatalf("Authenticate of a session in use = %v", err)
		}
	}
	if !seen().Equal(f.clock.Now().UTC()) {
		t.Errorf("last seen %v, want the last use %v", seen(), f.clock.Now())
	}
	f.clock.Add(5 * time.Minute)
	if _, err := f.svc.Authenticate(ctx, sess.Token); !isKind(err, ErrUnauthenticated) {
		t.Errorf("Authenticate after 5 idle minutes = %v, want ErrUnauthenticated", err)
	}
}
