package radius

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/store/sqlstore"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
	"github.com/mfad/mfad/internal/testtool"
	"github.com/mfad/mfad/internal/totp"
)

// The tests in this file run the front door on the real service over a
// real SQLite store: every accept, refusal, lockout and audit event is
// the service's own.

// t0 is the start of a TOTP step, so tests know which step is now.
var t0 = time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)

var operator = mfa.Request{Actor: mfa.Operator("test"), Source: "local", FrontDoor: audit.DoorCLI}

// live is the front door on the real service.
type live struct {
	*harness
	svc   *mfa.Service
	db    *sqlstore.DB
	clock *testtool.Clock
	sms   *capturedSMS
}

func newLive(t *testing.T, mode Mode) *live {
	t.Helper()
	return newLiveClient(t, loopback(mode))
}

// newLiveClient is newLive with client as the one client.
func newLiveClient(t *testing.T, client Client) *live {
	t.Helper()
	db := sqltest.SQLite(t)
	ring, err := keyring.Create(filepath.Join(t.TempDir(), "keys"), rand.Reader, t0)
	if err != nil {
		t.Fatalf("keyring.Create = %v", err)
	}
	clk := testtool.NewClock(t0)
	sms := &capturedSMS{sent: make(chan string, 10)}
	log, _ := testLogger()
	svc, err := mfa.New(mfa.Config{Store: db, Keys: ring, Clock: clk.Now, Logger: log, SMS: sms})
	if err != nil {
		t.Fatalf("mfa.New = %v", err)
	}
	h := start(t, Config{Service: svc, Clients: []Client{client}, Clock: clk.Now})
	return &live{harness: h, svc: svc, db: db, clock: clk, sms: sms}
}

// enrolled creates user with a confirmed authenticator and returns its
// secret.
func (l *live) enrolled(t *testing.T, user string) []byte {
	t.Helper()
	ctx := context.Background()
	if _, err := l.svc.CreateUser(ctx, operator, mfa.NewUser{Name: user}); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	e, err := l.svc.EnrollTOTP(ctx, operator, user, mfa.NewTOTP{Name: "phone"})
	if err != nil {
		t.Fatalf("EnrollTOTP = %v", err)
	}
	secret, err := totp.DecodeSecret(e.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.ConfirmTOTP(ctx, operator, user, e.ID, l.code(secret, -1)); err != nil {
		t.Fatalf("ConfirmTOTP = %v", err)
	}
	return secret
}

// code returns the TOTP code offset steps from now.
func (l *live) code(secret []byte, offset int64) string {
	return totp.Code(secret, totp.Step(l.clock.Now(), 30)+offset, totp.DefaultParams())
}

// ask sends an Access-Request and returns the checked answer.
func (l *live) ask(t *testing.T, o reqOpts) *radius.Packet {
	t.Helper()
	return l.exchange(t, buildRequest(t, o))
}

// verifyEvents returns the user's verify events, newest first.
func (l *live) verifyEvents(t *testing.T, user string) []audit.Event {
	t.Helper()
	evs, err := l.svc.ListAudit(context.Background(), operator,
		mfa.AuditQuery{User: user, Action: "verify"})
	if err != nil {
		t.Fatalf("ListAudit = %v", err)
	}
	return evs
}

// capturedSMS keeps the texts the service sends.
type capturedSMS struct{ sent chan string }

func (c *capturedSMS) Send(_ context.Context, to, text string) error {
	c.sent <- text
	return nil
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

// next returns the code in the next text sent.
func (c *capturedSMS) next(t *testing.T) string {
	t.Helper()
	select {
	case text := <-c.sent:
		code := codeRE.FindString(text)
		if code == "" {
			t.Fatalf("SMS %q holds no code", text)
		}
		return code
	case <-time.After(5 * time.Second):
		t.Fatal("no SMS sent")
	}
	return ""
}

// TestEndToEndEveryFactor signs in with a TOTP code, a backup code and an
// access pass, each refused the second time; a retransmission gets the
// first answer and uses nothing.
func TestEndToEndEveryFactor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLive(t, ModeCode)
	secret := l.enrolled(t, "alice")
	set, err := l.svc.GenerateBackupCodes(ctx, operator, "alice")
	if err != nil {
		t.Fatalf("GenerateBackupCodes = %v", err)
	}
	pass, err := l.svc.IssuePass(ctx, operator, "alice",
		mfa.NewPass{OneTime: true, Reason: "lost phone"})
	if err != nil || pass.Pass.Pass == "" {
		t.Fatalf("IssuePass = %+v, %v", pass, err)
	}
	tests := []struct {
		name string
		code string
	}{
		{"TOTP", l.code(secret, 0)},
		{"backup code", set.Codes[0]},
		{"access pass", pass.Pass.Pass},
	}
	id := byte(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id++
			req := buildRequest(t, reqOpts{id: id, user: "alice", password: tt.code})
			c := l.dial(t)
			first := send(t, c, req, 5*time.Second)
			if p := checkResponse(t, first, req, testSecret); p.Code != radius.CodeAccessAccept {
				t.Fatalf("first use: %v, want Access-Accept", p.Code)
			}
			events := len(l.verifyEvents(t, "alice"))
			// A retransmission: the same answer, byte for byte, and
			// nothing decided.
			if again := send(t, c, req, 5*time.Second); string(again) != string(first) {
				t.Errorf("retransmission answered % x, want % x", again, first)
			}
			if n := len(l.verifyEvents(t, "alice")); n != events {
				t.Errorf("retransmission made %d verify events, want none", n-events)
			}
			// A new request with the same code is a replay.
			id++
			p := l.ask(t, reqOpts{id: id, user: "alice", password: tt.code})
			if p.Code != radius.CodeAccessReject {
				t.Errorf("second use: %v, want Access-Reject", p.Code)
			}
		})
	}
	evs := l.verifyEvents(t, "alice")
	if len(evs) != 6 {
		t.Fatalf("%d verify events, want 6", len(evs))
	}
	for _, ev := range evs {
		if ev.FrontDoor != audit.DoorRADIUS || ev.Source != "127.0.0.1" ||
			ev.Actor != "nas:test-nas (127.0.0.1)" || ev.RequestID == "" {
			t.Errorf("audit event %+v, want front door radius, source 127.0.0.1, actor the NAS",
				ev)
		}
	}
	// Newest first: each factor's refusal, then its accept.
	for i, factor := range []string{"access_pass", "backup_code", "totp"} {
		refusal, accept := evs[2*i], evs[2*i+1]
		if accept.Outcome != audit.Success || accept.Factor != factor {
			t.Errorf("event %d = %s %q, want success with %s", 2*i+1, accept.Outcome,
				accept.Factor, factor)
		}
		if refusal.Outcome != audit.Failure {
			t.Errorf("event %d = %s, want failure", 2*i, refusal.Outcome)
		}
	}
}

