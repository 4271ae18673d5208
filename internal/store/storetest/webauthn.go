package storetest

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

// Kinds of factors RenameFactor renames and kinds of ceremonies, as package
// store names them in its docs.
const (
	kindTOTP     = "totp"
	kindWebAuthn = "webauthn"

	ceremonyRegister = "register"
	ceremonyLogin    = "login"
)

// newWebAuthn returns a credential with every field set but LastUsedAt.
func newWebAuthn(id, userID, name string, created time.Time) store.WebAuthnCredential {
	return store.WebAuthnCredential{
		ID:           id,
		UserID:       userID,
		CredentialID: []byte("cred " + id + "\x00\xff"),
		Name:         name,
		Data:         []byte(`{"id": "` + id + `"}`),
		SignCount:    7,
		Discoverable: true,
		CreatedAt:    created,
	}
}

// storedWebAuthn returns c as the store gives it back: times to the
// millisecond.
func storedWebAuthn(c store.WebAuthnCredential) store.WebAuthnCredential {
	c.CreatedAt, c.LastUsedAt = ms(c.CreatedAt), ms(c.LastUsedAt)
	return c
}

func createWebAuthn(t *testing.T, s store.Store, cs ...store.WebAuthnCredential) {
	t.Helper()
	createAll(t, s, store.Tx.CreateWebAuthnCredential, cs...)
}

// webAuthnByID returns a user's credential id, failing the test if it is
// missing.
func webAuthnByID(t *testing.T, s store.Store, userID, id string) store.WebAuthnCredential {
	t.Helper()
	cs, err := s.WebAuthnCredentials(t.Context(), userID)
	if err != nil {
		t.Fatalf("WebAuthnCredentials(%s) = %v", userID, err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("WebAuthnCredentials(%s) has no %s", userID, id)
	return store.WebAuthnCredential{}
}

func useWebAuthn(t *testing.T, s store.Store, id string, count uint32, data []byte,
	when time.Time) bool {
	t.Helper()
	return updated(t, s, func(ctx context.Context, tx store.Tx) (bool, error) {
		return tx.UseWebAuthnCredential(ctx, id, count, data, when)
	})
}

func testWebAuthn(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"))
	yubikey := newWebAuthn("k2", "u1", "yubikey", at(time.Hour))
	spare := newWebAuthn("k3", "u1", "spare", at(time.Hour)) // same time: by ID
	spare.Data, spare.Discoverable, spare.SignCount = nil, false, 0
	passkey := newWebAuthn("k1", "u1", "passkey", at(2*time.Hour))
	passkey.SignCount = math.MaxUint32
	passkey.LastUsedAt = at(3 * time.Hour)
	// Created out of order, to see that the list is by creation time.
	createWebAuthn(t, s, passkey, spare, yubikey)

	t.Run("round trip by creation time", func(t *testing.T) {
		got, err := s.WebAuthnCredentials(ctx, "u1")
		if err != nil {
			t.Fatalf("WebAuthnCredentials(u1) = %v", err)
		}
		want := []store.WebAuthnCredential{storedWebAuthn(yubikey), storedWebAuthn(spare),
			storedWebAuthn(passkey)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("WebAuthnCredentials(u1) mismatch (-want +got):\n%s", diff)
		}
		for _, userID := range []string{"u2", "nobody"} {
			got, err := s.WebAuthnCredentials(ctx, userID)
			if err != nil || len(got) != 0 {
				t.Errorf("WebAuthnCredentials(%s) = %v, %v, want none", userID, got, err)
			}
		}
	})

	t.Run("by credential ID", func(t *testing.T) {
		got, err := s.WebAuthnCredentialByCredentialID(ctx, passkey.CredentialID)
		if err != nil {
			t.Fatalf("WebAuthnCredentialByCredentialID(k1's) = %v", err)
		}
		if diff := cmp.Diff(storedWebAuthn(passkey), got); diff != "" {
			t.Errorf("WebAuthnCredentialByCredentialID(k1's) mismatch (-want +got):\n%s", diff)
		}
		prefix := passkey.CredentialID[:len(passkey.CredentialID)-1]
		for _, id := range [][]byte{[]byte("nope"), prefix, nil} {
			_, err := s.WebAuthnCredentialByCredentialID(ctx, id)
			wantErr(t, fmt.Sprintf("WebAuthnCredentialByCredentialID(%q)", id), err,
				store.ErrNotFound)
		}
	})

	t.Run("create errors", func(t *testing.T) {
		other := func(edit func(c *store.WebAuthnCredential)) store.WebAuthnCredential {
			c := newWebAuthn("k9", "u2", "other", at(0))
			edit(&c)
			return c
		}
		tests := []struct {
			name string
			cred store.WebAuthnCredential
			want error
		}{
			{"ID taken", other(func(c *store.WebAuthnCredential) { c.ID = "k1" }),
				store.ErrConflict},
			{"credential ID taken", other(func(c *store.WebAuthnCredential) {
				c.CredentialID = yubikey.CredentialID
			}), store.ErrConflict},
			{"name taken for user", other(func(c *store.WebAuthnCredential) {
				c.UserID, c.Name = "u1", "yubikey"
			}), store.ErrConflict},
			{"no such user", other(func(c *store.WebAuthnCredential) { c.UserID = "nobody" }),
				store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.CreateWebAuthnCredential(ctx, tt.cred)
				})
				wantErr(t, "CreateWebAuthnCredential("+tt.cred.ID+")", err, tt.want)
			})
		}
		if got, _ := s.WebAuthnCredentials(ctx, "u2"); len(got) != 0 {
			t.Errorf("WebAuthnCredentials(u2) after failed creates = %+v, want none", got)
		}
		// Another user may use the same name.
		createWebAuthn(t, s, newWebAuthn("k4", "u2", "yubikey", at(0)))
	})

	t.Run("delete", func(t *testing.T) {
		tests := []struct {
			name       string
			userID, id string
			want       error
		}{
			{"other user's", "u2", "k2", store.ErrNotFound},
			{"no such credential", "u1", "k9", store.ErrNotFound},
			{"own", "u1", "k2", nil},
			{"again", "u1", "k2", store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.DeleteWebAuthnCredential(ctx, tt.userID, tt.id)
				})
				wantErr(t, fmt.Sprintf("DeleteWebAuthnCredential(%s, %s)", tt.userID, tt.id),
					err, tt.want)
			})
		}
		got, err := s.WebAuthnCredentials(ctx, "u1")
		want := []store.WebAuthnCredential{storedWebAuthn(spare), storedWebAuthn(passkey)}
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Errorf("WebAuthnCredentials(u1) after delete = %v, mismatch (-want +got):\n%s",
				err, diff)
		}
		_, err = s.WebAuthnCredentialByCredentialID(ctx, yubikey.CredentialID)
		wantErr(t, "WebAuthnCredentialByCredentialID(deleted)", err, store.ErrNotFound)
		// The credential ID is free again.
		createWebAuthn(t, s, newWebAuthn("k2", "u1", "yubikey", at(0)))
	})
}

