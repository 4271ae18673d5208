package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

// Purposes of challenges, as package store names them in its docs.
const (
	purposeVerify = "verify"
	purposeBind   = "bind"
)

func newChallenge(id, userID, channel, purpose string, expires time.Time) store.Challenge {
	return store.Challenge{ID: id, UserID: userID, Purpose: purpose, Channel: channel,
		Destination: "alice@example.org", Hash: []byte("hash " + id), KeyID: "k1",
		CreatedAt: at(0), ExpiresAt: expires}
}

// storedChallenge returns c as the store gives it back: times to the
// millisecond.
func storedChallenge(c store.Challenge) store.Challenge {
	c.CreatedAt, c.ExpiresAt = ms(c.CreatedAt), ms(c.ExpiresAt)
	c.UsedAt, c.VoidedAt = ms(c.UsedAt), ms(c.VoidedAt)
	return c
}

func createChallenges(t *testing.T, s store.Store, cs ...store.Challenge) {
	t.Helper()
	createAll(t, s, store.Tx.CreateChallenge, cs...)
}

func useChallenge(t *testing.T, s store.Store, id string, when time.Time) bool {
	t.Helper()
	return updated(t, s, func(ctx context.Context, tx store.Tx) (bool, error) {
		return tx.UseChallenge(ctx, id, when)
	})
}

func voidChallenges(t *testing.T, s store.Store, userID, channel, purpose string,
	when time.Time) int {
	t.Helper()
	var n int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.VoidChallenges(ctx, userID, channel, purpose, when)
		return err
	})
	return n
}

func testChallenges(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	_, err := s.Challenge(ctx, "c1")
	wantErr(t, "Challenge(none)", err, store.ErrNotFound)

	expiry := at(5 * time.Minute)
	c1 := newChallenge("c1", "u1", store.ChannelEmail, purposeVerify, expiry)
	createChallenges(t, s, c1)
	got, err := s.Challenge(ctx, "c1")
	if err != nil {
		t.Fatalf("Challenge(c1) = %v", err)
	}
	if diff := cmp.Diff(storedChallenge(c1), got); diff != "" {
		t.Errorf("Challenge(c1) mismatch (-want +got):\n%s", diff)
	}
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateChallenge(ctx, newChallenge("c1", "u1", store.ChannelSMS,
			purposeBind, at(time.Hour)))
	})
	wantErr(t, "CreateChallenge(ID taken)", err, store.ErrConflict)
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateChallenge(ctx, newChallenge("c9", "nobody", store.ChannelSMS,
			purposeBind, at(time.Hour)))
	})
	wantErr(t, "CreateChallenge(no such user)", err, store.ErrNotFound)

	// A challenge expires at ExpiresAt, to the millisecond, and is used once.
	uses := []struct {
		name string
		id   string
		at   time.Time
		want bool
	}{
		{"at its expiry", "c1", expiry, false},
		{"after its expiry", "c1", expiry.Add(time.Millisecond), false},
		{"no such challenge", "c9", at(time.Minute), false},
		{"a millisecond before its expiry", "c1", expiry.Add(-time.Millisecond), true},
		{"used already", "c1", at(time.Minute), false},
	}
	for _, u := range uses {
		if got := useChallenge(t, s, u.id, u.at); got != u.want {
			t.Errorf("UseChallenge(%s) %s = %v, want %v", u.id, u.name, got, u.want)
		}
	}
	want := storedChallenge(c1)
	want.UsedAt = ms(expiry.Add(-time.Millisecond))
	if got, err := s.Challenge(ctx, "c1"); err != nil || !cmp.Equal(got, want) {
		t.Errorf("Challenge(c1) after its use = %+v, %v; want %+v", got, err, want)
	}

	// A voided challenge cannot be used.
	createChallenges(t, s, newChallenge("c2", "u1", store.ChannelEmail, purposeVerify, expiry))
	if n := voidChallenges(t, s, "u1", store.ChannelEmail, purposeVerify, at(time.Minute)); n != 1 {
		t.Errorf("VoidChallenges() = %d, want 1 (c1 is used)", n)
	}
	if useChallenge(t, s, "c2", at(2*time.Minute)) {
		t.Errorf("UseChallenge(c2) once voided = true, want false")
	}
	if got, _ := s.Challenge(ctx, "c2"); !got.VoidedAt.Equal(ms(at(time.Minute))) ||
		!got.UsedAt.IsZero() {
		t.Errorf("Challenge(c2) = voided %v, used %v; want voided at %v, unused",
			got.VoidedAt, got.UsedAt, ms(at(time.Minute)))
	}

	// Only those expired before t are removed.
	createChallenges(t, s, newChallenge("c3", "u1", store.ChannelSMS, purposeBind,
		at(10*time.Minute)))
	deleteExpired := func(before time.Time) int {
		var n int
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.DeleteChallengesExpiredBefore(ctx, before)
			return err
		})
		return n
	}
	if n := deleteExpired(expiry); n != 0 {
		t.Errorf("DeleteChallengesExpiredBefore(their expiry) = %d, want 0", n)
	}
	if n := deleteExpired(expiry.Add(time.Millisecond)); n != 2 {
		t.Errorf("DeleteChallengesExpiredBefore(after their expiry) = %d, want 2", n)
	}
	_, err = s.Challenge(ctx, "c1")
	wantErr(t, "Challenge(deleted)", err, store.ErrNotFound)
	if _, err := s.Challenge(ctx, "c3"); err != nil {
		t.Errorf("Challenge(c3) = %v, want it kept", err)
	}
}

