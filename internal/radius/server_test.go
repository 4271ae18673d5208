package radius

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/microsoft"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/testtool"
)

// These tests drive the server over UDP with a fake service, for what
// the real one cannot be made to do on cue (fail, stall) or does not do
// yet (prompts). e2e_test.go has the same flows on the real service.

func TestDropsWithoutAnswer(t *testing.T) {
	t.Parallel()
	other := Client{Name: "elsewhere", Prefix: netip.MustParsePrefix("10.0.0.0/8"),
		Secret: Secret("another-secret-0123456789")}
	optOut := Client{Name: "old-nas", Prefix: netip.MustParsePrefix("127.0.0.2/32"),
		Secret: Secret(testSecret), AllowMissingMessageAuthenticator: true, LimitProxyState: true}
	good := reqOpts{id: 9, user: "alice", password: "123456"}
	with := func(f func(*reqOpts)) reqOpts { o := good; f(&o); return o }
	tests := []struct {
		name    string
		clients []Client
		from    string // source address; default 127.0.0.1
		pkt     reqOpts
		raw     []byte // sent instead of pkt when set
		reason  string
	}{
		{name: "unknown client", clients: []Client{other}, pkt: good, reason: DropUnknownClient},
		{name: "missing Message-Authenticator", pkt: with(func(o *reqOpts) { o.noMA = true }),
			reason: DropMissingAuthenticator},
		{name: "wrong Message-Authenticator", pkt: with(func(o *reqOpts) { o.badMA = true }),
			reason: DropInvalidAuthenticator},
		{name: "other secret", pkt: with(func(o *reqOpts) { o.secret = []byte("not-the-secret-0123") }),
			reason: DropInvalidAuthenticator},
		{name: "Message-Authenticator last and wrong",
			pkt:    with(func(o *reqOpts) { o.maLast, o.badMA = true, true }),
			reason: DropInvalidAuthenticator},
		{name: "accounting request", pkt: with(func(o *reqOpts) { o.code = radius.CodeAccountingRequest }),
			reason: DropUnsupportedCode},
		{name: "status server", pkt: with(func(o *reqOpts) { o.code = radius.CodeStatusServer }),
			reason: DropUnsupportedCode},
		{name: "short packet", raw: []byte{1, 2, 0, 19}, reason: DropMalformed},
		{name: "attribute overrun", raw: []byte{1, 2, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 1, 9}, reason: DropMalformed},
		{name: "opt-out client: Proxy-State without Message-Authenticator", clients: []Client{optOut},
			from: "127.0.0.2", pkt: with(func(o *reqOpts) { o.noMA, o.proxy = true, [][]byte{[]byte("x")} }),
			reason: DropProxyStateWithoutAuthenticator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := &fakeService{user: "alice", code: "123456"}
			clients := tt.clients
			if clients == nil {
				clients = []Client{loopback(ModeCode)}
			}
			h := start(t, Config{Service: svc, Clients: clients})
			pkt := tt.raw
			if pkt == nil {
				pkt = buildRequest(t, tt.pkt)
			}
			from := tt.from
			if from == "" {
				from = "127.0.0.1"
			}
			c := dialFrom(t, h, from)
			if resp := send(t, c, pkt, 300*time.Millisecond); resp != nil {
				t.Fatalf("answer % x, want none", resp)
			}
			if calls := svc.Calls(); len(calls) > 0 {
				t.Errorf("service calls %q, want none", calls)
			}
			st := h.srv.Stats()
			if st.Dropped[tt.reason] != 1 || st.Received != 1 {
				t.Errorf("Stats = %+v, want 1 received and 1 dropped as %s", st, tt.reason)
			}
			if !strings.Contains(h.logs.String(), `"reason":"`+tt.reason+`"`) {
				t.Errorf("log has no line with reason %s:\n%s", tt.reason, h.logs)
			}
		})
	}
}

