package httpapi

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store/sqlstore"
	"github.com/mfad/mfad/internal/testtool"
	"github.com/mfad/mfad/internal/totp"
)

// TestWalkthrough drives the main flow over HTTP: a user, an authenticator
// app, a verifier token, a verification, its replay, and the audit log.
func TestWalkthrough(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})

		r := e.do(t, call{method: "POST", path: "/v1/users", token: e.admin, body: map[string]any{
			"name": "Alice", "display_name": "Alice Liddell", "email": "alice@example.com",
		}}).want(t, http.StatusCreated)
		if got := r.header.Get("Location"); got != "/v1/users/alice" {
			t.Errorf("POST /v1/users: Location = %q, want /v1/users/alice", got)
		}
		var u userOut
		r.decode(t, &u)
		if u.Name != "alice" || u.Locked || len(u.Roles) != 0 {
			t.Errorf("POST /v1/users = %+v, want name alice, unlocked, no roles", u)
		}

		// Enrol an authenticator app: the secret, URI and QR code come once.
		r = e.do(t, call{method: "POST", path: "/v1/users/alice/totp", token: e.admin,
			body: map[string]string{"name": "Phone"}}).want(t, http.StatusCreated)
		var enr enrollmentOut
		r.decode(t, &enr)
		if got, want := r.header.Get("Location"), "/v1/users/alice/totp/"+enr.ID; got != want {
			t.Errorf("enrol: Location = %q, want %q", got, want)
		}
		if enr.Confirmed {
			t.Errorf("enrol: confirmed = true, want false until a first code")
		}
		secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.Secret)
		if err != nil || len(secret) < totp.MinSecretSize {
			t.Fatalf("enrol: secret is not base32 of at least %d bytes: %v", totp.MinSecretSize, err)
		}
		_, account, uriSecret, _, err := totp.ParseURI(enr.URI)
		if err != nil || !strings.HasPrefix(enr.URI, "otpauth://totp/") ||
			!bytes.Equal(uriSecret, secret) || account != "alice" {
			t.Errorf("enrol: uri = %q (%v), want an otpauth URI for alice with the secret",
				enr.URI, err)
		}
		img, err := base64.StdEncoding.DecodeString(enr.QRPNG)
		if err != nil {
			t.Fatalf("enrol: qr_png is not base64: %v", err)
		}
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Errorf("enrol: qr_png does not decode as PNG: %v", err)
		}

		r = e.do(t, call{method: "POST", path: "/v1/users/alice/totp/" + enr.ID + "/confirm",
			token: e.admin, body: map[string]string{"code": e.code(secret)}}).want(t, http.StatusOK)
		var conf struct {
			Confirmed bool `json:"confirmed"`
		}
		r.decode(t, &conf)
		if !conf.Confirmed {
			t.Errorf("confirm: confirmed = false, want true")
		}
		var list struct {
			TOTP []map[string]any `json:"totp"`
		}
		e.do(t, call{method: "GET", path: "/v1/users/alice/totp", token: e.admin}).
			want(t, http.StatusOK).decode(t, &list)
		if len(list.TOTP) != 1 || list.TOTP[0]["secret"] != nil {
			t.Errorf("GET totp = %v, want one authenticator without its secret", list.TOTP)
		}

		// A verifier token: shown once, never listed.
		vt := e.createToken(t, "verifier", "")
		if !strings.HasPrefix(vt.Token, "mfad_"+vt.ID+"_") {
			t.Errorf("POST /v1/tokens: token does not start with mfad_%s_", vt.ID)
		}
		r = e.do(t, call{method: "GET", path: "/v1/tokens", token: e.admin}).want(t, http.StatusOK)
		if bytes.Contains(r.body, []byte(vt.Token)) || bytes.Contains(r.body, []byte(`"token"`)) {
			t.Errorf("GET /v1/tokens shows a token's secret: %s", r.body)
		}

		e.clock.Add(30 * time.Second)
		code := e.code(secret)
		r = e.verify(t, vt.Token, "alice", code).want(t, http.StatusOK)
		accept := "{\n  \"result\": \"accept\",\n  \"factor\": \"totp\"\n}\n"
		if got, want := string(r.body), accept; got != want {
			t.Errorf("verify = %q, want %q", got, want)
		}
		r = e.verify(t, vt.Token, "ALICE ", code).want(t, http.StatusOK)
		if got, want := string(r.body), "{\n  \"result\": \"reject\"\n}\n"; got != want {
			t.Errorf("verify (replay) = %q, want %q", got, want)
		}

		events := e.audit(t, url.Values{"user": {"alice"}, "action": {"verify"}})
		var got []string
		for _, ev := range events {
			got = append(got, ev.Outcome+"/"+ev.Reason+"/"+ev.Subject+"/"+ev.FrontDoor+"/"+ev.Source)
			if !strings.Contains(ev.Actor, vt.ID) {
				t.Errorf("verify event actor = %q, want the verifier token %s", ev.Actor, vt.ID)
			}
		}
		want := []string{"failure/replay/alice/api/127.0.0.1", "success/accepted/alice/api/127.0.0.1"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET /v1/audit?user=alice&action=verify (-want +got):\n%s", diff)
		}
		got = nil
		for _, ev := range e.audit(t, url.Values{"user": {"alice"}, "action": {"totp."}}) {
			got = append(got, ev.Action+"/"+ev.Outcome)
		}
		want = []string{"totp.confirm/success", "totp.enroll/success"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET /v1/audit?user=alice&action=totp. (-want +got):\n%s", diff)
		}

		var rep struct {
			OK       bool  `json:"ok"`
			Events   int64 `json:"events"`
			Unsealed int64 `json:"unsealed"`
		}
		e.do(t, call{method: "POST", path: "/v1/audit/verify", token: e.admin}).
			want(t, http.StatusOK).decode(t, &rep)
		if !rep.OK || rep.Events < 7 || rep.Unsealed != 0 {
			t.Errorf("POST /v1/audit/verify = %+v, want ok, at least 7 events, all sealed", rep)
		}
	})
}

