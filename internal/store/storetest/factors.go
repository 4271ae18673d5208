package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

// newTOTP returns an unconfirmed authenticator with every field set.
func newTOTP(id, userID, name string, created time.Time) store.TOTPCredential {
	return store.TOTPCredential{
		ID:        id,
		UserID:    userID,
		Name:      name,
		Algorithm: "SHA256",
		Digits:    8,
		Period:    60,
		Secret:    []byte("sealed:" + id + "\x00\xff"),
		KeyID:     "k1",
		CreatedAt: created,
	}
}

func storedTOTP(c store.TOTPCredential) store.TOTPCredential {
	c.CreatedAt = ms(c.CreatedAt)
	c.ConfirmedAt = ms(c.ConfirmedAt)
	c.LastUsedAt = ms(c.LastUsedAt)
	return c
}

// totpByID returns u1's authenticator id, failing the test if it is missing.
func totpByID(t *testing.T, s store.Store, userID, id string) store.TOTPCredential {
	t.Helper()
	cs, err := s.TOTPCredentials(t.Context(), userID)
	if err != nil {
		t.Fatalf("TOTPCredentials(%s) = %v", userID, err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("TOTPCredentials(%s) has no %s", userID, id)
	return store.TOTPCredential{}
}

func testTOTP(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"))
	phone := newTOTP("c2", "u1", "phone", at(time.Hour))
	tablet := newTOTP("c1", "u1", "tablet", at(2*time.Hour))
	tablet.Algorithm, tablet.Digits, tablet.Period = "SHA1", 6, 30
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		// Created out of order, to see that the list is by creation time.
		if err := tx.CreateTOTP(ctx, tablet); err != nil {
			return err
		}
		return tx.CreateTOTP(ctx, phone)
	})

	t.Run("round trip by creation time", func(t *testing.T) {
		got, err := s.TOTPCredentials(ctx, "u1")
		if err != nil {
			t.Fatalf("TOTPCredentials(u1) = %v", err)
		}
		want := []store.TOTPCredential{storedTOTP(phone), storedTOTP(tablet)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("TOTPCredentials(u1) mismatch (-want +got):\n%s", diff)
		}
		got, err = s.TOTPCredentials(ctx, "u2")
		if err != nil || len(got) != 0 {
			t.Errorf("TOTPCredentials(u2) = %v, %v, want none", got, err)
		}
	})

	t.Run("conflict", func(t *testing.T) {
		tests := []struct {
			name string
			cred store.TOTPCredential
		}{
			{"name taken for user", newTOTP("c3", "u1", "phone", at(0))},
			{"ID taken", newTOTP("c1", "u2", "other", at(0))},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.CreateTOTP(ctx, tt.cred)
				})
				wantErr(t, "CreateTOTP("+tt.cred.ID+")", err, store.ErrConflict)
			})
		}
		// Another user may use the same name.
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateTOTP(ctx, newTOTP("c4", "u2", "phone", at(0)))
		})
	})

	t.Run("confirm", func(t *testing.T) {
		tests := []struct {
			name       string
			userID, id string
			want       bool
		}{
			{"other user's", "u2", "c2", false},
			{"no such authenticator", "u1", "c9", false},
			{"first", "u1", "c2", true},
			{"already confirmed", "u1", "c2", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got bool
				update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
					got, err = tx.ConfirmTOTP(ctx, tt.userID, tt.id, 1000, at(3*time.Hour))
					return err
				})
				if got != tt.want {
					t.Errorf("ConfirmTOTP(%s, %s) = %v, want %v", tt.userID, tt.id, got, tt.want)
				}
			})
		}
		want := storedTOTP(phone)
		want.Confirmed = true
		want.LastStep = 1000
		want.ConfirmedAt = ms(at(3 * time.Hour))
		if diff := cmp.Diff(want, totpByID(t, s, "u1", "c2")); diff != "" {
			t.Errorf("c2 after ConfirmTOTP mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("use step", func(t *testing.T) {
		usedAt := func(i int) time.Time { return at(4*time.Hour + time.Duration(i)*time.Second) }
		tests := []struct {
			name string
			id   string
			step int64
			want bool
		}{
			{"unconfirmed", "c1", 5000, false},
			{"no such authenticator", "c9", 5000, false},
			{"the confirming step again", "c2", 1000, false},
			{"an older step", "c2", 999, false},
			{"the next step", "c2", 1001, true},
			{"the same step twice", "c2", 1001, false},
			{"a step far ahead", "c2", 1500, true},
			{"a step in between", "c2", 1200, false},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got bool
				update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
					got, err = tx.UseTOTPStep(ctx, tt.id, tt.step, usedAt(i))
					return err
				})
				if got != tt.want {
					t.Errorf("UseTOTPStep(%s, %d) = %v, want %v", tt.id, tt.step, got, tt.want)
				}
			})
		}
		c2 := totpByID(t, s, "u1", "c2")
		if c2.LastStep != 1500 || !c2.LastUsedAt.Equal(ms(usedAt(6))) {
			t.Errorf("c2 = step %d used %v, want step 1500 used %v",
				c2.LastStep, c2.LastUsedAt, ms(usedAt(6)))
		}
		c1 := totpByID(t, s, "u1", "c1")
		if c1.LastStep != 0 || !c1.LastUsedAt.IsZero() {
			t.Errorf("c1 = step %d used %v, want unused", c1.LastStep, c1.LastUsedAt)
		}
	})

	t.Run("reseal", func(t *testing.T) {
		tests := []struct {
			name     string
			id, from string
			want     bool
		}{
			{"wrong old key", "c1", "k0", false},
			{"no such authenticator", "c9", "k1", false},
			{"resealed", "c1", "k1", true},
			{"already resealed", "c1", "k1", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got bool
				update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
					got, err = tx.ResealTOTP(ctx, tt.id, tt.from, []byte("new secret"), "k2")
					return err
				})
				if got != tt.want {
					t.Errorf("ResealTOTP(%s, %s) = %v, want %v", tt.id, tt.from, got, tt.want)
				}
			})
		}
		want := storedTOTP(tablet)
		want.Secret = []byte("new secret")
		want.KeyID = "k2"
		if diff := cmp.Diff(want, totpByID(t, s, "u1", "c1")); diff != "" {
			t.Errorf("c1 after ResealTOTP mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("not sealed with", func(t *testing.T) {
		ids := func(cs []store.TOTPCredential) []string {
			var out []string
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out
		}
		tests := []struct {
			name  string
			keyID string
			limit int
			want  []string
		}{
			{"all others by ID", "k2", 10, []string{"c2", "c4"}},
			{"limit", "k2", 1, []string{"c2"}},
			{"the other key", "k1", 10, []string{"c1"}},
			{"none", "k3", 10, []string{"c1", "c2", "c4"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.TOTPCredentialsNotSealedWith(ctx, tt.keyID, tt.limit)
				if err != nil {
					t.Fatalf("TOTPCredentialsNotSealedWith(%s, %d) = %v", tt.keyID, tt.limit, err)
				}
				if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
					t.Errorf("TOTPCredentialsNotSealedWith(%s, %d) mismatch (-want +got):\n%s",
						tt.keyID, tt.limit, diff)
				}
			})
		}
	})

	t.Run("delete", func(t *testing.T) {
		err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteTOTP(ctx, "u2", "c1")
		})
		wantErr(t, "DeleteTOTP(u2, c1) of another user", err, store.ErrNotFound)
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteTOTP(ctx, "u1", "c1")
		})
		err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteTOTP(ctx, "u1", "c1")
		})
		wantErr(t, "DeleteTOTP(u1, c1) again", err, store.ErrNotFound)
		got, err := s.TOTPCredentials(ctx, "u1")
		if err != nil || len(got) != 1 || got[0].ID != "c2" {
			t.Errorf("TOTPCredentials(u1) = %v, %v, want only c2", got, err)
		}
	})
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	service := store.Token{
		ID: "t1", Name: "vpn", Role: "verifier", Hash: []byte{0, 1, 2, 0xfe},
		KeyID: "k1", CreatedBy: "cli:root", CreatedAt: at(time.Hour),
	}
	personal := store.Token{
		ID: "t2", Name: "alice's", Role: "admin", UserID: "u1", Hash: []byte("hash2"),
		KeyID: "k2", CreatedBy: "token:t1 (vpn)", CreatedAt: at(2 * time.Hour),
	}
	older := store.Token{
		ID: "t3", Name: "old", Role: "auditor", Hash: []byte("hash3"), KeyID: "k1",
		CreatedBy: "cli:root", CreatedAt: at(-time.Hour), RevokedAt: at(-time.Minute),
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, tk := range []store.Token{service, personal, older} {
			if err := tx.CreateToken(ctx, tk); err != nil {
				return err
			}
		}
		return nil
	})
	storedToken := func(tk store.Token) store.Token {
		tk.CreatedAt = ms(tk.CreatedAt)
		tk.RevokedAt = ms(tk.RevokedAt)
		return tk
	}

	t.Run("round trip", func(t *testing.T) {
		for _, want := range []store.Token{service, personal, older} {
			got, err := s.Token(ctx, want.ID)
			if err != nil {
				t.Fatalf("Token(%s) = %v", want.ID, err)
			}
			if diff := cmp.Diff(storedToken(want), got); diff != "" {
				t.Errorf("Token(%s) mismatch (-want +got):\n%s", want.ID, diff)
			}
		}
		_, err := s.Token(ctx, "t9")
		wantErr(t, "Token(t9)", err, store.ErrNotFound)
	})

	t.Run("newest first", func(t *testing.T) {
		got, err := s.ListTokens(ctx)
		if err != nil {
			t.Fatalf("ListTokens() = %v", err)
		}
		want := []store.Token{storedToken(personal), storedToken(service), storedToken(older)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListTokens() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("conflict", func(t *testing.T) {
		err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			dup := service
			dup.Name = "other"
			return tx.CreateToken(ctx, dup)
		})
		wantErr(t, "CreateToken(t1) again", err, store.ErrConflict)
		got, err := s.Token(ctx, "t1")
		if err != nil || got.Name != "vpn" {
			t.Errorf("Token(t1) = %q, %v, want vpn", got.Name, err)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		tests := []struct {
			name string
			id   string
			want error
		}{
			{"active", "t1", nil},
			{"already revoked", "t1", store.ErrNotFound},
			{"revoked at creation", "t3", store.ErrNotFound},
			{"no such token", "t9", store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.RevokeToken(ctx, tt.id, at(5*time.Hour))
				})
				wantErr(t, "RevokeToken("+tt.id+")", err, tt.want)
			})
		}
		want := storedToken(service)
		want.RevokedAt = ms(at(5 * time.Hour))
		got, err := s.Token(ctx, "t1")
		if err != nil {
			t.Fatalf("Token(t1) = %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Token(t1) after RevokeToken mismatch (-want +got):\n%s", diff)
		}
		got, err = s.Token(ctx, "t3")
		if err != nil || !got.RevokedAt.Equal(ms(older.RevokedAt)) {
			t.Errorf("Token(t3).RevokedAt = %v, %v, want %v", got.RevokedAt, err, ms(older.RevokedAt))
		}
	})
}

