package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
)

// errRollback is what a test's Update returns to roll its writes back.
var errRollback = errors.New("roll back")

func newOutboxEvent(id string) store.OutboxEvent {
	return store.OutboxEvent{ID: id, Type: "backup_code.used", UserID: "u1",
		Subject: "alice", Time: at(time.Second), Data: []byte(`{"id": "` + id + `"}`)}
}

// appendOutbox appends an event for each ID in one transaction and
// returns them as stored, Seq and all.
func appendOutbox(t *testing.T, s store.Store, ids ...string) []store.OutboxEvent {
	t.Helper()
	var evs []store.OutboxEvent
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			ev := newOutboxEvent(id)
			seq, err := tx.AppendOutbox(ctx, ev)
			if err != nil {
				return err
			}
			ev.Seq, ev.Time = seq, ms(ev.Time)
			evs = append(evs, ev)
		}
		return nil
	})
	return evs
}

func claimOutbox(t *testing.T, s store.Store, when time.Time, limit int) []store.OutboxEvent {
	t.Helper()
	var evs []store.OutboxEvent
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		evs, err = tx.ClaimOutbox(ctx, when, limit)
		return err
	})
	return evs
}

func eventIDs(evs []store.OutboxEvent) []string {
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

func bySeq(a, b store.OutboxEvent) int {
	switch {
	case a.Seq < b.Seq:
		return -1
	case a.Seq > b.Seq:
		return 1
	}
	return 0
}

func testClaimOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.OutboxEvent(ctx, "e1")
	wantErr(t, "OutboxEvent(none)", err, store.ErrNotFound)
	if got := claimOutbox(t, s, at(time.Minute), 10); len(got) != 0 {
		t.Errorf("ClaimOutbox(empty) = %v, want none", eventIDs(got))
	}

	before := appendOutbox(t, s, "e1", "e2", "e3")
	got, err := s.OutboxEvent(ctx, "e2")
	if err != nil {
		t.Fatalf("OutboxEvent(e2) = %v", err)
	}
	if diff := cmp.Diff(before[1], got); diff != "" {
		t.Errorf("OutboxEvent(e2) mismatch (-want +got):\n%s", diff)
	}

	// Oldest first, up to the limit, each once, including events appended
	// after a claim.
	if diff := cmp.Diff(before[:2], claimOutbox(t, s, at(time.Minute), 2)); diff != "" {
		t.Errorf("ClaimOutbox(2) mismatch (-want +got):\n%s", diff)
	}
	after := appendOutbox(t, s, "e4")
	want := []store.OutboxEvent{before[2], after[0]}
	if diff := cmp.Diff(want, claimOutbox(t, s, at(2*time.Minute), 10)); diff != "" {
		t.Errorf("ClaimOutbox(10) mismatch (-want +got):\n%s", diff)
	}
	if got := claimOutbox(t, s, at(3*time.Minute), 0); len(got) != 0 {
		t.Errorf("ClaimOutbox(all claimed) = %v, want none", eventIDs(got))
	}
	// A claimed event still reads as it was written.
	if got, err := s.OutboxEvent(ctx, "e1"); err != nil || !cmp.Equal(got, before[0]) {
		t.Errorf("OutboxEvent(e1) after its claim = %+v, %v; want %+v", got, err, before[0])
	}

	// A claim that rolls back leaves the events to be claimed again. The
	// transaction sees its own claims.
	appendOutbox(t, s, "e5", "e6")
	err = s.Update(ctx, func(tx store.Tx) error {
		for _, want := range []string{"e5", "e6"} {
			evs, err := tx.ClaimOutbox(ctx, at(4*time.Minute), 1)
			if err != nil {
				return err
			}
			if ids := eventIDs(evs); !slices.Equal(ids, []string{want}) {
				t.Errorf("tx.ClaimOutbox(1) = %v, want [%s]", ids, want)
			}
		}
		return errRollback
	})
	wantErr(t, "Update(claim, roll back)", err, errRollback)
	got2 := eventIDs(claimOutbox(t, s, at(5*time.Minute), 10))
	if diff := cmp.Diff([]string{"e5", "e6"}, got2); diff != "" {
		t.Errorf("ClaimOutbox after a rollback mismatch (-want +got):\n%s", diff)
	}

	// An event appended in the claiming transaction is claimed with it.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.AppendOutbox(ctx, newOutboxEvent("e7")); err != nil {
			return err
		}
		evs, err := tx.ClaimOutbox(ctx, at(6*time.Minute), 10)
		if ids := eventIDs(evs); err != nil || !slices.Equal(ids, []string{"e7"}) {
			t.Errorf("tx.ClaimOutbox after AppendOutbox = %v, %v; want [e7]", ids, err)
		}
		return err
	})
}

