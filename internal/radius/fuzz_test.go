package radius

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// The fuzzed server's service accepts only this user and code, and a
// prompt's answer only with fuzzState.
const (
	fuzzUser  = "alice"
	fuzzCode  = "123456"
	fuzzState = "fuzz-state-0123456789A"
)

var fuzzSrc = netip.MustParseAddrPort("127.0.0.1:40000")

// FuzzPacket feeds datagrams to the packet handling, seeded with the
// Access-Requests in testdata/fuzz/FuzzPacket (go test -run
// TestFuzzSeeds -update writes them). Whatever the datagram, the handler
// must not panic, every answer must be a sound response with the
// Message-Authenticator first, and an Access-Accept must answer a packet
// that, read independently of the package's code, carries a right
// Message-Authenticator, the one user and the one code.
func FuzzPacket(f *testing.F) {
	f.Fuzz(func(t *testing.T, pkt []byte) {
		svc := &fakeService{user: fuzzUser, code: fuzzCode, state: fuzzState}
		srv, err := New(Config{Service: svc, Clients: []Client{loopback(ModeChallenge)}})
		if err != nil {
			t.Fatal(err)
		}
		in := bytes.Clone(pkt)
		resp := srv.handle(context.Background(), pkt, fuzzSrc)
		if !bytes.Equal(in, pkt) {
			t.Fatalf("the handler changed the datagram")
		}
		if resp == nil {
			return
		}
		req := pkt[:binary.BigEndian.Uint16(pkt[2:4])]
		p := checkResponse(t, resp, req, testSecret)
		if p.Code != radius.CodeAccessAccept {
			return
		}
		if reason := acceptable(req); reason != "" {
			t.Fatalf("Access-Accept for % x: %s", pkt, reason)
		}
	})
}

// acceptable returns why request ought not to have been accepted, or "":
// it reads the packet with code of its own and layeh's decryption.
func acceptable(req []byte) string {
	var user, password, ma []byte
	var mas int
	for i := 20; i < len(req); {
		if len(req)-i < 2 || req[i+1] < 2 || i+int(req[i+1]) > len(req) {
			return "its attributes are malformed"
		}
		typ, value := radius.Type(req[i]), req[i+2:i+int(req[i+1])]
		switch typ {
		case rfc2865.UserName_Type:
			user = value
		case rfc2865.UserPassword_Type:
			password = value
		case rfc2869.MessageAuthenticator_Type:
			ma, mas = value, mas+1
		}
		i += int(req[i+1])
	}
	if mas != 1 || len(ma) != 16 {
		return fmt.Sprintf("it has %d Message-Authenticators", mas)
	}
	if !bytes.Equal(testHMAC(req, testSecret), ma) {
		return "its Message-Authenticator is wrong"
	}
	if string(user) != fuzzUser {
		return fmt.Sprintf("its User-Name is %q", user)
	}
	pw, err := radius.UserPassword(password, testSecret, req[4:20])
	if err != nil || string(pw) != fuzzCode {
		return fmt.Sprintf("its User-Password is %q (%v)", pw, err)
	}
	return ""
}

// fuzzSeeds are the Access-Requests the fuzzer starts from.
func fuzzSeeds(t testing.TB) map[string][]byte {
	const auth = "fixed-authentic!"
	chap := radius.Attributes{}
	chap.Add(rfc2865.CHAPPassword_Type, make(radius.Attribute, 17))
	eap := radius.Attributes{}
	eap.Add(rfc2869.EAPMessage_Type, radius.Attribute{2, 1, 0, 5, 1})
	nas := radius.Attributes{}
	nas.Add(rfc2865.NASIPAddress_Type, radius.Attribute{192, 0, 2, 1})
	seed := func(o reqOpts) []byte {
		o.auth = auth
		return buildRequest(t, o)
	}
	return map[string][]byte{
		"accept":         seed(reqOpts{id: 1, user: fuzzUser, password: fuzzCode}),
		"accept-ma-last": seed(reqOpts{id: 2, user: fuzzUser, password: fuzzCode, maLast: true}),
		"accept-nas-ip":  seed(reqOpts{id: 3, user: fuzzUser, password: fuzzCode, extra: nas}),
		"wrong-code":     seed(reqOpts{id: 4, user: fuzzUser, password: "654321"}),
		"no-ma":          seed(reqOpts{id: 5, user: fuzzUser, password: fuzzCode, noMA: true}),
		"proxy-state": seed(reqOpts{id: 6, user: fuzzUser, password: fuzzCode,
			proxy: [][]byte{[]byte("a"), []byte("bb")}}),
		"prompt":     seed(reqOpts{id: 7, user: fuzzUser, password: ""}),
		"answer":     seed(reqOpts{id: 8, user: fuzzUser, password: fuzzCode, state: []byte(fuzzState)}),
		"chap":       seed(reqOpts{id: 9, user: fuzzUser, noPassword: true, extra: chap}),
		"eap":        seed(reqOpts{id: 10, user: fuzzUser, noPassword: true, extra: eap}),
		"accounting": seed(reqOpts{id: 11, code: radius.CodeAccountingRequest, user: fuzzUser}),
		"long-password": seed(reqOpts{id: 12, user: fuzzUser,
			password: strings.Repeat("9", 100)}),
		"padded": append(seed(reqOpts{id: 13, user: fuzzUser, password: fuzzCode}), 0, 0, 0),
		"short":  {1, 0, 0, 20},
		"no-ma-proxystate": seed(reqOpts{id: 14, user: fuzzUser, password: fuzzCode, noMA: true,
			proxy: [][]byte{[]byte("x")}}),
	}
}

// TestFuzzSeeds checks the seed corpus against fuzzSeeds, and with
// -update writes it.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzPacket")
	for name, b := range fuzzSeeds(t) {
		path := filepath.Join(dir, name)
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if *update {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test -run TestFuzzSeeds -update)", err)
			continue
		}
		if string(got) != text {
			t.Errorf("%s is stale (run go test -run TestFuzzSeeds -update)", path)
		}
	}
}