// testWebAuthnCounter checks the signature counter rule (WebAuthn §6.1.1):
// a use is recorded only when the counter grew, or when it stays at zero
// for an authenticator that keeps none. Anything else reads as a clone.
func testWebAuthnCounter(t *testing.T, s store.Store) {
	createUsers(t, s, newUser("u1", "alice"))
	counting := newWebAuthn("k1", "u1", "yubikey", at(0))
	counting.SignCount = 5
	none := newWebAuthn("k0", "u1", "passkey", at(0))
	none.SignCount = 0
	createWebAuthn(t, s, counting, none)

	usedAt := func(i int) time.Time { return at(time.Hour + time.Duration(i)*time.Second) }
	tests := []struct {
		name  string
		id    string
		count uint32
		want  bool
	}{
		{"grown", "k1", 6, true},
		{"equal", "k1", 6, false},
		{"smaller", "k1", 3, false},
		{"to zero", "k1", 0, false},
		{"jumped", "k1", 1000, true},
		{"0 to 0", "k0", 0, true},
		{"0 to 0 again", "k0", 0, true},
		{"0 to 5", "k0", 5, true},
		{"5 to 0", "k0", 0, false},
		{"5 to 5", "k0", 5, false},
		{"to the largest", "k0", math.MaxUint32, true},
		{"past the largest", "k0", math.MaxUint32, false},
		{"no such credential", "k9", 10, false},
	}
	last := map[string]int{} // the test that last changed each credential
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := fmt.Appendf(nil, `{"use": %d}`, i)
			got := useWebAuthn(t, s, tt.id, tt.count, data, usedAt(i))
			if got != tt.want {
				t.Errorf("UseWebAuthnCredential(%s, %d) = %v, want %v", tt.id, tt.count, got,
					tt.want)
			}
		})
		if tt.want {
			last[tt.id] = i
		}
	}

	for _, c := range []store.WebAuthnCredential{counting, none} {
		i := last[c.ID]
		want := storedWebAuthn(c)
		want.SignCount = tests[i].count
		want.Data = fmt.Appendf(nil, `{"use": %d}`, i)
		want.LastUsedAt = ms(usedAt(i))
		if diff := cmp.Diff(want, webAuthnByID(t, s, "u1", c.ID)); diff != "" {
			t.Errorf("%s after uses mismatch (-want +got):\n%s", c.ID, diff)
		}
	}
}

