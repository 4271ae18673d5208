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

func newPass(id, userID string, oneTime bool) store.AccessPass {
	return store.AccessPass{ID: id, UserID: userID, Hash: []byte("hash " + id), KeyID: "k1",
		OneTime: oneTime, StartsAt: at(time.Hour), ExpiresAt: at(2 * time.Hour),
		CreatedAt: at(0), CreatedBy: "operator:test", Reason: "lost phone"}
}

func usePass(t *testing.T, s store.Store, id string, when time.Time) bool {
	t.Helper()
	return updated(t, s, func(ctx context.Context, tx store.Tx) (bool, error) {
		return tx.UseAccessPass(ctx, id, when)
	})
}

func testAccessPasses(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	_, err := s.AccessPass(ctx, "u1")
	wantErr(t, "AccessPass(none)", err, store.ErrNotFound)

	p := newPass("p1", "u1", true)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutAccessPass(ctx, p) })
	got, err := s.AccessPass(ctx, "u1")
	want := p
	want.StartsAt, want.ExpiresAt, want.CreatedAt = ms(p.StartsAt), ms(p.ExpiresAt), ms(p.CreatedAt)
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("AccessPass(u1) = %+v, %v; want %+v", got, err, want)
	}

	// The window is [StartsAt, ExpiresAt), to the millisecond.
	if usePass(t, s, "p1", at(time.Hour-time.Millisecond)) {
		t.Errorf("UseAccessPass before its start = true")
	}
	if usePass(t, s, "p1", at(2*time.Hour)) {
		t.Errorf("UseAccessPass at its expiry = true")
	}
	if !usePass(t, s, "p1", at(time.Hour)) {
		t.Errorf("UseAccessPass at its start = false")
	}
	if usePass(t, s, "p1", at(time.Hour+time.Minute)) {
		t.Errorf("one-time pass used twice")
	}
	if got, _ := s.AccessPass(ctx, "u1"); got.Uses != 1 || !got.LastUsedAt.Equal(ms(at(time.Hour))) {
		t.Errorf("after one use: uses %d, last used %v", got.Uses, got.LastUsedAt)
	}

	// Multi-use, then replaced, then revoked.
	multi := newPass("p2", "u1", false)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutAccessPass(ctx, multi) })
	for i := range 3 {
		if !usePass(t, s, "p2", at(2*time.Hour-time.Millisecond)) {
			t.Errorf("multi-use pass, use %d = false", i+1)
		}
	}
	if usePass(t, s, "p1", at(time.Hour)) {
		t.Errorf("a replaced pass was used")
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokeAccessPass(ctx, "u1", at(time.Hour))
	})
	if usePass(t, s, "p2", at(time.Hour)) {
		t.Errorf("a revoked pass was used")
	}
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokeAccessPass(ctx, "u1", at(time.Hour))
	})
	wantErr(t, "RevokeAccessPass(revoked)", err, store.ErrNotFound)
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutAccessPass(ctx, newPass("p3", "nobody", true))
	})
	wantErr(t, "PutAccessPass(no such user)", err, store.ErrNotFound)

	// One-time use under concurrency.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutAccessPass(ctx, newPass("p4", "u1", true))
	})
	var wins atomic.Int32
	together(50, func(int) {
		err := s.Update(ctx, func(tx store.Tx) error {
			ok, err := tx.UseAccessPass(ctx, "p4", at(90*time.Minute))
			if ok {
				wins.Add(1)
			}
			return err
		})
		if err != nil {
			t.Errorf("UseAccessPass = %v", err)
		}
	})
	if wins.Load() != 1 {
		t.Errorf("one-time pass used %d times by 50 goroutines, want 1", wins.Load())
	}
}

