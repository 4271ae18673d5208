package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// testMACer is a MACer over an in-memory set of HMAC-SHA256 keys, so the
// audit tests need no key ring.
type testMACer struct {
	keys   map[string][]byte
	active string
}

var errTestUnknownKey = errors.New("test: unknown key")

func newTestMACer() *testMACer {
	return &testMACer{
		keys: map[string][]byte{
			"k1": []byte("first test key, 32 bytes long..."),
			"k2": []byte("second test key, 32 bytes long.."),
		},
		active: "k1",
	}
}

func (m *testMACer) MAC(msg []byte) ([]byte, string) {
	sum, _ := m.MACWith(m.active, msg)
	return sum, m.active
}

func (m *testMACer) MACWith(keyID string, msg []byte) ([]byte, error) {
	k, ok := m.keys[keyID]
	if !ok {
		return nil, errTestUnknownKey
	}
	h := hmac.New(sha256.New, k)
	h.Write(msg)
	return h.Sum(nil), nil
}

func sampleEvent() Event {
	return Event{
		Seq:       7,
		ID:        "01J9ZK3Q",
		Time:      time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC),
		Action:    "verify",
		Outcome:   Failure,
		Reason:    "wrong_code",
		Actor:     "radius:vpn1",
		Subject:   "u-42",
		Source:    "192.0.2.7",
		FrontDoor: DoorRADIUS,
		RequestID: "req-9",
		Factor:    "totp",
		Detail:    map[string]string{"window": "1", "credential": "c-1"},
	}
}

// goldenCanonical is Canonical(sampleEvent()). If this test fails, the
// encoding changed and every MAC already stored would stop verifying: bump
// the version tag and keep the old encoding for old events instead.
const goldenCanonical = "" +
	"136d666164206175646974206576656e74207631" + // tag (len 19)
	"0830314a395a4b3351" + // ID
	"0000018f4cbb3823" + // Time, Unix ms big-endian
	"06766572696679" + // Action
	"076661696c757265" + // Outcome
	"0a77726f6e675f636f6465" + // Reason
	"0b7261646975733a76706e31" + // Actor
	"04752d3432" + // Subject
	"093139322e302e322e37" + // Source
	"06726164697573" + // FrontDoor
	"057265712d39" + // RequestID
	"04746f7470" + // Factor
	"02" + // Detail entries
	"0a63726564656e7469616c" + "03632d31" + // credential=c-1
	"0677696e646f77" + "0131" // window=1

func TestCanonicalGolden(t *testing.T) {
	got := hex.EncodeToString(Canonical(sampleEvent()))
	if got != goldenCanonical {
		t.Errorf("Canonical(sampleEvent()) =\n%s\nwant\n%s", got, goldenCanonical)
	}
}

func TestCanonicalUnambiguous(t *testing.T) {
	tests := []struct {
		name string
		a, b func(*Event)
	}{
		{
			name: "bytes move between fields",
			a:    func(e *Event) { e.Action, e.Reason = "ab", "c" },
			b:    func(e *Event) { e.Action, e.Reason = "a", "bc" },
		},
		{
			name: "bytes move between detail key and value",
			a:    func(e *Event) { e.Detail = map[string]string{"ab": "c"} },
			b:    func(e *Event) { e.Detail = map[string]string{"a": "bc"} },
		},
		{
			name: "detail entry versus field text",
			a:    func(e *Event) { e.Factor, e.Detail = "x", nil },
			b:    func(e *Event) { e.Factor, e.Detail = "", map[string]string{"": "x"} },
		},
		{
			name: "empty value versus missing entry",
			a:    func(e *Event) { e.Detail = map[string]string{"k": ""} },
			b:    func(e *Event) { e.Detail = nil },
		},
		{
			name: "one millisecond apart",
			a:    func(e *Event) {},
			b:    func(e *Event) { e.Time = e.Time.Add(time.Millisecond) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := sampleEvent(), sampleEvent()
			tt.a(&a)
			tt.b(&b)
			if ca, cb := Canonical(a), Canonical(b); string(ca) == string(cb) {
				t.Errorf("Canonical(a) = Canonical(b) = %x, want different", ca)
			}
		})
	}
}