// TestEndToEndSameRefusal checks that an unknown user, a wrong code and a
// replayed code get the same answer.
func TestEndToEndSameRefusal(t *testing.T) {
	t.Parallel()
	l := newLive(t, ModeCode)
	secret := l.enrolled(t, "alice")
	now := l.code(secret, 0)
	if p := l.ask(t, reqOpts{id: 1, user: "alice", password: now}); p.Code != radius.CodeAccessAccept {
		t.Fatalf("right code: %v, want Access-Accept", p.Code)
	}
	var first radius.Attributes
	for i, o := range []reqOpts{
		{user: "alice", password: now},
		{user: "alice", password: "000000"},
		{user: "nobody", password: now},
		{user: "alice", password: "not a code"},
		{user: "alice", password: "pw," + now},
	} {
		o.id = byte(10 + i)
		p := l.ask(t, o)
		if p.Code != radius.CodeAccessReject {
			t.Errorf("%+v: %v, want Access-Reject", o, p.Code)
			continue
		}
		if first == nil {
			first = p.Attributes[1:]
		} else if !sameAttrs(first, p.Attributes[1:]) {
			t.Errorf("%+v: attributes %v, want %v", o, p.Attributes[1:], first)
		}
	}
}

// TestEndToEndDropsDecideNothing checks that a packet dropped for its
// Message-Authenticator reaches no service: no audit event is written.
func TestEndToEndDropsDecideNothing(t *testing.T) {
	t.Parallel()
	l := newLive(t, ModeCode)
	secret := l.enrolled(t, "alice")
	for i, o := range []reqOpts{
		{user: "alice", password: l.code(secret, 0), noMA: true},
		{user: "alice", password: l.code(secret, 0), badMA: true},
		{user: "alice", password: l.code(secret, 0), secret: []byte("the-wrong-secret-0123")},
	} {
		o.id = byte(i)
		l.silent(t, buildRequest(t, o))
	}
	if evs := l.verifyEvents(t, "alice"); len(evs) != 0 {
		t.Errorf("%d verify events, want none", len(evs))
	}
	// The code was not used: it still works.
	p := l.ask(t, reqOpts{id: 9, user: "alice", password: l.code(secret, 0)})
	if p.Code != radius.CodeAccessAccept {
		t.Errorf("right code after the drops: %v, want Access-Accept", p.Code)
	}
}

// TestEndToEndLockout checks that RADIUS failures count toward the
// service's lockout like any other.
func TestEndToEndLockout(t *testing.T) {
	t.Parallel()
	l := newLive(t, ModeCode)
	secret := l.enrolled(t, "alice")
	for i := range 10 {
		l.ask(t, reqOpts{id: byte(i), user: "alice", password: "000000"})
	}
	p := l.ask(t, reqOpts{id: 100, user: "alice", password: l.code(secret, 0)})
	if p.Code != radius.CodeAccessReject {
		t.Errorf("right code after 10 failures: %v, want Access-Reject (locked)", p.Code)
	}
	if evs := l.verifyEvents(t, "alice"); evs[0].Reason != "locked" {
		t.Errorf("last verify event reason %q, want locked", evs[0].Reason)
	}
}