// dialFrom returns a socket bound to the loopback address from.
func dialFrom(t testing.TB, h *harness, from string) net.Conn {
	t.Helper()
	laddr, err := net.ResolveUDPAddr("udp", net.JoinHostPort(from, "0"))
	if err != nil {
		t.Fatal(err)
	}
	raddr, err := net.ResolveUDPAddr("udp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", laddr, raddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestOptOutClientAnswered(t *testing.T) {
	t.Parallel()
	optOut := Client{Name: "old-nas", Prefix: netip.MustParsePrefix("127.0.0.0/8"),
		Secret: Secret(testSecret), AllowMissingMessageAuthenticator: true, LimitProxyState: true}
	svc := &fakeService{user: "alice", code: "123456"}
	h := start(t, Config{Service: svc, Clients: []Client{optOut}})
	for _, o := range []reqOpts{
		{id: 1, user: "alice", password: "123456", noMA: true},
		{id: 2, user: "alice", password: "123456", proxy: [][]byte{[]byte("hop")}},
	} {
		req := buildRequest(t, o)
		if p := h.exchange(t, req); p.Code != radius.CodeAccessAccept {
			t.Errorf("request %d: code %v, want Access-Accept", o.id, p.Code)
		}
	}
}

func TestAcceptAndReject(t *testing.T) {
	t.Parallel()
	svc := &fakeService{user: "alice", code: "123456"}
	h := start(t, Config{Service: svc, Clients: []Client{loopback(ModeCode)}})
	tests := []struct {
		name     string
		opts     reqOpts
		want     radius.Code
		wantText string
	}{
		{"right code", reqOpts{id: 1, user: "alice", password: "123456"}, radius.CodeAccessAccept, ""},
		{"right code, MA last", reqOpts{id: 2, user: "alice", password: "123456", maLast: true},
			radius.CodeAccessAccept, ""},
		{"wrong code", reqOpts{id: 3, user: "alice", password: "654321"}, radius.CodeAccessReject,
			replyRefused},
		{"unknown user", reqOpts{id: 4, user: "mallory", password: "123456"}, radius.CodeAccessReject,
			replyRefused},
		{"no password", reqOpts{id: 5, user: "alice", noPassword: true}, radius.CodeAccessReject,
			replyRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := h.exchange(t, buildRequest(t, tt.opts))
			if p.Code != tt.want {
				t.Errorf("code = %v, want %v", p.Code, tt.want)
			}
			if got := rfc2865.ReplyMessage_GetString(p); got != tt.wantText {
				t.Errorf("Reply-Message = %q, want %q", got, tt.wantText)
			}
		})
	}
	st := h.srv.Stats()
	if st.Accepted != 2 || st.Rejected != 3 || st.Received != 5 {
		t.Errorf("Stats = %+v, want 2 accepted, 3 rejected of 5", st)
	}
}

// TestLayehClient checks the answers with another implementation's
// client, which checks the Response Authenticator itself.
func TestLayehClient(t *testing.T) {
	t.Parallel()
	svc := &fakeService{user: "alice", code: "123456"}
	h := start(t, Config{Service: svc, Clients: []Client{loopback(ModeCode)}})
	p := radius.New(radius.CodeAccessRequest, testSecret)
	rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	rfc2865.UserName_SetString(p, "alice")
	rfc2865.UserPassword_SetString(p, "123456")
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	rfc2869.MessageAuthenticator_Set(p, testHMAC(b, testSecret))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := radius.Exchange(ctx, p, h.addr)
	if err != nil {
		t.Fatalf("radius.Exchange = %v", err)
	}
	if resp.Code != radius.CodeAccessAccept {
		t.Errorf("code = %v, want Access-Accept", resp.Code)
	}
	if resp.Attributes[0].Type != rfc2869.MessageAuthenticator_Type {
		t.Errorf("first attribute %v, want Message-Authenticator", resp.Attributes[0].Type)
	}
}

func TestNonPAPRejected(t *testing.T) {
	t.Parallel()
	chap := radius.Attributes{}
	chap.Add(rfc2865.CHAPPassword_Type, make(radius.Attribute, 17))
	eap := radius.Attributes{}
	eap.Add(rfc2869.EAPMessage_Type, radius.Attribute{2, 1, 0, 5, 1})
	mschap2 := &radius.Packet{}
	microsoft.MSCHAP2Response_Add(mschap2, make([]byte, 50))
	mschapChallenge := &radius.Packet{}
	microsoft.MSCHAPChallenge_Add(mschapChallenge, make([]byte, 16))
	// An MS-CHAP-Response of the wrong length is MS-CHAP all the same.
	shortMSCHAP := &radius.Packet{}
	microsoft.MSCHAPChallenge_Add(shortMSCHAP, make([]byte, 3))
	tests := []struct {
		name   string
		extra  radius.Attributes
		method string
	}{
		{"CHAP", chap, "chap"},
		{"EAP", eap, "eap"},
		{"MS-CHAPv2", mschap2.Attributes, "mschapv2"},
		{"MS-CHAP", mschapChallenge.Attributes, "mschap"},
		{"MS-CHAP, odd length", shortMSCHAP.Attributes, "mschap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &fakeService{user: "alice", code: "123456"}
			h := start(t, Config{Service: svc, Clients: []Client{loopback(ModeCode)}})
			p := h.exchange(t, buildRequest(t, reqOpts{id: 1, user: "alice", password: "123456",
				noPassword: tt.method != "mschap", extra: tt.extra}))
			if p.Code != radius.CodeAccessReject || rfc2865.ReplyMessage_GetString(p) != replyRefused {
				t.Errorf("answer %v %q, want Access-Reject %q", p.Code,
					rfc2865.ReplyMessage_GetString(p), replyRefused)
			}
			if calls := svc.Calls(); len(calls) > 0 {
				t.Errorf("service calls %q, want none", calls)
			}
			logs := h.logs.String()
			if !strings.Contains(logs, "only PAP is supported") ||
				!strings.Contains(logs, `"auth_method":"`+tt.method+`"`) {
				t.Errorf("log does not say why:\n%s", logs)
			}
		})
	}
}