func TestCanonicalEqual(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Event)
	}{
		{"store-assigned Seq", func(e *Event) { e.Seq = 99 }},
		{"MAC fields", func(e *Event) { e.KeyID, e.MAC = "k2", []byte{1} }},
		{"link", func(e *Event) { e.Link = &Link{Seq: 3} }},
		{"sub-millisecond time", func(e *Event) { e.Time = e.Time.Add(999 * time.Microsecond) }},
		{"time zone", func(e *Event) { e.Time = e.Time.In(time.FixedZone("X", 3600)) }},
		{"detail rebuilt in another order", func(e *Event) {
			e.Detail = map[string]string{}
			e.Detail["window"] = "1"
			e.Detail["credential"] = "c-1"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := sampleEvent(), sampleEvent()
			tt.edit(&b)
			if ca, cb := Canonical(a), Canonical(b); string(ca) != string(cb) {
				t.Errorf("Canonical(edited) = %x, want %x", cb, ca)
			}
		})
	}
	empty, nilDetail := sampleEvent(), sampleEvent()
	empty.Detail, nilDetail.Detail = map[string]string{}, nil
	if string(Canonical(empty)) != string(Canonical(nilDetail)) {
		t.Errorf("Canonical differs for nil and empty Detail, want same")
	}
}

// notCovered lists the Event fields Canonical deliberately leaves out.
var notCovered = map[string]bool{"Seq": true, "KeyID": true, "MAC": true, "Link": true}

// TestCanonicalCoversEveryField fails when a field is added to Event without
// being added to Canonical (or to notCovered, with a reason).
func TestCanonicalCoversEveryField(t *testing.T) {
	typ := reflect.TypeFor[Event]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if notCovered[f.Name] {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			ev := sampleEvent()
			v := reflect.ValueOf(&ev).Elem().Field(i)
			switch {
			case f.Type.Kind() == reflect.String:
				v.SetString(v.String() + "x")
			case f.Type == reflect.TypeFor[time.Time]():
				v.Set(reflect.ValueOf(ev.Time.Add(time.Second)))
			case f.Type == reflect.TypeFor[map[string]string]():
				v.Set(reflect.ValueOf(map[string]string{"new": "entry"}))
			default:
				t.Fatalf("field %s of type %s is new: cover it in Canonical and here",
					f.Name, f.Type)
			}
			if string(Canonical(ev)) == string(Canonical(sampleEvent())) {
				t.Errorf("Canonical ignores a change to %s, want it covered", f.Name)
			}
		})
	}
}

// fieldEdits changes one content field each, as someone editing a row would.
var fieldEdits = []struct {
	name string
	edit func(*Event)
}{
	{"ID", func(e *Event) { e.ID += "0" }},
	{"Time", func(e *Event) { e.Time = e.Time.Add(-time.Hour) }},
	{"Action", func(e *Event) { e.Action = "verify.other" }},
	{"Outcome", func(e *Event) { e.Outcome = Denied }},
	{"Reason", func(e *Event) { e.Reason = "replay" }},
	{"Actor", func(e *Event) { e.Actor = "cli:root" }},
	{"Subject", func(e *Event) { e.Subject = "u-admin" }},
	{"Source", func(e *Event) { e.Source = "198.51.100.1" }},
	{"FrontDoor", func(e *Event) { e.FrontDoor = DoorAPI }},
	{"RequestID", func(e *Event) { e.RequestID = "req-0" }},
	{"Factor", func(e *Event) { e.Factor = "backup_code" }},
	{"Detail value", func(e *Event) { e.Detail = map[string]string{"window": "9"} }},
	{"Detail added", func(e *Event) {
		e.Detail = map[string]string{"window": "1", "note": "x"}
	}},
	{"Detail removed", func(e *Event) { e.Detail = nil }},
}

func TestSignCheckEvent(t *testing.T) {
	m := newTestMACer()
	ev := sampleEvent()
	ev.Detail = map[string]string{"window": "1"}
	Sign(m, &ev)
	if ev.KeyID != "k1" || len(ev.MAC) != sha256.Size {
		t.Fatalf("Sign: KeyID, len(MAC) = %q, %d, want %q, %d", ev.KeyID, len(ev.MAC), "k1", 32)
	}
	if err := CheckEvent(m, ev); err != nil {
		t.Fatalf("CheckEvent(signed) = %v, want nil", err)
	}

	// A key rotation must not invalidate events signed under the old key.
	m.active = "k2"
	if err := CheckEvent(m, ev); err != nil {
		t.Errorf("CheckEvent(signed under k1) after rotation = %v, want nil", err)
	}

	for _, tt := range fieldEdits {
		t.Run(tt.name, func(t *testing.T) {
			bad := ev
			tt.edit(&bad)
			if err := CheckEvent(m, bad); !errors.Is(err, ErrBadMAC) {
				t.Errorf("CheckEvent(edited %s) = %v, want %v", tt.name, err, ErrBadMAC)
			}
		})
	}

	noMAC := ev
	noMAC.MAC = nil
	if err := CheckEvent(m, noMAC); !errors.Is(err, ErrNoMAC) {
		t.Errorf("CheckEvent(no MAC) = %v, want %v", err, ErrNoMAC)
	}
	otherKey := ev
	otherKey.KeyID = "k2"
	if err := CheckEvent(m, otherKey); !errors.Is(err, ErrBadMAC) {
		t.Errorf("CheckEvent(KeyID changed) = %v, want %v", err, ErrBadMAC)
	}
	unknown := ev
	unknown.KeyID = "k9"
	if err := CheckEvent(m, unknown); !errors.Is(err, errTestUnknownKey) {
		t.Errorf("CheckEvent(unknown key) = %v, want %v", err, errTestUnknownKey)
	}
}

