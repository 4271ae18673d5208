package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store/sqlstore"
)

// acceptPass is the answer of verify to an access pass, byte for byte.
const acceptPass = "{\n  \"result\": \"accept\",\n  \"factor\": \"access_pass\"\n}\n"

// passOut is the test-side shape of an access pass.
type passOut struct {
	Pass       string `json:"pass"`
	User       string `json:"user"`
	StartsAt   string `json:"starts_at"`
	ExpiresAt  string `json:"expires_at"`
	OneTime    bool   `json:"one_time"`
	State      string `json:"state"`
	SelfIssued bool   `json:"self_issued"`
	Reason     string `json:"reason"`
	Uses       int    `json:"uses"`
	RevokedAt  string `json:"revoked_at"`
}

// passRequestOut is the test-side shape of a request for a pass.
type passRequestOut struct {
	ID       string `json:"id"`
	User     string `json:"user"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Message  string `json:"message"`
	Source   string `json:"source"`
	Lifetime string `json:"lifetime"`
	Origin   string `json:"origin"`
}

// issuePass issues user a pass with token and returns the 201 answer.
func (e *env) issuePass(t testing.TB, token, user string, body map[string]any) passOut {
	t.Helper()
	var p passOut
	e.do(t, call{method: "POST", path: "/v1/users/" + user + "/access-pass", token: token,
		body: body}).want(t, http.StatusCreated).decode(t, &p)
	return p
}

// passStatus returns the pass at path, such as /v1/me/access-pass, and the
// raw answer.
func (e *env) passStatus(t testing.TB, token, path string) (passOut, reply) {
	t.Helper()
	var p passOut
	r := e.do(t, call{method: "GET", path: path, token: token}).want(t, http.StatusOK)
	r.decode(t, &p)
	return p, r
}

// TestAccessPass drives a pass staff issue over HTTP: its answer, its
// status (never the pass), using it through verify, one-time and multi-use
// passes, and revoking.
func TestAccessPass(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})
		vt := e.createToken(t, "verifier", "").Token
		e.createUser(t, "alice")
		const path = "/v1/users/alice/access-pass"

		e.do(t, call{method: "GET", path: path, token: e.admin}).want(t, http.StatusNotFound)

		now := e.clock.Now()
		r := e.do(t, call{method: "POST", path: path, token: e.admin,
			body: map[string]any{"lifetime": "2h", "reason": "lost phone, id checked"}}).
			want(t, http.StatusCreated)
		if got := r.header.Get("Location"); got != path {
			t.Errorf("Location = %q, want %s", got, path)
		}
		var p passOut
		r.decode(t, &p)
		want := passOut{Pass: p.Pass, User: "alice", StartsAt: *jsonTime(now),
			ExpiresAt: *jsonTime(now.Add(2 * time.Hour)), OneTime: true, State: "active",
			Reason: "lost phone, id checked"}
		if diff := cmp.Diff(want, p); diff != "" || len(p.Pass) < 12 {
			t.Errorf("POST %s (-want +got):\n%s", path, diff)
		}

		st, raw := e.passStatus(t, e.admin, path)
		if bytes.Contains(raw.body, []byte(p.Pass)) || bytes.Contains(raw.body, []byte(`"pass"`)) {
			t.Fatalf("GET %s shows the pass: %s", path, raw.body)
		}
		if st.State != "active" || st.Uses != 0 || !st.OneTime {
			t.Errorf("GET %s = %+v, want an unused one-time pass", path, st)
		}

		// A one-time pass works once.
		if got := e.verdict(t, vt, "alice", p.Pass); got != acceptPass {
			t.Errorf("verify(pass) = %q, want %q", got, acceptPass)
		}
		if got := e.verdict(t, vt, "alice", p.Pass); got != rejectAny {
			t.Errorf("verify(pass again) = %q, want %q", got, rejectAny)
		}
		if st, _ := e.passStatus(t, e.admin, path); st.State != "used" || st.Uses != 1 {
			t.Errorf("GET %s after use = %+v, want used once", path, st)
		}

		// A multi-use pass works until it is revoked.
		multi := e.issuePass(t, e.admin, "alice", map[string]any{
			"one_time": false, "reason": "travelling without the phone"})
		if multi.OneTime || multi.ExpiresAt != *jsonTime(e.clock.Now().Add(time.Hour)) {
			t.Errorf("multi-use pass = %+v, want not one-time, with the default 1h", multi)
		}
		for i := range 2 {
			if got := e.verdict(t, vt, "alice", multi.Pass); got != acceptPass {
				t.Errorf("verify(multi-use pass, use %d) = %q, want %q", i+1, got, acceptPass)
			}
		}
		// A pass opens a recovery session, which may not issue itself one.
		if s := e.session(t, "alice", multi.Pass); s.Factor != "access_pass" {
			t.Errorf("sign in with a pass: factor = %q, want access_pass", s.Factor)
		} else {
			e.do(t, call{method: "POST", path: "/v1/me/access-pass", token: s.Token}).
				want(t, http.StatusForbidden)
		}
		e.do(t, call{method: "DELETE", path: path + "?reason=" + url.QueryEscape("phone found"),
			token: e.admin}).want(t, http.StatusNoContent)
		if got := e.verdict(t, vt, "alice", multi.Pass); got != rejectAny {
			t.Errorf("verify(revoked pass) = %q, want %q", got, rejectAny)
		}
		if st, _ := e.passStatus(t, e.admin, path); st.State != "revoked" || st.RevokedAt == "" {
			t.Errorf("GET %s after DELETE = %+v, want revoked", path, st)
		}
		checkLogsClean(t, e, map[string]string{"pass": p.Pass, "multi-use pass": multi.Pass})
	})
}

// TestAccessPassBadInput checks that a pass the policy or the syntax does
// not allow is a 400 that says why, and that nothing is issued.
func TestAccessPassBadInput(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	tests := []struct {
		name    string
		body    map[string]any
		invalid bool
		want    []string // a part of each problem, in order
	}{
		{name: "lifetime over the policy", body: map[string]any{"lifetime": "9h", "reason": "x"},
			want: []string{"lifetime 9h is outside the policy for alice: it must be between 1h and 8h"}},
		{name: "lifetime under the policy", body: map[string]any{"lifetime": "30m", "reason": "x"},
			want: []string{"between 1h and 8h"}},
		{name: "no duration", body: map[string]any{"lifetime": "two hours",
			"starts_at": "tomorrow", "reason": "x"}, invalid: true, want: []string{
			`lifetime must be a duration such as "90m"`, "starts_at must be an RFC 3339 time"}},
		{name: "zero lifetime", body: map[string]any{"lifetime": "0s", "reason": "x"},
			want: []string{"lifetime must be positive"}},
		{name: "no reason", body: map[string]any{"lifetime": "1h"}, invalid: true,
			want: []string{"a reason"}},
		{name: "starts too late", body: map[string]any{"reason": "x",
			"starts_at": t0.Add(31 * 24 * time.Hour).Format(time.RFC3339)},
			want: []string{"starts_at is more than 30d ahead"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.do(t, call{method: "POST", path: "/v1/users/alice/access-pass",
				token: e.admin, body: tt.body, invalid: tt.invalid}).
				want(t, http.StatusBadRequest).problem(t)
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
	e.do(t, call{method: "GET", path: "/v1/users/alice/access-pass", token: e.admin}).
		want(t, http.StatusNotFound)
}

// TestAccessPassTiered checks that issuing and revoking passes are tiered
// like the other changes to a user's factors.
func TestAccessPassTiered(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "root", "admin")
	e.createUser(t, "hd", "helpdesk")
	e.createUser(t, "bob")
	helpdesk := e.createToken(t, "helpdesk", "hd").Token
	auditor := e.createToken(t, "auditor", "").Token
	issue := map[string]any{"reason": "called from the front desk"}

	tests := []struct {
		name   string
		c      call
		status int
	}{
		{"helpdesk issues to an admin",
			call{method: "POST", path: "/v1/users/root/access-pass", body: issue, token: helpdesk},
			403},
		{"helpdesk issues to themselves",
			call{method: "POST", path: "/v1/users/hd/access-pass", body: issue, token: helpdesk},
			403},
		{"auditor issues",
			call{method: "POST", path: "/v1/users/bob/access-pass", body: issue, token: auditor},
			403},
		{"helpdesk issues to a user without roles",
			call{method: "POST", path: "/v1/users/bob/access-pass", body: issue, token: helpdesk},
			201},
		{"helpdesk reads", call{method: "GET", path: "/v1/users/bob/access-pass",
			token: helpdesk}, 200},
		{"auditor reads", call{method: "GET", path: "/v1/users/bob/access-pass",
			token: auditor}, 403},
		{"helpdesk revokes an admin's",
			call{method: "DELETE", path: "/v1/users/root/access-pass", token: helpdesk}, 403},
		{"helpdesk revokes", call{method: "DELETE", path: "/v1/users/bob/access-pass",
			token: helpdesk}, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.c).want(t, tt.status)
			if tt.status == http.StatusForbidden {
				if p := r.problem(t); !strings.Contains(p.Detail, "may not access_pass.") {
					t.Errorf("detail = %q, want it to name the action", p.Detail)
				}
			}
		})
	}
}

// TestSelfServicePass checks that a user may issue themselves a pass from
// a session opened with an authenticator, recently, and not from one
// opened with a backup code.
func TestSelfServicePass(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "").Token
	e.createUser(t, "alice")
	secret := e.enroll(t, "alice")
	printed := e.makeCodes(t, e.admin, "/v1/users/alice/backup-codes")
	const path = "/v1/me/access-pass"

	s := e.session(t, "alice", e.code(secret))
	now := e.clock.Now()
	r := e.do(t, call{method: "POST", path: path, token: s.Token,
		body: map[string]string{"lifetime": "30m", "note": "new laptop"}}).
		want(t, http.StatusCreated)
	if got := r.header.Get("Location"); got != path {
		t.Errorf("Location = %q, want %s", got, path)
	}
	var p passOut
	r.decode(t, &p)
	want := passOut{Pass: p.Pass, User: "alice", StartsAt: *jsonTime(now),
		ExpiresAt: *jsonTime(now.Add(30 * time.Minute)), OneTime: true, State: "active",
		SelfIssued: true, Reason: "new laptop"}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("POST %s (-want +got):\n%s", path, diff)
	}
	st, raw := e.passStatus(t, s.Token, path)
	if bytes.Contains(raw.body, []byte(p.Pass)) || st.State != "active" {
		t.Errorf("GET %s = %s, want the active pass without the pass", path, raw.body)
	}
	if got := e.verdict(t, vt, "alice", p.Pass); got != acceptPass {
		t.Errorf("verify(self-issued pass) = %q, want %q", got, acceptPass)
	}
	e.do(t, call{method: "DELETE", path: path, token: s.Token}).want(t, http.StatusNoContent)
	e.do(t, call{method: "DELETE", path: path, token: e.admin}).want(t, http.StatusForbidden)
	checkLogsClean(t, e, map[string]string{"self-issued pass": p.Pass})

	// An empty body takes the self-service maximum, 1h.
	e.clock.Add(time.Minute)
	p = passOut{}
	e.do(t, call{method: "POST", path: path, token: s.Token}).
		want(t, http.StatusCreated).decode(t, &p)
	if want := *jsonTime(e.clock.Now().Add(time.Hour)); p.ExpiresAt != want {
		t.Errorf("expires_at = %s, want %s", p.ExpiresAt, want)
	}

	refused := []struct {
		name   string
		token  func() string
		body   map[string]string
		status int
		detail string
	}{
		{name: "recovery session", token: func() string {
			return e.session(t, "alice", printed.Codes[0]).Token
		}, status: 403, detail: "not with backup code; sign in again"},
		{name: "stale session", token: func() string {
			e.clock.Add(30 * time.Second)
			tok := e.session(t, "alice", e.code(secret)).Token
			e.clock.Add(11 * time.Minute)
			return tok
		}, status: 403, detail: "needs a factor proved within the last 10m"},
		{name: "over the self-service maximum", token: func() string {
			e.clock.Add(30 * time.Second)
			return e.session(t, "alice", e.code(secret)).Token
		}, body: map[string]string{"lifetime": "2h"}, status: 400,
			detail: "a pass you issue yourself lasts between 10m and 1h"},
		{name: "API token", token: func() string { return e.admin }, status: 403,
			detail: "need a session"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			c := call{method: "POST", path: path, token: tt.token()}
			if tt.body != nil {
				c.body = tt.body
			}
			pr := e.do(t, c).want(t, tt.status).problem(t)
			if !strings.Contains(pr.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", pr.Detail, tt.detail)
			}
		})
	}
}

// TestPassRequests drives the queue: a request made without signing in
// answers the same for every account, is limited, and staff list, approve
// and deny it.
func TestPassRequests(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		loopback := netip.MustParsePrefix("127.0.0.1/32")
		e := newEnv(t, options{db: db, proxies: []netip.Prefix{loopback}})
		vt := e.createToken(t, "verifier", "").Token
		e.createUser(t, "alice")
		ask := func(user, from string) reply {
			return e.do(t, call{method: "POST", path: "/v1/access-pass-requests",
				forwarded: []string{from}, body: map[string]string{
					"user": user, "message": "lost my phone; call me on 555-0100"}})
		}

		// The same answer, byte for byte, whether or not the user exists,
		// until the hourly bound of 3 per user name, and then the same 429.
		for _, status := range []int{202, 202, 202, 429} {
			known := ask("alice", "198.51.100.1").want(t, status)
			unknown := ask("nobody", "198.51.100.2").want(t, status)
			if !bytes.Equal(known.body, unknown.body) && status == 202 {
				t.Errorf("answers differ: %s and %s", known.body, unknown.body)
			}
			if diff := cmp.Diff(stableHeaders(known.header), stableHeaders(unknown.header)); diff != "" {
				t.Errorf("headers differ (-alice +nobody):\n%s", diff)
			}
			if status == 429 {
				// Until the next hourly window begins.
				secs, err := strconv.Atoi(unknown.header.Get("Retry-After"))
				if err != nil || secs < 1 || secs > 3600 {
					t.Errorf("Retry-After = %q, want 1 to 3600 seconds",
						unknown.header.Get("Retry-After"))
				}
				kp, up := known.problem(t), unknown.problem(t)
				if kp.Detail != up.Detail || !strings.Contains(kp.Detail, "too many requests") {
					t.Errorf("429 details = %q and %q, want the same", kp.Detail, up.Detail)
				}
			}
		}
		var got struct {
			Status, Message string
		}
		ask("bob", "198.51.100.3").want(t, http.StatusAccepted).decode(t, &got)
		if got.Status != "received" || !strings.Contains(got.Message, "helpdesk") {
			t.Errorf("answer = %+v, want received with a message for the user", got)
		}
		bad := e.do(t, call{method: "POST", path: "/v1/access-pass-requests",
			body: map[string]string{"user": "no spaces please"}}).want(t, http.StatusBadRequest)
		bad.problem(t)
		e.do(t, call{method: "POST", path: "/v1/access-pass-requests", invalid: true,
			body: map[string]string{"user": "alice", "message": strings.Repeat("x", 501)}}).
			want(t, http.StatusBadRequest)

		// The queue holds alice's three requests, none for unknown names.
		queue := e.queue(t, "")
		if len(queue) != 3 {
			t.Fatalf("GET /v1/access-pass-requests = %+v, want alice's 3", queue)
		}
		for _, q := range queue {
			if q.User != "alice" || q.Kind != "user" || q.Status != "pending" ||
				q.Source != "198.51.100.1" || !strings.Contains(q.Message, "555-0100") {
				t.Errorf("request = %+v, want alice's pending request from 198.51.100.1", q)
			}
		}

		// Approving issues a pass that works; a decided request is 409.
		approve := "/v1/access-pass-requests/" + queue[0].ID + "/approve"
		var p passOut
		e.do(t, call{method: "POST", path: approve, token: e.admin, body: map[string]any{
			"lifetime": "2h", "reason": "called back on the number in the HR record"}}).
			want(t, http.StatusCreated).decode(t, &p)
		if p.User != "alice" || !p.OneTime || p.Pass == "" {
			t.Errorf("approve = %+v, want a one-time pass for alice", p)
		}
		if got := e.verdict(t, vt, "alice", p.Pass); got != acceptPass {
			t.Errorf("verify(approved pass) = %q, want %q", got, acceptPass)
		}
		e.do(t, call{method: "POST", path: approve, token: e.admin,
			body: map[string]any{"reason": "again"}}).want(t, http.StatusConflict).problem(t)

		deny := "/v1/access-pass-requests/" + queue[1].ID + "/deny"
		e.do(t, call{method: "POST", path: deny, token: e.admin,
			body: map[string]string{"reason": "could not reach the user"}}).
			want(t, http.StatusNoContent)
		e.do(t, call{method: "POST", path: deny, token: e.admin,
			body: map[string]string{"reason": "again"}}).want(t, http.StatusConflict)
		if got := e.queue(t, "?status=pending"); len(got) != 1 || got[0].ID != queue[2].ID {
			t.Errorf("pending after a decision each = %+v, want %s alone", got, queue[2].ID)
		}
		if got := e.queue(t, "?status=denied&user=alice"); len(got) != 1 ||
			got[0].ID != queue[1].ID {
			t.Errorf("denied = %+v, want %s", got, queue[1].ID)
		}
		e.do(t, call{method: "GET", path: "/v1/access-pass-requests?status=lost", token: e.admin,
			invalid: true}).want(t, http.StatusBadRequest)
		e.do(t, call{method: "POST", path: "/v1/access-pass-requests/nope/deny", token: e.admin,
			body: map[string]string{"reason": "x"}}).want(t, http.StatusNotFound)

		// A pending request expires after the policy's day.
		e.clock.Add(24 * time.Hour)
		e.do(t, call{method: "POST", path: "/v1/access-pass-requests/" + queue[2].ID + "/approve",
			token: e.admin, body: map[string]any{"reason": "late"}}).
			want(t, http.StatusConflict)
		if got := e.queue(t, ""); len(got) != 0 {
			t.Errorf("pending a day later = %+v, want none", got)
		}
	})
}

// queue lists requests for passes with the query.
func (e *env) queue(t testing.TB, query string) []passRequestOut {
	t.Helper()
	var out struct {
		Requests []passRequestOut `json:"requests"`
	}
	e.do(t, call{method: "GET", path: "/v1/access-pass-requests" + query, token: e.admin}).
		want(t, http.StatusOK).decode(t, &out)
	return out.Requests
}

// TestSecondApprover checks that where the policy asks for it, a pass for a
// user who holds a role waits for a second admin.
func TestSecondApprover(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "").Token
	e.createUser(t, "ops", "helpdesk")
	second := e.createToken(t, "admin", "").Token
	e.do(t, call{method: "PUT", path: "/v1/policy", token: e.admin, body: map[string]any{
		"access_pass": map[string]any{"second_approver_for_roles": true}}}).
		want(t, http.StatusOK)

	var pending struct {
		Status  string         `json:"status"`
		Request passRequestOut `json:"request"`
	}
	e.do(t, call{method: "POST", path: "/v1/users/ops/access-pass", token: e.admin,
		body: map[string]any{"lifetime": "3h", "reason": "ops lost their key"}}).
		want(t, http.StatusAccepted).decode(t, &pending)
	if pending.Status != "pending_approval" || pending.Request.Kind != "staff" ||
		pending.Request.Lifetime != "3h" || pending.Request.User != "ops" {
		t.Fatalf("POST = %+v, want a staff request for 3h pending approval", pending)
	}
	approve := "/v1/access-pass-requests/" + pending.Request.ID + "/approve"
	p := e.do(t, call{method: "POST", path: approve, token: e.admin,
		body: map[string]any{"reason": "me again"}}).want(t, http.StatusForbidden).problem(t)
	if !strings.Contains(p.Detail, "second admin") {
		t.Errorf("detail = %q, want it to ask for a second admin", p.Detail)
	}
	var pass passOut
	e.do(t, call{method: "POST", path: approve, token: second,
		body: map[string]any{"reason": "confirmed with ops' manager"}}).
		want(t, http.StatusCreated).decode(t, &pass)
	if pass.User != "ops" || pass.Reason != "ops lost their key" {
		t.Errorf("approved pass = %+v, want the issuer's pass for ops", pass)
	}
	if got := e.verdict(t, vt, "ops", pass.Pass); got != acceptPass {
		t.Errorf("verify(approved pass) = %q, want %q", got, acceptPass)
	}
}

// TestAnonymousLimits checks that each route that takes no credential has
// its own per-address budget: a locked-out user who spent the sign-in
// budget may still ask for a pass.
func TestAnonymousLimits(t *testing.T) {
	loopback := netip.MustParsePrefix("127.0.0.1/32")
	e := newEnv(t, options{signInRate: 3, proxies: []netip.Prefix{loopback}})
	from := []string{"198.51.100.9"}
	for i := range 4 {
		want := http.StatusUnauthorized
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		e.do(t, call{method: "POST", path: "/v1/sessions", forwarded: from,
			body: map[string]string{"user": "alice", "code": "123456"}}).want(t, want)
	}
	for i := range 4 {
		r := e.do(t, call{method: "POST", path: "/v1/access-pass-requests", forwarded: from,
			body: map[string]string{"user": fmt.Sprintf("user%d", i)}})
		if i < 3 {
			r.want(t, http.StatusAccepted)
			continue
		}
		p := r.want(t, http.StatusTooManyRequests).problem(t)
		if got := r.header.Get("Retry-After"); got != "20" {
			t.Errorf("Retry-After = %q, want 20", got)
		}
		if !strings.Contains(p.Detail, "too many requests for an access pass from this address") {
			t.Errorf("429 detail = %q", p.Detail)
		}
	}
}
