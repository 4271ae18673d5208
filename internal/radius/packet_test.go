package radius

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/testtool"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dataRadiusVector is an Access-Request with a Message-Authenticator from
// the test suite of the Perl module Data::Radius (t/packet.t): secret
// "top-secret", User-Name "JonSnow", User-Password "Castle Black".
const dataRadiusVector = `
	01 0c 00 41 37 4c 72 21 3f b1 66 be 67 14 ef 83
	78 78 61 f0 01 09 4a 6f 6e 53 6e 6f 77 02 12 86
	9d 1b 53 20 e1 cb bc 4f af 68 8d f2 a7 b2 11 50
	12 22 01 2b 19 e9 a1 4a 95 87 e5 d9 6a de 38 ff
	5e`

// rfc2865Request is the Access-Request of RFC 2865 §7.1: secret
// "xyzzy5461", User-Name "nemo", User-Password "arctangent".
const rfc2865Request = `
	01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
	98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
	93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
	01 10 05 06 00 00 00 03`

func TestMessageAuthenticatorKnownVector(t *testing.T) {
	b := unhex(t, dataRadiusVector)
	secret := []byte("top-secret")
	w, err := parseWire(b, secret)
	if err != nil {
		t.Fatalf("parseWire = %v", err)
	}
	if w.maOffset != 49 {
		t.Fatalf("maOffset = %d, want 49", w.maOffset)
	}
	if !w.validMessageAuthenticator(secret) {
		t.Errorf("validMessageAuthenticator(vector) = false, want true")
	}
	if w.validMessageAuthenticator([]byte("top-secreT")) {
		t.Errorf("validMessageAuthenticator(vector, other secret) = true, want false")
	}
	pw, err := w.password(secret)
	if err != nil || pw != "Castle Black" {
		t.Errorf("password = %q, %v, want Castle Black", pw, err)
	}
}

func TestPasswordRFC2865Vector(t *testing.T) {
	w, err := parseWire(unhex(t, rfc2865Request), []byte("xyzzy5461"))
	if err != nil {
		t.Fatalf("parseWire = %v", err)
	}
	pw, err := w.password([]byte("xyzzy5461"))
	if err != nil || pw != "arctangent" {
		t.Errorf("password = %q, %v, want arctangent", pw, err)
	}
	if w.maOffset != -1 {
		t.Errorf("maOffset = %d, want -1", w.maOffset)
	}
	if got := w.nasAddress(netipAddr(t, "127.0.0.1")); got != "192.168.1.16" {
		t.Errorf("nasAddress = %q, want the NAS-IP-Address 192.168.1.16", got)
	}
}

// TestMessageAuthenticatorOpenSSL holds the package's HMAC-MD5, and the
// tests' own, to openssl's over fixed packets and secrets.
func TestMessageAuthenticatorOpenSSL(t *testing.T) {
	openssl := testtool.Look(t, "openssl", "openssl")
	vector := unhex(t, dataRadiusVector)
	built := buildRequest(t, reqOpts{id: 7, user: "alice", password: "123456", maLast: true,
		proxy: [][]byte{[]byte("hop-1"), bytes.Repeat([]byte{0xff}, 200)}})
	resp := fixedResponse(t, radius.CodeAccessChallenge)
	// A response's Message-Authenticator is computed with the Request
	// Authenticator in the Authenticator field.
	respIn := bytes.Clone(resp)
	copy(respIn[4:20], fixedRequest(t)[4:20])

	tests := []struct {
		name   string
		packet []byte
		secret []byte
	}{
		{"Data::Radius vector", vector, []byte("top-secret")},
		{"built request, MA last", built, testSecret},
		{"challenge response", respIn, testSecret},
		{"binary secret", vector, []byte{0, 1, 2, 0xfe, 0xff, '\n', ' '}},
		{"secret longer than a block", built, bytes.Repeat([]byte("k"), 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off := findAttr(tt.packet, rfc2869.MessageAuthenticator_Type) + 2
			zeroed := bytes.Clone(tt.packet)
			clear(zeroed[off : off+16])
			cmd := exec.Command(openssl, "dgst", "-md5", "-mac", "HMAC", "-macopt",
				"hexkey:"+hex.EncodeToString(tt.secret))
			cmd.Stdin = bytes.NewReader(zeroed)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("openssl dgst = %v", err)
			}
			_, sum, ok := strings.Cut(strings.TrimSpace(string(out)), "= ")
			if !ok {
				t.Fatalf("openssl said %q", out)
			}
			got := messageAuthenticator(tt.packet, off, tt.secret)
			if hex.EncodeToString(got[:]) != sum {
				t.Errorf("messageAuthenticator = %x, openssl = %s", got, sum)
			}
			if own := hex.EncodeToString(testHMAC(tt.packet, tt.secret)); own != sum {
				t.Errorf("the tests' HMAC = %s, openssl = %s", own, sum)
			}
		})
	}
	// The vector's own value is what openssl computes for it.
	got := messageAuthenticator(vector, 49, []byte("top-secret"))
	if !bytes.Equal(got[:], vector[49:65]) {
		t.Errorf("messageAuthenticator(vector) = %x, want %x", got, vector[49:65])
	}
}

func netipAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	return netip.MustParseAddr(s)
}