// testClaimOutboxTogether has many claimers, each in its own transaction,
// drain the outbox at once: every event goes to exactly one of them.
func testClaimOutboxTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	const events, claimers, limit = 60, 50, 3
	var ids []string
	for i := range events {
		ids = append(ids, fmt.Sprintf("e%02d", i))
	}
	appendOutbox(t, s, ids...)

	var mu sync.Mutex
	claims := make(map[string]int)
	var claimed atomic.Int32
	together(claimers, func(int) {
		// A claimer may come away with nothing while events remain, having
		// waited for rows another claimer took, so it tries again.
		for try := 0; claimed.Load() < events && try < 10*events; try++ {
			var evs []store.OutboxEvent
			err := s.Update(ctx, func(tx store.Tx) error {
				var err error
				evs, err = tx.ClaimOutbox(ctx, at(time.Hour), limit)
				return err
			})
			if err != nil {
				t.Errorf("ClaimOutbox(%d) = %v", limit, err)
				return
			}
			if len(evs) > limit || !slices.IsSortedFunc(evs, bySeq) {
				t.Errorf("ClaimOutbox(%d) = %v, want at most %d in Seq order",
					limit, eventIDs(evs), limit)
			}
			mu.Lock()
			for _, ev := range evs {
				claims[ev.ID]++
			}
			mu.Unlock()
			claimed.Add(int32(len(evs)))
		}
	})
	for _, id := range ids {
		if claims[id] != 1 {
			t.Errorf("event %s claimed %d times by %d claimers, want 1", id, claims[id],
				claimers)
		}
	}
}

// newDelivery returns an email delivery to target of event eventID, due
// at next, with the fields a new delivery has.
func newDelivery(id, eventID, target string, next time.Time) store.Delivery {
	return store.Delivery{ID: id, EventID: eventID, EventType: "backup_code.used",
		UserID: "u1", Channel: store.ChannelEmail, Target: target, Role: "user",
		CreatedAt: at(0), NextAt: next}
}

// storedDelivery returns d as the store gives it back: times to the
// millisecond.
func storedDelivery(d store.Delivery) store.Delivery {
	d.CreatedAt, d.NextAt, d.LeaseUntil = ms(d.CreatedAt), ms(d.NextAt), ms(d.LeaseUntil)
	d.DeliveredAt, d.GaveUpAt = ms(d.DeliveredAt), ms(d.GaveUpAt)
	return d
}

func createDeliveries(t *testing.T, s store.Store, ds ...store.Delivery) {
	t.Helper()
	createAll(t, s, store.Tx.CreateDelivery, ds...)
}

// deliveriesOf returns the deliveries of event eventID.
func deliveriesOf(t *testing.T, s store.Store, eventID string) []store.Delivery {
	t.Helper()
	ds, err := s.ListDeliveries(t.Context(), store.DeliveryQuery{EventID: eventID})
	if err != nil {
		t.Fatalf("ListDeliveries(event %s) = %v", eventID, err)
	}
	return ds
}

