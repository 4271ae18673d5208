package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	ops := store.Group{ID: "g2", Name: "ops", Description: "Operations", CreatedAt: at(time.Hour)}
	dev := store.Group{ID: "g1", Name: "dev", Description: "Developers", CreatedAt: at(0)}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateGroup(ctx, ops); err != nil {
			return err
		}
		return tx.CreateGroup(ctx, dev)
	})
	stored := func(g store.Group) store.Group {
		g.CreatedAt = ms(g.CreatedAt)
		return g
	}

	t.Run("round trip", func(t *testing.T) {
		got, err := s.Group(ctx, "ops")
		if err != nil {
			t.Fatalf("Group(ops) = %v", err)
		}
		if diff := cmp.Diff(stored(ops), got); diff != "" {
			t.Errorf("Group(ops) mismatch (-want +got):\n%s", diff)
		}
		_, err = s.Group(ctx, "sales")
		wantErr(t, "Group(sales)", err, store.ErrNotFound)
	})

	t.Run("list by name", func(t *testing.T) {
		got, err := s.ListGroups(ctx)
		if err != nil {
			t.Fatalf("ListGroups() = %v", err)
		}
		if diff := cmp.Diff([]store.Group{stored(dev), stored(ops)}, got); diff != "" {
			t.Errorf("ListGroups() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("conflict", func(t *testing.T) {
		tests := []struct {
			name  string
			group store.Group
		}{
			{"name taken", store.Group{ID: "g3", Name: "ops"}},
			{"ID taken", store.Group{ID: "g1", Name: "sales"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.CreateGroup(ctx, tt.group)
				})
				wantErr(t, "CreateGroup("+tt.group.ID+", "+tt.group.Name+")", err,
					store.ErrConflict)
			})
		}
		got, err := s.ListGroups(ctx)
		if err != nil || len(got) != 2 {
			t.Errorf("ListGroups() = %d groups, %v, want 2", len(got), err)
		}
	})
}

func testGroupMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob, carol := newUser("u1", "alice"), newUser("u2", "bob"), newUser("u3", "carol")
	carol.Roles = []string{"helpdesk"}
	createUsers(t, s, alice, bob, carol)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, g := range []store.Group{{ID: "g1", Name: "ops"}, {ID: "g2", Name: "dev"}} {
			if err := tx.CreateGroup(ctx, g); err != nil {
				return err
			}
		}
		for _, m := range [][2]string{{"g1", "u3"}, {"g1", "u1"}, {"g2", "u1"}} {
			if err := tx.AddMember(ctx, m[0], m[1], at(time.Second)); err != nil {
				return err
			}
		}
		return nil
	})

	members := func(t *testing.T, groupID string) []string {
		t.Helper()
		us, err := s.GroupMembers(ctx, groupID)
		if err != nil {
			t.Fatalf("GroupMembers(%s) = %v", groupID, err)
		}
		var names []string
		for _, u := range us {
			names = append(names, u.Name)
		}
		return names
	}
	groups := func(t *testing.T, userID string) []string {
		t.Helper()
		gs, err := s.UserGroups(ctx, userID)
		if err != nil {
			t.Fatalf("UserGroups(%s) = %v", userID, err)
		}
		var names []string
		for _, g := range gs {
			names = append(names, g.Name)
		}
		return names
	}
	check := func(t *testing.T, call string, got, want []string) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
		}
	}

	t.Run("members by name", func(t *testing.T) {
		check(t, "GroupMembers(g1)", members(t, "g1"), []string{"alice", "carol"})
		check(t, "UserGroups(u1)", groups(t, "u1"), []string{"dev", "ops"})
		check(t, "UserGroups(u2)", groups(t, "u2"), nil)

		us, err := s.GroupMembers(ctx, "g1")
		if err != nil {
			t.Fatalf("GroupMembers(g1) = %v", err)
		}
		wantCarol := stored(carol)
		if diff := cmp.Diff([]store.User{stored(alice), wantCarol}, us); diff != "" {
			t.Errorf("GroupMembers(g1) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("add errors", func(t *testing.T) {
		tests := []struct {
			name          string
			group, userID string
			want          error
		}{
			{"already a member", "g1", "u1", store.ErrConflict},
			{"no such group", "g9", "u1", store.ErrNotFound},
			{"no such user", "g1", "u9", store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.AddMember(ctx, tt.group, tt.userID, at(0))
				})
				wantErr(t, "AddMember("+tt.group+", "+tt.userID+")", err, tt.want)
			})
		}
		check(t, "GroupMembers(g1)", members(t, "g1"), []string{"alice", "carol"})
	})

	t.Run("remove", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.RemoveMember(ctx, "g1", "u3")
		})
		check(t, "GroupMembers(g1)", members(t, "g1"), []string{"alice"})
		err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.RemoveMember(ctx, "g1", "u3")
		})
		wantErr(t, "RemoveMember(g1, u3) again", err, store.ErrNotFound)
		err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.RemoveMember(ctx, "g2", "u2")
		})
		wantErr(t, "RemoveMember(g2, u2)", err, store.ErrNotFound)
	})

	t.Run("delete group cascades", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteGroup(ctx, "g2")
		})
		_, err := s.Group(ctx, "dev")
		wantErr(t, "Group(dev)", err, store.ErrNotFound)
		check(t, "UserGroups(u1)", groups(t, "u1"), []string{"ops"})
		check(t, "GroupMembers(g2)", members(t, "g2"), nil)
		if _, err := s.UserByID(ctx, "u1"); err != nil {
			t.Errorf("UserByID(u1) after DeleteGroup = %v, want nil", err)
		}

		// A new group with the old ID starts empty.
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateGroup(ctx, store.Group{ID: "g2", Name: "dev2"})
		})
		check(t, "GroupMembers(g2) of new group", members(t, "g2"), nil)

		err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteGroup(ctx, "g9")
		})
		wantErr(t, "DeleteGroup(g9)", err, store.ErrNotFound)
	})
}