func TestParseWireMalformed(t *testing.T) {
	good := buildRequest(t, reqOpts{id: 1, user: "alice", password: "123456"})
	withLen := func(n int) []byte {
		b := bytes.Clone(good)
		b[2], b[3] = byte(n>>8), byte(n)
		return b
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:19]},
		{"length below 20", withLen(19)},
		{"length past the datagram", withLen(len(good) + 1)},
		{"length past 4096", append(withLen(4097), make([]byte, 4097)...)},
		{"attribute length 0", append(withLen(len(good)+2), 1, 0)},
		{"attribute length 1", append(withLen(len(good)+2), 1, 1)},
		{"attribute overruns", append(withLen(len(good)+3), 18, 5, 'x')},
		{"lone attribute octet", append(withLen(len(good)+1), 18)},
		{"Message-Authenticator of 15 octets", appendAttr(good, 80, make([]byte, 15))},
		{"two Message-Authenticators", appendAttr(good, 80, make([]byte, 16))},
		{"two User-Names", appendAttr(good, 1, []byte("bob"))},
		{"two User-Passwords", appendAttr(good, 2, make([]byte, 16))},
		{"two States", appendAttr(appendAttr(good, 24, []byte("a")), 24, []byte("b"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseWire(tt.b, testSecret); err == nil {
				t.Errorf("parseWire(% x) = nil error, want malformed", tt.b)
			}
		})
	}
	t.Run("padding past Length is ignored", func(t *testing.T) {
		w, err := parseWire(append(bytes.Clone(good), 0xde, 0xad), testSecret)
		if err != nil || len(w.raw) != len(good) || !w.validMessageAuthenticator(testSecret) {
			t.Errorf("parseWire(padded) = %v; want the packet without padding", err)
		}
	})
	t.Run("User-Password of 17 octets", func(t *testing.T) {
		b := buildRequest(t, reqOpts{id: 1, user: "alice", noPassword: true, noMA: true})
		w, err := parseWire(appendAttr(b, 2, make([]byte, 17)), testSecret)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.password(testSecret); err == nil {
			t.Errorf("password() = nil error, want malformed")
		}
	})
}

// appendAttr returns b with one more attribute, its Length fixed.
func appendAttr(b []byte, typ byte, value []byte) []byte {
	out := append(bytes.Clone(b), typ, byte(2+len(value)))
	out = append(out, value...)
	out[2], out[3] = byte(len(out)>>8), byte(len(out))
	return out
}

// fixedRequest is a request with a fixed Identifier and authenticator,
// for byte-exact responses.
func fixedRequest(t testing.TB) []byte {
	t.Helper()
	p := &radius.Packet{Code: radius.CodeAccessRequest, Identifier: 42, Secret: testSecret}
	copy(p.Authenticator[:], "0123456789abcdef")
	p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, 16))
	rfc2865.UserName_SetString(p, "alice")
	rfc2865.UserPassword_SetString(p, "123456")
	p.Add(rfc2865.ProxyState_Type, radius.Attribute("first"))
	p.Add(rfc2865.ProxyState_Type, radius.Attribute("second"))
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	copy(b[22:38], testHMAC(b, testSecret))
	return b
}

// fixedResponse encodes a response of code to fixedRequest.
func fixedResponse(t testing.TB, code radius.Code) []byte {
	t.Helper()
	w, err := parseWire(fixedRequest(t), testSecret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	s := &Server{clock: func() time.Time { return now }}
	o := outcome{code: code, prompt: mfa.Prompt{State: "st4te-FzqE1", Message: "Enter your code",
		ExpiresAt: now.Add(2 * time.Minute)}}
	b, err := s.encode(&Client{Secret: Secret(testSecret)}, w, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResponsesGolden holds the encoded responses to golden files; run
// with -update to rewrite them after a deliberate change.
func TestResponsesGolden(t *testing.T) {
	req := fixedRequest(t)
	for _, tt := range []struct {
		name string
		code radius.Code
	}{
		{"accept", radius.CodeAccessAccept},
		{"reject", radius.CodeAccessReject},
		{"challenge", radius.CodeAccessChallenge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := fixedResponse(t, tt.code)
			p := checkResponse(t, got, req, testSecret)
			if p.Code != tt.code {
				t.Errorf("code = %v, want %v", p.Code, tt.code)
			}
			ps := p.Attributes[len(p.Attributes)-2:]
			if string(ps[0].Attribute) != "first" || string(ps[1].Attribute) != "second" {
				t.Errorf("last attributes = %v, want the Proxy-States in order", ps)
			}
			path := filepath.Join("testdata", "golden", tt.name+".hex")
			text := hexDump(got)
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if text != string(want) {
				t.Errorf("response differs from %s:\ngot:\n%swant:\n%s", path, text, want)
			}
		})
	}
}

// hexDump writes b as 16 hex octets a line.
func hexDump(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); i += 16 {
		s.WriteString(hex.EncodeToString(b[i:min(i+16, len(b))]) + "\n")
	}
	return s.String()
}

func TestEncodeResponseTooLarge(t *testing.T) {
	req := buildRequest(t, reqOpts{id: 1, user: "alice", password: "1"})
	for len(req)+202 <= radius.MaxPacketLength {
		req = appendAttr(req, 33, bytes.Repeat([]byte{'p'}, 200))
	}
	w, err := parseWire(req, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	big := radius.Attributes{}
	for range 2 {
		big.Add(rfc2865.ReplyMessage_Type, bytes.Repeat([]byte{'m'}, 200))
	}
	if _, err := encodeResponse(radius.CodeAccessReject, w, testSecret, big); err == nil {
		t.Errorf("encodeResponse(past 4096 octets) = nil error, want one")
	}
}