func deliveryIDs(ds []store.Delivery) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func testDeliveries(t *testing.T, s store.Store) {
	full := store.Delivery{ID: "d1", EventID: "e1", EventType: "user.locked", UserID: "u1",
		Channel: store.ChannelWebhook, Target: "w1", Role: "webhook", CreatedAt: at(0),
		Attempts: 3, NextAt: at(time.Minute), LeaseUntil: at(2 * time.Minute),
		LeaseOwner: "worker-1", DeliveredAt: at(3 * time.Minute),
		GaveUpAt: at(4 * time.Minute), LastError: "status 502", LastStatus: 502}
	createDeliveries(t, s, full)
	got := deliveriesOf(t, s, "e1")
	if diff := cmp.Diff([]store.Delivery{storedDelivery(full)}, got); diff != "" {
		t.Errorf("ListDeliveries(e1) mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		d    store.Delivery
		want error
	}{
		{"ID taken", newDelivery("d1", "e2", "alice@example.org", at(0)), store.ErrConflict},
		{"event, channel and target taken", store.Delivery{ID: "d2", EventID: "e1",
			Channel: store.ChannelWebhook, Target: "w1"}, store.ErrConflict},
		{"other channel", store.Delivery{ID: "d3", EventID: "e1", Channel: store.ChannelEmail,
			Target: "w1"}, nil},
		{"other target", store.Delivery{ID: "d4", EventID: "e1",
			Channel: store.ChannelWebhook, Target: "w2"}, nil},
		{"other event", store.Delivery{ID: "d5", EventID: "e2",
			Channel: store.ChannelWebhook, Target: "w1"}, nil},
	}
	for _, tt := range tests {
		err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateDelivery(ctx, tt.d)
		})
		wantErr(t, fmt.Sprintf("CreateDelivery(%s)", tt.name), err, tt.want)
	}
	// d1 is newest: the others have no CreatedAt.
	want := []string{"d1", "d4", "d3"}
	if got := deliveryIDs(deliveriesOf(t, s, "e1")); !slices.Equal(got, want) {
		t.Errorf("ListDeliveries(e1) after conflicts = %v, want %v", got, want)
	}
	if got := deliveriesOf(t, s, "e2"); len(got) != 1 || got[0].ID != "d5" {
		t.Errorf("ListDeliveries(e2) after conflicts = %v, want [d5]", deliveryIDs(got))
	}
}