// TestEndToEndChallenge walks challenge mode on the real service: the
// prompt sends an SMS code that answers it; an authenticator code answers
// another; a State works once.
func TestEndToEndChallenge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLive(t, ModeChallenge)
	secret := l.enrolled(t, "alice")
	if _, err := l.svc.SetPolicy(ctx, operator, []byte(`{"out_of_band": {"sms": true}}`)); err != nil {
		t.Fatalf("SetPolicy = %v", err)
	}
	bind, err := l.svc.BindDestination(ctx, operator, "alice", "sms", "+442079460018")
	if err != nil {
		t.Fatalf("BindDestination = %v", err)
	}
	if _, err := l.svc.ConfirmDestination(ctx, operator, "alice", "sms", bind.ID,
		l.sms.next(t)); err != nil {
		t.Fatalf("ConfirmDestination = %v", err)
	}

	prompt := func(id byte) []byte {
		t.Helper()
		p := l.ask(t, reqOpts{id: id, user: "alice", password: ""})
		if p.Code != radius.CodeAccessChallenge {
			t.Fatalf("empty password: %v, want Access-Challenge", p.Code)
		}
		if msg := rfc2865.ReplyMessage_GetString(p); msg == "" {
			t.Errorf("challenge has no Reply-Message")
		}
		return rfc2865.State_Get(p)
	}
	answer := func(id byte, state []byte, code string) radius.Code {
		t.Helper()
		return l.ask(t, reqOpts{id: id, user: "alice", password: code, state: state}).Code
	}

	state := prompt(1)
	if got := answer(2, state, l.sms.next(t)); got != radius.CodeAccessAccept {
		t.Errorf("texted code at the prompt: %v, want Access-Accept", got)
	}
	if got := answer(3, state, l.code(secret, 0)); got != radius.CodeAccessReject {
		t.Errorf("State used twice: %v, want Access-Reject", got)
	}
	state = prompt(4)
	l.sms.next(t)
	if got := answer(5, state, l.code(secret, 0)); got != radius.CodeAccessAccept {
		t.Errorf("authenticator code at the prompt: %v, want Access-Accept", got)
	}
	// An unknown user gets a prompt of the same shape, that no code answers.
	p := l.ask(t, reqOpts{id: 6, user: "nobody", password: ""})
	if p.Code != radius.CodeAccessChallenge || len(rfc2865.State_Get(p)) != len(state) {
		t.Errorf("unknown user: %v with State %q, want a challenge like alice's", p.Code,
			rfc2865.State_Get(p))
	}
}

// TestEndToEndServiceDown checks that with its database gone the service
// cannot decide and nothing is answered (SECURITY.md 4).
func TestEndToEndServiceDown(t *testing.T) {
	t.Parallel()
	l := newLive(t, ModeCode)
	secret := l.enrolled(t, "alice")
	l.db.Close()
	l.silent(t, buildRequest(t, reqOpts{id: 1, user: "alice", password: l.code(secret, 0)}))
	if st := l.srv.Stats(); st.Dropped[DropServiceError] != 1 || st.Accepted != 0 {
		t.Errorf("Stats = %+v, want one service error and no accept", st)
	}
}

// TestEndToEndBypass checks that a bypass staff granted lets the user in
// once with an empty code: at once in code mode, and at the prompt in
// challenge mode.
func TestEndToEndBypass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, mode := range []Mode{ModeCode, ModeChallenge} {
		t.Run(string(mode), func(t *testing.T) {
			l := newLive(t, mode)
			l.enrolled(t, "alice")
			if _, err := l.svc.GrantBypass(ctx, operator, "alice", 5*time.Minute,
				"phone flat; verified by her manager"); err != nil {
				t.Fatalf("GrantBypass = %v", err)
			}
			signIn := func(id byte) radius.Code {
				p := l.ask(t, reqOpts{id: id, user: "alice", password: ""})
				if mode == ModeChallenge && p.Code == radius.CodeAccessChallenge {
					p = l.ask(t, reqOpts{id: id + 1, user: "alice", password: "",
						state: rfc2865.State_Get(p)})
				}
				return p.Code
			}
			if got := signIn(1); got != radius.CodeAccessAccept {
				t.Errorf("empty code with a bypass: %v, want Access-Accept", got)
			}
			if got := signIn(3); got != radius.CodeAccessReject {
				t.Errorf("empty code, the bypass used: %v, want Access-Reject", got)
			}
		})
	}
}