func TestProxyStateEchoedInOrder(t *testing.T) {
	t.Parallel()
	svc := &fakeService{user: "alice", code: "123456"}
	h := start(t, Config{Service: svc, Clients: []Client{loopback(ModeCode)}})
	states := [][]byte{[]byte("one"), {0, 1, 2, 0xff}, bytes.Repeat([]byte("z"), 253), []byte("one")}
	for _, code := range []string{"123456", "000000"} {
		p := h.exchange(t, buildRequest(t, reqOpts{id: 3, user: "alice", password: code, proxy: states}))
		var got [][]byte
		for _, a := range p.Attributes {
			if a.Type == rfc2865.ProxyState_Type {
				got = append(got, a.Attribute)
			}
		}
		if len(got) != len(states) {
			t.Fatalf("%v echoes %d Proxy-States, want %d", p.Code, len(got), len(states))
		}
		for i := range states {
			if !bytes.Equal(got[i], states[i]) {
				t.Errorf("%v Proxy-State %d = %q, want %q", p.Code, i, got[i], states[i])
			}
		}
	}
}

// TestRetransmission checks RFC 5080 §2.2.2: a retransmission gets the
// first answer byte for byte and the service is asked once, also when it
// comes while the first is still being decided.
func TestRetransmission(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	svc := &fakeService{user: "alice", code: "123456", gate: gate}
	h := start(t, Config{Service: svc, Clients: []Client{loopback(ModeCode)}})
	req := buildRequest(t, reqOpts{id: 77, user: "alice", password: "123456"})
	c := h.dial(t)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(svc.Calls()) == 1 })
	// The retransmission comes while the first is being decided.
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return h.srv.Stats().Duplicates == 1 })
	close(gate)
	first, second := read(t, c), read(t, c)
	if !bytes.Equal(first, second) {
		t.Errorf("answers differ:\n% x\n% x", first, second)
	}
	// And one after the answer.
	third := send(t, c, req, 2*time.Second)
	if !bytes.Equal(first, third) {
		t.Errorf("answer from cache % x, want % x", third, first)
	}
	if p := checkResponse(t, first, req, testSecret); p.Code != radius.CodeAccessAccept {
		t.Errorf("code = %v, want Access-Accept", p.Code)
	}
	if calls := svc.Calls(); len(calls) != 1 {
		t.Errorf("service calls %q, want one", calls)
	}
	// The same request from another port is another request.
	other := send(t, h.dial(t), req, 2*time.Second)
	if other == nil || len(svc.Calls()) != 2 {
		t.Errorf("request from another port: answer %x, calls %q; want a second call", other, svc.Calls())
	}
	st := h.srv.Stats()
	if st.Duplicates != 2 || st.Accepted != 2 || st.Received != 4 {
		t.Errorf("Stats = %+v, want 2 duplicates and 2 accepts of 4", st)
	}
}

func read(t testing.TB, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not met in 5 s")
}

func TestRetransmissionWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	clk := testtool.NewClock(now)
	svc := &fakeService{user: "alice", code: "123456"}
	h := start(t, Config{Service: svc, Clients: []Client{loopback(ModeCode)}, Clock: clk.Now,
		DupWindow: 10 * time.Second})
	req := buildRequest(t, reqOpts{id: 5, user: "alice", password: "123456"})
	c := h.dial(t)
	send(t, c, req, 2*time.Second)
	clk.Add(9 * time.Second)
	send(t, c, req, 2*time.Second)
	if n := len(svc.Calls()); n != 1 {
		t.Fatalf("inside the window: %d calls, want 1", n)
	}
	clk.Add(time.Second)
	send(t, c, req, 2*time.Second)
	if n := len(svc.Calls()); n != 2 {
		t.Errorf("past the window: %d calls, want 2", n)
	}
}