func TestNextLink(t *testing.T) {
	m := newTestMACer()
	ev := sampleEvent()
	Sign(m, &ev)

	first, err := NextLink(m, Link{}, ev)
	if err != nil {
		t.Fatalf("NextLink(zero, ev) error = %v", err)
	}
	msg := slices.Concat([]byte("\x12mfad audit link v1\x20"), make([]byte, 32),
		[]byte{0, 0, 0, 0, 0, 0, 0, 1, 32}, ev.MAC)
	want, _ := m.MACWith("k1", msg)
	if first.Seq != 1 || first.KeyID != "k1" || !hmac.Equal(first.MAC, want) {
		t.Errorf("NextLink(zero, ev) = {%d %x %q}, want {1 %x k1}",
			first.Seq, first.MAC, first.KeyID, want)
	}

	second, err := NextLink(m, first, ev)
	if err != nil {
		t.Fatalf("NextLink(first, ev) error = %v", err)
	}
	if second.Seq != 2 || hmac.Equal(second.MAC, first.MAC) {
		t.Errorf("NextLink(first, ev) = {%d %x}, want Seq 2 and a new MAC", second.Seq, second.MAC)
	}

	errTests := []struct {
		name string
		prev Link
		ev   Event
	}{
		{"event without MAC", Link{}, Event{Seq: 1}},
		{"previous link without MAC", Link{Seq: 4}, ev},
		{"negative previous Seq", Link{Seq: -1, MAC: first.MAC}, ev},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := NextLink(m, tt.prev, tt.ev); err == nil {
				t.Errorf("NextLink(%v, ev) = %v, nil, want an error", tt.prev, got)
			}
		})
	}
}

// buildLog returns sealed+unsealed signed events with Seq 1, 2, ...; the
// first sealed are chained. From event rotateAt on, rows and links are made
// under a second key, as after a key rotation.
func buildLog(t *testing.T, m *testMACer, sealed, unsealed, rotateAt int) []Event {
	t.Helper()
	m.active = "k1"
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var prev Link
	var evs []Event
	for i := 1; i <= sealed+unsealed; i++ {
		if i == rotateAt {
			m.active = "k2"
		}
		ev := Event{
			Seq:       int64(i),
			ID:        fmt.Sprintf("ev-%03d", i),
			Time:      base.Add(time.Duration(i) * time.Second),
			Action:    "verify",
			Outcome:   Success,
			Reason:    "ok",
			Actor:     "radius:vpn1",
			Subject:   fmt.Sprintf("u-%d", i%3),
			Source:    "192.0.2.7",
			FrontDoor: DoorRADIUS,
			RequestID: fmt.Sprintf("req-%d", i),
			Factor:    "totp",
			Detail:    map[string]string{"window": "0"},
		}
		Sign(m, &ev)
		if i <= sealed {
			link, err := NextLink(m, prev, ev)
			if err != nil {
				t.Fatalf("NextLink(%d) error = %v", i, err)
			}
			ev.Link, prev = &link, link
		}
		evs = append(evs, ev)
	}
	return evs
}

// cloneLog deep-copies events so a tampering case cannot disturb another.
func cloneLog(evs []Event) []Event {
	out := make([]Event, len(evs))
	for i, ev := range evs {
		ev.MAC = slices.Clone(ev.MAC)
		if ev.Link != nil {
			l := *ev.Link
			l.MAC = slices.Clone(l.MAC)
			ev.Link = &l
		}
		out[i] = ev
	}
	return out
}