func testListDeliveries(t *testing.T, s store.Store) {
	ctx := t.Context()
	del := func(id, eventID, channel, target string, created time.Duration) store.Delivery {
		d := newDelivery(id, eventID, target, at(created))
		d.Channel, d.CreatedAt = channel, at(created)
		return d
	}
	const email, webhook = store.ChannelEmail, store.ChannelWebhook
	ds := []store.Delivery{
		del("a", "e1", email, "alice@example.org", time.Minute),
		del("b", "e1", webhook, "w1", 2*time.Minute),
		del("c", "e2", email, "bob@example.org", 3*time.Minute),
		del("d", "e2", email, "alice@example.org", 3*time.Minute), // ties with c: ID decides
		del("e", "e3", webhook, "w1", 4*time.Minute),
		del("f", "e3", email, "alice@example.org", 5*time.Minute),
	}
	createDeliveries(t, s, ds...)

	alice := "alice@example.org"
	tests := []struct {
		name string
		q    store.DeliveryQuery
		want []string
	}{
		{"all, newest first", store.DeliveryQuery{}, []string{"f", "e", "d", "c", "b", "a"}},
		{"limit", store.DeliveryQuery{Limit: 2}, []string{"f", "e"}},
		{"channel", store.DeliveryQuery{Channel: email}, []string{"f", "d", "c", "a"}},
		{"other channel", store.DeliveryQuery{Channel: webhook}, []string{"e", "b"}},
		{"channel and target", store.DeliveryQuery{Channel: email, Target: alice},
			[]string{"f", "d", "a"}},
		{"target", store.DeliveryQuery{Target: "w1"}, []string{"e", "b"}},
		{"target of another channel", store.DeliveryQuery{Channel: webhook, Target: alice},
			nil},
		{"event", store.DeliveryQuery{EventID: "e2"}, []string{"d", "c"}},
		{"event and channel", store.DeliveryQuery{EventID: "e1", Channel: webhook},
			[]string{"b"}},
		{"target and limit", store.DeliveryQuery{Target: alice, Limit: 1}, []string{"f"}},
		{"target with none", store.DeliveryQuery{Target: "carol@example.org"}, nil},
		{"event with none", store.DeliveryQuery{EventID: "e9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListDeliveries(ctx, tt.q)
			if err != nil {
				t.Fatalf("ListDeliveries(%+v) = %v", tt.q, err)
			}
			if diff := cmp.Diff(tt.want, deliveryIDs(got)); diff != "" {
				t.Errorf("ListDeliveries(%+v) IDs mismatch (-want +got):\n%s", tt.q, diff)
			}
		})
	}

	t.Run("whole deliveries", func(t *testing.T) {
		want := []store.Delivery{storedDelivery(ds[3]), storedDelivery(ds[2])}
		if diff := cmp.Diff(want, deliveriesOf(t, s, "e2")); diff != "" {
			t.Errorf("ListDeliveries(e2) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("default limit", func(t *testing.T) {
		var more []store.Delivery
		for i := range 105 {
			more = append(more, del(fmt.Sprintf("n%03d", i), fmt.Sprintf("m%03d", i), email,
				"carol@example.org", time.Duration(i)*time.Second))
		}
		createDeliveries(t, s, more...)
		got, err := s.ListDeliveries(ctx, store.DeliveryQuery{Target: "carol@example.org"})
		if err != nil {
			t.Fatalf("ListDeliveries(carol) = %v", err)
		}
		if len(got) != 100 || got[0].ID != "n104" || got[99].ID != "n005" {
			t.Errorf("ListDeliveries(carol) = %d deliveries, want n104 down to n005", len(got))
		}
	})
}

func claimDeliveries(t *testing.T, s store.Store, owner string, now, until time.Time,
	limit int) []store.Delivery {
	t.Helper()
	var ds []store.Delivery
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		ds, err = tx.ClaimDeliveries(ctx, owner, now, until, limit)
		return err
	})
	return ds
}

func finishDelivery(t *testing.T, s store.Store, id, owner string,
	o store.DeliveryOutcome) bool {
	t.Helper()
	return updated(t, s, func(ctx context.Context, tx store.Tx) (bool, error) {
		return tx.FinishDelivery(ctx, id, owner, o)
	})
}

