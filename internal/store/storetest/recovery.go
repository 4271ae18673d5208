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

// newCodeSet returns a set of n codes for userID whose hashes name the set
// and position, so that tests can tell them apart.
func newCodeSet(id, userID string, n int, created time.Time) (store.BackupCodeSet,
	[]store.BackupCode) {
	set := store.BackupCodeSet{ID: id, UserID: userID, Total: n, CreatedAt: created,
		CreatedBy: "operator:test"}
	codes := make([]store.BackupCode, n)
	for i := range codes {
		codes[i] = store.BackupCode{SetID: id, Position: i + 1,
			Hash: fmt.Appendf(nil, "hash %s %d", id, i+1), KeyID: "k1", CreatedAt: created}
	}
	return set, codes
}

func replaceCodes(t *testing.T, s store.Store, set store.BackupCodeSet,
	codes []store.BackupCode) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.ReplaceBackupCodes(ctx, set, codes)
	})
}

func useCode(t *testing.T, s store.Store, setID string, pos int, when time.Time) bool {
	t.Helper()
	var used bool
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		used, err = tx.UseBackupCode(ctx, setID, pos, when)
		return err
	})
	return used
}

func testBackupCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"))

	_, err := s.BackupCodeSet(ctx, "u1")
	wantErr(t, "BackupCodeSet(no set)", err, store.ErrNotFound)
	if codes, err := s.BackupCodes(ctx, "u1"); err != nil || len(codes) != 0 {
		t.Errorf("BackupCodes(no set) = %v, %v; want none", codes, err)
	}

	set, codes := newCodeSet("s1", "u1", 10, at(0))
	set.ExpiresAt = at(24 * time.Hour)
	replaceCodes(t, s, set, codes)
	got, err := s.BackupCodeSet(ctx, "u1")
	want := set
	want.CreatedAt, want.ExpiresAt, want.Remaining = ms(at(0)), ms(at(24*time.Hour)), 10
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("BackupCodeSet(u1) = %+v, %v; want %+v", got, err, want)
	}
	stored, err := s.BackupCodes(ctx, "u1")
	if err != nil || len(stored) != 10 {
		t.Fatalf("BackupCodes(u1) = %d codes, %v; want 10", len(stored), err)
	}
	for i, c := range stored {
		w := codes[i]
		w.CreatedAt = ms(w.CreatedAt)
		if !cmp.Equal(c, w) {
			t.Errorf("BackupCodes(u1)[%d] = %+v, want %+v", i, c, w)
		}
	}

	// Single use.
	if !useCode(t, s, "s1", 3, at(time.Minute)) {
		t.Errorf("UseBackupCode(s1, 3) = false, want true")
	}
	if useCode(t, s, "s1", 3, at(2*time.Minute)) {
		t.Errorf("UseBackupCode(s1, 3) again = true, want false")
	}
	if useCode(t, s, "s1", 11, at(time.Minute)) {
		t.Errorf("UseBackupCode(s1, 11) = true for a position not in the set")
	}
	stored, _ = s.BackupCodes(ctx, "u1")
	if !stored[2].UsedAt.Equal(ms(at(time.Minute))) || !stored[3].UsedAt.IsZero() {
		t.Errorf("used times = %v, %v; want %v and never", stored[2].UsedAt, stored[3].UsedAt,
			ms(at(time.Minute)))
	}
	if got, _ := s.BackupCodeSet(ctx, "u1"); got.Remaining != 9 {
		t.Errorf("Remaining after one use = %d, want 9", got.Remaining)
	}
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UseBackupCode(ctx, "s1", 4, time.Time{})
		return err
	})
	if err == nil {
		t.Errorf("UseBackupCode(zero time) = nil, want an error")
	}

	// Another user's set is separate.
	set2, codes2 := newCodeSet("s2", "u2", 5, at(0))
	replaceCodes(t, s, set2, codes2)
	if got, _ := s.BackupCodeSet(ctx, "u1"); got.ID != "s1" || got.Remaining != 9 {
		t.Errorf("alice's set after bob's = %+v, want s1 with 9 left", got)
	}

	// Replacing drops every old code at once.
	set3, codes3 := newCodeSet("s3", "u1", 12, at(time.Hour))
	replaceCodes(t, s, set3, codes3)
	if useCode(t, s, "s1", 4, at(2*time.Hour)) {
		t.Errorf("UseBackupCode(old set) = true after the set was replaced")
	}
	got, _ = s.BackupCodeSet(ctx, "u1")
	if got.ID != "s3" || got.Total != 12 || got.Remaining != 12 || !got.ExpiresAt.IsZero() {
		t.Errorf("set after replace = %+v, want s3 with 12 of 12 left, no expiry", got)
	}
	if stored, _ := s.BackupCodes(ctx, "u1"); len(stored) != 12 || stored[0].SetID != "s3" {
		t.Errorf("BackupCodes after replace = %d codes of %q, want 12 of s3", len(stored),
			stored[0].SetID)
	}

	// A failed replacement keeps the old set.
	bad, badCodes := newCodeSet("s4", "u1", 2, at(time.Hour))
	badCodes[1].Position = 1
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.ReplaceBackupCodes(ctx, bad, badCodes)
	})
	wantErr(t, "ReplaceBackupCodes(duplicate position)", err, store.ErrConflict)
	if got, _ := s.BackupCodeSet(ctx, "u1"); got.ID != "s3" {
		t.Errorf("set after a failed replace = %q, want s3 kept", got.ID)
	}
	none, _ := newCodeSet("s5", "nobody", 5, at(0))
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.ReplaceBackupCodes(ctx, none, nil)
	})
	wantErr(t, "ReplaceBackupCodes(no such user)", err, store.ErrNotFound)

	// Delete.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteBackupCodes(ctx, "u1")
	})
	_, err = s.BackupCodeSet(ctx, "u1")
	wantErr(t, "BackupCodeSet(deleted)", err, store.ErrNotFound)
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteBackupCodes(ctx, "u1")
	})
	wantErr(t, "DeleteBackupCodes(none)", err, store.ErrNotFound)
}

