package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store"
)

// newEvent returns an event with every field the service fills in.
func newEvent(i int, action, subject string, when time.Time) audit.Event {
	return audit.Event{
		ID:        fmt.Sprintf("ev-%04d", i),
		Time:      when,
		Action:    action,
		Outcome:   audit.Failure,
		Reason:    "wrong_code",
		Actor:     "token:t1 (vpn)",
		Subject:   subject,
		Source:    "192.0.2.7",
		FrontDoor: audit.DoorRADIUS,
		RequestID: fmt.Sprintf("req-%d", i),
		Factor:    "totp",
		Detail:    map[string]string{"i": fmt.Sprint(i), "note": "a \"quoted\" é"},
		KeyID:     "k1",
		MAC:       []byte{byte(i), byte(i >> 8), 0, 0xff},
	}
}

// appendEvents appends evs in one transaction and returns their Seqs.
func appendEvents(t *testing.T, s store.Store, evs ...audit.Event) []int64 {
	t.Helper()
	var seqs []int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, ev := range evs {
			seq, err := tx.AppendAudit(ctx, ev)
			if err != nil {
				return err
			}
			seqs = append(seqs, seq)
		}
		return nil
	})
	return seqs
}

func storedEvent(ev audit.Event, seq int64) audit.Event {
	ev.Seq = seq
	ev.Time = ms(ev.Time)
	return ev
}

// testLink is a stand-in for the audit package's chain: a hash over the
// previous link and the event, so that the suite can check that each link
// was computed from the one before it.
func testLink(prev audit.Link, ev audit.Event) (audit.Link, error) {
	h := sha256.New()
	h.Write(prev.MAC)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(prev.Seq)))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(ev.Seq)))
	h.Write(ev.MAC)
	return audit.Link{Seq: prev.Seq + 1, MAC: h.Sum(nil), KeyID: "chain-k1"}, nil
}