// testClaimDeliveries takes two deliveries through their lives: due at
// NextAt, leased until LeaseUntil, finished only by the lease holder, and
// never claimed again once delivered or given up.
func testClaimDeliveries(t *testing.T, s store.Store) {
	const alice, bob = "alice@example.org", "bob@example.org"
	d1 := newDelivery("d1", "e1", alice, at(time.Minute))
	d2 := newDelivery("d2", "e1", bob, at(2*time.Minute))
	createDeliveries(t, s, d1, d2)
	claim := func(owner string, now, until time.Duration) []store.Delivery {
		t.Helper()
		return claimDeliveries(t, s, owner, at(now), at(until), 10)
	}
	wantNone := func(what string, ds []store.Delivery) {
		t.Helper()
		if len(ds) != 0 {
			t.Errorf("ClaimDeliveries %s = %v, want none", what, deliveryIDs(ds))
		}
	}
	const ms1 = time.Millisecond

	wantNone("before NextAt", claim("w1", time.Minute-ms1, 2*time.Minute))
	leased := storedDelivery(d1)
	leased.Attempts, leased.LeaseOwner, leased.LeaseUntil = 1, "w1", ms(at(90*time.Second))
	if diff := cmp.Diff([]store.Delivery{leased}, claim("w1", time.Minute,
		90*time.Second)); diff != "" {
		t.Errorf("ClaimDeliveries at NextAt mismatch (-want +got):\n%s", diff)
	}
	wantNone("while leased", claim("w2", 90*time.Second-ms1, 2*time.Minute))

	// At LeaseUntil the lease is over and the delivery due again.
	leased.Attempts, leased.LeaseOwner, leased.LeaseUntil = 2, "w2", ms(at(2*time.Minute))
	if diff := cmp.Diff([]store.Delivery{leased}, claim("w2", 90*time.Second,
		2*time.Minute)); diff != "" {
		t.Errorf("ClaimDeliveries at LeaseUntil mismatch (-want +got):\n%s", diff)
	}

	delivered := store.DeliveryOutcome{DeliveredAt: at(95 * time.Second)}
	if finishDelivery(t, s, "d1", "w1", delivered) {
		t.Errorf("FinishDelivery(d1) by the owner of an ended lease = true, want false")
	}
	if !finishDelivery(t, s, "d1", "w2", delivered) {
		t.Errorf("FinishDelivery(d1) by the lease holder = false, want true")
	}
	want := leased
	want.DeliveredAt, want.LeaseUntil = ms(at(95*time.Second)), time.Time{}
	if diff := cmp.Diff([]store.Delivery{storedDelivery(d2), want},
		deliveriesOf(t, s, "e1")); diff != "" {
		t.Errorf("deliveries after FinishDelivery(d1) mismatch (-want +got):\n%s", diff)
	}
	if finishDelivery(t, s, "d1", "w2", delivered) {
		t.Errorf("FinishDelivery(d1) once delivered = true, want false")
	}

	// A retry keeps the lease holder's outcome and ends the lease.
	if got := deliveryIDs(claim("w3", 2*time.Minute, 3*time.Minute)); !slices.Equal(got,
		[]string{"d2"}) {
		t.Fatalf("ClaimDeliveries at d2's NextAt = %v, want [d2]", got)
	}
	retry := store.DeliveryOutcome{NextAt: at(5 * time.Minute),
		LastError: "connection refused", LastStatus: 503}
	if !finishDelivery(t, s, "d2", "w3", retry) {
		t.Errorf("FinishDelivery(d2, retry) = false, want true")
	}
	want = storedDelivery(d2)
	want.Attempts, want.LeaseOwner, want.NextAt = 1, "w3", ms(at(5*time.Minute))
	want.LastError, want.LastStatus = "connection refused", 503
	if got := deliveriesOf(t, s, "e1"); len(got) != 2 || !cmp.Equal(got[0], want) {
		t.Errorf("d2 after a retry = %+v, want %+v", got, want)
	}
	if finishDelivery(t, s, "d2", "w3", retry) {
		t.Errorf("FinishDelivery(d2) after its lease ended = true, want false")
	}
	wantNone("before the retry", claim("w3", 5*time.Minute-ms1, 6*time.Minute))
	got := claim("w3", 5*time.Minute, 6*time.Minute)
	if len(got) != 1 || got[0].ID != "d2" || got[0].Attempts != 2 {
		t.Fatalf("ClaimDeliveries at the retry = %+v, want d2 at attempt 2", got)
	}

	// Given up, with NextAt left as it was.
	gaveUp := store.DeliveryOutcome{GaveUpAt: at(5*time.Minute + time.Second),
		LastError: "too many attempts"}
	if !finishDelivery(t, s, "d2", "w3", gaveUp) {
		t.Errorf("FinishDelivery(d2, give up) = false, want true")
	}
	want.Attempts, want.LeaseUntil = 2, time.Time{}
	want.GaveUpAt, want.LastError, want.LastStatus = ms(gaveUp.GaveUpAt), gaveUp.LastError, 0
	if got := deliveriesOf(t, s, "e1"); len(got) != 2 || !cmp.Equal(got[0], want) {
		t.Errorf("d2 after giving up = %+v, want %+v", got, want)
	}
	wantNone("once delivered or given up", claim("w9", 24*time.Hour, 25*time.Hour))
	if finishDelivery(t, s, "d9", "w9", delivered) {
		t.Errorf("FinishDelivery(no such delivery) = true, want false")
	}
}