// testWebAuthnTogether signs in with one counter value from many goroutines
// at once: one sign-in wins, the rest look like a clone.
func testWebAuthnTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	createWebAuthn(t, s, newWebAuthn("k1", "u1", "yubikey", at(0)))
	// Several rounds, since a race lost once may be won the next time.
	for round := range 3 {
		count := uint32(100 + round)
		var wins atomic.Int32
		together(50, func(i int) {
			err := s.Update(ctx, func(tx store.Tx) error {
				ok, err := tx.UseWebAuthnCredential(ctx, "k1", count,
					fmt.Appendf(nil, `{"goroutine": %d}`, i), at(time.Duration(i+1)*time.Second))
				if ok {
					wins.Add(1)
				}
				return err
			})
			if err != nil {
				t.Errorf("UseWebAuthnCredential(k1, %d) = %v", count, err)
			}
		})
		if got := wins.Load(); got != 1 {
			t.Errorf("UseWebAuthnCredential(k1, %d) succeeded %d times in 50, want 1", count, got)
		}
		if got := webAuthnByID(t, s, "u1", "k1").SignCount; got != count {
			t.Errorf("SignCount after round %d = %d, want %d", round, got, count)
		}
	}
}

func testRenameFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"))
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, c := range []store.TOTPCredential{newTOTP("t1", "u1", "phone", at(0)),
			newTOTP("t2", "u1", "tablet", at(time.Second)),
			newTOTP("t3", "u2", "phone", at(0))} {
			if err := tx.CreateTOTP(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	createWebAuthn(t, s, newWebAuthn("w1", "u1", "yubikey", at(0)),
		newWebAuthn("w2", "u1", "passkey", at(time.Second)),
		newWebAuthn("w3", "u2", "yubikey", at(0)))

	tests := []struct {
		name                 string
		userID, kind, id, to string
		want                 error
	}{
		{"authenticator", "u1", kindTOTP, "t1", "work phone", nil},
		{"authenticator to its own name", "u1", kindTOTP, "t1", "work phone", nil},
		{"authenticator to a taken name", "u1", kindTOTP, "t1", "tablet", store.ErrConflict},
		{"authenticator to a key's name", "u1", kindTOTP, "t2", "passkey", nil},
		{"authenticator of another user", "u1", kindTOTP, "t3", "mine", store.ErrNotFound},
		{"key as an authenticator", "u1", kindTOTP, "w1", "mine", store.ErrNotFound},
		{"no such authenticator", "u1", kindTOTP, "t9", "mine", store.ErrNotFound},
		{"key", "u1", kindWebAuthn, "w1", "blue key", nil},
		{"key to a taken name", "u1", kindWebAuthn, "w1", "passkey", store.ErrConflict},
		{"key to an authenticator's name", "u1", kindWebAuthn, "w2", "work phone", nil},
		{"key of another user", "u1", kindWebAuthn, "w3", "mine", store.ErrNotFound},
		{"authenticator as a key", "u1", kindWebAuthn, "t1", "mine", store.ErrNotFound},
		{"no such key", "u1", kindWebAuthn, "w9", "mine", store.ErrNotFound},
		{"name another user has", "u2", kindWebAuthn, "w3", "blue key", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
				return tx.RenameFactor(ctx, tt.userID, tt.kind, tt.id, tt.to)
			})
			call := fmt.Sprintf("RenameFactor(%s, %s, %s, %q)", tt.userID, tt.kind, tt.id, tt.to)
			wantErr(t, call, err, tt.want)
		})
	}
	for _, kind := range []string{"sms", "backup_code", ""} {
		err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.RenameFactor(ctx, "u1", kind, "t1", "other")
		})
		if err == nil {
			t.Errorf("RenameFactor(u1, %q, t1) = nil, want an error", kind)
		}
	}

	wantNames := []struct {
		userID string
		totp   []string
		keys   []string
	}{
		{"u1", []string{"work phone", "passkey"}, []string{"blue key", "work phone"}},
		{"u2", []string{"phone"}, []string{"blue key"}},
	}
	for _, w := range wantNames {
		var totp, keys []string
		cs, err := s.TOTPCredentials(ctx, w.userID)
		for _, c := range cs {
			totp = append(totp, c.Name)
		}
		if diff := cmp.Diff(w.totp, totp); err != nil || diff != "" {
			t.Errorf("TOTPCredentials(%s) names = %v, mismatch (-want +got):\n%s", w.userID, err,
				diff)
		}
		ks, err := s.WebAuthnCredentials(ctx, w.userID)
		for _, k := range ks {
			keys = append(keys, k.Name)
		}
		if diff := cmp.Diff(w.keys, keys); err != nil || diff != "" {
			t.Errorf("WebAuthnCredentials(%s) names = %v, mismatch (-want +got):\n%s",
				w.userID, err, diff)
		}
	}
}

