package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store/sqlstore"
	"github.com/mfad/mfad/internal/totp"
)

// sessionOut is the test-side shape of a new session.
type sessionOut struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
	Factor    string `json:"factor"`
}

// signIn asks POST /v1/sessions, with no token.
func (e *env) signIn(t testing.TB, user, code string) reply {
	t.Helper()
	return e.do(t, call{method: "POST", path: "/v1/sessions",
		body: map[string]string{"user": user, "code": code}})
}

// session signs user in with code and returns the session.
func (e *env) session(t testing.TB, user, code string) sessionOut {
	t.Helper()
	var s sessionOut
	e.signIn(t, user, code).want(t, http.StatusCreated).decode(t, &s)
	return s
}

// TestRecoverySession walks through a lost phone: the user signs in with a
// printed backup code, may add an authenticator and print new codes, but
// may not take factors away.
func TestRecoverySession(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})
		vt := e.createToken(t, "verifier", "").Token
		e.createUser(t, "alice")
		e.createUser(t, "bob")
		e.enroll(t, "alice")
		printed := e.makeCodes(t, e.admin, "/v1/users/alice/backup-codes")

		start := e.clock.Now()
		s := e.session(t, "Alice", printed.Codes[0])
		if !strings.HasPrefix(s.Token, "mfads_") || s.Factor != "backup_code" {
			t.Errorf("POST /v1/sessions = %+v, want an mfads_ token opened with backup_code", s)
		}
		if want := *jsonTime(start.Add(15 * time.Minute)); s.ExpiresAt != want {
			t.Errorf("expires_at = %s, want %s (the default lifetime)", s.ExpiresAt, want)
		}
		// Signing in used the code up.
		if got := e.verdict(t, vt, "alice", printed.Codes[0]); got != rejectAny {
			t.Errorf("verify(code used to sign in) = %q, want %q", got, rejectAny)
		}

		var me userOut
		e.do(t, call{method: "GET", path: "/v1/me", token: s.Token}).
			want(t, http.StatusOK).decode(t, &me)
		if me.Name != "alice" {
			t.Errorf("GET /v1/me = %+v, want alice", me)
		}
		var list struct {
			TOTP []struct {
				ID string `json:"id"`
			} `json:"totp"`
		}
		e.do(t, call{method: "GET", path: "/v1/me/totp", token: s.Token}).
			want(t, http.StatusOK).decode(t, &list)
		if len(list.TOTP) != 1 {
			t.Fatalf("GET /v1/me/totp = %+v, want one authenticator", list.TOTP)
		}
		lost := list.TOTP[0].ID

		// What a recovery session may not do, and what no session may.
		refused := []struct {
			name   string
			c      call
			reason string
		}{
			{"remove an authenticator", call{method: "DELETE", path: "/v1/me/totp/" + lost},
				"recovery_session"},
			{"remove the backup codes", call{method: "DELETE", path: "/v1/me/backup-codes"},
				"recovery_session"},
			{"read another user", call{method: "GET", path: "/v1/users/bob"},
				"own_account_only"},
			{"list users", call{method: "GET", path: "/v1/users"}, "own_account_only"},
			{"read the audit log", call{method: "GET", path: "/v1/audit"}, "not_self_service"},
			{"verify", call{method: "POST", path: "/v1/verify",
				body: map[string]string{"user": "alice", "code": "123456"}}, "not_self_service"},
		}
		for i, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				id := fmt.Sprintf("recovery-refused-%d", i)
				tt.c.token = s.Token
				tt.c.header = map[string]string{"X-Request-ID": id}
				p := e.do(t, tt.c).want(t, http.StatusForbidden).problem(t)
				if !strings.Contains(p.Detail, "session opened with backup_code") {
					t.Errorf("detail = %q, want it to name the session", p.Detail)
				}
				var ev eventOut
				for _, x := range e.audit(t, url.Values{"limit": {"1000"}}) {
					if x.RequestID == id {
						ev = x
					}
				}
				if ev.Outcome != "denied" || ev.Reason != tt.reason {
					t.Errorf("audit event = %+v, want denied/%s", ev, tt.reason)
				}
			})
		}

		// A new authenticator, confirmed, under /v1/me.
		var enr enrollmentOut
		r := e.do(t, call{method: "POST", path: "/v1/me/totp", token: s.Token,
			body: map[string]string{"name": "New phone"}}).want(t, http.StatusCreated)
		r.decode(t, &enr)
		if got, want := r.header.Get("Location"), "/v1/me/totp/"+enr.ID; got != want {
			t.Errorf("POST /v1/me/totp: Location = %q, want %q", got, want)
		}
		secret, err := totp.DecodeSecret(enr.Secret)
		if err != nil {
			t.Fatalf("totp.DecodeSecret = %v", err)
		}
		e.do(t, call{method: "POST", path: "/v1/me/totp/" + enr.ID + "/confirm", token: s.Token,
			body: map[string]string{"code": e.code(secret)}}).want(t, http.StatusOK)

		// A new sheet: the printed one stops working.
		r = e.do(t, call{method: "POST", path: "/v1/me/backup-codes", token: s.Token}).
			want(t, http.StatusCreated)
		if got := r.header.Get("Location"); got != "/v1/me/backup-codes" {
			t.Errorf("POST /v1/me/backup-codes: Location = %q, want /v1/me/backup-codes", got)
		}
		var fresh backupCodesOut
		r.decode(t, &fresh)
		checkNewSet(t, fresh)
		if got := e.verdict(t, vt, "alice", printed.Codes[1]); got != rejectAny {
			t.Errorf("verify(code of the old sheet) = %q, want %q", got, rejectAny)
		}
		if st := e.codeStatus(t, s.Token, "/v1/me/backup-codes"); st.Remaining != 10 {
			t.Errorf("GET /v1/me/backup-codes = %+v, want 10 remaining", st)
		}

		// Signing out ends the session at once.
		e.do(t, call{method: "DELETE", path: "/v1/me/session", token: s.Token}).
			want(t, http.StatusNoContent)
		for _, c := range []call{
			{method: "GET", path: "/v1/me", token: s.Token},
			{method: "DELETE", path: "/v1/me/session", token: s.Token},
		} {
			r := e.do(t, c).want(t, http.StatusUnauthorized)
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, "invalid_token") {
				t.Errorf("%s %s after sign-out: WWW-Authenticate = %q, want invalid_token",
					c.method, c.path, got)
			}
		}

		checkLogsClean(t, e, map[string]string{
			"session token": s.Token, "printed code": printed.Codes[0],
			"fresh code": fresh.Codes[0], "TOTP secret": enr.Secret,
		})
	})
}

