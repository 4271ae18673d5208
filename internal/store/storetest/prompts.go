package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

func testPromptStates(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"))
	p := store.PromptState{ID: "st1", UserID: "u1", Client: "vpn", Challenge: "ch1",
		CreatedAt: at(0), ExpiresAt: at(5 * time.Minute)}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreatePromptState(ctx, p) })
	err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreatePromptState(ctx, p)
	})
	wantErr(t, "CreatePromptState(ID taken)", err, store.ErrConflict)
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		q := p
		q.ID, q.UserID = "st9", "nobody"
		return tx.CreatePromptState(ctx, q)
	})
	wantErr(t, "CreatePromptState(no such user)", err, store.ErrNotFound)

	use := func(id, userID, client string, when time.Time) (store.PromptState, bool) {
		var got store.PromptState
		var ok bool
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			got, ok, err = tx.UsePromptState(ctx, id, userID, client, when)
			return err
		})
		return got, ok
	}
	// Bound to its user and its client, and to its lifetime.
	if _, ok := use("st1", "u2", "vpn", at(time.Minute)); ok {
		t.Errorf("UsePromptState for another user = true")
	}
	if _, ok := use("st1", "u1", "wifi", at(time.Minute)); ok {
		t.Errorf("UsePromptState from another client = true")
	}
	if _, ok := use("st1", "u1", "vpn", at(5*time.Minute)); ok {
		t.Errorf("UsePromptState at its expiry = true")
	}
	got, ok := use("st1", "u1", "vpn", at(5*time.Minute-time.Millisecond))
	want := p
	want.CreatedAt, want.ExpiresAt = ms(p.CreatedAt), ms(p.ExpiresAt)
	want.UsedAt = ms(at(5*time.Minute - time.Millisecond))
	if !ok || !cmp.Equal(got, want) {
		t.Errorf("UsePromptState = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := use("st1", "u1", "vpn", at(time.Minute)); ok {
		t.Errorf("UsePromptState twice = true")
	}

	// Once, of many at the same moment.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		q := p
		q.ID = "st2"
		return tx.CreatePromptState(ctx, q)
	})
	var wins atomic.Int32
	together(50, func(int) {
		err := s.Update(ctx, func(tx store.Tx) error {
			_, ok, err := tx.UsePromptState(ctx, "st2", "u1", "vpn", at(time.Minute))
			if ok {
				wins.Add(1)
			}
			return err
		})
		if err != nil {
			t.Errorf("UsePromptState = %v", err)
		}
	})
	if wins.Load() != 1 {
		t.Errorf("prompt state used %d times by 50 goroutines, want 1", wins.Load())
	}

	var n int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.DeletePromptStatesExpiredBefore(ctx, at(5*time.Minute+time.Millisecond))
		return err
	})
	if n != 2 {
		t.Errorf("DeletePromptStatesExpiredBefore = %d, want 2", n)
	}
}
