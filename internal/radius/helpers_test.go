package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"flag"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testSecret is the shared secret of the test clients.
var testSecret = []byte("correct-horse-battery-staple")

// loopback is the test client: every address the tests send from.
func loopback(mode Mode) Client {
	return Client{Name: "test-nas", Prefix: netip.MustParsePrefix("127.0.0.0/8"),
		Secret: Secret(testSecret), Mode: mode}
}

func testLogger() (*slog.Logger, *testtool.LogBuffer) {
	buf := &testtool.LogBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// reqOpts describes an Access-Request for buildRequest.
type reqOpts struct {
	code       radius.Code // default Access-Request
	id         byte
	auth       string // the Request Authenticator, 16 octets; default random
	user       string
	password   string
	noPassword bool   // send no User-Password at all
	noMA       bool   // send no Message-Authenticator
	maLast     bool   // put the Message-Authenticator last rather than first
	badMA      bool   // send a wrong Message-Authenticator
	secret     []byte // default testSecret
	state      []byte
	proxy      [][]byte // Proxy-State values, in order
	extra      radius.Attributes
}

// buildRequest encodes the request o describes, signed with the tests'
// own HMAC-MD5 code (TestMessageAuthenticatorOpenSSL holds that code and
// the package's to openssl).
func buildRequest(t testing.TB, o reqOpts) []byte {
	t.Helper()
	secret := o.secret
	if secret == nil {
		secret = testSecret
	}
	if o.code == 0 {
		o.code = radius.CodeAccessRequest
	}
	p := radius.New(o.code, secret)
	p.Identifier = o.id
	if o.auth != "" {
		copy(p.Authenticator[:], o.auth)
	}
	if !o.noMA && !o.maLast {
		p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, 16))
	}
	rfc2865.UserName_SetString(p, o.user)
	if !o.noPassword {
		if err := rfc2865.UserPassword_SetString(p, o.password); err != nil {
			t.Fatal(err)
		}
	}
	rfc2865.NASIdentifier_SetString(p, "test")
	if o.state != nil {
		rfc2865.State_Set(p, o.state)
	}
	for _, ps := range o.proxy {
		p.Add(rfc2865.ProxyState_Type, ps)
	}
	p.Attributes = append(p.Attributes, o.extra...)
	if !o.noMA && o.maLast {
		p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, 16))
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !o.noMA {
		off := findAttr(b, rfc2869.MessageAuthenticator_Type) + 2
		copy(b[off:], testHMAC(b, secret))
		if o.badMA {
			b[off] ^= 1
		}
	}
	return b
}

// testHMAC is HMAC-MD5 over b with the Message-Authenticator's value
// taken as zero, written apart from the package's code.
func testHMAC(b, secret []byte) []byte {
	c := bytes.Clone(b)
	off := findAttr(c, rfc2869.MessageAuthenticator_Type) + 2
	clear(c[off : off+16])
	m := hmac.New(md5.New, secret)
	m.Write(c)
	return m.Sum(nil)
}

// findAttr returns the offset of the first attribute of type t in the
// well-formed packet b, or -1.
func findAttr(b []byte, t radius.Type) int {
	n := int(binary.BigEndian.Uint16(b[2:4]))
	for i := 20; i+2 <= n && b[i+1] >= 2; i += int(b[i+1]) {
		if radius.Type(b[i]) == t {
			return i
		}
	}
	return -1
}

// checkResponse checks that resp answers req under secret: the
// Message-Authenticator comes first and is right, and the Response
// Authenticator is right by layeh's code. It returns the parsed response.
func checkResponse(t testing.TB, resp, req, secret []byte) *radius.Packet {
	t.Helper()
	if len(resp) < 38 || resp[20] != byte(rfc2869.MessageAuthenticator_Type) || resp[21] != 18 {
		t.Fatalf("response % x: want Message-Authenticator first", resp)
	}
	c := bytes.Clone(resp)
	copy(c[4:20], req[4:20])
	if got, want := resp[22:38], testHMAC(c, secret); !bytes.Equal(got, want) {
		t.Errorf("response Message-Authenticator = %x, want %x", got, want)
	}
	if !radius.IsAuthenticResponse(resp, req, secret) {
		t.Errorf("response authenticator of % x is wrong", resp)
	}
	if resp[1] != req[1] {
		t.Errorf("response Identifier = %d, want %d", resp[1], req[1])
	}
	p, err := radius.Parse(resp, secret)
	if err != nil {
		t.Fatalf("radius.Parse(response) = %v", err)
	}
	return p
}

// harness is a server on a UDP socket on 127.0.0.1.
type harness struct {
	srv  *Server
	addr string
	logs *testtool.LogBuffer
}

// start serves cfg on 127.0.0.1:0 until the test ends.
func start(t testing.TB, cfg Config) *harness {
	t.Helper()
	log, buf := testLogger()
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return &harness{srv: srv, addr: conn.LocalAddr().String(), logs: buf}
}

// dial returns a client socket: requests sent on one come from one port.
func (h *harness) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.Dial("udp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send sends pkt on c and returns the answer, or nil when none comes
// within wait.
func send(t testing.TB, c net.Conn, pkt []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil
		}
		t.Fatal(err)
	}
	return buf[:n]
}

// exchange sends pkt from a new socket and returns the checked answer.
func (h *harness) exchange(t testing.TB, pkt []byte) *radius.Packet {
	t.Helper()
	resp := send(t, h.dial(t), pkt, 5*time.Second)
	if resp == nil {
		t.Fatalf("no answer to % x", pkt)
	}
	return checkResponse(t, resp, pkt, testSecret)
}

// silent checks that pkt gets no answer.
func (h *harness) silent(t testing.TB, pkt []byte) {
	t.Helper()
	if resp := send(t, h.dial(t), pkt, 300*time.Millisecond); resp != nil {
		t.Fatalf("answer % x, want none", resp)
	}
}

// fakeService answers as told and records its calls. It is for the
// packet-level tests; the end-to-end tests use the real service.
type fakeService struct {
	mu    sync.Mutex
	calls []string
	// accept is the one user and code Verify and AnswerPrompt accept.
	user, code string
	err        error         // returned by every call when set
	gate       chan struct{} // when set, every call waits for it
	state      string        // the State OpenPrompt hands out
}

func (f *fakeService) record(call string) error {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	gate, err := f.gate, f.err
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return err
}

func (f *fakeService) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeService) Verify(_ context.Context, req mfa.Request, user, code string) (
	mfa.VerifyResult, error) {
	if err := f.record("Verify " + user); err != nil {
		return mfa.VerifyResult{}, err
	}
	return mfa.VerifyResult{Accepted: user == f.user && code == f.code && code != ""}, nil
}

func (f *fakeService) OpenPrompt(_ context.Context, req mfa.Request, user string) (mfa.Prompt, error) {
	if err := f.record("OpenPrompt " + user); err != nil {
		return mfa.Prompt{}, err
	}
	return mfa.Prompt{State: f.state, Message: "Enter your code"}, nil
}

func (f *fakeService) AnswerPrompt(_ context.Context, req mfa.Request, user, state, code string) (
	mfa.VerifyResult, error) {
	if err := f.record("AnswerPrompt " + user + " " + state); err != nil {
		return mfa.VerifyResult{}, err
	}
	ok := state == f.state && user == f.user && code == f.code
	return mfa.VerifyResult{Accepted: ok}, nil
}
