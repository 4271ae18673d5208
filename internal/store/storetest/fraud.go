package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

func setBlocked(t *testing.T, s store.Store, userID string, when time.Time) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.SetBlocked(ctx, userID, when)
	})
}

// testBlocked checks that BlockedAt is written only by SetBlocked and read
// by every read of a user.
func testBlocked(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser("u1", "alice"), newUser("u2", "bob")
	alice.BlockedAt = at(time.Minute)
	createUsers(t, s, alice, bob)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateGroup(ctx, store.Group{ID: "g1", Name: "ops"}); err != nil {
			return err
		}
		return tx.AddMember(ctx, "g1", "u1", at(0))
	})
	want := stored(alice)
	want.BlockedAt = time.Time{}

	// reads returns alice as each read of a user gives her.
	reads := func(t *testing.T) map[string]store.User {
		t.Helper()
		got := map[string]store.User{}
		if u, err := s.User(ctx, "alice"); err != nil {
			t.Errorf("User(alice) = %v", err)
		} else {
			got["User"] = u
		}
		if u, err := s.UserByID(ctx, "u1"); err != nil {
			t.Errorf("UserByID(u1) = %v", err)
		} else {
			got["UserByID"] = u
		}
		if us, err := s.ListUsers(ctx, store.UserQuery{Search: "alice"}); err != nil ||
			len(us) != 1 {
			t.Errorf("ListUsers(alice) = %d users, %v; want 1", len(us), err)
		} else {
			got["ListUsers"] = us[0]
		}
		if us, err := s.GroupMembers(ctx, "g1"); err != nil || len(us) != 1 {
			t.Errorf("GroupMembers(g1) = %d users, %v; want 1", len(us), err)
		} else {
			got["GroupMembers"] = us[0]
		}
		return got
	}
	check := func(t *testing.T, step string, want store.User) {
		t.Helper()
		for read, got := range reads(t) {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: %s mismatch (-want +got):\n%s", step, read, diff)
			}
		}
	}

	check(t, "CreateUser ignores BlockedAt", want)
	setBlocked(t, s, "u1", at(time.Hour))
	want.BlockedAt = ms(at(time.Hour))
	check(t, "after SetBlocked", want)

	changed := alice
	changed.DisplayName, changed.UpdatedAt, changed.BlockedAt = "Alice", at(2*time.Hour),
		time.Time{}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateUser(ctx, changed)
	})
	want.DisplayName, want.UpdatedAt = "Alice", ms(at(2*time.Hour))
	check(t, "UpdateUser keeps the block", want)

	if u, err := s.User(ctx, "bob"); err != nil || !u.BlockedAt.IsZero() {
		t.Errorf("User(bob).BlockedAt = %v, %v; want never", u.BlockedAt, err)
	}
	setBlocked(t, s, "u1", time.Time{})
	want.BlockedAt = time.Time{}
	check(t, "after SetBlocked(zero)", want)

	err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.SetBlocked(ctx, "u9", at(time.Hour))
	})
	wantErr(t, "SetBlocked(u9)", err, store.ErrNotFound)
}

func testRevokeUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"))
	sess := func(id, userID string, revoked time.Time) store.Session {
		return store.Session{ID: id, UserID: userID, Hash: []byte("h " + id), KeyID: "k1",
			Factor: "totp", Source: "192.0.2.7", VerifiedAt: at(0), CreatedAt: at(0),
			ExpiresAt: at(15 * time.Minute), RevokedAt: revoked}
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, x := range []store.Session{sess("x1", "u1", time.Time{}),
			sess("x2", "u1", time.Time{}), sess("x3", "u1", at(time.Minute)),
			sess("y1", "u2", time.Time{})} {
			if err := tx.CreateSession(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	revoke := func(userID string) int {
		t.Helper()
		var n int
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.RevokeUserSessions(ctx, userID, at(5*time.Minute))
			return err
		})
		return n
	}

	if n := revoke("u1"); n != 2 {
		t.Errorf("RevokeUserSessions(u1) = %d, want 2", n)
	}
	wantRevoked := map[string]time.Time{
		"x1": ms(at(5 * time.Minute)),
		"x2": ms(at(5 * time.Minute)),
		"x3": ms(at(time.Minute)), // revoked before: kept
		"y1": {},                  // another user's
	}
	for id, want := range wantRevoked {
		got, err := s.Session(ctx, id)
		if err != nil || !got.RevokedAt.Equal(want) {
			t.Errorf("Session(%s).RevokedAt = %v, %v; want %v", id, got.RevokedAt, err, want)
		}
	}
	if n := revoke("u1"); n != 0 {
		t.Errorf("RevokeUserSessions(u1) again = %d, want 0", n)
	}
	if n := revoke("u9"); n != 0 {
		t.Errorf("RevokeUserSessions(u9) = %d, want 0", n)
	}
}

