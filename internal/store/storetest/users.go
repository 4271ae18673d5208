package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := newUser("u1", "alice")
	alice.Disabled = true
	alice.Roles = []string{"helpdesk", "admin"}
	bob := newUser("u2", "bob")
	createUsers(t, s, alice, bob)

	wantAlice := stored(alice)
	wantAlice.Roles = []string{"admin", "helpdesk"} // sorted

	t.Run("round trip", func(t *testing.T) {
		got, err := s.User(ctx, "alice")
		if err != nil {
			t.Fatalf("User(alice) = %v", err)
		}
		if diff := cmp.Diff(wantAlice, got); diff != "" {
			t.Errorf("User(alice) mismatch (-want +got):\n%s", diff)
		}
		got, err = s.UserByID(ctx, "u1")
		if err != nil {
			t.Fatalf("UserByID(u1) = %v", err)
		}
		if diff := cmp.Diff(wantAlice, got); diff != "" {
			t.Errorf("UserByID(u1) mismatch (-want +got):\n%s", diff)
		}
		got, err = s.User(ctx, "bob")
		if err != nil {
			t.Fatalf("User(bob) = %v", err)
		}
		if diff := cmp.Diff(stored(bob), got); diff != "" {
			t.Errorf("User(bob) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, err := s.User(ctx, "carol")
		wantErr(t, "User(carol)", err, store.ErrNotFound)
		_, err = s.UserByID(ctx, "u9")
		wantErr(t, "UserByID(u9)", err, store.ErrNotFound)
		_, err = s.User(ctx, "u1") // an ID is not a name
		wantErr(t, "User(u1)", err, store.ErrNotFound)
	})

	t.Run("conflict", func(t *testing.T) {
		tests := []struct {
			name string
			user store.User
		}{
			{"name taken", newUser("u3", "alice")},
			{"ID taken", newUser("u1", "carol")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.CreateUser(ctx, tt.user)
				})
				wantErr(t, fmt.Sprintf("CreateUser(%s, %s)", tt.user.ID, tt.user.Name),
					err, store.ErrConflict)
			})
		}
		// Nothing changed.
		_, err := s.UserByID(ctx, "u3")
		wantErr(t, "UserByID(u3)", err, store.ErrNotFound)
		_, err = s.User(ctx, "carol")
		wantErr(t, "User(carol)", err, store.ErrNotFound)
		got, err := s.User(ctx, "alice")
		if err != nil || got.ID != "u1" {
			t.Errorf("User(alice) = %q, %v, want u1", got.ID, err)
		}
	})

	t.Run("conflict leaves the transaction usable", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			err := tx.CreateUser(ctx, newUser("u4", "bob"))
			wantErr(t, "CreateUser(u4, bob)", err, store.ErrConflict)
			return tx.CreateUser(ctx, newUser("u4", "dave"))
		})
		if _, err := s.User(ctx, "dave"); err != nil {
			t.Errorf("User(dave) = %v, want nil", err)
		}
	})

	t.Run("update", func(t *testing.T) {
		changed := store.User{
			ID:          "u2",
			Name:        "robert", // not stored by UpdateUser
			DisplayName: "Robert",
			Email:       "robert@example.org",
			Phone:       "+1 555 0199",
			Disabled:    true,
			Roles:       []string{"admin"}, // not stored by UpdateUser
			CreatedAt:   at(time.Hour),     // not stored by UpdateUser
			UpdatedAt:   at(3 * time.Hour),

			EmailVerifiedAt: at(2 * time.Hour),
			PhoneVerifiedAt: at(150 * time.Minute),
		}
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateUser(ctx, changed)
		})
		want := stored(bob)
		want.DisplayName = "Robert"
		want.Email = "robert@example.org"
		want.Phone = "+1 555 0199"
		want.Disabled = true
		want.UpdatedAt = ms(at(3 * time.Hour))
		want.EmailVerifiedAt = ms(at(2 * time.Hour))
		want.PhoneVerifiedAt = ms(at(150 * time.Minute))
		got, err := s.UserByID(ctx, "u2")
		if err != nil {
			t.Fatalf("UserByID(u2) = %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UserByID(u2) after UpdateUser mismatch (-want +got):\n%s", diff)
		}

		err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.UpdateUser(ctx, newUser("u9", "nobody"))
		})
		wantErr(t, "UpdateUser(u9)", err, store.ErrNotFound)
	})

	t.Run("roles replaced", func(t *testing.T) {
		tests := []struct {
			name  string
			roles []string
			want  []string
		}{
			{"replaced", []string{"verifier", "auditor"}, []string{"auditor", "verifier"}},
			{"one", []string{"admin"}, []string{"admin"}},
			{"none", nil, nil},
			{"again", []string{"helpdesk"}, []string{"helpdesk"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				update(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.SetRoles(ctx, "u1", tt.roles)
				})
				got, err := s.UserByID(ctx, "u1")
				if err != nil {
					t.Fatalf("UserByID(u1) = %v", err)
				}
				if diff := cmp.Diff(tt.want, got.Roles); diff != "" {
					t.Errorf("Roles after SetRoles(%q) mismatch (-want +got):\n%s", tt.roles, diff)
				}
			})
		}
		err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.SetRoles(ctx, "u9", []string{"admin"})
		})
		wantErr(t, "SetRoles(u9)", err, store.ErrNotFound)
	})

	t.Run("clear failures of unknown user", func(t *testing.T) {
		err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.ClearFailures(ctx, "u9")
		})
		wantErr(t, "ClearFailures(u9)", err, store.ErrNotFound)
	})

	t.Run("reads in a transaction", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateUser(ctx, newUser("u5", "erin")); err != nil {
				return err
			}
			// The transaction sees its own write; others do not, yet.
			if _, err := tx.User(ctx, "erin"); err != nil {
				t.Errorf("tx.User(erin) = %v, want nil", err)
			}
			_, err := s.User(ctx, "erin")
			wantErr(t, "User(erin) before commit", err, store.ErrNotFound)
			return nil
		})
		if _, err := s.User(ctx, "erin"); err != nil {
			t.Errorf("User(erin) after commit = %v, want nil", err)
		}
	})
}

