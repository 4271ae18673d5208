package mfa

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
	"github.com/mfad/mfad/internal/testtool"
	"github.com/mfad/mfad/internal/totp"
)

// BenchmarkVerify measures one Service.Verify call on each engine, with the
// durable commit it makes: on SQLite the WAL is synced on every commit, on
// PostgreSQL every commit waits for its WAL flush. The database lives in
// TMPDIR (SQLite) or on the server named by MFAD_TEST_POSTGRES; PostgreSQL
// cases are skipped when no server answers. docs/performance.md has the
// figures and the commands.
//
// Each case takes the path its name says, every iteration:
//
//   - accept: a fresh code of a user's one authenticator. Users of a pool
//     take turns, and the clock moves on one time step per round, so each
//     user verifies once per step and no code is ever a replay.
//   - reject_wrong_code: a wrong code for a user who is not locked. Users of
//     a pool take turns, and their failures are cleared, with the timer
//     stopped, before any reaches the lockout threshold.
//   - reject_unknown_user: a well-formed code for a user who does not exist.
//   - reject_locked: the right code for a locked user.
//   - accept_parallel: accept from 8 goroutines per CPU, each with its own
//     user and clock.
func BenchmarkVerify(b *testing.B) {
	engines := []struct {
		name string
		open func(testing.TB) store.Store
	}{
		{"sqlite", func(tb testing.TB) store.Store { return sqltest.SQLite(tb) }},
		{"postgres", func(tb testing.TB) store.Store { return sqltest.Postgres(tb) }},
	}
	cases := []struct {
		name string
		run  func(b *testing.B, f *benchFixture)
	}{
		{"accept", benchAccept},
		{"reject_wrong_code", benchWrongCode},
		{"reject_unknown_user", benchUnknownUser},
		{"reject_locked", benchLocked},
		{"accept_parallel", benchAcceptParallel},
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					f := newBenchFixture(b, e.open(b))
					b.ReportAllocs()
					c.run(b, f)
				})
			}
		})
	}
}

// benchFixture is the service under a benchmark, called as an API client
// with a verifier token would call it.
//
// NOTE: newFixture and its helpers take *testing.T; this copy takes
// testing.TB so that benchmarks can use it without changing them.
type benchFixture struct {
	svc   *Service
	st    store.Store
	ring  *keyring.Ring
	clock *testtool.Clock
	req   Request // a verifier token's request, as the API front door makes it
}

func newBenchFixture(tb testing.TB, st store.Store) *benchFixture {
	tb.Helper()
	ring, err := keyring.Create(filepath.Join(tb.TempDir(), "keyring.json"), rand.Reader, t0)
	if err != nil {
		tb.Fatal(err)
	}
	c := testtool.NewClock(t0)
	svc, err := New(Config{Store: st, Keys: ring, Clock: c.Now})
	if err != nil {
		tb.Fatal(err)
	}
	// The benchmarks measure the work of each path. The pause that evens
	// out short refusals (pace.go) is waiting, not work; leave it out.
	svc.sleep = func(context.Context, time.Duration) {}
	f := &benchFixture{svc: svc, st: st, ring: ring, clock: c}

	ctx := context.Background()
	op := Request{Actor: Operator("bench"), Source: "local", FrontDoor: audit.DoorCLI}
	_, secret, err := svc.CreateToken(ctx, op, NewToken{Name: "bench", Role: string(RoleVerifier)})
	if err != nil {
		tb.Fatalf("CreateToken(verifier) = %v", err)
	}
	actor, err := svc.Authenticate(ctx, secret)
	if err != nil {
		tb.Fatalf("Authenticate(verifier token) = %v", err)
	}
	f.req = Request{Actor: actor, Source: "192.0.2.1", FrontDoor: audit.DoorAPI, RequestID: "bench"}
	return f
}

// benchUser is an enrolled user with one confirmed authenticator.
type benchUser struct {
	id, name string
	secret   []byte
}

