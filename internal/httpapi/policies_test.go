package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store/sqlstore"
)

// groupPolicyOut is the test-side shape of a group's policy.
type groupPolicyOut struct {
	Group     string          `json:"group"`
	Overrides json.RawMessage `json:"overrides"`
	Policy    policy.Policy   `json:"policy"`
}

// userPolicy returns the policy in force for user.
func (e *env) userPolicy(t testing.TB, user string) policy.Policy {
	t.Helper()
	var p policy.Policy
	e.do(t, call{method: "GET", path: "/v1/users/" + user + "/policy", token: e.admin}).
		want(t, http.StatusOK).decode(t, &p)
	return p
}

// TestGroupPolicy drives a group's policy over HTTP: set, shown, in force
// for its members alone, refused when invalid, and removed.
func TestGroupPolicy(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})
		e.createUser(t, "alice")
		e.createUser(t, "bob")
		e.do(t, call{method: "POST", path: "/v1/groups", token: e.admin,
			body: map[string]string{"name": "contractors"}}).want(t, http.StatusCreated)
		e.do(t, call{method: "PUT", path: "/v1/groups/contractors/members/bob",
			token: e.admin}).want(t, http.StatusNoContent)
		const path = "/v1/groups/contractors/policy"

		var g groupPolicyOut
		e.do(t, call{method: "GET", path: path, token: e.admin}).
			want(t, http.StatusOK).decode(t, &g)
		if string(g.Overrides) != "{}" || !cmp.Equal(g.Policy, policy.Default()) {
			t.Errorf("GET %s with no document = %+v, want {} and the defaults", path, g)
		}

		doc := map[string]any{"access_pass": map[string]any{"max_lifetime": "2h"},
			"bypass": map[string]any{"enabled": false}}
		var put groupPolicyOut
		e.do(t, call{method: "PUT", path: path, token: e.admin, body: doc}).
			want(t, http.StatusOK).decode(t, &put)
		var overrides map[string]any
		if err := json.Unmarshal(put.Overrides, &overrides); err != nil {
			t.Fatalf("overrides %s: %v", put.Overrides, err)
		}
		if diff := cmp.Diff(doc, overrides); diff != "" {
			t.Errorf("PUT %s overrides (-sent +got):\n%s", path, diff)
		}
		want := policy.Default()
		want.AccessPass.MaxLifetime = policy.Duration(2 * time.Hour)
		want.Bypass.Enabled = false
		if diff := cmp.Diff(want, put.Policy); diff != "" || put.Group != "contractors" {
			t.Errorf("PUT %s policy (-want +got):\n%s", path, diff)
		}
		var got groupPolicyOut
		e.do(t, call{method: "GET", path: path, token: e.admin}).
			want(t, http.StatusOK).decode(t, &got)
		if diff := cmp.Diff(put, got); diff != "" {
			t.Errorf("GET %s differs from the PUT (-put +get):\n%s", path, diff)
		}

		// In force for bob, a member, and not for alice.
		if p := e.userPolicy(t, "bob"); p.AccessPass.MaxLifetime.String() != "2h" ||
			p.Bypass.Enabled {
			t.Errorf("GET /v1/users/bob/policy = %+v, want the group's document", p)
		}
		if p := e.userPolicy(t, "alice"); !cmp.Equal(p, policy.Default()) {
			t.Errorf("GET /v1/users/alice/policy = %+v, want the defaults", p)
		}
		pr := e.do(t, call{method: "POST", path: "/v1/users/bob/access-pass", token: e.admin,
			body: map[string]any{"lifetime": "3h", "reason": "x"}}).
			want(t, http.StatusBadRequest).problem(t)
		if !strings.Contains(pr.Detail, "between 1h and 2h") {
			t.Errorf("3h pass for bob: detail = %q, want the group's bounds", pr.Detail)
		}
		e.issuePass(t, e.admin, "alice", map[string]any{"lifetime": "3h", "reason": "x"})

		// A bad document lists every problem and changes nothing.
		bad := e.do(t, call{method: "PUT", path: path, token: e.admin, body: map[string]any{
			"access_pass": map[string]any{"min_lifetime": "1m"},
			"bypass":      map[string]any{"max_duration": "2h"},
		}}).want(t, http.StatusBadRequest).problem(t)
		wantFields := []string{"access_pass.min_lifetime", "bypass.max_duration"}
		if len(bad.Problems) != len(wantFields) {
			t.Fatalf("PUT %s problems = %q, want one for each of %q", path, bad.Problems,
				wantFields)
		}
		for i, f := range wantFields {
			if !strings.Contains(bad.Problems[i], f) {
				t.Errorf("problems[%d] = %q, want it about %s", i, bad.Problems[i], f)
			}
		}
		for _, body := range []string{`[]`, `{"access_pass": {"max_lifetim": "2h"}}`, `{`} {
			e.do(t, call{method: "PUT", path: path, token: e.admin, body: body, invalid: true}).
				want(t, http.StatusBadRequest).problem(t)
		}
		if p := e.userPolicy(t, "bob"); p.AccessPass.MaxLifetime.String() != "2h" {
			t.Errorf("a refused PUT changed bob's policy to %+v", p)
		}

		e.do(t, call{method: "DELETE", path: path, token: e.admin}).want(t, http.StatusNoContent)
		e.do(t, call{method: "DELETE", path: path, token: e.admin}).want(t, http.StatusNotFound)
		if p := e.userPolicy(t, "bob"); !cmp.Equal(p, policy.Default()) {
			t.Errorf("GET /v1/users/bob/policy after DELETE = %+v, want the defaults", p)
		}
		e.do(t, call{method: "GET", path: "/v1/groups/nobody/policy", token: e.admin}).
			want(t, http.StatusNotFound)
	})
}

// TestGroupPolicyRoles checks who may read and write group policies.
func TestGroupPolicyRoles(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "alice")
	e.do(t, call{method: "POST", path: "/v1/groups", token: e.admin,
		body: map[string]string{"name": "staff"}}).want(t, http.StatusCreated)
	authAdmin := e.createToken(t, "authentication-admin", "").Token
	helpdesk := e.createToken(t, "helpdesk", "").Token
	tests := []struct {
		name   string
		c      call
		status int
	}{
		{"authentication-admin reads", call{method: "GET", path: "/v1/groups/staff/policy",
			token: authAdmin}, 200},
		{"authentication-admin writes", call{method: "PUT", path: "/v1/groups/staff/policy",
			token: authAdmin, body: map[string]any{}}, 403},
		{"helpdesk reads a user's", call{method: "GET", path: "/v1/users/alice/policy",
			token: helpdesk}, 403},
		{"authentication-admin reads a user's", call{method: "GET",
			path: "/v1/users/alice/policy", token: authAdmin}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do(t, tt.c).want(t, tt.status)
		})
	}
}