// testBackupCodesTogether uses one code from many goroutines, and races
// uses of old codes against a replacement.
func testBackupCodesTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	set, codes := newCodeSet("s1", "u1", 10, at(0))
	replaceCodes(t, s, set, codes)

	for pos := 1; pos <= 3; pos++ {
		var wins atomic.Int32
		together(50, func(i int) {
			err := s.Update(ctx, func(tx store.Tx) error {
				ok, err := tx.UseBackupCode(ctx, "s1", pos, at(time.Duration(i+1)*time.Second))
				if ok {
					wins.Add(1)
				}
				return err
			})
			if err != nil {
				t.Errorf("UseBackupCode(s1, %d) = %v", pos, err)
			}
		})
		if got := wins.Load(); got != 1 {
			t.Errorf("UseBackupCode(s1, %d) succeeded %d times in 50, want 1", pos, got)
		}
	}

	// Uses of the old set racing a replacement: each use either committed
	// before the replacement (and is gone with the old set) or finds no
	// row. The new set is untouched either way.
	set2, codes2 := newCodeSet("s2", "u1", 10, at(time.Hour))
	together(11, func(i int) {
		err := s.Update(ctx, func(tx store.Tx) error {
			if i == 10 {
				return tx.ReplaceBackupCodes(ctx, set2, codes2)
			}
			_, err := tx.UseBackupCode(ctx, "s1", 4+i%7, at(time.Hour))
			return err
		})
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	})
	got, err := s.BackupCodeSet(ctx, "u1")
	if err != nil || got.ID != "s2" || got.Remaining != 10 {
		t.Errorf("set after the race = %+v, %v; want s2 with all 10 left", got, err)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	sess := store.Session{ID: "x1", UserID: "u1", Hash: []byte("h"), KeyID: "k1",
		Factor: "backup_code", Source: "192.0.2.7", VerifiedAt: at(0), CreatedAt: at(0),
		ExpiresAt: at(15 * time.Minute)}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateSession(ctx, sess) })
	got, err := s.Session(ctx, "x1")
	want := sess
	want.VerifiedAt, want.CreatedAt, want.ExpiresAt = ms(at(0)), ms(at(0)), ms(at(15*time.Minute))
	want.LastSeenAt = ms(at(0)) // created without one: seen when opened
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("Session(x1) = %+v, %v; want %+v", got, err, want)
	}
	_, err = s.Session(ctx, "nope")
	wantErr(t, "Session(nope)", err, store.ErrNotFound)

	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateSession(ctx, sess)
	})
	wantErr(t, "CreateSession(same ID)", err, store.ErrConflict)
	other := sess
	other.ID, other.UserID = "x2", "nobody"
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateSession(ctx, other)
	})
	wantErr(t, "CreateSession(no such user)", err, store.ErrNotFound)

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokeSession(ctx, "x1", at(time.Minute))
	})
	if got, _ := s.Session(ctx, "x1"); !got.RevokedAt.Equal(ms(at(time.Minute))) {
		t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, ms(at(time.Minute)))
	}
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokeSession(ctx, "x1", at(2*time.Minute))
	})
	wantErr(t, "RevokeSession(revoked)", err, store.ErrNotFound)

	later := sess
	later.ID, later.ExpiresAt = "x3", at(time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateSession(ctx, later) })
	var n int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.DeleteSessionsExpiredBefore(ctx, at(30*time.Minute))
		return err
	})
	if n != 1 {
		t.Errorf("DeleteSessionsExpiredBefore = %d, want 1", n)
	}
	if _, err := s.Session(ctx, "x3"); err != nil {
		t.Errorf("Session(x3) after cleanup = %v, want it kept", err)
	}
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	if evs, err := s.ListOutbox(ctx, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("ListOutbox(empty) = %v, %v; want none", evs, err)
	}
	var seqs []int64
	for i := range 5 {
		ev := store.OutboxEvent{ID: fmt.Sprintf("e%d", i), Type: "backup_code.used",
			UserID: "u1", Subject: "alice", Time: at(time.Duration(i) * time.Second),
			Data: fmt.Appendf(nil, `{"position": %d}`, i+1)}
		if i == 4 {
			ev.Data = nil
		}
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			seq, err := tx.AppendOutbox(ctx, ev)
			seqs = append(seqs, seq)
			return err
		})
	}
	evs, err := s.ListOutbox(ctx, seqs[1], 2)
	if err != nil || len(evs) != 2 || evs[0].Seq != seqs[2] || evs[1].Seq != seqs[3] {
		t.Fatalf("ListOutbox(after %d, 2) = %+v, %v; want events 3 and 4", seqs[1], evs, err)
	}
	want := store.OutboxEvent{Seq: seqs[2], ID: "e2", Type: "backup_code.used", UserID: "u1",
		Subject: "alice", Time: ms(at(2 * time.Second)), Data: []byte(`{"position": 3}`)}
	if !cmp.Equal(evs[0], want) {
		t.Errorf("ListOutbox event = %+v, want %+v", evs[0], want)
	}
	if evs, _ := s.ListOutbox(ctx, seqs[3], 0); len(evs) != 1 || string(evs[0].Data) != "{}" {
		t.Errorf("event without data = %+v, want data {}", evs)
	}
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AppendOutbox(ctx, store.OutboxEvent{ID: "e0", Type: "x", Time: at(0)})
		return err
	})
	wantErr(t, "AppendOutbox(same ID)", err, store.ErrConflict)
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AppendOutbox(ctx, store.OutboxEvent{ID: "e9", Type: "x", Time: at(0),
			Data: []byte("{not json")})
		return err
	})
	if err == nil {
		t.Errorf("AppendOutbox(bad JSON) = nil, want an error")
	}
}