func runChecker(m MACer, evs []Event) (Result, int) {
	c := NewChecker(m)
	errs := 0
	for _, ev := range evs {
		if err := c.Add(ev); err != nil {
			errs++
		}
	}
	return c.Result(), errs
}

func TestCheckerClean(t *testing.T) {
	m := newTestMACer()
	evs := buildLog(t, m, 6, 2, 4)

	keys := map[string]bool{}
	for _, ev := range evs {
		keys["row "+ev.KeyID] = true
		if ev.Link != nil {
			keys["link "+ev.Link.KeyID] = true
		}
	}
	if len(keys) != 4 {
		t.Fatalf("log uses keys %v, want rows and links under both k1 and k2", keys)
	}

	got, errs := runChecker(m, evs)
	want := Result{Events: 8, Sealed: 6, Unsealed: 2, Head: *evs[5].Link}
	if errs != 0 || !got.OK() || got.Events != want.Events || got.Sealed != want.Sealed ||
		got.Unsealed != want.Unsealed || got.Breaks != 0 || got.Head.Seq != want.Head.Seq ||
		got.Head.KeyID != want.Head.KeyID || !hmac.Equal(got.Head.MAC, want.Head.MAC) {
		t.Errorf("Checker on a clean log = %+v (%d errors), want %+v", got, errs, want)
	}

	empty := NewChecker(m).Result()
	if !empty.OK() || empty.Events != 0 || empty.Head.Seq != 0 {
		t.Errorf("Checker on an empty log = %+v, want OK with no events", empty)
	}
}