// testClaimDeliveriesOrder checks the order and limit of claims, and that a
// claim rolled back leaves the deliveries due, attempts uncounted.
func testClaimDeliveriesOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	createDeliveries(t, s,
		newDelivery("d5", "e1", "a@example.org", at(10*time.Minute)),
		newDelivery("d4", "e2", "a@example.org", at(10*time.Minute)), // ties with d5
		newDelivery("d3", "e3", "a@example.org", at(11*time.Minute)),
		newDelivery("d6", "e4", "a@example.org", at(9*time.Minute)),
		newDelivery("d7", "e5", "a@example.org", at(13*time.Hour)), // not due
	)

	err := s.Update(ctx, func(tx store.Tx) error {
		ds, err := tx.ClaimDeliveries(ctx, "w1", at(12*time.Hour), at(13*time.Hour), 0)
		if ids := deliveryIDs(ds); err != nil || len(ids) != 4 {
			t.Errorf("tx.ClaimDeliveries(0) = %v, %v; want all 4 due", ids, err)
		}
		return errRollback
	})
	wantErr(t, "Update(claim, roll back)", err, errRollback)

	for _, want := range [][]string{{"d6", "d4", "d5"}, {"d3"}, nil} {
		ds := claimDeliveries(t, s, "w1", at(12*time.Hour), at(13*time.Hour), 3)
		if diff := cmp.Diff(want, deliveryIDs(ds)); diff != "" {
			t.Errorf("ClaimDeliveries(3) mismatch (-want +got):\n%s", diff)
		}
		for _, d := range ds {
			if d.Attempts != 1 {
				t.Errorf("ClaimDeliveries(3): %s at attempt %d, want 1", d.ID, d.Attempts)
			}
		}
	}
}

// testClaimDeliveriesTogether has many claimers lease due deliveries at
// once, each in its own transaction: each delivery goes to one of them.
func testClaimDeliveriesTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	const deliveries, claimers, limit = 20, 50, 2
	var ds []store.Delivery
	for i := range deliveries {
		ds = append(ds, newDelivery(fmt.Sprintf("d%02d", i), "e1",
			fmt.Sprintf("user%02d@example.org", i), at(time.Duration(i)*time.Millisecond)))
	}
	createDeliveries(t, s, ds...)

	var mu sync.Mutex
	claims := make(map[string][]string) // delivery ID to its claimers
	var claimed atomic.Int32
	together(claimers, func(i int) {
		owner := fmt.Sprintf("w%02d", i)
		for try := 0; claimed.Load() < deliveries && try < 10*deliveries; try++ {
			var got []store.Delivery
			err := s.Update(ctx, func(tx store.Tx) error {
				var err error
				got, err = tx.ClaimDeliveries(ctx, owner, at(time.Minute), at(time.Hour), limit)
				return err
			})
			if err != nil {
				t.Errorf("ClaimDeliveries(%s) = %v", owner, err)
				return
			}
			mu.Lock()
			for _, d := range got {
				claims[d.ID] = append(claims[d.ID], owner)
				if d.LeaseOwner != owner || d.Attempts != 1 {
					t.Errorf("ClaimDeliveries(%s) = %s leased to %s at attempt %d",
						owner, d.ID, d.LeaseOwner, d.Attempts)
				}
			}
			mu.Unlock()
			claimed.Add(int32(len(got)))
		}
	})
	for _, d := range ds {
		if len(claims[d.ID]) != 1 {
			t.Errorf("delivery %s claimed by %v, want one claimer", d.ID, claims[d.ID])
		}
	}
	for _, d := range deliveriesOf(t, s, "e1") {
		if want := claims[d.ID]; d.Attempts != 1 || len(want) != 1 || d.LeaseOwner != want[0] {
			t.Errorf("delivery %s stored at attempt %d leased to %s, want 1, %v", d.ID,
				d.Attempts, d.LeaseOwner, want)
		}
	}
}

