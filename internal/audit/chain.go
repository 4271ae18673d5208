package audit

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// MACer computes keyed MACs for the audit log. The key ring provides one; the
// audit package never sees key bytes. Implementations must be safe for
// concurrent use.
type MACer interface {
	// MAC returns the MAC of msg under the active key and that key's ID.
	MAC(msg []byte) (sum []byte, keyID string)
	// MACWith returns the MAC of msg under the key with the given ID, or an
	// error if that key is not available.
	MACWith(keyID string, msg []byte) ([]byte, error)
}

// Errors from checking a single event or link.
var (
	ErrNoMAC  = errors.New("audit: event has no MAC")
	ErrBadMAC = errors.New("audit: MAC does not match")
)

// Domain-separation tags. The row MAC and the link MAC are made under the
// same key purpose, so each message starts with its own tag: no event
// encoding can be mistaken for a link message or the other way round.
const (
	eventTag = "mfad audit event v1"
	linkTag  = "mfad audit link v1"
)

// Canonical returns the byte encoding of ev's content that its MAC covers:
// a version tag, then ID, Time in Unix milliseconds, Action, Outcome, Reason,
// Actor, Subject, Source, FrontDoor, RequestID, Factor, and Detail sorted by
// key. Every string and the number of Detail entries carry a length prefix
// (unsigned varint), and the time is 8 bytes big-endian, so two events that
// differ in any of these fields never encode the same.
//
// Seq, KeyID, MAC and Link are not covered: the store assigns Seq after the
// MAC is computed, and the chain covers order. Time counts only to the
// millisecond, as the store keeps it, and a nil Detail encodes the same as an
// empty one, since a store cannot tell them apart either.
func Canonical(ev Event) []byte {
	b := make([]byte, 0, 128)
	b = appendString(b, eventTag)
	b = appendString(b, ev.ID)
	b = binary.BigEndian.AppendUint64(b, uint64(ev.Time.UnixMilli()))
	for _, s := range []string{
		ev.Action, string(ev.Outcome), ev.Reason, ev.Actor, ev.Subject,
		ev.Source, ev.FrontDoor, ev.RequestID, ev.Factor,
	} {
		b = appendString(b, s)
	}

	keys := make([]string, 0, len(ev.Detail))
	for k := range ev.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, ev.Detail[k])
	}
	return b
}

// appendString appends s with its length as an unsigned varint before it.
func appendString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Sign computes ev's row MAC under m's active key and stores it, with the
// key's ID, in ev.MAC and ev.KeyID.
func Sign(m MACer, ev *Event) {
	ev.MAC, ev.KeyID = m.MAC(Canonical(*ev))
}

// CheckEvent reports whether ev's row MAC matches its content: nil if it
// does, ErrNoMAC or ErrBadMAC if not, or the MACer's error (wrapped) if the
// key ev.KeyID names is not available.
func CheckEvent(m MACer, ev Event) error {
	if len(ev.MAC) == 0 {
		return ErrNoMAC
	}
	want, err := m.MACWith(ev.KeyID, Canonical(ev))
	if err != nil {
		return fmt.Errorf("audit: row key %q: %w", ev.KeyID, err)
	}
	if !hmac.Equal(ev.MAC, want) {
		return ErrBadMAC
	}
	return nil
}

// NextLink chains ev after prev: the new link has Seq prev.Seq+1 and a MAC,
// under m's active key, over prev.MAC (32 zero bytes when prev is the zero
// Link, before the first event), the new Seq and ev.MAC. Because each link
// covers its predecessor's, deleting, inserting or reordering sealed events
// changes every link after the change.
func NextLink(m MACer, prev Link, ev Event) (Link, error) {
	if len(ev.MAC) == 0 {
		return Link{}, fmt.Errorf("audit: chaining event %d: %w", ev.Seq, ErrNoMAC)
	}
	if prev.Seq < 0 || (prev.Seq > 0 && len(prev.MAC) == 0) {
		return Link{}, fmt.Errorf("audit: chaining event %d: previous link %d has no MAC",
			ev.Seq, prev.Seq)
	}
	seq := prev.Seq + 1
	sum, keyID := m.MAC(linkMessage(prev, seq, ev.MAC))
	if len(sum) == 0 {
		return Link{}, fmt.Errorf("audit: chaining event %d: no MAC from the key ring", ev.Seq)
	}
	return Link{Seq: seq, MAC: sum, KeyID: keyID}, nil
}

// checkLink reports whether link correctly follows prev for an event whose
// row MAC is eventMAC, with the same errors as CheckEvent.
func checkLink(m MACer, prev Link, link Link, eventMAC []byte) error {
	if len(link.MAC) == 0 {
		return ErrNoMAC
	}
	want, err := m.MACWith(link.KeyID, linkMessage(prev, link.Seq, eventMAC))
	if err != nil {
		return fmt.Errorf("audit: link key %q: %w", link.KeyID, err)
	}
	if !hmac.Equal(link.MAC, want) {
		return ErrBadMAC
	}
	return nil
}

// linkMessage is the message a link MAC covers.
func linkMessage(prev Link, seq int64, eventMAC []byte) []byte {
	prevMAC := prev.MAC
	if prev.Seq == 0 {
		// Before the first event there is no predecessor: 32 zero bytes
		// stand in for its link MAC.
		prevMAC = make([]byte, 32)
	}
	b := make([]byte, 0, len(linkTag)+len(prevMAC)+len(eventMAC)+16)
	b = appendString(b, linkTag)
	b = appendString(b, prevMAC)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	return appendString(b, eventMAC)
}
