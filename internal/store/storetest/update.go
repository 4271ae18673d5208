package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

func testUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	errBoom := errors.New("boom")

	// writeAll writes a user, a group, a membership, an authenticator, a
	// token, a policy and an audit event: one of everything.
	writeAll := func(ctx context.Context, tx store.Tx) error {
		steps := []func() error{
			func() error { return tx.CreateUser(ctx, newUser("u1", "alice")) },
			func() error { return tx.CreateGroup(ctx, store.Group{ID: "g1", Name: "ops"}) },
			func() error { return tx.AddMember(ctx, "g1", "u1", at(0)) },
			func() error { return tx.CreateTOTP(ctx, newTOTP("c1", "u1", "phone", at(0))) },
			func() error {
				return tx.CreateToken(ctx, store.Token{ID: "t1", Name: "x", Role: "admin",
					Hash: []byte{1}, KeyID: "k1", CreatedAt: at(0)})
			},
			func() error {
				return tx.PutPolicy(ctx, store.PolicyDoc{Scope: "global", Doc: []byte(`{}`)})
			},
			func() error {
				_, err := tx.AppendAudit(ctx, newEvent(1, "user.create", "alice", at(0)))
				return err
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	}

	// left lists what of writeAll's writes is visible.
	left := func(t *testing.T) []string {
		t.Helper()
		var found []string
		if _, err := s.UserByID(ctx, "u1"); err == nil {
			found = append(found, "user")
		}
		if _, err := s.Group(ctx, "ops"); err == nil {
			found = append(found, "group")
		}
		if gs, err := s.UserGroups(ctx, "u1"); err == nil && len(gs) > 0 {
			found = append(found, "member")
		}
		if cs, err := s.TOTPCredentials(ctx, "u1"); err == nil && len(cs) > 0 {
			found = append(found, "totp")
		}
		if _, err := s.Token(ctx, "t1"); err == nil {
			found = append(found, "token")
		}
		if _, err := s.Policy(ctx, "global"); err == nil {
			found = append(found, "policy")
		}
		if evs, err := s.ListAudit(ctx, store.AuditQuery{}); err == nil && len(evs) > 0 {
			found = append(found, "audit")
		}
		return found
	}

	t.Run("error rolls back", func(t *testing.T) {
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := writeAll(ctx, tx); err != nil {
				t.Errorf("writeAll() = %v", err)
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("Update(failing) = %v, want %v", err, errBoom)
		}
		if got := left(t); got != nil {
			t.Errorf("after a failed Update, found %v, want nothing", got)
		}
	})

	t.Run("panic rolls back", func(t *testing.T) {
		got := func() (p any) {
			defer func() { p = recover() }()
			s.Update(ctx, func(tx store.Tx) error {
				if err := writeAll(ctx, tx); err != nil {
					t.Errorf("writeAll() = %v", err)
				}
				panic("boom")
			})
			return nil
		}()
		if got != "boom" {
			t.Errorf("Update(panicking) panicked with %v, want boom", got)
		}
		if got := left(t); got != nil {
			t.Errorf("after a panicking Update, found %v, want nothing", got)
		}
	})

	committed := t.Run("commit keeps everything", func(t *testing.T) {
		// A transaction left open by the panic would block these writes for
		// ever; give up after a while instead.
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := s.Update(tctx, func(tx store.Tx) error { return writeAll(tctx, tx) }); err != nil {
			t.Fatalf("Update(writeAll) = %v, want nil", err)
		}
		want := []string{"user", "group", "member", "totp", "token", "policy", "audit"}
		if diff := cmp.Diff(want, left(t)); diff != "" {
			t.Errorf("after Update, found mismatch (-want +got):\n%s", diff)
		}
	})

	if !committed {
		return
	}

	t.Run("canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.Update(cctx, func(tx store.Tx) error {
			return tx.CreateUser(cctx, newUser("u2", "bob"))
		})
		if err == nil {
			t.Errorf("Update(canceled) = nil, want an error")
		}
		if _, err := s.UserByID(ctx, "u2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByID(u2) after a canceled Update = %v, want ErrNotFound", err)
		}
		// The store still works.
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateUser(ctx, newUser("u3", "carol"))
		})
	})

	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}

// reserveFunc makes one ReserveAttempt call, on the store or in a
// transaction of its own.
type reserveFunc func(ctx context.Context, s store.Store, userID string, now time.Time,
	rule store.LockRule) (store.LockState, bool, error)

func reserveOnStore(ctx context.Context, s store.Store, userID string, now time.Time,
	rule store.LockRule) (store.LockState, bool, error) {
	return s.ReserveAttempt(ctx, userID, now, rule)
}

func reserveInTx(ctx context.Context, s store.Store, userID string, now time.Time,
	rule store.LockRule) (st store.LockState, ok bool, err error) {
	err = s.Update(ctx, func(tx store.Tx) error {
		st, ok, err = tx.ReserveAttempt(ctx, userID, now, rule)
		return err
	})
	return st, ok, err
}