// TestVerifySameRefusal checks that every reason to refuse a code gives the
// caller the same status, headers and body bytes (SECURITY.md 9), and that
// the audit log alone knows the reason.
func TestVerifySameRefusal(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "").Token

	e.createUser(t, "nofactor")
	for _, name := range []string{"disabled", "wrong", "replay", "locked"} {
		e.createUser(t, name)
	}
	secrets := map[string][]byte{}
	for _, name := range []string{"disabled", "wrong", "replay", "locked"} {
		secrets[name] = e.enroll(t, name)
	}
	e.do(t, call{method: "PATCH", path: "/v1/users/disabled", token: e.admin,
		body: map[string]bool{"disabled": true}}).want(t, http.StatusOK)
	e.verify(t, vt, "replay", e.code(secrets["replay"])).want(t, http.StatusOK)
	for range 10 { // the default lockout threshold
		e.verify(t, vt, "locked", e.wrongCode(secrets["locked"])).want(t, http.StatusOK)
	}

	tests := []struct {
		name, user, code, reason string
	}{
		{"unknown user", "nobody", "123456", "unknown_user"},
		{"disabled user", "disabled", e.code(secrets["disabled"]), "disabled"},
		{"no factor", "nofactor", "123456", "no_factor"},
		{"wrong code", "wrong", e.wrongCode(secrets["wrong"]), "wrong_code"},
		{"replay", "replay", e.code(secrets["replay"]), "replay"},
		{"locked", "locked", e.code(secrets["locked"]), "locked"},
	}
	var first reply
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.verify(t, vt, tt.user, tt.code)
			if i == 0 {
				first = r
			}
			if r.status != http.StatusOK || string(r.body) != "{\n  \"result\": \"reject\"\n}\n" {
				t.Errorf("verify(%s) = %d %q, want 200 reject", tt.name, r.status, r.body)
			}
			if r.status != first.status || !bytes.Equal(r.body, first.body) {
				t.Errorf("verify(%s) = %d %q, want the same as for %s: %d %q",
					tt.name, r.status, r.body, tests[0].name, first.status, first.body)
			}
			if diff := cmp.Diff(stableHeaders(first.header), stableHeaders(r.header)); diff != "" {
				t.Errorf("verify(%s) headers differ from %s (-%s +%s):\n%s",
					tt.name, tests[0].name, tests[0].name, tt.name, diff)
			}
			ev := e.audit(t, url.Values{"user": {tt.user}, "action": {"verify"}, "limit": {"1"}})
			if len(ev) != 1 || ev[0].Reason != tt.reason || ev[0].Outcome != "failure" {
				t.Errorf("audit of verify(%s) = %+v, want one failure with reason %s",
					tt.name, ev, tt.reason)
			}
		})
	}
}

// stableHeaders returns the headers that must not differ between refusals:
// all but the per-request ID and date.
func stableHeaders(h http.Header) http.Header {
	c := h.Clone()
	c.Del("X-Request-Id")
	c.Del("Date")
	return c
}