func testWebhooks(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.Webhook(ctx, "w1")
	wantErr(t, "Webhook(none)", err, store.ErrNotFound)
	if ws, err := s.ListWebhooks(ctx); err != nil || len(ws) != 0 {
		t.Errorf("ListWebhooks(none) = %v, %v; want none", ws, err)
	}

	hook := func(id string, created time.Duration, events ...string) store.Webhook {
		return store.Webhook{ID: id, URL: "https://hooks.example.org/" + id, Events: events,
			Secret: []byte("sealed " + id), KeyID: "k1", CreatedAt: at(created),
			CreatedBy: "operator:test"}
	}
	w1 := hook("w1", 2*time.Minute, "user.locked", "backup_code.used", "fraud.reported")
	w2 := hook("w2", time.Minute, "user.locked")
	w0 := hook("w0", 2*time.Minute, "fraud.reported") // ties with w1: ID decides
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return errors.Join(tx.CreateWebhook(ctx, w1), tx.CreateWebhook(ctx, w2),
			tx.CreateWebhook(ctx, w0))
	})
	stored := func(w store.Webhook) store.Webhook {
		w.Events = slices.Sorted(slices.Values(w.Events))
		w.CreatedAt = ms(w.CreatedAt)
		return w
	}
	got, err := s.Webhook(ctx, "w1")
	if err != nil {
		t.Fatalf("Webhook(w1) = %v", err)
	}
	if diff := cmp.Diff(stored(w1), got); diff != "" {
		t.Errorf("Webhook(w1) mismatch (-want +got):\n%s", diff)
	}
	list, err := s.ListWebhooks(ctx)
	if err != nil {
		t.Fatalf("ListWebhooks() = %v", err)
	}
	if diff := cmp.Diff([]store.Webhook{stored(w2), stored(w0), stored(w1)}, list); diff != "" {
		t.Errorf("ListWebhooks() mismatch (-want +got):\n%s", diff)
	}

	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateWebhook(ctx, hook("w1", time.Hour, "user.locked"))
	})
	wantErr(t, "CreateWebhook(ID taken)", err, store.ErrConflict)
	if got, _ := s.Webhook(ctx, "w1"); !cmp.Equal(got, stored(w1)) {
		t.Errorf("Webhook(w1) after a conflict = %+v, want it unchanged", got)
	}

	// Re-sealing replaces the secret only while it is under the old key.
	reseal := func(oldKey string) bool {
		return updated(t, s, func(ctx context.Context, tx store.Tx) (bool, error) {
			return tx.ResealWebhook(ctx, "w2", oldKey, []byte("resealed"), "k2")
		})
	}
	if !reseal("k1") || reseal("k1") {
		t.Errorf("ResealWebhook: want true under the old key, then false")
	}
	if got, _ := s.Webhook(ctx, "w2"); string(got.Secret) != "resealed" || got.KeyID != "k2" {
		t.Errorf("Webhook(w2) after reseal = %q under %s, want resealed under k2", got.Secret,
			got.KeyID)
	}

	// Deleting an endpoint leaves its deliveries, for the log.
	d := newDelivery("d1", "e1", "w1", at(0))
	d.Channel = store.ChannelWebhook
	createDeliveries(t, s, d)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteWebhook(ctx, "w1")
	})
	_, err = s.Webhook(ctx, "w1")
	wantErr(t, "Webhook(deleted)", err, store.ErrNotFound)
	err = txErr(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteWebhook(ctx, "w1")
	})
	wantErr(t, "DeleteWebhook(deleted)", err, store.ErrNotFound)
	if list, err := s.ListWebhooks(ctx); err != nil || len(list) != 2 {
		t.Errorf("ListWebhooks() after a delete = %d, %v; want 2", len(list), err)
	}
	if got := deliveriesOf(t, s, "e1"); len(got) != 1 {
		t.Errorf("deliveries of a deleted webhook = %v, want them kept", deliveryIDs(got))
	}
}