func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	names := []string{"mallory", "alice", "carol", "bob", "dave", "x_y", "x%z"}
	var users []store.User
	for i, n := range names {
		u := newUser(fmt.Sprintf("id%d", i), n)
		if n == "carol" {
			u.DisplayName = "Carol Bobson"
			u.Roles = []string{"auditor", "admin"}
		}
		if n == "dave" {
			u.Email = "dave@bobcorp.example"
		}
		users = append(users, u)
	}
	createUsers(t, s, users...)

	tests := []struct {
		name string
		q    store.UserQuery
		want []string
	}{
		{"all", store.UserQuery{},
			[]string{"alice", "bob", "carol", "dave", "mallory", "x%z", "x_y"}},
		{"first page", store.UserQuery{Limit: 2}, []string{"alice", "bob"}},
		{"second page", store.UserQuery{After: "bob", Limit: 2}, []string{"carol", "dave"}},
		{"last page", store.UserQuery{After: "mallory", Limit: 5}, []string{"x%z", "x_y"}},
		{"after the end", store.UserQuery{After: "zed"}, nil},
		{"search name, display name and email", store.UserQuery{Search: "bob"},
			[]string{"bob", "carol", "dave"}},
		{"search and page", store.UserQuery{Search: "bob", After: "bob", Limit: 1},
			[]string{"carol"}},
		{"search middle", store.UserQuery{Search: "llo"}, []string{"mallory"}},
		{"search underscore is literal", store.UserQuery{Search: "_"}, []string{"x_y"}},
		{"search percent is literal", store.UserQuery{Search: "%"}, []string{"x%z"}},
		{"search no match", store.UserQuery{Search: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListUsers(ctx, tt.q)
			if err != nil {
				t.Fatalf("ListUsers(%+v) = %v", tt.q, err)
			}
			var gotNames []string
			for _, u := range got {
				gotNames = append(gotNames, u.Name)
			}
			if diff := cmp.Diff(tt.want, gotNames); diff != "" {
				t.Errorf("ListUsers(%+v) names mismatch (-want +got):\n%s", tt.q, diff)
			}
		})
	}

	t.Run("whole users", func(t *testing.T) {
		got, err := s.ListUsers(ctx, store.UserQuery{Search: "Carol Bob"})
		if err != nil {
			t.Fatalf("ListUsers(Carol Bob) = %v", err)
		}
		want := stored(users[2])
		want.Roles = []string{"admin", "auditor"}
		if diff := cmp.Diff([]store.User{want}, got); diff != "" {
			t.Errorf("ListUsers(Carol Bob) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("default limit", func(t *testing.T) {
		var more []store.User
		for i := range 105 {
			more = append(more, newUser(fmt.Sprintf("n%03d", i), fmt.Sprintf("n%03d", i)))
		}
		createUsers(t, s, more...)
		got, err := s.ListUsers(ctx, store.UserQuery{After: "mallory"})
		if err != nil {
			t.Fatalf("ListUsers(after mallory) = %v", err)
		}
		if len(got) != 100 || got[0].Name != "n000" || got[99].Name != "n099" {
			t.Errorf("ListUsers(after mallory) = %d users, want n000 to n099", len(got))
		}
	})
}