// TestVerifyMalformed checks that input that is no code is refused like a
// wrong code, and input that is no valid request is a 4xx problem, never a
// 500.
func TestVerifyMalformed(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "").Token
	e.createUser(t, "alice")
	e.enroll(t, "alice")
	big := `{"user":"alice","code":"` + strings.Repeat("1", 70<<10) + `"}`

	tests := []struct {
		name     string
		body     any
		ctype    string
		invalid  bool // outside the document
		trailing bool // data after the JSON value
		status   int
		detail   string // a part of the problem's detail
	}{
		{name: "empty code", body: `{"user":"alice","code":""}`, status: 200},
		{name: "code too long", body: `{"user":"alice","code":"` + strings.Repeat("1", 65) + `"}`,
			status: 200},
		{name: "arabic-indic digits", body: `{"user":"alice","code":"١٢٣٤٥٦"}`, status: 200},
		{name: "fullwidth digits", body: `{"user":"alice","code":"１２３４５６"}`, status: 200},
		{name: "control character", body: `{"user":"alice","code":"123\u0000456"}`, status: 200},
		{name: "bad user name", body: `{"user":"al ice/../x","code":"123456"}`, status: 200},
		{name: "charset parameter", body: `{"user":"alice","code":"x"}`,
			ctype: "Application/JSON; charset=utf-8", status: 200},
		{name: "user is a number", body: `{"user": 1, "code": "123456"}`, invalid: true,
			status: 400, detail: `field "user" must be a string, not number`},
		{name: "code is a number", body: `{"user": "alice", "code": 123456}`, invalid: true,
			status: 400, detail: `field "code" must be a string, not number`},
		{name: "unknown field", body: `{"user":"alice","code":"123456","remember":true}`,
			invalid: true, status: 400, detail: `unknown field "remember"`},
		{name: "not JSON", body: `user=alice&code=123456`, invalid: true, status: 400,
			detail: "not valid JSON"},
		{name: "trailing object", body: `{"user":"alice","code":"123456"} {}`, trailing: true,
			status: 400, detail: "trailing data"},
		{name: "trailing bracket", body: `{"user":"alice","code":"123456"}]`, trailing: true,
			status: 400, detail: "trailing data"},
		{name: "cut short", body: `{"user":"alice","code":"12`, invalid: true, status: 400,
			detail: "ends in the middle"},
		{name: "empty body", body: "", invalid: true, status: 400, detail: "body is empty"},
		{name: "array", body: `[]`, invalid: true, status: 400, detail: "must be an object"},
		{name: "larger than 64 KiB", body: big, status: 413, detail: "larger than 65536 bytes"},
		{name: "form content type", body: `{"user":"alice","code":"123456"}`,
			ctype: "application/x-www-form-urlencoded", invalid: true, status: 415,
			detail: "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call{method: "POST", path: "/v1/verify", token: vt, body: tt.body,
				invalid: tt.invalid, trailing: tt.trailing}
			if tt.ctype != "" {
				c.header = map[string]string{"Content-Type": tt.ctype}
			}
			r := e.do(t, c)
			if r.status != tt.status {
				t.Fatalf("verify(%s) = %d %s, want %d", tt.name, r.status, r.body, tt.status)
			}
			if tt.status == http.StatusOK {
				if got := string(r.body); got != "{\n  \"result\": \"reject\"\n}\n" {
					t.Errorf("verify(%s) = %q, want reject", tt.name, got)
				}
				return
			}
			if p := r.problem(t); !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("verify(%s): detail = %q, want it to contain %q", tt.name, p.Detail, tt.detail)
			}
		})
	}

	// None of the malformed input counted as a guess.
	var u userOut
	e.do(t, call{method: "GET", path: "/v1/users/alice", token: e.admin}).
		want(t, http.StatusOK).decode(t, &u)
	if u.Failures != 0 {
		t.Errorf("failures after malformed input = %d, want 0", u.Failures)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, options{})
	tests := []struct {
		name      string
		header    string
		invalid   bool
		challenge string
	}{
		{"no header", "", true, `Bearer realm="mfad"`},
		{"basic scheme", "Basic YWRtaW46YWRtaW4=", true, `Bearer realm="mfad"`},
		{"empty bearer", "Bearer ", true, `Bearer realm="mfad"`},
		{"unknown token", "Bearer mfad_aaaaaaaaaaaaaaaa_bm90IGEgdG9rZW4", false,
			`Bearer realm="mfad", error="invalid_token"`},
		{"not an mfad token", "Bearer hunter2", false,
			`Bearer realm="mfad", error="invalid_token"`},
		{"admin token with a typo", "Bearer " + e.admin + "x", false,
			`Bearer realm="mfad", error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call{method: "GET", path: "/v1/users", invalid: tt.invalid}
			if tt.header != "" {
				c.header = map[string]string{"Authorization": tt.header}
			}
			r := e.do(t, c).want(t, http.StatusUnauthorized)
			if got := r.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			r.problem(t)
		})
	}
}

func TestRevokedTokenRefusedAtOnce(t *testing.T) {
	e := newEnv(t, options{})
	tok := e.createToken(t, "auditor", "")
	e.do(t, call{method: "GET", path: "/v1/audit", token: tok.Token}).want(t, http.StatusOK)
	e.do(t, call{method: "DELETE", path: "/v1/tokens/" + tok.ID, token: e.admin}).
		want(t, http.StatusNoContent)
	e.do(t, call{method: "GET", path: "/v1/audit", token: tok.Token}).
		want(t, http.StatusUnauthorized)

	var list struct {
		Tokens []struct {
			ID        string `json:"id"`
			RevokedAt string `json:"revoked_at"`
		} `json:"tokens"`
	}
	e.do(t, call{method: "GET", path: "/v1/tokens", token: e.admin}).
		want(t, http.StatusOK).decode(t, &list)
	i := slices.IndexFunc(list.Tokens, func(x struct {
		ID        string `json:"id"`
		RevokedAt string `json:"revoked_at"`
	}) bool {
		return x.ID == tok.ID
	})
	if i < 0 || list.Tokens[i].RevokedAt == "" {
		t.Errorf("GET /v1/tokens does not show %s as revoked: %+v", tok.ID, list.Tokens)
	}
}

// TestForbidden checks refusals by role and by tiering: 403 problems that
// name the role, and audited as denied.
func TestForbidden(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "root", "admin")
	e.createUser(t, "ada", "authentication-admin")
	e.createUser(t, "bob")
	verifier := e.createToken(t, "verifier", "").Token
	auditor := e.createToken(t, "auditor", "").Token
	helpdesk := e.createToken(t, "helpdesk", "").Token
	ada := e.createToken(t, "authentication-admin", "ada").Token

	unlock := map[string]string{"reason": "called the helpdesk"}
	tests := []struct {
		name   string
		c      call
		role   string
		reason string
	}{
		{"verifier lists users", call{method: "GET", path: "/v1/users", token: verifier},
			"verifier", "role"},
		{"auditor verifies", call{method: "POST", path: "/v1/verify", token: auditor,
			body: map[string]string{"user": "bob", "code": "123456"}}, "auditor", "role"},
		{"helpdesk sets policy", call{method: "PUT", path: "/v1/policy", token: helpdesk,
			body: map[string]any{}}, "helpdesk", "role"},
		{"helpdesk unlocks an admin", call{method: "POST", path: "/v1/users/root/unlock",
			token: helpdesk, body: unlock}, "helpdesk", "tier"},
		{"helpdesk unlocks an authentication admin", call{method: "POST",
			path: "/v1/users/ada/unlock", token: helpdesk, body: unlock}, "helpdesk", "tier"},
		{"authentication admin enrols an admin", call{method: "POST",
			path: "/v1/users/root/totp", token: ada}, "authentication-admin", "tier"},
		{"authentication admin enrols themselves", call{method: "POST",
			path: "/v1/users/ada/totp", token: ada}, "authentication-admin", "own_account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "forbidden-" + strings.ReplaceAll(tt.name, " ", "-")
			tt.c.header = map[string]string{"X-Request-ID": id}
			p := e.do(t, tt.c).want(t, http.StatusForbidden).problem(t)
			if !strings.Contains(p.Detail, "role "+tt.role) {
				t.Errorf("detail = %q, want it to name role %s", p.Detail, tt.role)
			}
			var found bool
			for _, ev := range e.audit(t, url.Values{"limit": {"1000"}}) {
				if ev.RequestID == id {
					found = true
					if ev.Outcome != "denied" || ev.Reason != tt.reason {
						t.Errorf("audit event = %s/%s, want denied/%s", ev.Outcome, ev.Reason, tt.reason)
					}
				}
			}
			if !found {
				t.Errorf("no audit event for the refusal")
			}
		})
	}

	// The same powers work where tiering allows them.
	e.do(t, call{method: "POST", path: "/v1/users/bob/unlock", token: helpdesk, body: unlock}).
		want(t, http.StatusOK)
	e.do(t, call{method: "POST", path: "/v1/users/bob/totp", token: ada}).
		want(t, http.StatusCreated)
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	tests := []struct {
		name string
		c    call
	}{
		{"user", call{method: "GET", path: "/v1/users/nobody"}},
		{"user to change", call{method: "PATCH", path: "/v1/users/nobody",
			body: map[string]string{"email": "x@example.com"}}},
		{"user to enrol", call{method: "POST", path: "/v1/users/nobody/totp"}},
		{"authenticator to confirm", call{method: "POST",
			path: "/v1/users/alice/totp/nosuchid/confirm", body: map[string]string{"code": "123456"}}},
		{"authenticator to delete", call{method: "DELETE", path: "/v1/users/alice/totp/nosuchid"}},
		{"group", call{method: "GET", path: "/v1/groups/nogroup"}},
		{"group to delete", call{method: "DELETE", path: "/v1/groups/nogroup"}},
		{"token", call{method: "DELETE", path: "/v1/tokens/nosuchtoken"}},
		{"user of a token", call{method: "POST", path: "/v1/tokens",
			body: map[string]string{"name": "x", "role": "admin", "user": "nobody"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.token = e.admin
			p := e.do(t, tt.c).want(t, http.StatusNotFound).problem(t)
			if p.Detail == "" || p.RequestID == "" {
				t.Errorf("problem = %+v, want a detail and a request ID", p)
			}
		})
	}
}

func TestConflict(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	e.do(t, call{method: "POST", path: "/v1/groups", token: e.admin,
		body: map[string]string{"name": "staff"}}).want(t, http.StatusCreated)
	e.do(t, call{method: "PUT", path: "/v1/groups/staff/members/alice", token: e.admin}).
		want(t, http.StatusNoContent)
	var enr enrollmentOut
	e.do(t, call{method: "POST", path: "/v1/users/alice/totp", token: e.admin}).
		want(t, http.StatusCreated).decode(t, &enr)
	secret, _ := totp.DecodeSecret(enr.Secret)
	confirm := call{method: "POST", path: "/v1/users/alice/totp/" + enr.ID + "/confirm",
		token: e.admin, body: map[string]string{"code": e.code(secret)}}
	e.do(t, confirm).want(t, http.StatusOK)

	tests := []struct {
		name string
		c    call
	}{
		{"user", call{method: "POST", path: "/v1/users", body: map[string]string{"name": "ALICE"}}},
		{"group", call{method: "POST", path: "/v1/groups", body: map[string]string{"name": "staff"}}},
		{"membership", call{method: "PUT", path: "/v1/groups/staff/members/alice"}},
		{"confirming twice", confirm},
		{"authenticator name", call{method: "POST", path: "/v1/users/alice/totp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.token = e.admin
			e.do(t, tt.c).want(t, http.StatusConflict).problem(t)
		})
	}
}

// TestBadInput checks that invalid input is refused with every problem
// listed at once and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	tests := []struct {
		name    string
		c       call
		invalid bool
		want    []string // a part of each problem, in order
	}{
		{name: "new user", c: call{method: "POST", path: "/v1/users", body: map[string]any{
			"name": "bad name!", "email": "not an address", "phone": "12345",
			"roles": []string{"wizard", "admin"},
		}}, want: []string{"name may contain only", "email must be", "phone must be", `"wizard"`}},
		{name: "user update", c: call{method: "PATCH", path: "/v1/users/alice",
			body: map[string]string{"email": "nope", "phone": "+1"}},
			want: []string{"email must be", "phone must be"}},
		{name: "nothing to update", c: call{method: "PATCH", path: "/v1/users/alice",
			body: map[string]string{}}, invalid: true, want: []string{"nothing to change"}},
		{name: "roles", c: call{method: "PUT", path: "/v1/users/alice/roles",
			body: map[string]any{"roles": []string{"wizard", "root"}}},
			want: []string{`"wizard"`, `"root"`}},
		{name: "new token", c: call{method: "POST", path: "/v1/tokens",
			body: map[string]string{"name": "", "role": "superuser"}}, invalid: true,
			want: []string{"name is required", `"superuser"`}},
		{name: "new group", c: call{method: "POST", path: "/v1/groups",
			body: map[string]string{"name": "no spaces please"}},
			want: []string{"name may contain only"}},
		{name: "unlock without reason", c: call{method: "POST", path: "/v1/users/alice/unlock",
			body: map[string]string{"reason": " "}}, want: []string{"reason"}},
		{name: "audit query", c: call{method: "GET",
			path: "/v1/audit?since=2027-03-02T00:00:00Z&until=2027-03-01T00:00:00Z&limit=5000"},
			invalid: true, want: []string{"limit must be", "until must be after since"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.token, tt.c.invalid = e.admin, tt.invalid
			p := e.do(t, tt.c).want(t, http.StatusBadRequest).problem(t)
			if len(p.Problems) != len(tt.want) {
				t.Fatalf("problems = %q, want %d", p.Problems, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(p.Problems[i], w) {
					t.Errorf("problems[%d] = %q, want it to contain %q", i, p.Problems[i], w)
				}
			}
		})
	}

	var list struct {
		Users []userOut `json:"users"`
	}
	e.do(t, call{method: "GET", path: "/v1/users", token: e.admin}).
		want(t, http.StatusOK).decode(t, &list)
	if len(list.Users) != 1 {
		t.Errorf("users after bad input = %+v, want alice alone", list.Users)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t, options{})
	tests := []struct {
		name   string
		c      call
		status int
		allow  string
	}{
		{"unknown path", call{method: "GET", path: "/v1/nothing"}, 404, ""},
		{"unknown path with token", call{method: "POST", path: "/v2/verify", token: e.admin}, 404, ""},
		{"root", call{method: "GET", path: "/"}, 404, ""},
		{"verify with GET", call{method: "GET", path: "/v1/verify"}, 405, "POST"},
		{"users with DELETE", call{method: "DELETE", path: "/v1/users", token: e.admin}, 405,
			"GET, HEAD, POST"},
		{"user with PUT", call{method: "PUT", path: "/v1/users/alice"}, 405,
			"GET, HEAD, PATCH"},
		{"healthz with POST", call{method: "POST", path: "/healthz"}, 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.doUnrouted(t, tt.c)
			if r.status != tt.status {
				t.Errorf("%s %s = %d, want %d", tt.c.method, tt.c.path, r.status, tt.status)
			}
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("%s %s: Allow = %q, want %q", tt.c.method, tt.c.path, got, tt.allow)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "").Token
	tests := []struct {
		name string
		id   string
		echo bool
	}{
		{"sane", "trace-42.ABC_x", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"spaces", "has spaces in it", false},
		{"non-ASCII", "tráce", false},
		{"quote", `a"b`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, call{method: "POST", path: "/v1/verify", token: vt,
				header: map[string]string{"X-Request-ID": tt.id},
				body:   map[string]string{"user": "nobody", "code": "123456"}}).want(t, http.StatusOK)
			got := r.header.Get("X-Request-ID")
			if tt.echo != (got == tt.id) {
				t.Errorf("X-Request-ID = %q for %q, want echoed: %v", got, tt.id, tt.echo)
			}
			if !tt.echo && (len(got) != 24 || strings.Trim(got, "0123456789abcdef") != "") {
				t.Errorf("X-Request-ID = %q, want 24 new hex digits", got)
			}
			if ev := e.eventOf(t, "verify", got); ev.Subject != "nobody" {
				t.Errorf("audit event of request %s = %+v, want the verification of nobody", got, ev)
			}
		})
	}
}

