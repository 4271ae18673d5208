package audit

import (
	"errors"
	"fmt"
	"slices"
)

// BreakKind says what a failed check means.
type BreakKind int

// Kinds of break the Checker reports.
const (
	// BreakEdited: the row MAC does not match the event's content, so the
	// row was edited after it was written, or forged.
	BreakEdited BreakKind = iota + 1
	// BreakChain: the link MAC does not match, or the link numbers have a
	// gap, so sealed events were deleted, inserted or reordered.
	BreakChain
	// BreakOrder: a sealed event came after unsealed ones.
	BreakOrder
	// BreakKey: the key a MAC was made under is not in the key ring, so the
	// event cannot be checked.
	BreakKey
)

// String returns a short operator-readable name for the kind.
func (k BreakKind) String() string {
	switch k {
	case BreakEdited:
		return "edited"
	case BreakChain:
		return "chain broken"
	case BreakOrder:
		return "out of order"
	case BreakKey:
		return "unknown key"
	}
	return fmt.Sprintf("BreakKind(%d)", int(k))
}

// BreakError describes an event that failed a check.
type BreakError struct {
	Seq     int64     // the event's Seq
	LinkSeq int64     // the event's Link.Seq, or 0 if it is not sealed
	Kind    BreakKind // what the failure means
	Why     string    // what was found, for an operator
	Err     error     // the underlying error, if any
}

// Error returns a one-line description naming the event and the failure.
func (e *BreakError) Error() string {
	where := fmt.Sprintf("event %d", e.Seq)
	if e.LinkSeq != 0 {
		where += fmt.Sprintf(" (link %d)", e.LinkSeq)
	}
	return fmt.Sprintf("audit: %s: %s: %s", where, e.Kind, e.Why)
}

// Unwrap returns the underlying error.
func (e *BreakError) Unwrap() error { return e.Err }

// Result summarises a check of the whole audit log.
type Result struct {
	Events   int64       // events checked
	Sealed   int64       // of which chained
	Unsealed int64       // of which not chained yet
	Head     Link        // link of the last sealed event; zero if none
	Breaks   int64       // events that failed a check
	First    *BreakError // the first failure, or nil if none
}

// OK reports whether every event passed.
func (r Result) OK() bool { return r.First == nil }

// Checker verifies an audit log streamed to it one event at a time, as
// store.Reader.ScanAudit delivers it: sealed events in chain order, then
// unsealed events in Seq order. It checks every row MAC, and for sealed
// events that the links run 1, 2, 3... without gaps and that each link MAC
// covers its predecessor.
//
// NOTE: a chain checked on its own cannot show that events were cut from its
// end (the last sealed events deleted, or their links cleared so they look
// unsealed). Compare Result.Head with a head recorded earlier, outside the
// database, to detect that.
//
// A Checker is not safe for concurrent use.
type Checker struct {
	m           MACer
	prev        Link
	sawUnsealed bool
	res         Result
}

// NewChecker returns a Checker that checks MACs with m.
func NewChecker(m MACer) *Checker {
	return &Checker{m: m}
}

// Add checks the next event. It returns a *BreakError if the event fails a
// check, and nil otherwise. Checking continues after a failure: the next
// event is checked against this one's link as stored, so one deletion shows
// as one break, not a break at every later event.
func (c *Checker) Add(ev Event) error {
	c.res.Events++
	brk := c.check(ev)
	if ev.Link != nil {
		c.res.Sealed++
		c.prev = Link{Seq: ev.Link.Seq, MAC: slices.Clone(ev.Link.MAC), KeyID: ev.Link.KeyID}
		c.res.Head = c.prev
	} else {
		c.res.Unsealed++
		c.sawUnsealed = true
	}
	if brk == nil {
		return nil
	}

	c.res.Breaks++
	if c.res.First == nil {
		c.res.First = brk
	}
	return brk
}

// check returns the first failure of ev, or nil.
func (c *Checker) check(ev Event) *BreakError {
	brk := func(kind BreakKind, err error, format string, args ...any) *BreakError {
		b := &BreakError{Seq: ev.Seq, Kind: kind, Why: fmt.Sprintf(format, args...), Err: err}
		if ev.Link != nil {
			b.LinkSeq = ev.Link.Seq
		}
		return b
	}

	if err := CheckEvent(c.m, ev); err != nil {
		switch {
		case errors.Is(err, ErrNoMAC):
			return brk(BreakEdited, err, "the row has no MAC: it was edited or forged")
		case errors.Is(err, ErrBadMAC):
			return brk(BreakEdited, err,
				"the row MAC does not match its content: it was edited or forged")
		}
		return brk(BreakKey, err, "cannot check the row MAC: key %q is not in the key ring",
			ev.KeyID)
	}
	if ev.Link == nil {
		return nil
	}

	if c.sawUnsealed {
		return brk(BreakOrder, nil, "a sealed event follows unsealed ones")
	}
	want := c.prev.Seq + 1
	if ev.Link.Seq != want {
		return brk(BreakChain, nil,
			"expected link %d after link %d: sealed events were deleted, inserted or reordered",
			want, c.prev.Seq)
	}
	if err := checkLink(c.m, c.prev, *ev.Link, ev.MAC); err != nil {
		if errors.Is(err, ErrNoMAC) || errors.Is(err, ErrBadMAC) {
			return brk(BreakChain, err, "the link MAC does not follow from the previous link: "+
				"sealed events were deleted, inserted or reordered")
		}
		return brk(BreakKey, err, "cannot check the link MAC: key %q is not in the key ring",
			ev.Link.KeyID)
	}
	return nil
}

// Result returns the summary of the events added so far.
func (c *Checker) Result() Result {
	r := c.res
	r.Head.MAC = slices.Clone(r.Head.MAC)
	return r
}