// scanAll returns every event in ScanAudit's order.
func scanAll(t *testing.T, s store.Store) []audit.Event {
	t.Helper()
	var evs []audit.Event
	err := s.ScanAudit(t.Context(), func(ev audit.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanAudit() = %v", err)
	}
	return evs
}

// checkChain checks that evs, in ScanAudit's order, are sealed events with
// links 1, 2, ... each computed by testLink from the one before, followed
// by unsealed events in Seq order, and that no Seq appears twice. It
// returns how many were sealed.
func checkChain(t *testing.T, evs []audit.Event) int {
	t.Helper()
	var prev audit.Link
	sealed := 0
	var lastUnsealed int64
	seen := make(map[int64]bool)
	for i, ev := range evs {
		if seen[ev.Seq] {
			t.Fatalf("ScanAudit event %d: Seq %d seen twice", i, ev.Seq)
		}
		seen[ev.Seq] = true
		if ev.Link == nil {
			if ev.Seq <= lastUnsealed {
				t.Fatalf("ScanAudit event %d: unsealed Seq %d after %d", i, ev.Seq, lastUnsealed)
			}
			lastUnsealed = ev.Seq
			continue
		}
		if lastUnsealed != 0 {
			t.Fatalf("ScanAudit event %d: sealed Seq %d after unsealed ones", i, ev.Seq)
		}
		bare := ev
		bare.Link = nil
		want, _ := testLink(prev, bare)
		if diff := cmp.Diff(want, *ev.Link); diff != "" {
			t.Fatalf("ScanAudit event %d (Seq %d) link mismatch (-want +got):\n%s", i, ev.Seq, diff)
		}
		prev = *ev.Link
		sealed++
	}
	return sealed
}

// sealAll seals until nothing is left and returns how many it sealed.
func sealAll(t *testing.T, s store.Store, limit int) int {
	t.Helper()
	total := 0
	for {
		n, err := s.SealAudit(t.Context(), limit, testLink)
		if err != nil {
			t.Fatalf("SealAudit(%d) = %v", limit, err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newEvent(1, "verify", "alice", at(time.Second))
	bare := audit.Event{ID: "ev-bare", Time: at(2 * time.Second), Action: "system.start",
		Outcome: audit.Success, FrontDoor: audit.DoorSystem, KeyID: "k1", MAC: []byte{1}}
	seqs := appendEvents(t, s, full, bare)
	if seqs[0] <= 0 || seqs[1] <= seqs[0] {
		t.Errorf("AppendAudit Seqs = %v, want positive and increasing", seqs)
	}

	t.Run("round trip", func(t *testing.T) {
		got, err := s.ListAudit(ctx, store.AuditQuery{})
		if err != nil {
			t.Fatalf("ListAudit() = %v", err)
		}
		want := []audit.Event{storedEvent(bare, seqs[1]), storedEvent(full, seqs[0])}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListAudit() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("increasing across transactions", func(t *testing.T) {
		more := appendEvents(t, s, newEvent(3, "verify", "bob", at(0)))
		if more[0] <= seqs[1] {
			t.Errorf("AppendAudit Seq = %d, want above %d", more[0], seqs[1])
		}
	})

	t.Run("rejected", func(t *testing.T) {
		linked := newEvent(4, "verify", "bob", at(0))
		linked.Link = &audit.Link{Seq: 1, MAC: []byte{1}, KeyID: "k1"}
		tests := []struct {
			name string
			ev   audit.Event
			want error // nil: any error
		}{
			{"already linked", linked, nil},
			{"ID taken", newEvent(1, "other", "carol", at(0)), store.ErrConflict},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := txErr(t, s, func(ctx context.Context, tx store.Tx) error {
					_, err := tx.AppendAudit(ctx, tt.ev)
					return err
				})
				if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
					t.Errorf("AppendAudit(%s) = %v, want an error (%v)", tt.ev.ID, err, tt.want)
				}
			})
		}
		got, err := s.ListAudit(ctx, store.AuditQuery{})
		if err != nil || len(got) != 3 {
			t.Errorf("ListAudit() = %d events, %v, want 3", len(got), err)
		}
	})
}

func testListAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	specs := []struct{ action, subject string }{
		{"verify", "alice"},        // 0
		{"user.create", "bob"},     // 1
		{"user.delete", "alice"},   // 2
		{"users.list", ""},         // 3
		{"user", "alice"},          // 4
		{"verify", "bob"},          // 5
		{"user-x", "alice"},        // 6
		{"user/x", "alice"},        // 7
		{"user.role.set", "alice"}, // 8
	}
	var evs []audit.Event
	for i, sp := range specs {
		evs = append(evs, newEvent(i, sp.action, sp.subject, at(time.Duration(i)*time.Minute)))
	}
	seqs := appendEvents(t, s, evs...)

	tests := []struct {
		name string
		q    store.AuditQuery
		want []int // indexes into specs, newest first
	}{
		{"all", store.AuditQuery{}, []int{8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"subject", store.AuditQuery{Subject: "bob"}, []int{5, 1}},
		{"action", store.AuditQuery{Action: "verify"}, []int{5, 0}},
		{"action without dot is exact", store.AuditQuery{Action: "user"}, []int{4}},
		{"action prefix", store.AuditQuery{Action: "user."}, []int{8, 2, 1}},
		{"longer prefix", store.AuditQuery{Action: "user.role."}, []int{8}},
		{"since is inclusive", store.AuditQuery{Since: at(6 * time.Minute)}, []int{8, 7, 6}},
		{"until is exclusive", store.AuditQuery{Until: at(2 * time.Minute)}, []int{1, 0}},
		{"window", store.AuditQuery{Since: at(2 * time.Minute), Until: at(4 * time.Minute)},
			[]int{3, 2}},
		{"before seq", store.AuditQuery{BeforeSeq: seqs[3]}, []int{2, 1, 0}},
		{"limit", store.AuditQuery{Limit: 2}, []int{8, 7}},
		{"next page", store.AuditQuery{BeforeSeq: seqs[7], Limit: 2}, []int{6, 5}},
		{"subject and prefix", store.AuditQuery{Subject: "alice", Action: "user."},
			[]int{8, 2}},
		{"everything", store.AuditQuery{Subject: "alice", Action: "user.",
			Since: at(time.Minute), Until: at(8 * time.Minute), BeforeSeq: seqs[8], Limit: 5},
			[]int{2}},
		{"no match", store.AuditQuery{Subject: "carol"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tt.q)
			if err != nil {
				t.Fatalf("ListAudit(%+v) = %v", tt.q, err)
			}
			var want []audit.Event
			for _, i := range tt.want {
				want = append(want, storedEvent(evs[i], seqs[i]))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ListAudit(%+v) mismatch (-want +got):\n%s", tt.q, diff)
			}
		})
	}

	t.Run("default limit", func(t *testing.T) {
		var more []audit.Event
		for i := range 105 {
			more = append(more, newEvent(100+i, "bulk", "dave", at(time.Hour)))
		}
		moreSeqs := appendEvents(t, s, more...)
		got, err := s.ListAudit(ctx, store.AuditQuery{Subject: "dave"})
		if err != nil {
			t.Fatalf("ListAudit(dave) = %v", err)
		}
		if len(got) != 100 || got[0].Seq != moreSeqs[104] || got[99].Seq != moreSeqs[5] {
			t.Errorf("ListAudit(dave) = %d events, want the newest 100", len(got))
		}
	})
}

func testSealAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	var evs []audit.Event
	for i := range 5 {
		evs = append(evs, newEvent(i, "verify", "alice", at(time.Duration(i)*time.Second)))
	}
	seqs := appendEvents(t, s, evs...)

	t.Run("in batches", func(t *testing.T) {
		var prevs []audit.Link
		var got []int64
		record := func(prev audit.Link, ev audit.Event) (audit.Link, error) {
			if ev.Link != nil {
				t.Errorf("link called with a sealed event %d", ev.Seq)
			}
			prevs = append(prevs, prev)
			got = append(got, ev.Seq)
			return testLink(prev, ev)
		}
		for _, want := range []int{3, 2, 0} {
			n, err := s.SealAudit(ctx, 3, record)
			if err != nil || n != want {
				t.Fatalf("SealAudit(3) = %d, %v, want %d", n, err, want)
			}
		}
		if diff := cmp.Diff(seqs, got); diff != "" {
			t.Errorf("events linked mismatch (-want +got):\n%s", diff)
		}
		if len(prevs) > 0 && !cmp.Equal(prevs[0], audit.Link{}) {
			t.Errorf("first link's prev = %+v, want the zero Link", prevs[0])
		}
		for i := 1; i < len(prevs); i++ {
			if prevs[i].Seq != int64(i) {
				t.Errorf("link %d's prev.Seq = %d, want %d", i+1, prevs[i].Seq, i)
			}
		}
	})

	t.Run("scan in chain order", func(t *testing.T) {
		all := scanAll(t, s)
		if n := checkChain(t, all); n != 5 || len(all) != 5 {
			t.Errorf("ScanAudit() = %d events, %d sealed, want 5 sealed", len(all), n)
		}
		listed, err := s.ListAudit(ctx, store.AuditQuery{Limit: 1})
		if err != nil || len(listed) != 1 {
			t.Fatalf("ListAudit(limit 1) = %v, %v", listed, err)
		}
		if diff := cmp.Diff(all[4], listed[0]); diff != "" {
			t.Errorf("ListAudit(limit 1) mismatch with ScanAudit (-want +got):\n%s", diff)
		}
	})

	t.Run("failed link seals nothing", func(t *testing.T) {
		appendEvents(t, s, newEvent(10, "verify", "bob", at(0)), newEvent(11, "verify", "bob", at(0)))
		errLink := errors.New("no key")
		calls := 0
		failing := func(prev audit.Link, ev audit.Event) (audit.Link, error) {
			calls++
			if calls == 2 {
				return audit.Link{}, errLink
			}
			return testLink(prev, ev)
		}
		n, err := s.SealAudit(ctx, 10, failing)
		if !errors.Is(err, errLink) || n != 0 {
			t.Errorf("SealAudit(failing) = %d, %v, want 0, %v", n, err, errLink)
		}
		all := scanAll(t, s)
		if n := checkChain(t, all); n != 5 || len(all) != 7 {
			t.Errorf("ScanAudit() = %d events, %d sealed, want 7 with 5 sealed", len(all), n)
		}
		if n := sealAll(t, s, 10); n != 2 {
			t.Errorf("SealAudit() sealed %d, want 2", n)
		}
		if n := checkChain(t, scanAll(t, s)); n != 7 {
			t.Errorf("ScanAudit() sealed = %d, want 7", n)
		}
	})

	t.Run("scan stops at error", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := s.ScanAudit(ctx, func(audit.Event) error {
			calls++
			if calls == 2 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) || calls != 2 {
			t.Errorf("ScanAudit(stop at 2) = %v after %d calls, want %v after 2", err, calls, errStop)
		}
	})

	t.Run("many, sealed and not", func(t *testing.T) {
		var many []audit.Event
		for i := range 1200 {
			many = append(many, newEvent(1000+i, "bulk", "carol", at(time.Hour)))
		}
		appendEvents(t, s, many...)
		n, err := s.SealAudit(ctx, 700, testLink)
		if err != nil || n != 700 {
			t.Fatalf("SealAudit(700) = %d, %v, want 700", n, err)
		}
		all := scanAll(t, s)
		if n := checkChain(t, all); n != 707 || len(all) != 1207 {
			t.Errorf("ScanAudit() = %d events, %d sealed, want 1207 with 707 sealed", len(all), n)
		}
	})
}
