package mfa

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
	"github.com/mfad/mfad/internal/testtool"
	"github.com/mfad/mfad/internal/totp"
)

// t0 is the start of a TOTP step, so tests know exactly which step is now.
var t0 = time.Unix(1_800_000_000-1_800_000_000%30, 0).UTC()

type fixture struct {
	svc      *Service
	st       store.Store
	ring     *keyring.Ring
	keyFile  string
	clock    *testtool.Clock
	operator Request
}

// engines runs fn against a fresh SQLite database and a fresh PostgreSQL
// schema.
func engines(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, newFixture(t, sqltest.SQLite(t)))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, newFixture(t, sqltest.Postgres(t)))
	})
}

func newFixture(t *testing.T, st store.Store) *fixture {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "keyring.json")
	ring, err := keyring.Create(keyFile, rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	c := testtool.NewClock(t0)
	svc, err := New(Config{Store: st, Keys: ring, Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		svc: svc, st: st, ring: ring, keyFile: keyFile, clock: c,
		operator: Request{Actor: Operator("tester"), Source: "local", FrontDoor: audit.DoorCLI},
	}
}

// user creates a user with the given roles.
func (f *fixture) user(t *testing.T, name string, roles ...string) User {
	t.Helper()
	u, err := f.svc.CreateUser(context.Background(), f.operator, NewUser{Name: name, Roles: roles})
	if err != nil {
		t.Fatalf("CreateUser(%q) = %v", name, err)
	}
	return u
}

// enrolled creates a user with a confirmed authenticator and returns its
// secret. The confirmation uses the step before now, so codes of the current
// step are still unused.
func (f *fixture) enrolled(t *testing.T, name string) []byte {
	t.Helper()
	ctx := context.Background()
	f.user(t, name)
	e, err := f.svc.EnrollTOTP(ctx, f.operator, name, NewTOTP{Name: "phone"})
	if err != nil {
		t.Fatalf("EnrollTOTP(%q) = %v", name, err)
	}
	secret, err := totp.DecodeSecret(e.Secret)
	if err != nil {
		t.Fatal(err)
	}
	prev := totp.Code(secret, totp.Step(f.clock.Now(), 30)-1, totp.DefaultParams())
	if _, err := f.svc.ConfirmTOTP(ctx, f.operator, name, e.ID, prev); err != nil {
		t.Fatalf("ConfirmTOTP = %v", err)
	}
	return secret
}

// code returns the code of secret for the step offset steps from now.
func (f *fixture) code(secret []byte, offset int64) string {
	return totp.Code(secret, totp.Step(f.clock.Now(), 30)+offset, totp.DefaultParams())
}

// token creates an API token and returns the actor it authenticates as.
func (f *fixture) token(t *testing.T, role, user string) (Request, string) {
	t.Helper()
	ctx := context.Background()
	_, secret, err := f.svc.CreateToken(ctx, f.operator, NewToken{Name: role + " token", Role: role, User: user})
	if err != nil {
		t.Fatalf("CreateToken(%s, %q) = %v", role, user, err)
	}
	actor, err := f.svc.Authenticate(ctx, secret)
	if err != nil {
		t.Fatalf("Authenticate(new token) = %v", err)
	}
	return Request{Actor: actor, Source: "192.0.2.1", FrontDoor: audit.DoorAPI, RequestID: "req-1"}, secret
}

// lastEvent returns the newest audit event with the given action.
func (f *fixture) lastEvent(t *testing.T, action string) audit.Event {
	t.Helper()
	events, err := f.st.ListAudit(context.Background(), store.AuditQuery{Action: action, Limit: 1})
	if err != nil || len(events) == 0 {
		t.Fatalf("ListAudit(%s) = %d events, %v; want one", action, len(events), err)
	}
	return events[0]
}

func isKind(err, kind error) bool {
	var e *Error
	return errors.As(err, &e) && errors.Is(err, kind)
}
