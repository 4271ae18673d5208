package radius

import "sync/atomic"

// Reasons a packet is silently discarded, as Stats counts them.
const (
	// DropUnknownClient: the source address is no configured client's.
	DropUnknownClient = "unknown_client"
	// DropMalformed: a bad Length, an attribute that overruns the packet
	// or is too short, a repeated single attribute, a User-Password of
	// the wrong size, or an answer too big to send.
	DropMalformed = "malformed"
	// DropUnsupportedCode: anything but an Access-Request.
	DropUnsupportedCode = "unsupported_code"
	// DropMissingAuthenticator: no Message-Authenticator where the client
	// must send one.
	DropMissingAuthenticator = "message_authenticator_missing"
	// DropInvalidAuthenticator: a Message-Authenticator that is wrong for
	// the client's secret: a forgery, or a secret that differs.
	DropInvalidAuthenticator = "message_authenticator_invalid"
	// DropProxyStateWithoutAuthenticator: Proxy-State but no
	// Message-Authenticator from a client with limit_proxy_state.
	DropProxyStateWithoutAuthenticator = "proxy_state_without_message_authenticator"
	// DropDuplicateClash: a packet under the source, Identifier and
	// Request Authenticator of a recent request, but with other contents.
	DropDuplicateClash = "duplicate_clash"
	// DropServiceError: the service could not decide (its database is
	// down, say); the NAS retries or fails over.
	DropServiceError = "service_error"
)

// DropReasons lists every reason a packet is dropped, for metrics.
var DropReasons = []string{
	DropUnknownClient, DropMalformed, DropUnsupportedCode, DropMissingAuthenticator,
	DropInvalidAuthenticator, DropProxyStateWithoutAuthenticator, DropDuplicateClash,
	DropServiceError,
}

// Stats counts what a Server did since it was made.
type Stats struct {
	Received   uint64 // datagrams read
	Accepted   uint64 // Access-Accepts sent, retransmissions not counted
	Rejected   uint64 // Access-Rejects sent, likewise
	Challenged uint64 // Access-Challenges sent, likewise
	// Duplicates counts retransmissions, each answered with the first
	// answer (or, when the first got none, with none).
	Duplicates uint64
	// Dropped counts the packets discarded without an answer, by reason;
	// every reason in DropReasons is present.
	Dropped map[string]uint64
}

// counters are a Server's Stats while it runs.
type counters struct {
	received, accepted, rejected, challenged, duplicates atomic.Uint64
	dropped                                              [8]atomic.Uint64 // as DropReasons
}

func (c *counters) drop(reason string) {
	for i, r := range DropReasons {
		if r == reason {
			c.dropped[i].Add(1)
			return
		}
	}
	panic("radius: unknown drop reason " + reason)
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Received: c.received.Load(), Accepted: c.accepted.Load(), Rejected: c.rejected.Load(),
		Challenged: c.challenged.Load(), Duplicates: c.duplicates.Load(),
		Dropped: make(map[string]uint64, len(DropReasons)),
	}
	for i, r := range DropReasons {
		s.Dropped[r] = c.dropped[i].Load()
	}
	return s
}