// TestRetransmissionClash checks that a packet reusing a recent request's
// key with other contents is neither answered from cache nor decided.
func TestRetransmissionClash(t *testing.T) {
	t.Parallel()
	optOut := Client{Name: "old-nas", Prefix: netip.MustParsePrefix("127.0.0.0/8"),
		Secret: Secret(testSecret), AllowMissingMessageAuthenticator: true, LimitProxyState: true}
	svc := &fakeService{user: "alice", code: "123456"}
	h := start(t, Config{Service: svc, Clients: []Client{optOut}})
	req := buildRequest(t, reqOpts{id: 5, user: "alice", password: "123456", noMA: true})
	c := h.dial(t)
	send(t, c, req, 2*time.Second)
	forged := bytes.Clone(req)
	forged[len(forged)-1] ^= 0xff
	if resp := send(t, c, forged, 300*time.Millisecond); resp != nil {
		t.Errorf("answer to a clashing packet % x, want none", resp)
	}
	if st := h.srv.Stats(); st.Dropped[DropDuplicateClash] != 1 || len(svc.Calls()) != 1 {
		t.Errorf("Stats = %+v, calls %q; want one clash and one call", st, svc.Calls())
	}
}

// TestServiceError checks that when the service cannot decide, nothing
// is answered (SECURITY.md 4), it is counted and logged, and a
// retransmission is decided anew.
func TestServiceError(t *testing.T) {
	t.Parallel()
	svc := &fakeService{user: "alice", code: "123456", err: errors.New("database is down")}
	h := start(t, Config{Service: svc, Clients: []Client{loopback(ModeCode)}})
	req := buildRequest(t, reqOpts{id: 1, user: "alice", password: "123456"})
	c := h.dial(t)
	if resp := send(t, c, req, 300*time.Millisecond); resp != nil {
		t.Fatalf("answer % x, want none", resp)
	}
	svc.mu.Lock()
	svc.err = nil
	svc.mu.Unlock()
	resp := send(t, c, req, 2*time.Second)
	if resp == nil || checkResponse(t, resp, req, testSecret).Code != radius.CodeAccessAccept {
		t.Fatalf("retransmission after the failure: % x, want Access-Accept", resp)
	}
	if st := h.srv.Stats(); st.Dropped[DropServiceError] != 1 || len(svc.Calls()) != 2 {
		t.Errorf("Stats = %+v, calls %q; want one service error and two calls", st, svc.Calls())
	}
	const logged = `"level":"ERROR","msg":"radius request dropped: the service could not decide"`
	if !strings.Contains(h.logs.String(), logged) {
		t.Errorf("no error logged:\n%s", h.logs)
	}
}

// TestSameReplyForEveryRefusal checks that refusals for any reason read
// the same (SECURITY.md 9).
func TestSameReplyForEveryRefusal(t *testing.T) {
	t.Parallel()
	limited := &fakeService{err: &mfa.Error{Kind: mfa.ErrRateLimited, Message: "slow down"}}
	plain := &fakeService{user: "alice", code: "123456"}
	chap := radius.Attributes{}
	chap.Add(rfc2865.CHAPPassword_Type, make(radius.Attribute, 17))
	tests := []struct {
		name string
		svc  Service
		mode Mode
		opts reqOpts
	}{
		{"wrong code", plain, ModeCode, reqOpts{user: "alice", password: "1"}},
		{"unknown user", plain, ModeCode, reqOpts{user: "nobody", password: "123456"}},
		{"rate limited", limited, ModeChallenge, reqOpts{user: "alice", password: ""}},
		{"CHAP", plain, ModeCode, reqOpts{user: "alice", noPassword: true, extra: chap}},
		{"password+code", plain, ModePasswordCode, reqOpts{user: "alice", password: "pw,123456"}},
	}
	var first []radius.Attributes
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, Config{Service: tt.svc, Clients: []Client{loopback(tt.mode)}})
			tt.opts.id = 1
			p := h.exchange(t, buildRequest(t, tt.opts))
			if p.Code != radius.CodeAccessReject {
				t.Fatalf("code = %v, want Access-Reject", p.Code)
			}
			// Everything but the Message-Authenticator is the same.
			attrs := p.Attributes[1:]
			if first != nil && !sameAttrs(first[0], attrs) {
				t.Errorf("attributes %v, want %v as for %s", attrs, first[0], tests[0].name)
			}
			first = append(first, attrs)
		})
	}
}

func sameAttrs(a, b radius.Attributes) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || !bytes.Equal(a[i].Attribute, b[i].Attribute) {
			return false
		}
	}
	return true
}