func testBypasses(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	_, err := s.Bypass(ctx, "u1")
	wantErr(t, "Bypass(none)", err, store.ErrNotFound)
	b := store.Bypass{ID: "b1", UserID: "u1", CreatedAt: at(0), ExpiresAt: at(5 * time.Minute),
		CreatedBy: "operator:test", Reason: "dead phone"}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutBypass(ctx, b) })
	got, err := s.Bypass(ctx, "u1")
	want := b
	want.CreatedAt, want.ExpiresAt = ms(b.CreatedAt), ms(b.ExpiresAt)
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("Bypass(u1) = %+v, %v; want %+v", got, err, want)
	}
	use := func(id string, when time.Time) bool {
		return updated(t, s, func(ctx context.Context, tx store.Tx) (bool, error) {
			return tx.UseBypass(ctx, id, when)
		})
	}
	if use("b1", at(5*time.Minute)) {
		t.Errorf("UseBypass at expiry = true")
	}
	var wins atomic.Int32
	together(20, func(int) {
		err := s.Update(ctx, func(tx store.Tx) error {
			ok, err := tx.UseBypass(ctx, "b1", at(time.Minute))
			if ok {
				wins.Add(1)
			}
			return err
		})
		if err != nil {
			t.Errorf("UseBypass = %v", err)
		}
	})
	if wins.Load() != 1 {
		t.Errorf("bypass used %d times by 20 goroutines, want 1", wins.Load())
	}
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokeBypass(ctx, "u1", at(time.Minute))
	})
	wantErr(t, "RevokeBypass(used)", err, store.ErrNotFound)

	b2 := b
	b2.ID = "b2"
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutBypass(ctx, b2) })
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RevokeBypass(ctx, "u1", at(time.Minute))
	})
	if use("b2", at(2*time.Minute)) {
		t.Errorf("a revoked bypass was used")
	}
}

// newPassRequest returns a staff request with every field a new request
// has, pending until expires.
func newPassRequest(id, userID string, created, expires time.Time) store.PassRequest {
	return store.PassRequest{ID: id, UserID: userID, Kind: store.PassRequestStaff,
		Message: "lost my phone on the train", Source: "192.0.2.7",
		RequestedBy: "web:helpdesk1", RequesterKey: "person:helpdesk1",
		Lifetime: 8*time.Hour + 1500*time.Millisecond, StartsAt: at(3 * time.Hour),
		OneTime: true, Reason: "ticket 4711", Origin: "r-user-" + id,
		CreatedAt: created, ExpiresAt: expires, Status: store.PassRequestPending}
}

// storedRequest returns r as the store gives it back: times to the
// millisecond.
func storedRequest(r store.PassRequest) store.PassRequest {
	r.StartsAt, r.CreatedAt, r.ExpiresAt = ms(r.StartsAt), ms(r.CreatedAt), ms(r.ExpiresAt)
	r.DecidedAt = ms(r.DecidedAt)
	return r
}

func createRequests(t *testing.T, s store.Store, rs ...store.PassRequest) {
	t.Helper()
	createAll(t, s, store.Tx.CreatePassRequest, rs...)
}

func decide(t *testing.T, s store.Store, id string, d store.PassDecision) bool {
	t.Helper()
	return updated(t, s, func(ctx context.Context, tx store.Tx) (bool, error) {
		return tx.DecidePassRequest(ctx, id, d)
	})
}