func useCeremony(t *testing.T, s store.Store, id string, when time.Time) (store.Ceremony, bool) {
	t.Helper()
	var c store.Ceremony
	var ok bool
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		c, ok, err = tx.UseCeremony(ctx, id, when)
		return err
	})
	return c, ok
}

func testCeremonies(t *testing.T, s store.Store) {
	createUsers(t, s, newUser("u1", "alice"))
	register := store.Ceremony{ID: "cer1", UserID: "u1", Kind: ceremonyRegister,
		Data: []byte(`{"challenge": "abc"}`), CreatedAt: at(0), ExpiresAt: at(5 * time.Minute)}
	// A sign-in with a passkey, before the user is known.
	login := store.Ceremony{ID: "cer2", Kind: ceremonyLogin, CreatedAt: at(0),
		ExpiresAt: at(time.Minute)}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateCeremony(ctx, register); err != nil {
			return err
		}
		return tx.CreateCeremony(ctx, login)
	})

	t.Run("create errors", func(t *testing.T) {
		taken := login
		taken.ID = "cer1"
		nobody := register
		nobody.ID, nobody.UserID = "cer9", "nobody"
		tests := []struct {
			name string
			c    store.Ceremony
			want error
		}{
			{"ID taken", register, store.ErrConflict},
			{"ID taken, without a user", taken, store.ErrConflict},
			{"no such user", nobody, store.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					return tx.CreateCeremony(ctx, tt.c)
				})
				wantErr(t, "CreateCeremony("+tt.c.ID+")", err, tt.want)
			})
		}
	})

	t.Run("use", func(t *testing.T) {
		if _, ok := useCeremony(t, s, "cer1", at(5*time.Minute)); ok {
			t.Errorf("UseCeremony(cer1) at its expiry = true, want false")
		}
		usedAt := at(5*time.Minute - time.Millisecond)
		got, ok := useCeremony(t, s, "cer1", usedAt)
		want := register
		want.CreatedAt, want.ExpiresAt, want.UsedAt = ms(at(0)), ms(at(5*time.Minute)), ms(usedAt)
		if diff := cmp.Diff(want, got); !ok || diff != "" {
			t.Errorf("UseCeremony(cer1) = %v, mismatch (-want +got):\n%s", ok, diff)
		}
		if _, ok := useCeremony(t, s, "cer1", at(time.Minute)); ok {
			t.Errorf("UseCeremony(cer1) twice = true, want false")
		}

		got, ok = useCeremony(t, s, "cer2", at(time.Second))
		want = login
		want.CreatedAt, want.ExpiresAt, want.UsedAt = ms(at(0)), ms(at(time.Minute)),
			ms(at(time.Second))
		if diff := cmp.Diff(want, got); !ok || diff != "" {
			t.Errorf("UseCeremony(cer2) = %v, mismatch (-want +got):\n%s", ok, diff)
		}
		if _, ok := useCeremony(t, s, "cer9", at(time.Second)); ok {
			t.Errorf("UseCeremony(no such ceremony) = true, want false")
		}
	})

	t.Run("delete expired", func(t *testing.T) {
		later := register
		later.ID, later.ExpiresAt = "cer3", at(time.Hour)
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateCeremony(ctx, later)
		})
		var n int
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			// cer2 expired before, cer1 at that instant: only cer2 goes.
			n, err = tx.DeleteCeremoniesExpiredBefore(ctx, at(5*time.Minute))
			return err
		})
		if n != 1 {
			t.Errorf("DeleteCeremoniesExpiredBefore(5m) = %d, want 1", n)
		}
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.DeleteCeremoniesExpiredBefore(ctx, at(30*time.Minute))
			return err
		})
		if n != 1 {
			t.Errorf("DeleteCeremoniesExpiredBefore(30m) = %d, want 1", n)
		}
		if _, ok := useCeremony(t, s, "cer3", at(time.Minute)); !ok {
			t.Errorf("UseCeremony(cer3) after cleanup = false, want it kept")
		}
	})
}

