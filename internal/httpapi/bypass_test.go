package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store/sqlstore"
)

// acceptBypass is the answer of verify to a bypass, byte for byte.
const acceptBypass = "{\n  \"result\": \"accept\",\n  \"factor\": \"bypass\"\n}\n"

// bypassOut is the test-side shape of a bypass.
type bypassOut struct {
	User      string `json:"user"`
	State     string `json:"state"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
	Reason    string `json:"reason"`
	UsedAt    string `json:"used_at"`
	RevokedAt string `json:"revoked_at"`
}

// bypassStatus returns the user's bypass.
func (e *env) bypassStatus(t testing.TB, user string) bypassOut {
	t.Helper()
	var b bypassOut
	e.do(t, call{method: "GET", path: "/v1/users/" + user + "/bypass", token: e.admin}).
		want(t, http.StatusOK).decode(t, &b)
	return b
}

// TestBypass drives a bypass over HTTP: granted, used once by a
// verification with an empty or missing code, and revoked.
func TestBypass(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})
		vt := e.createToken(t, "verifier", "").Token
		e.createUser(t, "alice")
		secret := e.enroll(t, "alice")
		const path = "/v1/users/alice/bypass"
		grant := map[string]string{"duration": "5m", "reason": "on the phone, id checked"}

		e.do(t, call{method: "GET", path: path, token: e.admin}).want(t, http.StatusNotFound)
		if got := e.verdict(t, vt, "alice", ""); got != rejectAny {
			t.Errorf("verify(empty code, no bypass) = %q, want %q", got, rejectAny)
		}

		now := e.clock.Now()
		r := e.do(t, call{method: "POST", path: path, token: e.admin, body: grant}).
			want(t, http.StatusCreated)
		if got := r.header.Get("Location"); got != path {
			t.Errorf("Location = %q, want %s", got, path)
		}
		var b bypassOut
		r.decode(t, &b)
		want := bypassOut{User: "alice", State: "active", CreatedAt: *jsonTime(now),
			ExpiresAt: *jsonTime(now.Add(5 * time.Minute)), Reason: grant["reason"]}
		if diff := cmp.Diff(want, b); diff != "" {
			t.Errorf("POST %s (-want +got):\n%s", path, diff)
		}

		// An empty code is accepted once; a code still counts as a code.
		if got := e.verdict(t, vt, "alice", e.wrongCode(secret)); got != rejectAny {
			t.Errorf("verify(wrong code, bypass) = %q, want %q", got, rejectAny)
		}
		if got := e.verdict(t, vt, "alice", ""); got != acceptBypass {
			t.Errorf("verify(empty code) = %q, want %q", got, acceptBypass)
		}
		if got := e.verdict(t, vt, "alice", ""); got != rejectAny {
			t.Errorf("verify(empty code again) = %q, want %q", got, rejectAny)
		}
		if b := e.bypassStatus(t, "alice"); b.State != "used" || b.UsedAt == "" {
			t.Errorf("GET %s after use = %+v, want used", path, b)
		}

		// A missing code asks for the bypass too.
		e.do(t, call{method: "POST", path: path, token: e.admin, body: grant}).
			want(t, http.StatusCreated)
		missing := call{method: "POST", path: "/v1/verify", token: vt,
			body: map[string]string{"user": "alice"}}
		if got := string(e.do(t, missing).want(t, http.StatusOK).body); got != acceptBypass {
			t.Errorf("verify(no code) = %q, want %q", got, acceptBypass)
		}
		if got := string(e.do(t, missing).want(t, http.StatusOK).body); got != rejectAny {
			t.Errorf("verify(no code again) = %q, want %q", got, rejectAny)
		}

		// Revoked, or expired, it lets nothing through.
		e.do(t, call{method: "POST", path: path, token: e.admin, body: grant}).
			want(t, http.StatusCreated)
		e.do(t, call{method: "DELETE", path: path + "?reason=resolved", token: e.admin}).
			want(t, http.StatusNoContent)
		if got := e.verdict(t, vt, "alice", ""); got != rejectAny {
			t.Errorf("verify(empty code, revoked bypass) = %q, want %q", got, rejectAny)
		}
		if b := e.bypassStatus(t, "alice"); b.State != "revoked" || b.RevokedAt == "" {
			t.Errorf("GET %s after DELETE = %+v, want revoked", path, b)
		}
		e.do(t, call{method: "DELETE", path: path, token: e.admin}).want(t, http.StatusNotFound)

		e.do(t, call{method: "POST", path: path, token: e.admin,
			body: map[string]string{"reason": "again"}}).want(t, http.StatusCreated)
		e.clock.Add(5 * time.Minute)
		if got := e.verdict(t, vt, "alice", ""); got != rejectAny {
			t.Errorf("verify(empty code, expired bypass) = %q, want %q", got, rejectAny)
		}
		if b := e.bypassStatus(t, "alice"); b.State != "expired" {
			t.Errorf("GET %s after 5m = %+v, want expired", path, b)
		}
	})
}

// TestBypassRefused checks the bypasses policy and tiering refuse.
func TestBypassRefused(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	e.createUser(t, "root", "admin")
	helpdesk := e.createToken(t, "helpdesk", "").Token
	tests := []struct {
		name   string
		c      call
		status int
		detail string
	}{
		{"longer than the policy", call{method: "POST", path: "/v1/users/alice/bypass",
			body: map[string]string{"duration": "10m", "reason": "x"}}, 400,
			"duration 10m is outside the policy for alice: it must be between 1m and 5m"},
		{"no duration", call{method: "POST", path: "/v1/users/alice/bypass",
			body: map[string]string{"duration": "soon", "reason": "x"}}, 400,
			`duration must be a duration such as "90m"`},
		{"no reason", call{method: "POST", path: "/v1/users/alice/bypass",
			body: map[string]string{"reason": " "}}, 400, "a reason"},
		{"helpdesk grants an admin", call{method: "POST", path: "/v1/users/root/bypass",
			token: helpdesk, body: map[string]string{"reason": "x"}}, 403,
			"may not bypass.grant on user root"},
		{"helpdesk revokes an admin's", call{method: "DELETE", path: "/v1/users/root/bypass",
			token: helpdesk}, 403, "may not bypass.revoke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.c.token == "" {
				tt.c.token = e.admin
			}
			p := e.do(t, tt.c).want(t, tt.status).problem(t)
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.detail)
			}
		})
	}
}