// enroll creates a user with a confirmed authenticator. The confirmation
// uses the step before the clock's, so codes from the clock's step on are
// fresh.
func (f *benchFixture) enroll(tb testing.TB, name string) benchUser {
	tb.Helper()
	ctx := context.Background()
	op := Request{Actor: Operator("bench"), Source: "local", FrontDoor: audit.DoorCLI}
	u, err := f.svc.CreateUser(ctx, op, NewUser{Name: name})
	if err != nil {
		tb.Fatalf("CreateUser(%q) = %v", name, err)
	}
	e, err := f.svc.EnrollTOTP(ctx, op, name, NewTOTP{Name: "phone"})
	if err != nil {
		tb.Fatalf("EnrollTOTP(%q) = %v", name, err)
	}
	secret, err := totp.DecodeSecret(e.Secret)
	if err != nil {
		tb.Fatal(err)
	}
	prev := benchCode(secret, f.clock.Now(), -1)
	if _, err := f.svc.ConfirmTOTP(ctx, op, name, e.ID, prev); err != nil {
		tb.Fatalf("ConfirmTOTP(%q) = %v", name, err)
	}
	return benchUser{id: u.ID, name: name, secret: secret}
}

// benchPool is how many users the accept and wrong-code cases take turns
// with. One user verified thousands of times a second would measure a hot
// row (on PostgreSQL, a chain of dead row versions) that no real user makes.
const benchPool = 32

// enrollPool enrolls n users named user00, user01, ...
func (f *benchFixture) enrollPool(tb testing.TB, n int) []benchUser {
	tb.Helper()
	users := make([]benchUser, n)
	for i := range users {
		users[i] = f.enroll(tb, fmt.Sprintf("user%02d", i))
	}
	return users
}

// benchCode returns the code of secret for the step offset steps from now.
func benchCode(secret []byte, now time.Time, offset int64) string {
	p := totp.DefaultParams()
	return totp.Code(secret, totp.Step(now, p.Period)+offset, p)
}

// wrongCode returns a six-digit code that no step of the window around now
// accepts for secret.
func wrongCode(secret []byte, now time.Time) string {
	window := map[string]bool{}
	for off := int64(-totpSkew); off <= totpSkew; off++ {
		window[benchCode(secret, now, off)] = true
	}
	for n := 0; ; n++ {
		if c := fmt.Sprintf("%06d", n); !window[c] {
			return c
		}
	}
}

// wantReason fails the benchmark unless the newest verify event has reason,
// to show that the iterations took the path the case is named after.
func (f *benchFixture) wantReason(tb testing.TB, reason string) {
	tb.Helper()
	events, err := f.st.ListAudit(context.Background(), store.AuditQuery{Action: "verify", Limit: 1})
	if err != nil || len(events) != 1 {
		tb.Fatalf("ListAudit(verify) = %d events, %v; want one", len(events), err)
	}
	if events[0].Reason != reason {
		tb.Fatalf("last verification refused for %q, want %q", events[0].Reason, reason)
	}
}

func benchAccept(b *testing.B, f *benchFixture) {
	ctx := context.Background()
	users := f.enrollPool(b, benchPool)
	i := 0
	for b.Loop() {
		u := users[i%benchPool]
		res, err := f.svc.Verify(ctx, f.req, u.name, benchCode(u.secret, f.clock.Now(), 0))
		if err != nil || !res.Accepted {
			b.Fatalf("Verify(%s, fresh code) = %+v, %v; want accepted", u.name, res, err)
		}
		i++
		if i%benchPool == 0 {
			f.clock.Add(30 * time.Second)
		}
	}
	f.wantReason(b, reasonAccepted)
}