func TestPasswordCodeRefused(t *testing.T) {
	t.Parallel()
	svc := &fakeService{user: "alice", code: "123456"}
	h := start(t, Config{Service: svc, Clients: []Client{loopback(ModePasswordCode)}})
	p := h.exchange(t, buildRequest(t, reqOpts{id: 1, user: "alice", password: "hunter2,123456"}))
	if p.Code != radius.CodeAccessReject {
		t.Errorf("code = %v, want Access-Reject", p.Code)
	}
	if calls := svc.Calls(); len(calls) > 0 {
		t.Errorf("service calls %q, want none: the code is not used without the password", calls)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, msgNoUpstream) {
		t.Errorf("log does not say why:\n%s", logs)
	}
	if strings.Contains(logs, "hunter2") || strings.Contains(logs, "123456") {
		t.Errorf("log holds what the user typed:\n%s", logs)
	}
}

// TestChallengeFlow walks the challenge mode with the fake service: an
// empty password or "push" opens a prompt, the answer carries its State,
// and a code typed at once is verified.
func TestChallengeFlow(t *testing.T) {
	t.Parallel()
	svc := &fakeService{user: "alice", code: "123456", state: "Zq3-state_of-the-prompt"}
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	h := start(t, Config{Service: svc, Clients: []Client{loopback(ModeChallenge)},
		Clock: func() time.Time { return now }})
	for _, pw := range []string{"", "   ", "push", "PUSH"} {
		p := h.exchange(t, buildRequest(t, reqOpts{id: 1, user: "alice", password: pw}))
		if p.Code != radius.CodeAccessChallenge {
			t.Fatalf("password %q: code %v, want Access-Challenge", pw, p.Code)
		}
		if got := string(rfc2865.State_Get(p)); got != svc.state {
			t.Errorf("State = %q, want %q", got, svc.state)
		}
		if got := rfc2865.ReplyMessage_GetString(p); got != "Enter your code" {
			t.Errorf("Reply-Message = %q, want the prompt", got)
		}
		if got := rfc2869.Prompt_Get(p); got != rfc2869.Prompt_Value_NoEcho {
			t.Errorf("Prompt = %v, want No-Echo", got)
		}
	}
	answer := func(id byte, state, code string) radius.Code {
		return h.exchange(t, buildRequest(t, reqOpts{id: id, user: "alice", password: code,
			state: []byte(state)})).Code
	}
	if got := answer(2, svc.state, "123456"); got != radius.CodeAccessAccept {
		t.Errorf("answer with State: %v, want Access-Accept", got)
	}
	if got := answer(3, "other-state", "123456"); got != radius.CodeAccessReject {
		t.Errorf("answer with another State: %v, want Access-Reject", got)
	}
	// A State with an empty answer is an answer, not a new prompt.
	if got := answer(4, svc.state, ""); got != radius.CodeAccessReject {
		t.Errorf("empty answer with State: %v, want Access-Reject", got)
	}
	p := h.exchange(t, buildRequest(t, reqOpts{id: 5, user: "alice", password: "123456"}))
	if p.Code != radius.CodeAccessAccept {
		t.Errorf("code typed at once: %v, want Access-Accept", p.Code)
	}
	want := []string{"OpenPrompt alice", "OpenPrompt alice", "OpenPrompt alice", "OpenPrompt alice",
		"AnswerPrompt alice " + svc.state, "AnswerPrompt alice other-state",
		"AnswerPrompt alice " + svc.state, "Verify alice"}
	if got := svc.Calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if st := h.srv.Stats(); st.Challenged != 4 {
		t.Errorf("Stats = %+v, want 4 challenges", st)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	t.Parallel()
	svc := &fakeService{}
	srv, err := New(Config{Service: svc, Clients: []Client{loopback(ModeCode)}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return when its context ended")
	}
	if _, err := conn.WriteTo([]byte{1}, conn.LocalAddr()); err == nil {
		t.Errorf("conn still open after Serve returned")
	}
}

// TestInFlightFinishOnStop checks that a request being decided when the
// context ends is still answered.
func TestInFlightFinishOnStop(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	svc := &fakeService{user: "alice", code: "123456", gate: gate}
	srv, err := New(Config{Service: svc, Clients: []Client{loopback(ModeCode)}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn) }()
	c, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := buildRequest(t, reqOpts{id: 1, user: "alice", password: "123456"})
	c.Write(req)
	waitFor(t, func() bool { return len(svc.Calls()) == 1 })
	cancel()
	close(gate)
	if resp := read(t, c); checkResponse(t, resp, req, testSecret).Code != radius.CodeAccessAccept {
		t.Errorf("answer % x, want Access-Accept", resp)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
}