func testFraudReports(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"))
	if got, err := s.FraudReports(ctx, "u1"); err != nil || len(got) != 0 {
		t.Errorf("FraudReports(none) = %v, %v; want none", got, err)
	}

	report := func(id, userID, link string, created time.Time) store.FraudReport {
		return store.FraudReport{ID: id, UserID: userID, LinkID: link, Source: "203.0.113.9",
			Message: "I did not sign in " + id, CreatedAt: created}
	}
	f1 := report("f1", "u1", "link1", at(time.Minute))
	f2 := report("f2", "u1", "", at(2*time.Minute)) // from a session: no link
	f3 := report("f3", "u1", "", at(2*time.Minute)) // ties with f2: ID decides
	f4 := report("f4", "u2", "link2", at(0))
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, r := range []store.FraudReport{f1, f2, f3, f4} {
			if err := tx.CreateFraudReport(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	storedReports := func(rs ...store.FraudReport) []store.FraudReport {
		for i := range rs {
			rs[i].CreatedAt = ms(rs[i].CreatedAt)
		}
		return rs
	}
	wantU1 := storedReports(f3, f2, f1)
	check := func(t *testing.T, userID string, want []store.FraudReport) {
		t.Helper()
		got, err := s.FraudReports(ctx, userID)
		if err != nil {
			t.Fatalf("FraudReports(%s) = %v", userID, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FraudReports(%s) mismatch (-want +got):\n%s", userID, diff)
		}
	}
	check(t, "u1", wantU1)
	check(t, "u2", storedReports(f4))

	tests := []struct {
		name   string
		report store.FraudReport
		want   error
	}{
		{"ID taken", report("f1", "u1", "link9", at(time.Hour)), store.ErrConflict},
		{"link taken", report("f5", "u1", "link1", at(time.Hour)), store.ErrConflict},
		{"link taken by another user's report", report("f5", "u1", "link2", at(time.Hour)),
			store.ErrConflict},
		{"no such user", report("f6", "nobody", "link6", at(time.Hour)), store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
				return tx.CreateFraudReport(ctx, tt.report)
			})
			wantErr(t, fmt.Sprintf("CreateFraudReport(%s, %q)", tt.report.ID, tt.report.LinkID),
				err, tt.want)
		})
	}
	check(t, "u1", wantU1) // nothing changed

	t.Run("conflict leaves the transaction usable", func(t *testing.T) {
		f7 := report("f7", "u2", "link7", at(time.Hour))
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			err := tx.CreateFraudReport(ctx, report("f7", "u2", "link1", at(time.Hour)))
			wantErr(t, "CreateFraudReport(f7, link1)", err, store.ErrConflict)
			return tx.CreateFraudReport(ctx, f7)
		})
		check(t, "u2", storedReports(f7, f4))
	})
}

// testFraudReportsTogether makes reports with one link from many
// goroutines at once: one is recorded, the others conflict.
func testFraudReportsTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	var mu sync.Mutex
	var won []string
	together(20, func(i int) {
		r := store.FraudReport{ID: fmt.Sprintf("f%d", i), UserID: "u1", LinkID: "link1",
			Source: "203.0.113.9", CreatedAt: at(time.Duration(i) * time.Second)}
		err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateFraudReport(ctx, r) })
		switch {
		case err == nil:
			mu.Lock()
			won = append(won, r.ID)
			mu.Unlock()
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("CreateFraudReport(%s) = %v, want nil or ErrConflict", r.ID, err)
		}
	})
	if len(won) != 1 {
		t.Fatalf("CreateFraudReport(link1) succeeded for %q of 20, want one", won)
	}
	got, err := s.FraudReports(ctx, "u1")
	if err != nil || len(got) != 1 || got[0].ID != won[0] {
		t.Errorf("FraudReports(u1) = %+v, %v; want only %s", got, err, won[0])
	}
}