// testCeremoniesTogether answers one ceremony from many goroutines at once:
// one answer wins.
func testCeremoniesTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	// Several rounds, since a race lost once may be won the next time.
	for round := range 3 {
		id := fmt.Sprintf("cer%d", round)
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateCeremony(ctx, store.Ceremony{ID: id, UserID: "u1",
				Kind: ceremonyLogin, Data: []byte("{}"), CreatedAt: at(0),
				ExpiresAt: at(time.Hour)})
		})
		var wins atomic.Int32
		together(50, func(i int) {
			err := s.Update(ctx, func(tx store.Tx) error {
				_, ok, err := tx.UseCeremony(ctx, id, at(time.Duration(i+1)*time.Second))
				if ok {
					wins.Add(1)
				}
				return err
			})
			if err != nil {
				t.Errorf("UseCeremony(%s) = %v", id, err)
			}
		})
		if got := wins.Load(); got != 1 {
			t.Errorf("UseCeremony(%s) succeeded %d times in 50, want 1", id, got)
		}
	}
}

func touchSession(t *testing.T, s store.Store, id string, when time.Time,
	every time.Duration) bool {
	t.Helper()
	return updated(t, s, func(ctx context.Context, tx store.Tx) (bool, error) {
		return tx.TouchSession(ctx, id, when, every)
	})
}

func testTouchSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	sess := store.Session{ID: "x1", UserID: "u1", Hash: []byte("h"), KeyID: "k1",
		Factor: "webauthn", Source: "192.0.2.7", VerifiedAt: at(0), CreatedAt: at(0),
		ExpiresAt: at(time.Hour)}
	seen := sess
	seen.ID, seen.LastSeenAt = "x2", at(time.Minute)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		return tx.CreateSession(ctx, seen)
	})
	lastSeen := func(id string) time.Time {
		t.Helper()
		got, err := s.Session(ctx, id)
		if err != nil {
			t.Fatalf("Session(%s) = %v", id, err)
		}
		return got.LastSeenAt
	}
	// Created without LastSeenAt: seen when opened.
	if got := lastSeen("x1"); !got.Equal(ms(at(0))) {
		t.Errorf("LastSeenAt of a new session = %v, want its CreatedAt %v", got, ms(at(0)))
	}
	if got := lastSeen("x2"); !got.Equal(ms(at(time.Minute))) {
		t.Errorf("LastSeenAt as created = %v, want %v", got, ms(at(time.Minute)))
	}

	const every = 5 * time.Minute
	tests := []struct {
		name  string
		at    time.Duration
		every time.Duration
		want  bool
		seen  time.Duration // LastSeenAt afterwards
	}{
		{"just before every has passed", every - time.Millisecond, every, false, 0},
		{"when every has passed", every, every, true, every},
		{"again at once", every, every, false, every},
		{"before every has passed again", 2*every - time.Millisecond, every, false, every},
		{"when every has passed again", 2 * every, every, true, 2 * every},
		{"clock behind", 2*every - time.Second, 0, false, 2 * every},
		{"without interval", 2*every + time.Millisecond, 0, true, 2*every + time.Millisecond},
		{"long after", time.Hour, every, true, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := touchSession(t, s, "x1", at(tt.at), tt.every); got != tt.want {
				t.Errorf("TouchSession(x1, %v, %v) = %v, want %v", tt.at, tt.every, got, tt.want)
			}
			if got := lastSeen("x1"); !got.Equal(ms(at(tt.seen))) {
				t.Errorf("LastSeenAt = %v, want %v", got, ms(at(tt.seen)))
			}
		})
	}
	if got := lastSeen("x2"); !got.Equal(ms(at(time.Minute))) {
		t.Errorf("LastSeenAt of x2 after touching x1 = %v, want it unchanged", got)
	}
	if touchSession(t, s, "nope", at(time.Hour), every) {
		t.Errorf("TouchSession(no such session) = true, want false")
	}

	// Many requests of one busy session at once write once.
	var wins atomic.Int32
	together(50, func(i int) {
		err := s.Update(ctx, func(tx store.Tx) error {
			ok, err := tx.TouchSession(ctx, "x2", at(10*time.Minute), every)
			if ok {
				wins.Add(1)
			}
			return err
		})
		if err != nil {
			t.Errorf("TouchSession(x2) = %v", err)
		}
	})
	if got := wins.Load(); got != 1 {
		t.Errorf("TouchSession(x2) wrote %d times in 50, want 1", got)
	}
}
