// Package audit defines audit events and the keyed hash chain that makes the
// audit log tamper-evident. It is pure: it computes and checks MACs over
// events handed to it and does no I/O.
package audit

import "time"

// Outcome says how an audited action ended.
type Outcome string

// Outcomes of audited actions.
const (
	Success Outcome = "success" // the action happened
	Failure Outcome = "failure" // a verification was refused
	Denied  Outcome = "denied"  // the actor was not allowed to act
)

// Front doors through which an action arrived.
const (
	DoorAPI    = "api"
	DoorCLI    = "cli"
	DoorRADIUS = "radius"
	DoorWeb    = "web"
	DoorSystem = "system"
)

// Event is one audited action. The store assigns Seq; the service fills in
// everything else and computes MAC before the event is written. The sealer
// fills in Link later, when it chains the event to its predecessor.
type Event struct {
	Seq       int64     // assigned by the store, increasing in insertion order
	ID        string    // random and unique; binds the MAC to this row
	Time      time.Time // when the action happened (millisecond precision)
	Action    string    // what happened, such as "verify" or "user.create"
	Outcome   Outcome   // how it ended
	Reason    string    // why, as a stable word such as "wrong_code" or "replay"
	Actor     string    // who acted, such as "token:abc (deploy)" or "cli:root"
	Subject   string    // the user the action concerns, if any
	Source    string    // client address, or "local" for the CLI
	FrontDoor string    // api, cli, radius, web or system
	RequestID string    // the request that caused it, if any
	Factor    string    // the factor involved, such as "totp", if any
	Detail    map[string]string

	KeyID string // key ring key under which MAC was computed
	MAC   []byte // keyed MAC over the fields above; detects edits to the row

	Link *Link // nil until the sealer has chained the event
}

// Link places a sealed event in the chain: its position and a keyed MAC over
// its predecessor's link MAC and its own row MAC. Deleting, inserting or
// reordering sealed events breaks the chain at that point.
type Link struct {
	Seq   int64  // position in the chain, from 1, without gaps
	MAC   []byte // HMAC(key, previous link MAC || Seq || event MAC)
	KeyID string // key ring key under which MAC was computed
}