// TestClientIP checks which address is recorded as the source: the
// connection's unless it comes from a trusted proxy, then the rightmost
// X-Forwarded-For hop that is not a trusted proxy.
func TestClientIP(t *testing.T) {
	trusted := []string{"127.0.0.0/8", "10.0.0.0/8", "::1/128"}
	elsewhere := []string{"192.0.2.0/24"}
	tests := []struct {
		name    string
		proxies []string
		xff     []string
		want    string
	}{
		{"no proxies configured", nil, []string{"198.51.100.7"}, "127.0.0.1"},
		{"untrusted peer", elsewhere, []string{"198.51.100.7"}, "127.0.0.1"},
		{"trusted peer, one hop", trusted, []string{"198.51.100.7"}, "198.51.100.7"},
		{"rightmost untrusted hop", trusted, []string{"203.0.113.9, 198.51.100.7, 10.1.2.3"},
			"198.51.100.7"},
		{"hops in several headers", trusted, []string{"203.0.113.9", "198.51.100.7", "10.1.2.3"},
			"198.51.100.7"},
		{"only trusted hops", trusted, []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"garbage hop", trusted, []string{"203.0.113.9, not-an-ip, 10.1.2.3"}, "10.1.2.3"},
		{"IPv4-mapped IPv6 hop", trusted, []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"trusted peer, no header", trusted, nil, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var proxies []netip.Prefix
			for _, p := range tt.proxies {
				proxies = append(proxies, netip.MustParsePrefix(p))
			}
			e := newEnv(t, options{proxies: proxies})
			vt := e.createToken(t, "verifier", "").Token
			e.do(t, call{method: "POST", path: "/v1/verify", token: vt, forwarded: tt.xff,
				header: map[string]string{"X-Request-ID": "client-ip"},
				body:   map[string]string{"user": "nobody", "code": "123456"}}).
				want(t, http.StatusOK)
			if ev := e.eventOf(t, "verify", "client-ip"); ev.Source != tt.want {
				t.Errorf("source with X-Forwarded-For %q = %q, want %q", tt.xff, ev.Source, tt.want)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, options{})
	r := e.do(t, call{method: "GET", path: "/healthz"}).want(t, http.StatusOK)
	if string(r.body) != "ok\n" {
		t.Errorf("GET /healthz = %q, want ok", r.body)
	}
	e.do(t, call{method: "GET", path: "/readyz"}).want(t, http.StatusOK)

	if err := e.db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	e.do(t, call{method: "GET", path: "/readyz"}).want(t, http.StatusServiceUnavailable).problem(t)
	e.do(t, call{method: "GET", path: "/healthz"}).want(t, http.StatusOK)
	// With the database gone the API fails closed: 503, not an accept.
	e.do(t, call{method: "POST", path: "/v1/verify", token: e.admin,
		body: map[string]string{"user": "alice", "code": "123456"}}).
		want(t, http.StatusServiceUnavailable).problem(t)
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "").Token
	e.createUser(t, "alice")
	secret := e.enroll(t, "alice")
	e.do(t, call{method: "PUT", path: "/v1/policy", token: e.admin,
		body: map[string]any{"lockout": map[string]any{"threshold": 3}}}).want(t, http.StatusOK)

	e.verify(t, vt, "alice", e.code(secret)).want(t, http.StatusOK)
	for range 3 {
		e.verify(t, vt, "alice", e.wrongCode(secret)).want(t, http.StatusOK)
	}
	e.verify(t, vt, "alice", "not a code").want(t, http.StatusOK)

	r := e.do(t, call{method: "GET", path: "/metrics"}).want(t, http.StatusOK)
	for _, want := range []string{
		`mfad_verifications_total{factor="totp",result="accept"} 1`,
		`mfad_verifications_total{factor="totp",result="reject"} 3`,
		`mfad_verifications_total{factor="unknown",result="reject"} 1`,
		"mfad_lockouts_total 1",
	} {
		if !bytes.Contains(r.body, []byte(want+"\n")) {
			t.Errorf("GET /metrics does not show %q", want)
		}
	}
	if bytes.Contains(r.body, []byte("alice")) {
		t.Errorf("GET /metrics names a user")
	}
}

// TestPolicy checks the policy round trip: defaults, a refused document
// listing every problem and changing nothing, and a change that applies.
func TestPolicy(t *testing.T) {
	e := newEnv(t, options{})
	r := e.do(t, call{method: "GET", path: "/v1/policy", token: e.admin}).want(t, http.StatusOK)
	defaults := `{
  "lockout": {
    "threshold": 10,
    "duration": "1m",
    "max_duration": "1h",
    "max_failures": 100
  },
  "totp": {
    "algorithm": "SHA1",
    "digits": 6,
    "period": 30
  },
  "backup_codes": {
    "count": 10,
    "length": 10,
    "warn_at": 3,
    "lifetime": "0s"
  },
  "sessions": {
    "lifetime": "15m",
    "freshness": "10m",
    "idle": "15m"
  },
  "access_pass": {
    "enabled": true,
    "min_lifetime": "1h",
    "max_lifetime": "8h",
    "default_lifetime": "1h",
    "allow_multi_use": true,
    "length": 12,
    "groups": [],
    "self_service": {
      "enabled": true,
      "groups": [],
      "max_lifetime": "1h",
      "factors": [
        "possession",
        "phishing_resistant"
      ],
      "freshness": "10m"
    },
    "second_approver_for_roles": false,
    "requests": {
      "enabled": true,
      "per_user": 3,
      "per_source": 10,
      "lifetime": "1d"
    }
  },
  "bypass": {
    "enabled": true,
    "max_duration": "5m"
  },
  "fraud_report": {
    "block": true
  },
  "out_of_band": {
    "email": false,
    "sms": false,
    "digits": 6,
    "lifetime": "10m",
    "per_user": 5,
    "per_destination": 5,
    "global": 1000
  },
  "notices": {
    "user": [
      "totp.added",
      "totp.removed",
      "webauthn.added",
      "webauthn.removed",
      "email.changed",
      "phone.changed",
      "backup_codes.generated",
      "backup_codes.deleted",
      "backup_code.used",
      "backup_codes.low",
      "backup_codes.exhausted",
      "access_pass.issued",
      "access_pass.used",
      "access_pass.revoked",
      "access_pass.requested",
      "access_pass.approval_pending",
      "access_pass.request_denied",
      "bypass.granted",
      "bypass.used",
      "bypass.revoked",
      "user.locked",
      "user.unlocked",
      "code.replayed",
      "fraud.reported",
      "fraud.cleared"
    ],
    "security_contact": [
      "bypass.granted",
      "user.locked",
      "fraud.reported"
    ],
    "per_hour": 20
  }
}
`
	if diff := cmp.Diff(defaults, string(r.body)); diff != "" {
		t.Errorf("GET /v1/policy (-want +got):\n%s", diff)
	}

	p := e.do(t, call{method: "PUT", path: "/v1/policy", token: e.admin, invalid: true,
		body: map[string]any{
			"lockout": map[string]any{"threshold": 0, "duration": "0s"},
			"totp":    map[string]any{"digits": 7, "period": 45},
		}}).want(t, http.StatusBadRequest).problem(t)
	wantFields := []string{"lockout.threshold", "lockout.duration", "totp.digits", "totp.period"}
	if len(p.Problems) != len(wantFields) {
		t.Fatalf("PUT /v1/policy problems = %q, want one for each of %q", p.Problems, wantFields)
	}
	for i, f := range wantFields {
		if !strings.Contains(p.Problems[i], f) {
			t.Errorf("problems[%d] = %q, want it about %s", i, p.Problems[i], f)
		}
	}
	for _, bad := range []struct {
		body     string
		trailing bool
	}{
		{body: "{"},
		{body: `{"lockout": {"treshold": 3}}`},
		{body: `{}]`, trailing: true},
		{body: `{"lockout": {"threshold": "3"}}`},
	} {
		e.do(t, call{method: "PUT", path: "/v1/policy", token: e.admin, invalid: !bad.trailing,
			trailing: bad.trailing, body: bad.body}).want(t, http.StatusBadRequest).problem(t)
	}
	r = e.do(t, call{method: "GET", path: "/v1/policy", token: e.admin}).want(t, http.StatusOK)
	if string(r.body) != defaults {
		t.Errorf("refused PUT /v1/policy changed the policy to %s", r.body)
	}

	r = e.do(t, call{method: "PUT", path: "/v1/policy", token: e.admin,
		body: map[string]any{"lockout": map[string]any{"threshold": 3}}}).want(t, http.StatusOK)
	if !bytes.Contains(r.body, []byte(`"threshold": 3,`)) {
		t.Errorf("PUT /v1/policy = %s, want threshold 3", r.body)
	}

	vt := e.createToken(t, "verifier", "").Token
	e.createUser(t, "alice")
	secret := e.enroll(t, "alice")
	for range 3 {
		e.verify(t, vt, "alice", e.wrongCode(secret)).want(t, http.StatusOK)
	}
	var u userOut
	e.do(t, call{method: "GET", path: "/v1/users/alice", token: e.admin}).
		want(t, http.StatusOK).decode(t, &u)
	if !u.Locked || u.Failures != 3 {
		t.Errorf("user after 3 failures = %+v, want locked with 3 failures", u)
	}
	r = e.verify(t, vt, "alice", e.code(secret)).want(t, http.StatusOK)
	if !bytes.Contains(r.body, []byte("reject")) {
		t.Errorf("verify while locked = %s, want reject", r.body)
	}
	if ev := e.audit(t, url.Values{"user": {"alice"}, "action": {"user.lock"}}); len(ev) != 1 {
		t.Errorf("user.lock events = %+v, want one", ev)
	}

	// Unlocking lets the right code in again.
	e.do(t, call{method: "POST", path: "/v1/users/alice/unlock", token: e.admin,
		body: map[string]string{"reason": "verified by phone"}}).want(t, http.StatusOK)
	r = e.verify(t, vt, "alice", e.code(secret)).want(t, http.StatusOK)
	if !bytes.Contains(r.body, []byte("accept")) {
		t.Errorf("verify after unlock = %s, want accept", r.body)
	}
}

// TestLogsHoldNoSecrets runs flows that handle a token, an authenticator
// secret and codes, and checks that none of them reaches the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "")
	e.createUser(t, "alice")

	var enr enrollmentOut
	e.do(t, call{method: "POST", path: "/v1/users/alice/totp", token: e.admin}).
		want(t, http.StatusCreated).decode(t, &enr)
	secret, _ := totp.DecodeSecret(enr.Secret)
	confirmCode := e.code(secret)
	e.do(t, call{method: "POST", path: "/v1/users/alice/totp/" + enr.ID + "/confirm",
		token: e.admin, body: map[string]string{"code": confirmCode}}).want(t, http.StatusOK)
	e.clock.Add(30 * time.Second)
	acceptCode := e.code(secret)
	wrong := e.wrongCode(secret)
	e.verify(t, vt.Token, "alice", acceptCode).want(t, http.StatusOK)
	e.verify(t, vt.Token, "alice", acceptCode).want(t, http.StatusOK)
	e.verify(t, vt.Token, "alice", wrong).want(t, http.StatusOK)
	e.verify(t, vt.Token, "nobody", wrong).want(t, http.StatusOK)
	e.do(t, call{method: "POST", path: "/v1/verify", token: vt.Token, invalid: true,
		body: `{"user":"alice","code":` + wrong + `}`}).want(t, http.StatusBadRequest)
	e.do(t, call{method: "GET", path: "/v1/users",
		header: map[string]string{"Authorization": "Bearer " + vt.Token + "x"}}).
		want(t, http.StatusUnauthorized)

	secrets := map[string]string{
		"admin token":           e.admin,
		"verifier token":        vt.Token,
		"verifier token secret": strings.TrimPrefix(vt.Token, "mfad_"+vt.ID+"_"),
		"TOTP secret":           enr.Secret,
		"TOTP secret, lower":    strings.ToLower(enr.Secret),
		"confirming code":       confirmCode,
		"accepted code":         acceptCode,
		"wrong code":            wrong,
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "verification accepted") {
		t.Fatalf("the log does not show the verification; is it wired? log:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %v: %s", err, line)
			continue
		}
		// Request IDs are random hex and may hold any six digits.
		delete(rec, "request_id")
		clean, _ := json.Marshal(rec)
		for what, s := range secrets {
			if strings.Contains(string(clean), s) {
				t.Errorf("log line holds the %s: %s", what, line)
			}
		}
	}
}

