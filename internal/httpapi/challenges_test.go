package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/notify/notifytest"
	"github.com/mfad/mfad/internal/store/sqlstore"
)

// codeRE finds the code in an email or SMS that carries one.
var codeRE = regexp.MustCompile(`code: (\d{6,8})`)

// sendTimeout bounds how long a test waits for a code, which the service
// sends asynchronously.
const sendTimeout = 10 * time.Second

// Test-side shapes of the answers about codes.
type (
	challengeOut struct {
		Challenge string `json:"challenge"`
		ExpiresAt string `json:"expires_at"`
	}
	// destinationsOut is what a user says of their address and number.
	destinationsOut struct {
		Email           string  `json:"email"`
		Phone           string  `json:"phone"`
		EmailVerifiedAt *string `json:"email_verified_at"`
		PhoneVerifiedAt *string `json:"phone_verified_at"`
	}
)

// acceptEmail and acceptSMS are the answers of verify to a right code of
// each kind, byte for byte.
const (
	acceptEmail = "{\n  \"result\": \"accept\",\n  \"factor\": \"email\"\n}\n"
	acceptSMS   = "{\n  \"result\": \"accept\",\n  \"factor\": \"sms\"\n}\n"
)

// mailbox starts a real SMTP server for the test and returns it with a
// mailer that sends to it.
func mailbox(t *testing.T) (*notifytest.Server, mfa.Mailer) {
	t.Helper()
	ms := notifytest.Start(t)
	m, err := notify.NewSMTP(notify.SMTPConfig{URL: ms.URL(), From: "MFA <mfa@example.com>",
		Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("notify.NewSMTP(%s) = %v", ms.URL(), err)
	}
	return ms, m
}

// mailedCode waits for the n-th mail to arrive, checks that it went to
// address, and returns the code in it.
func mailedCode(t *testing.T, ms *notifytest.Server, n int, address string) string {
	t.Helper()
	m := ms.Wait(t, n, sendTimeout)[n-1]
	if len(m.To) != 1 || m.To[0] != address {
		t.Fatalf("mail %d went to %q, want %s", n, m.To, address)
	}
	code := codeRE.FindStringSubmatch(m.Text)
	if code == nil {
		t.Fatalf("mail %d (%q) holds no code:\n%s", n, m.Subject, m.Text)
	}
	return code[1]
}

// smsGateway is an SMS gateway for the test: an HTTP server that keeps the
// messages it is asked to send. notify.NewWebhookSMS posts them to it.
type smsGateway struct {
	mu   sync.Mutex
	sent []smsOut
	more chan struct{}
}

// smsOut is a message as notify.DefaultSMSBody posts it.
type smsOut struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

func newSMSGateway(t *testing.T) (*smsGateway, notify.SMS) {
	t.Helper()
	g := &smsGateway{more: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m smsOut
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("SMS gateway: body is not the default JSON: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.sent = append(g.sent, m)
		g.mu.Unlock()
		select {
		case g.more <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	sms, err := notify.NewWebhookSMS(notify.WebhookSMSConfig{URL: srv.URL + "/send"})
	if err != nil {
		t.Fatalf("notify.NewWebhookSMS = %v", err)
	}
	return g, sms
}

// code waits for the n-th message, checks that it went to number, and
// returns the code in it.
func (g *smsGateway) code(t *testing.T, n int, number string) string {
	t.Helper()
	deadline := time.After(sendTimeout)
	for {
		g.mu.Lock()
		sent := g.sent
		g.mu.Unlock()
		if len(sent) >= n {
			m := sent[n-1]
			code := codeRE.FindStringSubmatch(m.Text)
			if m.To != number || code == nil {
				t.Fatalf("SMS %d = %+v, want a code to %s", n, m, number)
			}
			return code[1]
		}
		select {
		case <-g.more:
		case <-deadline:
			t.Fatalf("%d SMS sent in %s, want %d", len(sent), sendTimeout, n)
		}
	}
}

// putPolicy replaces the global policy with doc.
func (e *env) putPolicy(t testing.TB, doc string) {
	t.Helper()
	e.do(t, call{method: "PUT", path: "/v1/policy", token: e.admin, body: doc}).
		want(t, http.StatusOK)
}

// challenge asks POST /v1/challenges, with token unless it is empty, and
// the request ID id unless it is empty.
func (e *env) challenge(t testing.TB, token, id, user, factor string) reply {
	t.Helper()
	c := call{method: "POST", path: "/v1/challenges", token: token,
		body: map[string]string{"user": user, "factor": factor}}
	if id != "" {
		c.header = map[string]string{"X-Request-ID": id}
	}
	return e.do(t, c)
}

// verifyChallenge asks POST /v1/verify with a challenge and its code.
func (e *env) verifyChallenge(t testing.TB, token, user, challenge, code string) string {
	t.Helper()
	return string(e.do(t, call{method: "POST", path: "/v1/verify", token: token,
		body: map[string]string{"user": user, "code": code, "challenge": challenge}}).
		want(t, http.StatusOK).body)
}

// otherCode returns a code of the same length as code that is not it.
func otherCode(code string) string {
	if strings.HasPrefix(code, "1") {
		return "2" + code[1:]
	}
	return "1" + code[1:]
}

// TestEmailCodes drives email codes over HTTP from end to end: staff bind
// an address, a sign-in page asks for a code without a token, the same
// for a user who does not exist, and the code verifies once and opens a
// session.
func TestEmailCodes(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		ms, mailer := mailbox(t)
		e := newEnv(t, options{db: db, mailer: mailer})
		vt := e.createToken(t, "verifier", "").Token
		e.putPolicy(t, `{"out_of_band": {"email": true}}`)
		e.createUser(t, "alice")
		const address = "alice@example.com"

		var bind challengeOut
		e.do(t, call{method: "POST", path: "/v1/users/alice/email", token: e.admin,
			body: map[string]string{"email": address}}).
			want(t, http.StatusAccepted).decode(t, &bind)
		if want := *jsonTime(e.clock.Now().Add(10 * time.Minute)); bind.ExpiresAt != want {
			t.Errorf("expires_at = %s, want %s (the default lifetime)", bind.ExpiresAt, want)
		}
		code := mailedCode(t, ms, 1, address)
		sent := []string{code}
		confirm := "/v1/users/alice/email/confirm"
		e.do(t, call{method: "POST", path: confirm, token: e.admin,
			body: map[string]string{"challenge": bind.Challenge, "code": otherCode(code)}}).
			want(t, http.StatusBadRequest).problem(t)
		var u destinationsOut
		e.do(t, call{method: "POST", path: confirm, token: e.admin,
			body: map[string]string{"challenge": bind.Challenge, "code": code}}).
			want(t, http.StatusOK).decode(t, &u)
		if u.Email != address || u.EmailVerifiedAt == nil ||
			*u.EmailVerifiedAt != *jsonTime(e.clock.Now()) {
			t.Errorf("confirmed user = %+v, want %s proved now", u, address)
		}

		// A sign-in page asks without a token. A user who does not exist
		// gets the same answer, the challenge ID apart.
		known := e.challenge(t, "", "challenge-alice", "alice", "email").
			want(t, http.StatusAccepted)
		unknown := e.challenge(t, "", "challenge-nobody", "nobody", "email").
			want(t, http.StatusAccepted)
		var ch, decoy challengeOut
		known.decode(t, &ch)
		unknown.decode(t, &decoy)
		if ch.Challenge == decoy.Challenge {
			t.Errorf("both challenges are %q, want each its own", ch.Challenge)
		}
		got := bytes.ReplaceAll(unknown.body, []byte(decoy.Challenge), []byte("ID"))
		want := bytes.ReplaceAll(known.body, []byte(ch.Challenge), []byte("ID"))
		if !bytes.Equal(got, want) {
			t.Errorf("answer for an unknown user = %s, want the same as for alice: %s",
				unknown.body, known.body)
		}
		diff := cmp.Diff(stableHeaders(known.header), stableHeaders(unknown.header))
		if diff != "" {
			t.Errorf("headers differ (-alice +unknown):\n%s", diff)
		}
		if ev := e.eventOf(t, "challenge.send", "challenge-nobody"); ev.Outcome != "failure" ||
			ev.Reason != "unknown_user" || ev.Actor != "anonymous" {
			t.Errorf("audit event for the unknown user = %+v, want unknown_user", ev)
		}
		if ev := e.eventOf(t, "challenge.send", "challenge-alice"); ev.Outcome != "success" ||
			ev.Factor != "email" {
			t.Errorf("audit event for alice = %+v, want a success with factor email", ev)
		}

		code = mailedCode(t, ms, 2, address)
		sent = append(sent, code)
		if got := e.verifyChallenge(t, vt, "alice", decoy.Challenge, code); got != rejectAny {
			t.Errorf("verify(alice, the unknown user's challenge) = %q, want %q", got, rejectAny)
		}
		// With a challenge, an empty code is no code: it never asks for the
		// bypass that staff granted.
		e.do(t, call{method: "POST", path: "/v1/users/alice/bypass", token: e.admin,
			body: map[string]string{"duration": "5m", "reason": "on the phone"}}).
			want(t, http.StatusCreated)
		if got := e.verifyChallenge(t, vt, "alice", ch.Challenge, ""); got != rejectAny {
			t.Errorf("verify(challenge, empty code) = %q, want %q", got, rejectAny)
		}
		if got := e.verdict(t, vt, "alice", ""); got != acceptBypass {
			t.Errorf("verify(empty code) = %q, want the bypass still unused: %q", got,
				acceptBypass)
		}
		if got := e.verifyChallenge(t, vt, "alice", ch.Challenge, code); got != acceptEmail {
			t.Errorf("verify(challenge, code) = %q, want %q", got, acceptEmail)
		}
		if got := e.verifyChallenge(t, vt, "alice", ch.Challenge, code); got != rejectAny {
			t.Errorf("verify(challenge, code again) = %q, want %q", got, rejectAny)
		}

		// A session opened with an emailed code.
		e.challenge(t, "", "", "alice", "email").want(t, http.StatusAccepted).decode(t, &ch)
		code = mailedCode(t, ms, 3, address)
		sent = append(sent, code)
		var s sessionOut
		e.do(t, call{method: "POST", path: "/v1/sessions",
			body: map[string]string{"user": "alice", "code": code, "challenge": ch.Challenge}}).
			want(t, http.StatusCreated).decode(t, &s)
		if !strings.HasPrefix(s.Token, "mfads_") || s.Factor != "email" {
			t.Errorf("POST /v1/sessions = %+v, want an mfads_ token opened with email", s)
		}
		// It may not bind another address: a mailbox is all it proved.
		e.do(t, call{method: "POST", path: "/v1/me/email", token: s.Token,
			body: map[string]string{"email": "mallory@example.com"}}).
			want(t, http.StatusForbidden)

		// Removing the address stops codes; the address stays, unproved.
		var removed destinationsOut
		e.do(t, call{method: "DELETE", path: "/v1/users/alice/email", token: e.admin}).
			want(t, http.StatusOK).decode(t, &removed)
		if removed.Email != address || removed.EmailVerifiedAt != nil {
			t.Errorf("user after DELETE /v1/users/alice/email = %+v, want %s unproved",
				removed, address)
		}
		e.do(t, call{method: "DELETE", path: "/v1/users/alice/email", token: e.admin}).
			want(t, http.StatusNotFound)

		// A code is never logged; a whole JSON string is what a logged one
		// would be.
		logs := e.logs.String()
		for _, c := range sent {
			if strings.Contains(logs, `"`+c+`"`) {
				t.Errorf("the log holds the code %s", c)
			}
		}
		if strings.Contains(logs, address) {
			t.Errorf("the log holds the address %s unmasked", address)
		}
	})
}

// TestSMSCodes binds a phone number and verifies a code texted to it,
// through an SMS gateway.
func TestSMSCodes(t *testing.T) {
	g, sms := newSMSGateway(t)
	e := newEnv(t, options{sms: sms})
	vt := e.createToken(t, "verifier", "").Token
	e.putPolicy(t, `{"out_of_band": {"sms": true}}`)
	e.createUser(t, "alice")
	const number = "+442079460018"

	var bind challengeOut
	e.do(t, call{method: "POST", path: "/v1/users/alice/phone", token: e.admin,
		body: map[string]string{"phone": "+44 20 7946 0018"}}).
		want(t, http.StatusAccepted).decode(t, &bind)
	var u destinationsOut
	e.do(t, call{method: "POST", path: "/v1/users/alice/phone/confirm", token: e.admin,
		body: map[string]string{"challenge": bind.Challenge, "code": g.code(t, 1, number)}}).
		want(t, http.StatusOK).decode(t, &u)
	if u.Phone != number || u.PhoneVerifiedAt == nil || u.EmailVerifiedAt != nil {
		t.Errorf("confirmed user = %+v, want %s proved and no email", u, number)
	}

	var ch challengeOut
	e.challenge(t, "", "", "alice", "sms").want(t, http.StatusAccepted).decode(t, &ch)
	code := g.code(t, 2, number)
	if got := e.verifyChallenge(t, vt, "alice", ch.Challenge, code); got != acceptSMS {
		t.Errorf("verify(challenge, texted code) = %q, want %q", got, acceptSMS)
	}

	var removed destinationsOut
	e.do(t, call{method: "DELETE", path: "/v1/users/alice/phone", token: e.admin}).
		want(t, http.StatusOK).decode(t, &removed)
	if removed.Phone != number || removed.PhoneVerifiedAt != nil {
		t.Errorf("user after DELETE /v1/users/alice/phone = %+v, want %s unproved",
			removed, number)
	}
}

// TestChallengeLimit checks the hourly bound on codes for one user name:
// the answer beyond it is the same 429 whether or not the user exists.
func TestChallengeLimit(t *testing.T) {
	e := newEnv(t, options{})
	e.putPolicy(t, `{"out_of_band": {"email": true}}`)
	e.createUser(t, "alice")
	e.clock.Add(20 * time.Minute) // 40 minutes before the hourly window ends

	var first reply
	for i, name := range []string{"alice", "nobody"} {
		for range 5 { // the default out_of_band.per_user
			e.challenge(t, "", "", name, "email").want(t, http.StatusAccepted)
		}
		id := fmt.Sprintf("limited-%d", i)
		r := e.challenge(t, "", id, name, "email")
		p := r.want(t, http.StatusTooManyRequests).problem(t)
		if got := r.header.Get("Retry-After"); got != "2400" {
			t.Errorf("%s: Retry-After = %q, want 2400 (the end of the hour)", name, got)
		}
		if p.RequestID != id || !strings.Contains(p.Detail, "too many codes") {
			t.Errorf("%s: problem = %+v, want too many codes", name, p)
		}
		if i == 0 {
			first = r
			continue
		}
		got := bytes.ReplaceAll(r.body, []byte(id), []byte("ID"))
		want := bytes.ReplaceAll(first.body, []byte("limited-0"), []byte("ID"))
		if !bytes.Equal(got, want) {
			t.Errorf("429 for an unknown user = %s, want the same as for alice: %s",
				r.body, first.body)
		}
		if diff := cmp.Diff(stableHeaders(first.header), stableHeaders(r.header)); diff != "" {
			t.Errorf("429 headers differ (-alice +unknown):\n%s", diff)
		}
	}
	// The bound is per clock hour.
	e.clock.Add(40 * time.Minute)
	e.challenge(t, "", "", "alice", "email").want(t, http.StatusAccepted)
}

// TestChallengeCallers checks who may ask for a code: anyone without a
// token, counted per address; with a token, only a role the service allows,
// and then not counted per address.
func TestChallengeCallers(t *testing.T) {
	e := newEnv(t, options{signInRate: 2})
	vt := e.createToken(t, "verifier", "").Token
	auditor := e.createToken(t, "auditor", "").Token
	e.createUser(t, "alice")
	secret := e.enroll(t, "alice")
	s := e.session(t, "alice", e.code(secret))

	for _, name := range []string{"u1", "u2", "u3"} {
		e.challenge(t, vt, "by-token-"+name, name, "email").want(t, http.StatusAccepted)
	}
	ev := e.eventOf(t, "challenge.send", "by-token-u1")
	if !strings.HasPrefix(ev.Actor, "token:") {
		t.Errorf("audit actor = %q, want the verifier's token", ev.Actor)
	}

	for i, name := range []string{"u4", "u5", "u6"} {
		want := http.StatusAccepted
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		e.challenge(t, "", "", name, "email").want(t, want)
	}

	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"a role that may not", auditor, http.StatusForbidden},
		{"a session", s.Token, http.StatusForbidden},
		{"an unknown token", "mfad_nosuchtoken_secret", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.challenge(t, tt.token, "", "alice", "email")
			r.want(t, tt.status).problem(t)
			if tt.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}

	e.do(t, call{method: "POST", path: "/v1/challenges", token: vt, invalid: true,
		body: map[string]string{"user": "alice", "factor": "voice"}}).
		want(t, http.StatusBadRequest).problem(t)
}

// TestMyEmail binds an address from a session: one opened with an
// authenticator code recently may, a recovery session and a stale one may
// not.
func TestMyEmail(t *testing.T) {
	ms, mailer := mailbox(t)
	e := newEnv(t, options{mailer: mailer})
	e.putPolicy(t, `{"out_of_band": {"email": true}}`)
	e.createUser(t, "alice")
	secret := e.enroll(t, "alice")
	printed := e.makeCodes(t, e.admin, "/v1/users/alice/backup-codes")
	const address = "alice@example.com"
	body := map[string]string{"email": address}

	s := e.session(t, "alice", e.code(secret))
	var bind challengeOut
	e.do(t, call{method: "POST", path: "/v1/me/email", token: s.Token, body: body}).
		want(t, http.StatusAccepted).decode(t, &bind)
	var u destinationsOut
	code := mailedCode(t, ms, 1, address)
	e.do(t, call{method: "POST", path: "/v1/me/email/confirm", token: s.Token,
		body: map[string]string{"challenge": bind.Challenge, "code": code}}).
		want(t, http.StatusOK).decode(t, &u)
	if u.Email != address || u.EmailVerifiedAt == nil {
		t.Errorf("POST /v1/me/email/confirm = %+v, want %s proved", u, address)
	}
	var removed destinationsOut
	e.do(t, call{method: "DELETE", path: "/v1/me/email", token: s.Token}).
		want(t, http.StatusOK).decode(t, &removed)
	if removed.Email != address || removed.EmailVerifiedAt != nil {
		t.Errorf("DELETE /v1/me/email = %+v, want %s kept, unproved", removed, address)
	}

	recovery := e.session(t, "alice", printed.Codes[0])
	for _, c := range []call{
		{method: "POST", path: "/v1/me/email", body: body},
		{method: "POST", path: "/v1/me/email/confirm",
			body: map[string]string{"challenge": bind.Challenge, "code": "123456"}},
		{method: "DELETE", path: "/v1/me/email"},
		{method: "POST", path: "/v1/me/phone", body: map[string]string{"phone": "+442079460018"}},
	} {
		c.token = recovery.Token
		p := e.do(t, c).want(t, http.StatusForbidden).problem(t)
		if !strings.Contains(p.Detail, "backup_code") {
			t.Errorf("%s %s from a recovery session: detail = %q, want it to name the factor",
				c.method, c.path, p.Detail)
		}
	}

	// The session still lives, but proved its factor too long ago to add one.
	e.clock.Add(11 * time.Minute)
	p := e.do(t, call{method: "POST", path: "/v1/me/email", token: s.Token, body: body}).
		want(t, http.StatusForbidden).problem(t)
	if !strings.Contains(p.Detail, "10m") {
		t.Errorf("stale session: detail = %q, want it to give the freshness", p.Detail)
	}
}

// TestBindRefused checks what binding refuses: a server that cannot send,
// a policy that does not allow the factor, and bad input.
func TestBindRefused(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	helpdesk := e.createToken(t, "helpdesk", "").Token
	email := map[string]string{"email": "alice@example.com"}

	e.do(t, call{method: "POST", path: "/v1/users/alice/email", token: e.admin, body: email}).
		want(t, http.StatusForbidden)
	e.putPolicy(t, `{"out_of_band": {"email": true}}`)
	p := e.do(t, call{method: "POST", path: "/v1/users/alice/email", token: e.admin,
		body: email}).want(t, http.StatusConflict).problem(t)
	if !strings.Contains(p.Detail, "mail server") {
		t.Errorf("409 detail = %q, want it to say no mail server is configured", p.Detail)
	}

	tests := []struct {
		name    string
		c       call
		status  int
		invalid bool
	}{
		{"helpdesk", call{method: "POST", path: "/v1/users/alice/email", token: helpdesk,
			body: email}, http.StatusForbidden, false},
		{"no such user", call{method: "POST", path: "/v1/users/nobody/email", token: e.admin,
			body: email}, http.StatusNotFound, false},
		{"bad address", call{method: "POST", path: "/v1/users/alice/email", token: e.admin,
			body: map[string]string{"email": "not an address"}}, http.StatusBadRequest, false},
		{"bad number", call{method: "POST", path: "/v1/users/alice/phone", token: e.admin,
			body: map[string]string{"phone": "0207 946 0018"}}, http.StatusBadRequest, false},
		{"phone field on email", call{method: "POST", path: "/v1/users/alice/email",
			token: e.admin, body: map[string]string{"phone": "+442079460018"}},
			http.StatusBadRequest, true},
		{"malformed code", call{method: "POST", path: "/v1/users/alice/email/confirm",
			token: e.admin, body: map[string]string{"challenge": "abc", "code": "12"}},
			http.StatusBadRequest, false},
		{"nothing to remove", call{method: "DELETE", path: "/v1/users/alice/email",
			token: e.admin}, http.StatusNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.invalid = tt.invalid
			e.do(t, tt.c).want(t, tt.status).problem(t)
		})
	}
}