func testLockout(t *testing.T, s store.Store, reserve reserveFunc) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	rule := store.LockRule{
		Threshold:   3,
		Duration:    time.Minute,
		MaxDuration: 4 * time.Minute,
		MaxFailures: 13,
	}
	// The lock lengths are 1, 2, 4 and then 4 (capped) minutes.
	t1 := at(time.Minute)         // end of the first lock
	t2 := t1.Add(2 * time.Minute) // end of the second
	t3 := t2.Add(4 * time.Minute) // end of the third
	t4 := t3.Add(4 * time.Minute) // end of the fourth
	state := func(failures int, until time.Time) store.LockState {
		return store.LockState{Failures: failures, LockedUntil: ms(until)}
	}
	never := time.Time{}

	type step struct {
		name   string
		now    time.Time
		wantOK bool
		want   store.LockState
	}
	steps := []step{
		{"first failure", at(0), true, state(1, never)},
		{"second failure", at(0), true, state(2, never)},
		{"third failure locks", at(0), true, state(3, t1)},
		{"refused while locked", at(0), false, state(3, t1)},
		{"refused a millisecond before", t1.Add(-time.Millisecond), false, state(3, t1)},
		{"allowed when the lock ends", t1, true, state(4, t1)},
		{"fifth", t1, true, state(5, t1)},
		{"sixth locks twice as long", t1, true, state(6, t2)},
		{"refused in the second lock", t1.Add(time.Minute), false, state(6, t2)},
		{"seventh", t2, true, state(7, t2)},
		{"eighth", t2, true, state(8, t2)},
		{"ninth locks four times as long", t2, true, state(9, t3)},
		{"tenth", t3, true, state(10, t3)},
		{"eleventh", t3, true, state(11, t3)},
		{"twelfth lock is capped", t3, true, state(12, t4)},
		{"thirteenth reaches the maximum", t4, true, state(13, t4)},
		{"refused at the maximum", t4, false, state(13, t4)},
		{"refused at the maximum for good", t4.AddDate(10, 0, 0), false, state(13, t4)},
	}
	check := func(t *testing.T, st step) {
		t.Helper()
		got, ok, err := reserve(ctx, s, "u1", st.now, rule)
		if err != nil {
			t.Fatalf("ReserveAttempt(u1, %v) = %v", st.now, err)
		}
		if ok != st.wantOK {
			t.Errorf("ReserveAttempt(u1, %v) ok = %v, want %v", st.now, ok, st.wantOK)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("ReserveAttempt(u1, %v) state mismatch (-want +got):\n%s", st.now, diff)
		}
		u, err := s.UserByID(ctx, "u1")
		if err != nil {
			t.Fatalf("UserByID(u1) = %v", err)
		}
		if diff := cmp.Diff(st.want, u.Lock); diff != "" {
			t.Errorf("UserByID(u1).Lock mismatch (-want +got):\n%s", diff)
		}
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) { check(t, st) })
	}

	t.Run("clear lifts everything", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.ClearFailures(ctx, "u1")
		})
		u, err := s.UserByID(ctx, "u1")
		if err != nil {
			t.Fatalf("UserByID(u1) = %v", err)
		}
		if diff := cmp.Diff(store.LockState{}, u.Lock); diff != "" {
			t.Errorf("Lock after ClearFailures mismatch (-want +got):\n%s", diff)
		}
		// Counting starts again, and so does the lock length.
		t5 := t4.AddDate(10, 0, 0)
		for _, st := range []step{
			{"first", t5, true, state(1, never)},
			{"second", t5, true, state(2, never)},
			{"third locks for the first length", t5, true, state(3, t5.Add(time.Minute))},
			{"refused", t5, false, state(3, t5.Add(time.Minute))},
		} {
			check(t, st)
		}
	})

	t.Run("no such user", func(t *testing.T) {
		_, ok, err := reserve(ctx, s, "u9", at(0), rule)
		if ok || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReserveAttempt(u9) = %v, %v, want false, ErrNotFound", ok, err)
		}
	})
}

// testReserveInTx checks what is particular to Tx.ReserveAttempt: the
// transaction sees its reservation, and rolling back releases it.
func testReserveInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	rule := store.LockRule{Threshold: 2, Duration: time.Minute, MaxDuration: time.Hour,
		MaxFailures: 10}
	errBoom := errors.New("boom")

	err := s.Update(ctx, func(tx store.Tx) error {
		st, ok, err := tx.ReserveAttempt(ctx, "u1", at(0), rule)
		if err != nil || !ok || st.Failures != 1 {
			t.Errorf("tx.ReserveAttempt(u1) = %+v, %v, %v, want 1 failure, true, nil", st, ok, err)
		}
		u, err := tx.UserByID(ctx, "u1")
		if err != nil || u.Lock.Failures != 1 {
			t.Errorf("tx.UserByID(u1).Lock = %+v, %v, want 1 failure", u.Lock, err)
		}
		st, ok, err = tx.ReserveAttempt(ctx, "u1", at(0), rule)
		want := store.LockState{Failures: 2, LockedUntil: ms(at(time.Minute))}
		if err != nil || !ok || st != want {
			t.Errorf("tx.ReserveAttempt(u1) again = %+v, %v, %v, want %+v, true, nil",
				st, ok, err, want)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update(failing) = %v, want %v", err, errBoom)
	}
	u, err := s.UserByID(ctx, "u1")
	if err != nil || u.Lock != (store.LockState{}) {
		t.Errorf("UserByID(u1).Lock after rollback = %+v, %v, want none", u.Lock, err)
	}

	// The lock length was rolled back too: the next lock is the first length.
	for range 2 {
		if _, ok, err := reserveInTx(ctx, s, "u1", at(time.Hour), rule); err != nil || !ok {
			t.Fatalf("tx.ReserveAttempt(u1) = %v, %v, want true, nil", ok, err)
		}
	}
	u, err = s.UserByID(ctx, "u1")
	want := store.LockState{Failures: 2, LockedUntil: ms(at(time.Hour + time.Minute))}
	if err != nil || u.Lock != want {
		t.Errorf("UserByID(u1).Lock = %+v, %v, want %+v", u.Lock, err, want)
	}
}