// testVoidChallenges checks that a resend voids only the user's unused
// challenges of that channel and purpose.
func testVoidChallenges(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"))
	const email, sms = store.ChannelEmail, store.ChannelSMS
	expiry := at(time.Hour)
	cs := []store.Challenge{
		newChallenge("a", "u1", email, purposeVerify, expiry),
		newChallenge("b", "u1", email, purposeVerify, expiry),
		newChallenge("used", "u1", email, purposeVerify, expiry),
		newChallenge("voided", "u1", email, purposeVerify, expiry),
		newChallenge("expired", "u1", email, purposeVerify, at(time.Second)),
		newChallenge("sms", "u1", sms, purposeVerify, expiry),
		newChallenge("bind", "u1", email, purposeBind, expiry),
		newChallenge("bob", "u2", email, purposeVerify, expiry),
	}
	cs[2].UsedAt = at(time.Second)
	cs[3].VoidedAt = at(2 * time.Second)
	createChallenges(t, s, cs...)

	// Expired but unused still counts: voiding it is harmless.
	if n := voidChallenges(t, s, "u1", email, purposeVerify, at(time.Minute)); n != 3 {
		t.Errorf("VoidChallenges(u1, email, verify) = %d, want 3", n)
	}
	voided := map[string]bool{"a": true, "b": true, "expired": true}
	for _, c := range cs {
		want := storedChallenge(c)
		if voided[c.ID] {
			want.VoidedAt = ms(at(time.Minute))
		}
		got, err := s.Challenge(ctx, c.ID)
		if err != nil {
			t.Fatalf("Challenge(%s) = %v", c.ID, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Challenge(%s) after VoidChallenges mismatch (-want +got):\n%s", c.ID, diff)
		}
	}
	if n := voidChallenges(t, s, "u1", email, purposeVerify, at(2*time.Minute)); n != 0 {
		t.Errorf("VoidChallenges(u1, email, verify) again = %d, want 0", n)
	}
	if n := voidChallenges(t, s, "u9", email, purposeVerify, at(2*time.Minute)); n != 0 {
		t.Errorf("VoidChallenges(no such user) = %d, want 0", n)
	}
}

// testChallengesTogether uses one challenge from many goroutines at once:
// one use wins.
func testChallengesTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	// Several rounds, since a race lost once may be won the next time.
	for round := range 3 {
		id := fmt.Sprintf("c%d", round)
		createChallenges(t, s, newChallenge(id, "u1", store.ChannelSMS, purposeVerify,
			at(time.Hour)))
		var wins atomic.Int32
		together(50, func(i int) {
			err := s.Update(ctx, func(tx store.Tx) error {
				ok, err := tx.UseChallenge(ctx, id, at(time.Duration(i+1)*time.Second))
				if ok {
					wins.Add(1)
				}
				return err
			})
			if err != nil {
				t.Errorf("UseChallenge(%s) = %v", id, err)
			}
		})
		if got := wins.Load(); got != 1 {
			t.Errorf("UseChallenge(%s) succeeded %d times in 50, want 1", id, got)
		}
	}
}

func testDestinations(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := newUser("u1", "alice")
	alice.EmailVerifiedAt = at(10 * time.Second)
	alice.PhoneVerifiedAt = at(20 * time.Second)
	createUsers(t, s, alice)
	want := stored(alice)
	check := func(what string) {
		t.Helper()
		got, err := s.UserByID(ctx, "u1")
		if err != nil {
			t.Fatalf("UserByID(u1) = %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UserByID(u1) %s mismatch (-want +got):\n%s", what, diff)
		}
	}
	check("after CreateUser")

	steps := []struct {
		name       string
		channel    string
		address    string
		verifiedAt time.Time
		edit       func(u *store.User)
	}{
		{"email", store.ChannelEmail, "alice@new.example", at(time.Hour), func(u *store.User) {
			u.Email, u.EmailVerifiedAt = "alice@new.example", ms(at(time.Hour))
		}},
		{"phone", store.ChannelSMS, "+1 555 0142", at(2 * time.Hour), func(u *store.User) {
			u.Phone, u.PhoneVerifiedAt = "+1 555 0142", ms(at(2*time.Hour))
		}},
		{"email not verified", store.ChannelEmail, "alice@other.example", time.Time{},
			func(u *store.User) {
				u.Email, u.EmailVerifiedAt = "alice@other.example", time.Time{}
			}},
		{"phone removed", store.ChannelSMS, "", time.Time{}, func(u *store.User) {
			u.Phone, u.PhoneVerifiedAt = "", time.Time{}
		}},
	}
	for _, st := range steps {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.SetDestination(ctx, "u1", st.channel, st.address, st.verifiedAt)
		})
		st.edit(&want)
		check("after SetDestination " + st.name)
	}

	err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.SetDestination(ctx, "u1", store.ChannelWebhook, "https://x.example", at(0))
	})
	if err == nil {
		t.Errorf("SetDestination(webhook) = nil, want an error")
	}
	check("after SetDestination(webhook)")
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.SetDestination(ctx, "u9", store.ChannelEmail, "x@example.org", at(0))
	})
	wantErr(t, "SetDestination(no such user)", err, store.ErrNotFound)
}