func benchWrongCode(b *testing.B, f *benchFixture) {
	ctx := context.Background()
	users := f.enrollPool(b, benchPool)
	codes := make([]string, benchPool)
	for i, u := range users {
		codes[i] = wrongCode(u.secret, f.clock.Now())
	}
	// One failure short of the threshold locks no one.
	perUser := policy.Default().Lockout.Threshold - 1
	i := 0
	for b.Loop() {
		u := users[i%benchPool]
		res, err := f.svc.Verify(ctx, f.req, u.name, codes[i%benchPool])
		if err != nil || res.Accepted {
			b.Fatalf("Verify(%s, wrong code) = %+v, %v; want refused", u.name, res, err)
		}
		i++
		if i%(benchPool*perUser) == 0 {
			b.StopTimer()
			f.clearFailures(b, users)
			b.StartTimer()
		}
	}
	f.wantReason(b, reasonWrongCode)
	locks, err := f.st.ListAudit(ctx, store.AuditQuery{Action: "user.lock", Limit: 1})
	if err != nil || len(locks) != 0 {
		b.Fatalf("ListAudit(user.lock) = %d events, %v; want none", len(locks), err)
	}
}

// clearFailures resets the users' failure counts, as a success would.
func (f *benchFixture) clearFailures(tb testing.TB, users []benchUser) {
	tb.Helper()
	ctx := context.Background()
	err := f.st.Update(ctx, func(tx store.Tx) error {
		for _, u := range users {
			if err := tx.ClearFailures(ctx, u.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("clear failures: %v", err)
	}
}

func benchUnknownUser(b *testing.B, f *benchFixture) {
	ctx := context.Background()
	for b.Loop() {
		res, err := f.svc.Verify(ctx, f.req, "mallory", "123456")
		if err != nil || res.Accepted {
			b.Fatalf("Verify(mallory) = %+v, %v; want refused", res, err)
		}
	}
	f.wantReason(b, reasonUnknownUser)
}

func benchLocked(b *testing.B, f *benchFixture) {
	ctx := context.Background()
	u := f.enroll(b, "carol")
	bad := wrongCode(u.secret, f.clock.Now())
	for range policy.Default().Lockout.Threshold {
		if _, err := f.svc.Verify(ctx, f.req, u.name, bad); err != nil {
			b.Fatal(err)
		}
	}
	// The clock stands still, so the lock never runs out.
	code := benchCode(u.secret, f.clock.Now(), 0)
	for b.Loop() {
		res, err := f.svc.Verify(ctx, f.req, u.name, code)
		if err != nil || res.Accepted {
			b.Fatalf("Verify(carol, locked) = %+v, %v; want refused", res, err)
		}
	}
	f.wantReason(b, reasonLocked)
}

// benchAcceptParallel runs accepting verifications from many goroutines.
// Each has its own user and its own Service over the shared store and key
// ring, as replicas share a database, so that each can move its clock on one
// step per verification without making another's code stale.
func benchAcceptParallel(b *testing.B, f *benchFixture) {
	const perCPU = 8
	b.SetParallelism(perCPU)
	type worker struct {
		svc   *Service
		clock *testtool.Clock
		user  benchUser
	}
	workers := make([]worker, perCPU*runtime.GOMAXPROCS(0))
	for i := range workers {
		c := testtool.NewClock(t0)
		svc, err := New(Config{Store: f.st, Keys: f.ring, Clock: c.Now})
		if err != nil {
			b.Fatal(err)
		}
		workers[i] = worker{svc: svc, clock: c, user: f.enroll(b, fmt.Sprintf("user%03d", i))}
	}
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := int(next.Add(1)) - 1
		if n >= len(workers) {
			b.Errorf("goroutine %d has no worker; RunParallel started more than %d", n, len(workers))
			return
		}
		w := workers[n]
		for pb.Next() {
			code := benchCode(w.user.secret, w.clock.Now(), 0)
			res, err := w.svc.Verify(ctx, f.req, w.user.name, code)
			if err != nil || !res.Accepted {
				b.Errorf("Verify(%s, fresh code) = %+v, %v; want accepted", w.user.name, res, err)
				return
			}
			w.clock.Add(30 * time.Second)
		}
	})
}