// checkLogsClean fails if the log holds any of the secrets.
func checkLogsClean(t *testing.T, e *env, secrets map[string]string) {
	t.Helper()
	logs := e.logs.String()
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds the %s", what)
		}
	}
}

// TestEverydaySession checks a session opened with an authenticator code:
// it may remove factors, and it ends when its lifetime is over.
func TestEverydaySession(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	secret := e.enroll(t, "alice")
	e.makeCodes(t, e.admin, "/v1/users/alice/backup-codes")
	var list struct {
		TOTP []struct {
			ID string `json:"id"`
		} `json:"totp"`
	}
	e.do(t, call{method: "GET", path: "/v1/users/alice/totp", token: e.admin}).
		want(t, http.StatusOK).decode(t, &list)

	s := e.session(t, "alice", e.code(secret))
	if s.Factor != "totp" {
		t.Errorf("factor = %q, want totp", s.Factor)
	}
	e.do(t, call{method: "DELETE", path: "/v1/me/backup-codes", token: s.Token}).
		want(t, http.StatusNoContent)
	e.do(t, call{method: "GET", path: "/v1/me/backup-codes", token: s.Token}).
		want(t, http.StatusNotFound)
	e.do(t, call{method: "DELETE", path: "/v1/me/totp/" + list.TOTP[0].ID, token: s.Token}).
		want(t, http.StatusNoContent)

	e.clock.Add(15*time.Minute - time.Second)
	e.do(t, call{method: "GET", path: "/v1/me", token: s.Token}).want(t, http.StatusOK)
	e.clock.Add(time.Second)
	e.do(t, call{method: "GET", path: "/v1/me", token: s.Token}).want(t, http.StatusUnauthorized)
}