// TestVerifyConcurrent sends one valid code 50 times at once: exactly one
// request may be accepted (SECURITY.md 1).
func TestVerifyConcurrent(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})
		vt := e.createToken(t, "verifier", "").Token
		e.createUser(t, "alice")
		secret := e.enroll(t, "alice")
		code := e.code(secret)

		const n = 50
		results := make(chan string, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.verify(t, vt, "alice", code)
				switch {
				case r.status != http.StatusOK:
					results <- fmt.Sprintf("status %d: %s", r.status, r.body)
				case bytes.Contains(r.body, []byte(`"accept"`)):
					results <- "accept"
				default:
					results <- "reject"
				}
			}()
		}
		wg.Wait()
		close(results)
		counts := map[string]int{}
		for r := range results {
			counts[r]++
		}
		if diff := cmp.Diff(map[string]int{"accept": 1, "reject": n - 1}, counts); diff != "" {
			t.Errorf("%d concurrent verifications of one code (-want +got):\n%s", n, diff)
		}
	})
}

// TestManagement exercises the staff operations the other tests do not:
// listing and searching users, changing them, roles, groups and their
// members, listing and removing authenticators.
func TestManagement(t *testing.T) {
	e := newEnv(t, options{})
	for _, name := range []string{"carol", "alice", "bob"} {
		e.createUser(t, name)
	}

	var list struct {
		Users []userOut `json:"users"`
	}
	names := func(q string) []string {
		t.Helper()
		list.Users = nil
		e.do(t, call{method: "GET", path: "/v1/users" + q, token: e.admin}).
			want(t, http.StatusOK).decode(t, &list)
		var out []string
		for _, u := range list.Users {
			out = append(out, u.Name)
		}
		return out
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{"alice", "bob", "carol"}},
		{"?limit=2", []string{"alice", "bob"}},
		{"?after=bob", []string{"carol"}},
		{"?search=aro", []string{"carol"}},
	} {
		if diff := cmp.Diff(tt.want, names(tt.query)); diff != "" {
			t.Errorf("GET /v1/users%s (-want +got):\n%s", tt.query, diff)
		}
	}
	e.do(t, call{method: "GET", path: "/v1/users?limit=ten", token: e.admin, invalid: true}).
		want(t, http.StatusBadRequest).problem(t)

	var u struct {
		DisplayName string   `json:"display_name"`
		Disabled    bool     `json:"disabled"`
		Roles       []string `json:"roles"`
		Groups      []string `json:"groups"`
	}
	e.do(t, call{method: "PATCH", path: "/v1/users/bob", token: e.admin,
		body: map[string]any{"display_name": "Bob B.", "disabled": true}}).
		want(t, http.StatusOK).decode(t, &u)
	if u.DisplayName != "Bob B." || !u.Disabled {
		t.Errorf("PATCH /v1/users/bob = %+v, want the new display name, disabled", u)
	}
	p := e.do(t, call{method: "PATCH", path: "/v1/users/bob", token: e.admin, invalid: true,
		body: map[string]any{"disabled": "yes"}}).want(t, http.StatusBadRequest).problem(t)
	if want := `field "disabled" must be true or false, not string`; p.Detail != want {
		t.Errorf("PATCH disabled \"yes\": detail = %q, want %q", p.Detail, want)
	}
	e.do(t, call{method: "PUT", path: "/v1/users/bob/roles", token: e.admin,
		body: map[string]any{"roles": []string{"helpdesk", "auditor", "helpdesk"}}}).
		want(t, http.StatusOK).decode(t, &u)
	if diff := cmp.Diff([]string{"auditor", "helpdesk"}, u.Roles); diff != "" {
		t.Errorf("PUT /v1/users/bob/roles (-want +got):\n%s", diff)
	}
	e.do(t, call{method: "PUT", path: "/v1/users/bob/roles", token: e.admin, invalid: true,
		body: map[string]any{}}).want(t, http.StatusBadRequest)

	e.do(t, call{method: "POST", path: "/v1/groups", token: e.admin,
		body: map[string]string{"name": "VPN", "description": "may use the VPN"}}).
		want(t, http.StatusCreated)
	for _, m := range []string{"alice", "bob"} {
		e.do(t, call{method: "PUT", path: "/v1/groups/vpn/members/" + m, token: e.admin}).
			want(t, http.StatusNoContent)
	}
	e.do(t, call{method: "DELETE", path: "/v1/groups/vpn/members/alice", token: e.admin}).
		want(t, http.StatusNoContent)
	e.do(t, call{method: "DELETE", path: "/v1/groups/vpn/members/alice", token: e.admin}).
		want(t, http.StatusNotFound)
	var g struct {
		Name    string   `json:"name"`
		Members []string `json:"members"`
	}
	e.do(t, call{method: "GET", path: "/v1/groups/VPN", token: e.admin}).
		want(t, http.StatusOK).decode(t, &g)
	if g.Name != "vpn" || !slices.Equal(g.Members, []string{"bob"}) {
		t.Errorf("GET /v1/groups/VPN = %+v, want vpn with member bob", g)
	}
	e.do(t, call{method: "GET", path: "/v1/users/bob", token: e.admin}).
		want(t, http.StatusOK).decode(t, &u)
	if !slices.Equal(u.Groups, []string{"vpn"}) {
		t.Errorf("GET /v1/users/bob: groups = %q, want vpn", u.Groups)
	}
	var groups struct {
		Groups []map[string]any `json:"groups"`
	}
	e.do(t, call{method: "GET", path: "/v1/groups", token: e.admin}).
		want(t, http.StatusOK).decode(t, &groups)
	if len(groups.Groups) != 1 {
		t.Errorf("GET /v1/groups = %v, want one group", groups.Groups)
	}
	e.do(t, call{method: "DELETE", path: "/v1/groups/vpn", token: e.admin}).
		want(t, http.StatusNoContent)
	e.do(t, call{method: "GET", path: "/v1/groups/vpn", token: e.admin}).
		want(t, http.StatusNotFound)

	// An authenticator with parameters of its own, then removed.
	var enr struct {
		ID        string `json:"id"`
		Algorithm string `json:"algorithm"`
		Digits    int    `json:"digits"`
	}
	e.do(t, call{method: "POST", path: "/v1/users/alice/totp", token: e.admin,
		body: map[string]any{"name": "Key fob", "algorithm": "sha256", "digits": 8}}).
		want(t, http.StatusCreated).decode(t, &enr)
	if enr.Algorithm != "SHA256" || enr.Digits != 8 {
		t.Errorf("enrol with SHA256 and 8 digits = %+v", enr)
	}
	p = e.do(t, call{method: "POST", path: "/v1/users/alice/totp", token: e.admin, invalid: true,
		body: map[string]any{"digits": 6.5}}).want(t, http.StatusBadRequest).problem(t)
	if want := `field "digits" must be a whole number, not number 6.5`; p.Detail != want {
		t.Errorf("enrol with digits 6.5: detail = %q, want %q", p.Detail, want)
	}
	e.do(t, call{method: "POST", path: "/v1/users/alice/totp", token: e.admin,
		body: map[string]any{"digits": 7}}).want(t, http.StatusBadRequest).problem(t)
	e.do(t, call{method: "DELETE", path: "/v1/users/alice/totp/" + enr.ID, token: e.admin}).
		want(t, http.StatusNoContent)
	var totps struct {
		TOTP []map[string]any `json:"totp"`
	}
	e.do(t, call{method: "GET", path: "/v1/users/alice/totp", token: e.admin}).
		want(t, http.StatusOK).decode(t, &totps)
	if len(totps.TOTP) != 0 {
		t.Errorf("GET /v1/users/alice/totp after delete = %v, want none", totps.TOTP)
	}
}