func TestCheckerTampering(t *testing.T) {
	type tamperCase struct {
		name       string
		tamper     func([]Event) []Event
		wantSeq    int64 // Seq of the first broken event
		wantLink   int64 // its Link.Seq
		wantKind   BreakKind
		wantBreaks int64
		wantEvents int64
	}
	// The log: events 1 to 6 sealed (rotation to k2 at event 4), 7 and 8 not.
	tests := []tamperCase{
		{
			name:       "delete a middle sealed event",
			tamper:     func(evs []Event) []Event { return slices.Delete(evs, 2, 3) },
			wantSeq:    4,
			wantLink:   4,
			wantKind:   BreakChain,
			wantBreaks: 1,
			wantEvents: 7,
		},
		{
			name:       "delete the first event",
			tamper:     func(evs []Event) []Event { return evs[1:] },
			wantSeq:    2,
			wantLink:   2,
			wantKind:   BreakChain,
			wantBreaks: 1,
			wantEvents: 7,
		},
		{
			name: "swap two sealed events",
			tamper: func(evs []Event) []Event {
				evs[2], evs[3] = evs[3], evs[2]
				return evs
			},
			wantSeq:    4,
			wantLink:   4,
			wantKind:   BreakChain,
			wantBreaks: 3,
			wantEvents: 8,
		},
		{
			name: "swap the contents of two sealed rows",
			tamper: func(evs []Event) []Event {
				// Each row keeps its place in the chain but carries the
				// other's content and row MAC.
				evs[2], evs[3] = evs[3], evs[2]
				evs[2].Link, evs[3].Link = evs[3].Link, evs[2].Link
				return evs
			},
			wantSeq:    4,
			wantLink:   3,
			wantKind:   BreakChain,
			wantBreaks: 2,
			wantEvents: 8,
		},
		{
			name: "insert a forged event and renumber the links after it",
			tamper: func(evs []Event) []Event {
				forged := evs[2]
				forged.Seq, forged.ID, forged.Subject = 99, "forged", "u-admin"
				forged.MAC = slices.Repeat([]byte{0xaa}, 32)
				forged.Link = &Link{Seq: 4, MAC: slices.Repeat([]byte{0xbb}, 32), KeyID: "k1"}
				for i := 3; i < 6; i++ {
					evs[i].Link.Seq++
				}
				return slices.Insert(evs, 3, forged)
			},
			wantSeq:    99,
			wantLink:   4,
			wantKind:   BreakEdited,
			wantBreaks: 4,
			wantEvents: 9,
		},
		{
			name: "insert an event re-signed under a guessed key",
			tamper: func(evs []Event) []Event {
				fake := &testMACer{keys: map[string][]byte{"k1": make([]byte, 32)}, active: "k1"}
				forged := evs[2]
				forged.Seq, forged.ID = 99, "forged"
				Sign(fake, &forged)
				link, _ := NextLink(fake, *evs[2].Link, forged)
				forged.Link = &link
				return slices.Insert(evs, 3, forged)
			},
			wantSeq:    99,
			wantLink:   4,
			wantKind:   BreakEdited,
			wantBreaks: 2,
			wantEvents: 9,
		},
		{
			name: "change a link MAC",
			tamper: func(evs []Event) []Event {
				evs[4].Link.MAC[0] ^= 1
				return evs
			},
			wantSeq:    5,
			wantLink:   5,
			wantKind:   BreakChain,
			wantBreaks: 2,
			wantEvents: 8,
		},
		{
			name: "renumber a link",
			tamper: func(evs []Event) []Event {
				evs[4].Link.Seq = 7
				return evs
			},
			wantSeq:    5,
			wantLink:   7,
			wantKind:   BreakChain,
			wantBreaks: 2,
			wantEvents: 8,
		},
		{
			name: "remove a row MAC",
			tamper: func(evs []Event) []Event {
				evs[1].MAC = nil
				return evs
			},
			wantSeq:    2,
			wantLink:   2,
			wantKind:   BreakEdited,
			wantBreaks: 1,
			wantEvents: 8,
		},
		{
			name: "edit an unsealed event",
			tamper: func(evs []Event) []Event {
				evs[7].Outcome = Failure
				return evs
			},
			wantSeq:    8,
			wantLink:   0,
			wantKind:   BreakEdited,
			wantBreaks: 1,
			wantEvents: 8,
		},
		{
			name: "sealed event after unsealed ones",
			tamper: func(evs []Event) []Event {
				evs[5], evs[6] = evs[6], evs[5]
				return evs
			},
			wantSeq:    6,
			wantLink:   6,
			wantKind:   BreakOrder,
			wantBreaks: 1,
			wantEvents: 8,
		},
		{
			name: "row under an unknown key",
			tamper: func(evs []Event) []Event {
				evs[1].KeyID = "k9"
				return evs
			},
			wantSeq:    2,
			wantLink:   2,
			wantKind:   BreakKey,
			wantBreaks: 1,
			wantEvents: 8,
		},
		{
			name: "link under an unknown key",
			tamper: func(evs []Event) []Event {
				evs[3].Link.KeyID = "k9"
				return evs
			},
			wantSeq:    4,
			wantLink:   4,
			wantKind:   BreakKey,
			wantBreaks: 1,
			wantEvents: 8,
		},
	}
	for _, f := range fieldEdits {
		tests = append(tests, tamperCase{
			name: "edit " + f.name + " of a sealed event",
			tamper: func(evs []Event) []Event {
				f.edit(&evs[2])
				return evs
			},
			wantSeq:    3,
			wantLink:   3,
			wantKind:   BreakEdited,
			wantBreaks: 1,
			wantEvents: 8,
		})
	}

	m := newTestMACer()
	clean := buildLog(t, m, 6, 2, 4)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := runChecker(m, tt.tamper(cloneLog(clean)))
			if got.OK() {
				t.Fatalf("Checker(%s) = OK, want a break", tt.name)
			}
			b := got.First
			if b.Seq != tt.wantSeq || b.LinkSeq != tt.wantLink || b.Kind != tt.wantKind {
				t.Errorf("Checker(%s) first break = event %d link %d %q, want event %d link %d %q",
					tt.name, b.Seq, b.LinkSeq, b.Kind, tt.wantSeq, tt.wantLink, tt.wantKind)
			}
			if got.Breaks != tt.wantBreaks || int64(errs) != tt.wantBreaks {
				t.Errorf("Checker(%s) breaks = %d (Add errors %d), want %d",
					tt.name, got.Breaks, errs, tt.wantBreaks)
			}
			if got.Events != tt.wantEvents {
				t.Errorf("Checker(%s) events = %d, want %d", tt.name, got.Events, tt.wantEvents)
			}
			msg := b.Error()
			if !strings.Contains(msg, fmt.Sprintf("event %d", tt.wantSeq)) ||
				!strings.Contains(msg, tt.wantKind.String()) {
				t.Errorf("BreakError.Error() = %q, want it to name event %d and %q",
					msg, tt.wantSeq, tt.wantKind)
			}
		})
	}
}

func TestBreakErrorUnwrap(t *testing.T) {
	m := newTestMACer()
	evs := buildLog(t, m, 2, 0, 0)
	evs[0].KeyID = "k9"
	err := NewChecker(m).Add(evs[0])
	var brk *BreakError
	if !errors.As(err, &brk) || !errors.Is(err, errTestUnknownKey) {
		t.Errorf("Add(unknown key) = %v, want a *BreakError wrapping %v", err, errTestUnknownKey)
	}
}