// TestMeNeedsSession checks that the /v1/me routes refuse API tokens, even
// an admin's or one bound to a user.
func TestMeNeedsSession(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "root", "admin")
	bound := e.createToken(t, "admin", "root").Token
	helpdesk := e.createToken(t, "helpdesk", "").Token
	tests := []struct {
		name string
		c    call
	}{
		{"admin reads me", call{method: "GET", path: "/v1/me", token: e.admin}},
		{"bound token reads me", call{method: "GET", path: "/v1/me", token: bound}},
		{"helpdesk lists my authenticators",
			call{method: "GET", path: "/v1/me/totp", token: helpdesk}},
		{"bound token makes my codes",
			call{method: "POST", path: "/v1/me/backup-codes", token: bound}},
		{"bound token binds my email", call{method: "POST", path: "/v1/me/email", token: bound,
			body: map[string]string{"email": "root@example.com"}}},
		{"admin signs out", call{method: "DELETE", path: "/v1/me/session", token: e.admin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.do(t, tt.c).want(t, http.StatusForbidden).problem(t)
			if !strings.Contains(p.Detail, "session") {
				t.Errorf("detail = %q, want it to say a session is needed", p.Detail)
			}
		})
	}
	e.do(t, call{method: "GET", path: "/v1/me", invalid: true}).want(t, http.StatusUnauthorized)
}

// TestSignInSameRefusal checks that every reason to refuse a sign-in gives
// the same status, headers and body, apart from the request ID, and that
// the audit log alone knows the reason.
func TestSignInSameRefusal(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "nofactor")
	codes := map[string][]string{}
	for _, name := range []string{"disabled", "wrong", "used", "locked", "expired"} {
		e.createUser(t, name)
		if name == "expired" {
			e.do(t, call{method: "PUT", path: "/v1/policy", token: e.admin,
				body: map[string]any{"backup_codes": map[string]string{"lifetime": "1d"}}}).
				want(t, http.StatusOK)
		}
		codes[name] = e.makeCodes(t, e.admin, "/v1/users/"+name+"/backup-codes").Codes
	}
	e.clock.Add(24 * time.Hour)
	e.do(t, call{method: "PATCH", path: "/v1/users/disabled", token: e.admin,
		body: map[string]bool{"disabled": true}}).want(t, http.StatusOK)
	e.session(t, "used", codes["used"][0])
	const wrong = "22222-22222" // a code of the right shape that no set holds
	for range 10 {              // the default lockout threshold
		e.signIn(t, "locked", wrong).want(t, http.StatusUnauthorized)
	}

	tests := []struct {
		name, user, code, reason string
	}{
		{"unknown user", "nobody", codes["wrong"][0], "unknown_user"},
		{"disabled user", "disabled", codes["disabled"][0], "disabled"},
		{"no factor", "nofactor", wrong, "no_factor"},
		{"wrong code", "wrong", wrong, "wrong_code"},
		{"used code", "used", codes["used"][0], "replay"},
		{"locked", "locked", codes["locked"][0], "locked"},
		{"expired set", "expired", codes["expired"][0], "expired"},
		{"malformed code", "wrong", "not a code!", "malformed"},
		{"empty", "", "", "malformed"},
	}
	var first reply
	var firstID string
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("signin-refused-%d", i)
			r := e.do(t, call{method: "POST", path: "/v1/sessions",
				header: map[string]string{"X-Request-ID": id},
				body:   map[string]string{"user": tt.user, "code": tt.code}})
			p := r.want(t, http.StatusUnauthorized).problem(t)
			if p.Detail != "sign-in refused" || p.RequestID != id {
				t.Errorf("problem = %+v, want detail %q and request ID %s",
					p, "sign-in refused", id)
			}
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="mfad"` {
				t.Errorf("WWW-Authenticate = %q, want %q", got, `Bearer realm="mfad"`)
			}
			if i == 0 {
				first, firstID = r, id
			}
			// The request ID is the one field that differs, by design.
			got := bytes.ReplaceAll(r.body, []byte(id), []byte("ID"))
			want := bytes.ReplaceAll(first.body, []byte(firstID), []byte("ID"))
			if !bytes.Equal(got, want) {
				t.Errorf("body = %s, want the same as for %s: %s",
					r.body, tests[0].name, first.body)
			}
			if diff := cmp.Diff(stableHeaders(first.header), stableHeaders(r.header)); diff != "" {
				t.Errorf("headers differ from %s (-%s +%s):\n%s",
					tests[0].name, tests[0].name, tt.name, diff)
			}
			ev := e.eventOf(t, "verify", id)
			if ev.Outcome != "failure" || ev.Reason != tt.reason || ev.Actor != "anonymous" {
				t.Errorf("audit event = %+v, want an anonymous failure with reason %s",
					ev, tt.reason)
			}
		})
	}
}

// TestSignInBadInput checks that a sign-in that is no valid request is a
// 4xx problem, and that sign-in ignores a token it does not need.
func TestSignInBadInput(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	code := e.makeCodes(t, e.admin, "/v1/users/alice/backup-codes").Codes[0]
	tests := []struct {
		name   string
		body   string
		ctype  string
		status int
		detail string
	}{
		{"not JSON", `user=alice&code=x`, "", 400, "not valid JSON"},
		{"cut short", `{"user":"alice","code":"ab`, "", 400, "ends in the middle"},
		{"unknown field", `{"user":"alice","code":"x","remember":true}`, "", 400,
			`unknown field "remember"`},
		{"code is a number", `{"user":"alice","code":12345}`, "", 400, `field "code"`},
		{"empty body", ``, "", 400, "body is empty"},
		{"form", `{"user":"alice","code":"x"}`, "application/x-www-form-urlencoded", 415,
			"application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call{method: "POST", path: "/v1/sessions", body: tt.body, invalid: true}
			if tt.ctype != "" {
				c.header = map[string]string{"Content-Type": tt.ctype}
			}
			p := e.do(t, c).want(t, tt.status).problem(t)
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.detail)
			}
		})
	}

	// None of it counted as a guess, and a stray token changes nothing.
	var u userOut
	e.do(t, call{method: "GET", path: "/v1/users/alice", token: e.admin}).
		want(t, http.StatusOK).decode(t, &u)
	if u.Failures != 0 {
		t.Errorf("failures after bad input = %d, want 0", u.Failures)
	}
	e.do(t, call{method: "POST", path: "/v1/sessions", token: "mfad_bogus_token",
		body: map[string]string{"user": "alice", "code": code}}).want(t, http.StatusCreated)
}

