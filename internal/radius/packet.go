package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"net/netip"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3162"
	"layeh.com/radius/vendors/microsoft"
)

// headerLen is the size of the RADIUS header: Code, Identifier, Length and
// Authenticator (RFC 2865 §3).
const headerLen = 20

// authenticatorLen is the size of the Message-Authenticator's value, an
// HMAC-MD5 (RFC 3579 §3.2).
const authenticatorLen = md5.Size

var errMalformed = errors.New("malformed packet")

// wirePacket is a packet whose lengths and attributes are sound.
type wirePacket struct {
	raw []byte // the packet, exactly Length octets; padding cut off
	*radius.Packet
	// maOffset is where the Message-Authenticator's value starts in raw,
	// or -1 when the packet has none.
	maOffset int
	counts   [256]int // how many attributes of each type it carries
}

// parseWire checks the header and walks the attributes of b. Octets past
// Length are padding and ignored (RFC 2865 §3); a Length below 20 or past
// the datagram, and an attribute that runs past Length or is shorter than
// its own header, make the packet malformed, to be silently discarded.
func parseWire(b []byte, secret []byte) (*wirePacket, error) {
	if len(b) < headerLen {
		return nil, errMalformed
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen || n > radius.MaxPacketLength || n > len(b) {
		return nil, errMalformed
	}
	w := &wirePacket{raw: b[:n], maOffset: -1}
	for i := headerLen; i < n; {
		if n-i < 2 {
			return nil, errMalformed
		}
		typ, l := b[i], int(b[i+1])
		if l < 2 || i+l > n {
			return nil, errMalformed
		}
		if radius.Type(typ) == rfc2869.MessageAuthenticator_Type {
			// RFC 3579 §3.2: its value is 16 octets.
			if l != 2+authenticatorLen {
				return nil, errMalformed
			}
			w.maOffset = i + 2
		}
		w.counts[typ]++
		i += l
	}
	// RFC 2865 §5.44 and RFC 3579 §3.3: at most one of each of these.
	for _, t := range []radius.Type{rfc2865.UserName_Type, rfc2865.UserPassword_Type,
		rfc2865.CHAPPassword_Type, rfc2865.State_Type, rfc2869.MessageAuthenticator_Type} {
		if w.counts[t] > 1 {
			return nil, errMalformed
		}
	}
	p, err := radius.Parse(w.raw, secret)
	if err != nil {
		return nil, errMalformed
	}
	w.Packet = p
	return w, nil
}

// has reports whether the packet carries an attribute of type t.
func (w *wirePacket) has(t radius.Type) bool { return w.counts[t] > 0 }

// messageAuthenticator returns the Message-Authenticator of packet b: the
// HMAC-MD5 keyed with the shared secret over the whole packet, with the
// 16 octets of the attribute's value at offset taken as zero (RFC 3579
// §3.2). For a request, the Authenticator field of b holds the Request
// Authenticator; for a response it must hold the Request Authenticator of
// the request it answers, not yet the Response Authenticator.
func messageAuthenticator(b []byte, offset int, secret []byte) [authenticatorLen]byte {
	var zero, sum [authenticatorLen]byte
	m := hmac.New(md5.New, secret)
	m.Write(b[:offset])
	m.Write(zero[:])
	m.Write(b[offset+authenticatorLen:])
	m.Sum(sum[:0])
	return sum
}

// validMessageAuthenticator reports whether the packet's
// Message-Authenticator is right for secret. It compares in constant
// time.
func (w *wirePacket) validMessageAuthenticator(secret []byte) bool {
	if w.maOffset < 0 {
		return false
	}
	want := messageAuthenticator(w.raw, w.maOffset, secret)
	return hmac.Equal(want[:], w.raw[w.maOffset:w.maOffset+authenticatorLen])
}

// nonPAP names the authentication method of a request that is not PAP,
// or returns "".
func (w *wirePacket) nonPAP() string {
	switch {
	case w.has(rfc2865.CHAPPassword_Type):
		return "chap"
	case w.has(rfc2869.EAPMessage_Type):
		return "eap"
	case w.has(rfc2869.ARAPPassword_Type):
		return "arap"
	}
	// The MS-CHAP attributes are Microsoft vendor attributes (RFC 2548
	// §2.3); one of the wrong length is still there.
	present := func(_ []byte, err error) bool { return !errors.Is(err, radius.ErrNoAttribute) }
	switch {
	case present(microsoft.MSCHAP2Response_Lookup(w.Packet)):
		return "mschapv2"
	case present(microsoft.MSCHAPResponse_Lookup(w.Packet)),
		present(microsoft.MSCHAPChallenge_Lookup(w.Packet)):
		return "mschap"
	}
	return ""
}

// password returns the decrypted User-Password (RFC 2865 §5.2), or "" when
// the request has none. A value of the wrong length makes the packet
// malformed.
func (w *wirePacket) password(secret []byte) (string, error) {
	a, ok := w.Lookup(rfc2865.UserPassword_Type)
	if !ok {
		return "", nil
	}
	pw, err := radius.UserPassword(a, secret, w.Authenticator[:])
	if err != nil {
		return "", errMalformed
	}
	return string(pw), nil
}

// nasAddress returns the address the NAS names itself by, or src.
func (w *wirePacket) nasAddress(src netip.Addr) string {
	if ip, err := rfc2865.NASIPAddress_Lookup(w.Packet); err == nil {
		if a, ok := netip.AddrFromSlice(ip); ok {
			return a.Unmap().String()
		}
	}
	if ip, err := rfc3162.NASIPv6Address_Lookup(w.Packet); err == nil {
		if a, ok := netip.AddrFromSlice(ip); ok {
			return a.String()
		}
	}
	return src.String()
}

// proxyStates returns the request's Proxy-State attributes in order.
func (w *wirePacket) proxyStates() []radius.Attribute {
	var out []radius.Attribute
	for _, a := range w.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			out = append(out, a.Attribute)
		}
	}
	return out
}

// encodeResponse encodes a response to req carrying attrs. It puts the
// Message-Authenticator first (the BlastRADIUS guidance), echoes every
// Proxy-State of the request unmodified and in order (RFC 2865 §5.33),
// computes the Message-Authenticator over the packet with the Request
// Authenticator in the Authenticator field (RFC 3579 §3.2), and then the
// Response Authenticator over the packet, Message-Authenticator included
// (RFC 2865 §3).
func encodeResponse(code radius.Code, req *wirePacket, secret []byte, attrs radius.Attributes) (
	[]byte, error) {
	p := &radius.Packet{Code: code, Identifier: req.Identifier, Authenticator: req.Authenticator}
	p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, authenticatorLen))
	p.Attributes = append(p.Attributes, attrs...)
	for _, ps := range req.proxyStates() {
		p.Add(rfc2865.ProxyState_Type, ps)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	const maOffset = headerLen + 2
	ma := messageAuthenticator(b, maOffset, secret)
	copy(b[maOffset:], ma[:])
	// b's Authenticator field still holds the Request Authenticator, as
	// the Response Authenticator's MD5 wants it.
	h := md5.New()
	h.Write(b)
	h.Write(secret)
	h.Sum(b[4:4:20])
	return b, nil
}
