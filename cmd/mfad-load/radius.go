package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// maLen is the length of a Message-Authenticator's value: an HMAC-MD5.
const maLen = md5.Size

// radiusDoor sends PAP Access-Requests to a RADIUS server, as a NAS does.
type radiusDoor struct {
	addr    string
	secret  []byte
	timeout time.Duration
}

func newRADIUSDoor(o options) *radiusDoor {
	return &radiusDoor{addr: o.radius, secret: []byte(o.secret), timeout: o.timeout}
}

func (d *radiusDoor) String() string { return "RADIUS Access-Requests to " + d.addr }

// open returns a NAS with a UDP socket of its own, so that each client
// sends from a source port of its own and its Identifiers are its own.
func (d *radiusDoor) open() (sender, error) {
	conn, err := net.Dial("udp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("radius: %w", err)
	}
	var id [1]byte
	rand.Read(id[:])
	buf := make([]byte, radius.MaxPacketLength)
	return &nas{radiusDoor: d, conn: conn, id: id[0], buf: buf}, nil
}

// nas is one client over RADIUS: one request at a time on its own socket.
type nas struct {
	*radiusDoor
	conn net.Conn
	id   byte // the Identifier of the last request
	buf  []byte
}

func (n *nas) Close() error { return n.conn.Close() }

// send sends one Access-Request and waits for its answer, until the
// timeout or the end of ctx. It does not retransmit.
func (n *nas) send(ctx context.Context, user, password string) (string, error) {
	n.id++
	req, err := accessRequest(n.id, n.secret, user, password)
	if err != nil {
		return "", err
	}
	if _, err := n.conn.Write(req); err != nil {
		return "", fmt.Errorf("radius: send: %w", err)
	}
	deadline := time.Now().Add(n.timeout)
	end, cut := ctx.Deadline()
	if cut = cut && end.Before(deadline); cut {
		deadline = end
	}
	n.conn.SetReadDeadline(deadline)
	for {
		k, err := n.conn.Read(n.buf)
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout() && cut:
			// The run's end, not the server's silence; ctx's timer
			// fires at the same instant.
			<-ctx.Done()
			return "", ctx.Err()
		case errors.As(err, &ne) && ne.Timeout():
			return "", errTimeout
		default:
			return "", fmt.Errorf("radius: receive: %w", err)
		}
		// A late answer to an earlier request, one that timed out, has
		// another Identifier: skip it and wait on.
		if k >= 20 && n.buf[1] == req[1] {
			return readAnswer(n.buf[:k], req, n.secret)
		}
	}
}

// accessRequest encodes a PAP Access-Request with a Message-Authenticator
// as its first attribute, where the BlastRADIUS guidance puts it.
func accessRequest(id byte, secret []byte, user, password string) ([]byte, error) {
	// radius.New draws the Request Authenticator (RFC 2865 §3), which
	// hides the password, so the password is set after it.
	p := radius.New(radius.CodeAccessRequest, secret)
	p.Identifier = id
	p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, maLen))
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		return nil, fmt.Errorf("radius: user name: %w", err)
	}
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		return nil, fmt.Errorf("radius: password: %w", err)
	}
	// RFC 2865 §4.1: an Access-Request names its NAS.
	rfc2865.NASIdentifier_SetString(p, "mfad-load")
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("radius: %w", err)
	}
	const off = 20 + 2 // the first attribute's value
	copy(b[off:], messageAuthenticator(b, off, secret))
	return b, nil
}

// messageAuthenticator returns the Message-Authenticator of packet b whose
// value is at off: HMAC-MD5 under the secret over the packet with that
// value taken as zeros (RFC 3579 §3.2). b's Authenticator field must hold
// the Request Authenticator, a response's too.
func messageAuthenticator(b []byte, off int, secret []byte) []byte {
	m := hmac.New(md5.New, secret)
	m.Write(b[:off])
	m.Write(make([]byte, maLen))
	m.Write(b[off+maLen:])
	return m.Sum(nil)
}

// readAnswer checks that resp answers req under secret and returns its
// code as an answer. The Response Authenticator must be right (RFC 2865
// §3) and so must a Message-Authenticator, if resp has one.
func readAnswer(resp, req, secret []byte) (string, error) {
	n := int(resp[2])<<8 | int(resp[3])
	if n < 20 || n > len(resp) {
		return "", errors.New("radius: answer of a wrong length")
	}
	resp = resp[:n]
	if !radius.IsAuthenticResponse(resp, req, secret) {
		return "", errors.New("radius: answer with a wrong Response Authenticator")
	}
	if off, ok := findValue(resp, rfc2869.MessageAuthenticator_Type); ok {
		c := bytes.Clone(resp)
		copy(c[4:20], req[4:20])
		want := messageAuthenticator(c, off, secret)
		if resp[off-1] != 2+maLen || !hmac.Equal(resp[off:off+maLen], want) {
			return "", errors.New("radius: answer with a wrong Message-Authenticator")
		}
	}
	switch radius.Code(resp[0]) {
	case radius.CodeAccessAccept:
		return answerAccept, nil
	case radius.CodeAccessReject:
		return answerReject, nil
	case radius.CodeAccessChallenge:
		return answerChallenge, nil
	}
	return "", fmt.Errorf("radius: answer of code %d", resp[0])
}

// findValue returns the offset of the value of the first attribute of type
// t in packet b.
func findValue(b []byte, t radius.Type) (int, bool) {
	for i := 20; i+2 <= len(b); i += int(b[i+1]) {
		switch {
		case b[i+1] < 2:
			return 0, false
		case radius.Type(b[i]) == t:
			return i + 2, true
		}
	}
	return 0, false
}