// TestSignInRateLimit: each client address may try a few times a minute;
// beyond that the answer is 429 with Retry-After, and nothing is checked,
// counted toward the lockout or audited. Other addresses are not held back,
// and the budget refills with time.
func TestSignInRateLimit(t *testing.T) {
	loopback := netip.MustParsePrefix("127.0.0.1/32")
	e := newEnv(t, options{signInRate: 3, proxies: []netip.Prefix{loopback}})
	e.createUser(t, "alice")
	try := func(from string) reply {
		return e.do(t, call{method: "POST", path: "/v1/sessions", forwarded: []string{from},
			body: map[string]string{"user": "alice", "code": "123456"}})
	}
	for range 3 {
		try("198.51.100.1").want(t, http.StatusUnauthorized)
	}
	r := try("198.51.100.1").want(t, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "20" {
		t.Errorf("Retry-After = %q, want 20 (a minute's budget of 3)", got)
	}
	if p := r.problem(t); !strings.Contains(p.Detail, "too many sign-in attempts") {
		t.Errorf("429 detail = %q", p.Detail)
	}
	if n := len(e.audit(t, url.Values{"user": {"alice"}, "action": {"verify"}})); n != 3 {
		t.Errorf("verify events of alice = %d, want 3: the limited attempt is not checked", n)
	}
	u, err := e.svc.GetUser(context.Background(), operator, "alice")
	if err != nil || u.Failures != 3 {
		t.Errorf("alice's failures = %d, %v; want 3", u.Failures, err)
	}

	try("198.51.100.2").want(t, http.StatusUnauthorized)
	e.clock.Add(20 * time.Second)
	try("198.51.100.1").want(t, http.StatusUnauthorized)
	try("198.51.100.1").want(t, http.StatusTooManyRequests)
}