// TestPanicRecovered checks that a panicking handler gets a 500 problem when
// it has not answered yet, and that one that has is not answered twice.
func TestPanicRecovered(t *testing.T) {
	logs := &testtool.LogBuffer{}
	h := New(Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	h.mux.HandleFunc("GET /panic/early", func(http.ResponseWriter, *http.Request) {
		panic("early")
	})
	h.mux.HandleFunc("GET /panic/late", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("partial"))
		panic("late")
	})
	tests := []struct {
		path   string
		status int
		ctype  string
		body   string
	}{
		{"/panic/early", 500, "application/problem+json", `"title":"Internal Server Error"`},
		{"/panic/late", 200, "text/plain; charset=utf-8", "partial"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.status || rec.Header().Get("Content-Type") != tt.ctype ||
				!strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("GET %s = %d %q %q, want %d %q containing %q", tt.path, rec.Code,
					rec.Header().Get("Content-Type"), rec.Body, tt.status, tt.ctype, tt.body)
			}
			if tt.path == "/panic/late" && rec.Body.String() != "partial" {
				t.Errorf("GET %s body = %q, want the handler's alone", tt.path, rec.Body)
			}
		})
	}
	if n := strings.Count(logs.String(), "panic serving request"); n != 2 {
		t.Errorf("log has %d panic records, want 2", n)
	}
}