func testPassRequests(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	_, err := s.PassRequest(ctx, "r1")
	wantErr(t, "PassRequest(none)", err, store.ErrNotFound)

	staff := newPassRequest("r1", "u1", at(0), at(10*time.Minute))
	user := store.PassRequest{ID: "r2", UserID: "u1", Kind: store.PassRequestUser,
		Message: "please", Source: "198.51.100.1", CreatedAt: at(time.Second),
		ExpiresAt: at(10 * time.Minute), Status: store.PassRequestPending}
	createRequests(t, s, staff, user)
	for _, want := range []store.PassRequest{staff, user} {
		got, err := s.PassRequest(ctx, want.ID)
		if err != nil {
			t.Fatalf("PassRequest(%s) = %v", want.ID, err)
		}
		if diff := cmp.Diff(storedRequest(want), got); diff != "" {
			t.Errorf("PassRequest(%s) mismatch (-want +got):\n%s", want.ID, diff)
		}
	}

	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreatePassRequest(ctx, newPassRequest("r1", "u1", at(0), at(time.Hour)))
	})
	wantErr(t, "CreatePassRequest(ID taken)", err, store.ErrConflict)
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreatePassRequest(ctx, newPassRequest("r3", "nobody", at(0), at(time.Hour)))
	})
	wantErr(t, "CreatePassRequest(no such user)", err, store.ErrNotFound)
	if got, _ := s.PassRequest(ctx, "r1"); !got.ExpiresAt.Equal(ms(at(10 * time.Minute))) {
		t.Errorf("PassRequest(r1).ExpiresAt = %v after a conflict, want it unchanged",
			got.ExpiresAt)
	}

	// A request expires at ExpiresAt, to the millisecond; once decided it
	// stays decided.
	expiry := at(10 * time.Minute)
	approve := func(when time.Time, by string) store.PassDecision {
		return store.PassDecision{Status: store.PassRequestApproved, By: by, At: when,
			Reason: "verified by phone"}
	}
	steps := []struct {
		name string
		id   string
		d    store.PassDecision
		want bool
	}{
		{"at its expiry", "r1", approve(expiry, "web:b"), false},
		{"after its expiry", "r1", approve(expiry.Add(time.Millisecond), "web:b"), false},
		{"no such request", "r9", approve(at(0), "web:b"), false},
		{"a millisecond before its expiry", "r1", approve(expiry.Add(-time.Millisecond),
			"web:b"), true},
		{"decided already", "r1", store.PassDecision{Status: store.PassRequestDenied,
			By: "web:c", At: at(time.Minute)}, false},
		{"forwarded", "r2", store.PassDecision{Status: store.PassRequestForwarded,
			By: "web:c", At: at(time.Minute), Reason: "needs a second approver"}, true},
		{"forwarded already", "r2", approve(at(2*time.Minute), "web:d"), false},
	}
	for _, st := range steps {
		if got := decide(t, s, st.id, st.d); got != st.want {
			t.Errorf("DecidePassRequest(%s) %s = %v, want %v", st.id, st.name, got, st.want)
		}
	}
	want := storedRequest(staff)
	want.Status, want.DecidedBy, want.DecisionReason = store.PassRequestApproved, "web:b",
		"verified by phone"
	want.DecidedAt = ms(expiry.Add(-time.Millisecond))
	if got, err := s.PassRequest(ctx, "r1"); err != nil || !cmp.Equal(got, want) {
		t.Errorf("PassRequest(r1) after approval = %+v, %v; want %+v", got, err, want)
	}
	if got, _ := s.PassRequest(ctx, "r2"); got.Status != store.PassRequestForwarded ||
		got.DecidedBy != "web:c" || got.DecisionReason != "needs a second approver" {
		t.Errorf("PassRequest(r2) after forwarding = %+v", got)
	}

	// A refused decision changes nothing.
	createRequests(t, s, newPassRequest("r4", "u1", at(0), expiry))
	if decide(t, s, "r4", approve(expiry, "web:b")) {
		t.Errorf("DecidePassRequest(r4) at its expiry = true")
	}
	got, err := s.PassRequest(ctx, "r4")
	if err != nil || got.Status != store.PassRequestPending || got.DecidedBy != "" ||
		!got.DecidedAt.IsZero() {
		t.Errorf("PassRequest(r4) after a refused decision = %+v, %v; want it pending", got, err)
	}
}