func testPolicy(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.Policy(ctx, "global")
	wantErr(t, "Policy(global) before any", err, store.ErrNotFound)

	global := store.PolicyDoc{Scope: "global", Doc: []byte(`{"sms":false}`),
		UpdatedAt: at(time.Hour), UpdatedBy: "cli:root"}
	group := store.PolicyDoc{Scope: "group:g1", Doc: []byte(`{"require":["totp"]}`),
		UpdatedAt: at(2 * time.Hour), UpdatedBy: "token:t1 (admin)"}
	replaced := store.PolicyDoc{Scope: "global", Doc: []byte(`{"sms":true,"x":[1,2]}`),
		UpdatedAt: at(3 * time.Hour), UpdatedBy: "web:alice"}
	storedPolicy := func(p store.PolicyDoc) store.PolicyDoc {
		p.UpdatedAt = ms(p.UpdatedAt)
		return p
	}

	steps := []struct {
		name string
		put  store.PolicyDoc
		want map[string]store.PolicyDoc
	}{
		{"global", global, map[string]store.PolicyDoc{"global": global}},
		{"group", group, map[string]store.PolicyDoc{"global": global, "group:g1": group}},
		{"replace", replaced, map[string]store.PolicyDoc{"global": replaced, "group:g1": group}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			update(t, s, func(ctx context.Context, tx store.Tx) error {
				return tx.PutPolicy(ctx, st.put)
			})
			for scope, want := range st.want {
				got, err := s.Policy(ctx, scope)
				if err != nil {
					t.Fatalf("Policy(%s) = %v", scope, err)
				}
				if diff := cmp.Diff(storedPolicy(want), got); diff != "" {
					t.Errorf("Policy(%s) mismatch (-want +got):\n%s", scope, diff)
				}
			}
		})
	}
	_, err = s.Policy(ctx, "group:g2")
	wantErr(t, "Policy(group:g2)", err, store.ErrNotFound)

	listed := func(t *testing.T, want ...store.PolicyDoc) {
		t.Helper()
		got, err := s.ListPolicies(ctx)
		if err != nil {
			t.Fatalf("ListPolicies() = %v", err)
		}
		for i := range want {
			want[i] = storedPolicy(want[i])
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListPolicies() mismatch (-want +got):\n%s", diff)
		}
	}
	// Bytewise, "group:G2" sorts before "group:g1"; a linguistic collation
	// would put it after.
	upper := store.PolicyDoc{Scope: "group:G2", Doc: []byte(`{}`), UpdatedAt: at(time.Hour)}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutPolicy(ctx, upper) })
	listed(t, replaced, upper, group)

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeletePolicy(ctx, "group:G2"); err != nil {
			return err
		}
		return tx.DeletePolicy(ctx, "group:g1")
	})
	_, err = s.Policy(ctx, "group:g1")
	wantErr(t, "Policy(group:g1) after DeletePolicy", err, store.ErrNotFound)
	listed(t, replaced)
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.DeletePolicy(ctx, "group:g1")
	})
	wantErr(t, "DeletePolicy(group:g1) again", err, store.ErrNotFound)

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.DeletePolicy(ctx, "global")
	})
	listed(t)
}