func testListPassRequests(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"), newUser("u2", "bob"), newUser("u3", "carol"))
	req := func(id, userID, status string, created, expires time.Duration) store.PassRequest {
		r := newPassRequest(id, userID, at(created), at(expires))
		r.Status = status
		return r
	}
	const (
		pending   = store.PassRequestPending
		approved  = store.PassRequestApproved
		denied    = store.PassRequestDenied
		forwarded = store.PassRequestForwarded
	)
	rs := []store.PassRequest{
		req("a", "u1", pending, time.Minute, time.Hour),
		req("b", "u2", pending, 2*time.Minute, 30*time.Minute),
		req("c", "u1", approved, 3*time.Minute, time.Hour),
		req("d", "u1", pending, 3*time.Minute, 2*time.Hour), // ties with c: ID decides
		req("e", "u2", denied, 4*time.Minute, time.Hour),
		req("f", "u2", forwarded, 5*time.Minute, time.Hour),
	}
	createRequests(t, s, rs...)

	tests := []struct {
		name string
		q    store.PassRequestQuery
		want []string
	}{
		{"all, newest first", store.PassRequestQuery{}, []string{"f", "e", "d", "c", "b", "a"}},
		{"limit", store.PassRequestQuery{Limit: 2}, []string{"f", "e"}},
		{"pending", store.PassRequestQuery{Status: pending}, []string{"d", "b", "a"}},
		{"approved", store.PassRequestQuery{Status: approved}, []string{"c"}},
		{"pending at an expiry", store.PassRequestQuery{Status: pending,
			PendingAt: at(30 * time.Minute)}, []string{"d", "a"}},
		{"pending a millisecond before", store.PassRequestQuery{Status: pending,
			PendingAt: at(30*time.Minute - time.Millisecond)}, []string{"d", "b", "a"}},
		{"pending later", store.PassRequestQuery{Status: pending, PendingAt: at(time.Hour)},
			[]string{"d"}},
		{"pending after all expired", store.PassRequestQuery{Status: pending,
			PendingAt: at(2 * time.Hour)}, nil},
		{"PendingAt without pending", store.PassRequestQuery{Status: approved,
			PendingAt: at(3 * time.Hour)}, []string{"c"}},
		{"PendingAt alone", store.PassRequestQuery{PendingAt: at(3 * time.Hour)},
			[]string{"f", "e", "d", "c", "b", "a"}},
		{"user", store.PassRequestQuery{UserID: "u1"}, []string{"d", "c", "a"}},
		{"user and status", store.PassRequestQuery{UserID: "u2", Status: pending},
			[]string{"b"}},
		{"user and limit", store.PassRequestQuery{UserID: "u2", Limit: 1}, []string{"f"}},
		{"user with none", store.PassRequestQuery{UserID: "u3"}, nil},
		{"status with none", store.PassRequestQuery{Status: "no such status"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListPassRequests(ctx, tt.q)
			if err != nil {
				t.Fatalf("ListPassRequests(%+v) = %v", tt.q, err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("ListPassRequests(%+v) IDs mismatch (-want +got):\n%s", tt.q, diff)
			}
		})
	}

	t.Run("whole requests", func(t *testing.T) {
		got, err := s.ListPassRequests(ctx, store.PassRequestQuery{Status: approved})
		if err != nil {
			t.Fatalf("ListPassRequests(approved) = %v", err)
		}
		if diff := cmp.Diff([]store.PassRequest{storedRequest(rs[2])}, got); diff != "" {
			t.Errorf("ListPassRequests(approved) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("default limit", func(t *testing.T) {
		var more []store.PassRequest
		for i := range 105 {
			more = append(more, req(fmt.Sprintf("n%03d", i), "u3", pending,
				time.Duration(i)*time.Second, time.Hour))
		}
		createRequests(t, s, more...)
		got, err := s.ListPassRequests(ctx, store.PassRequestQuery{UserID: "u3"})
		if err != nil {
			t.Fatalf("ListPassRequests(u3) = %v", err)
		}
		if len(got) != 100 || got[0].ID != "n104" || got[99].ID != "n005" {
			t.Errorf("ListPassRequests(u3) = %d requests, want n104 down to n005", len(got))
		}
	})
}

// testPassRequestsTogether decides one request from many goroutines at
// once: one decision wins, and it is the one stored.
func testPassRequestsTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUsers(t, s, newUser("u1", "alice"))
	statuses := []string{store.PassRequestApproved, store.PassRequestDenied,
		store.PassRequestForwarded}
	// Several rounds, since a race lost once may be won the next time.
	for round := range 3 {
		id := fmt.Sprintf("r%d", round)
		createRequests(t, s, newPassRequest(id, "u1", at(0), at(time.Hour)))
		var wins atomic.Int32
		var winner atomic.Int32
		together(50, func(i int) {
			d := store.PassDecision{Status: statuses[i%len(statuses)],
				By: fmt.Sprintf("web:staff%d", i), At: at(time.Duration(i+1) * time.Second)}
			err := s.Update(ctx, func(tx store.Tx) error {
				ok, err := tx.DecidePassRequest(ctx, id, d)
				if ok {
					wins.Add(1)
					winner.Store(int32(i))
				}
				return err
			})
			if err != nil {
				t.Errorf("DecidePassRequest(%s) = %v", id, err)
			}
		})
		if got := wins.Load(); got != 1 {
			t.Fatalf("DecidePassRequest(%s) succeeded %d times in 50, want 1", id, got)
		}
		i := int(winner.Load())
		got, err := s.PassRequest(ctx, id)
		wantBy := fmt.Sprintf("web:staff%d", i)
		if err != nil || got.Status != statuses[i%len(statuses)] || got.DecidedBy != wantBy ||
			!got.DecidedAt.Equal(ms(at(time.Duration(i+1)*time.Second))) {
			t.Errorf("PassRequest(%s) = %+v, %v; want the decision of %s", id, got, err, wantBy)
		}
	}
}
