package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/mfa"
)

// passLine is an access pass as pass issue prints it: the default twelve
// symbols in groups of four, alone on its line.
const passLine = `[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}\n`

var passPattern = regexp.MustCompile(`\A` + passLine + `\z`)

// issuePass runs pass issue with args and returns the pass it printed,
// failing unless the pass is all that standard output holds.
func (f *fixture) issuePass(args ...string) string {
	f.t.Helper()
	out := f.must(append([]string{"pass", "issue"}, args...)...)
	if !passPattern.MatchString(out) {
		f.t.Fatalf("mfad pass issue %s stdout = %q, want the pass alone on one line",
			strings.Join(args, " "), out)
	}
	return strings.TrimSpace(out)
}

// passState returns the state pass show --json reports for user.
func (f *fixture) passState(user string) passJSON {
	f.t.Helper()
	var p passJSON
	out := f.must("pass", "show", user, "--json")
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		f.t.Fatalf("pass show %s --json = %q: %v", user, out, err)
	}
	return p
}

func TestPassCommands(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")

	r := f.run(nil, "pass", "issue", "alice", "--reason", "lost phone, ticket 7")
	if r.code != 0 || !passPattern.MatchString(r.stdout) {
		t.Fatalf("pass issue alice = exit %d, stdout %q; want 0 and the pass alone on one "+
			"line; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	pass := strings.TrimSpace(r.stdout)
	for _, want := range []string{"It works once", "shown this once"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("pass issue alice stderr = %q, want it to say %q", r.stderr, want)
		}
	}
	if strings.Contains(r.stderr, pass) {
		t.Errorf("pass issue alice stderr = %q, want the pass on standard output only", r.stderr)
	}

	// Everything pass show prints, in every form, and never the pass.
	secrets := []string{pass, strings.ReplaceAll(pass, "-", ""), strings.ToUpper(pass)}
	f.runSteps([]step{
		{name: "show active", args: []string{"pass", "show", "alice"},
			has: []string{"state:      active\n", "kind:       one-time\n",
				"uses:       0\n", "reason:     lost phone, ticket 7\n", "by operator:tester\n"}},
		{name: "verify", args: []string{"verify", "alice", pass}, out: "accept access_pass\n"},
		{name: "verify again", args: []string{"verify", "alice", pass}, code: 1,
			out: "reject\n"},
		{name: "show used", args: []string{"pass", "show", "alice"},
			has: []string{"state:      used\n", "uses:       1\n"}},
	})
	shows := [][]string{{"pass", "show", "alice"}, {"pass", "show", "alice", "--json"}}
	for _, args := range shows {
		out := f.must(args...)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("mfad %s = %q, want no pass in it", strings.Join(args, " "), out)
			}
		}
	}
	if p := f.passState("alice"); p.State != "used" || p.Uses != 1 || !p.OneTime ||
		p.LastUsedAt.IsZero() || p.ExpiresAt.Sub(p.StartsAt) != time.Hour {
		t.Errorf("pass show alice --json = %+v, want a used one-time pass of the default hour",
			p)
	}

	multi := f.issuePass("alice", "--multi-use", "--lifetime", "2h", "--reason", "travel")
	if p := f.passState("alice"); p.OneTime || p.ExpiresAt.Sub(p.StartsAt) != 2*time.Hour {
		t.Errorf("pass show alice --json = %+v, want a multi-use pass of 2h", p)
	}
	f.runSteps([]step{
		{name: "multi-use verify", args: []string{"verify", "alice", multi},
			out: "accept access_pass\n"},
		{name: "multi-use verify again", args: []string{"verify", "alice", multi},
			out: "accept access_pass\n"},
		{name: "old pass replaced", args: []string{"verify", "alice", pass}, code: 1,
			out: "reject\n"},
		{name: "revoke", args: []string{"pass", "revoke", "alice", "--reason", "back at desk"},
			out: "revoked the access pass of alice\n"},
		{name: "verify revoked", args: []string{"verify", "alice", multi}, code: 1,
			out: "reject\n"},
		{name: "show revoked", args: []string{"pass", "show", "alice"},
			has: []string{"state:      revoked\n"}},
		{name: "lifetime over policy", args: []string{"pass", "issue", "alice", "--lifetime",
			"9h", "--reason", "x"}, code: 1, out: "",
			errHas: []string{"no pass was issued:\n  lifetime 9h is outside the policy for " +
				"alice: it must be between 1h and 8h"}},
		{name: "lifetime malformed", args: []string{"pass", "issue", "alice", "--lifetime",
			"soon", "--reason", "x"}, code: 2,
			errHas: []string{"want a positive duration such as 90m, 2h or 3d"}},
		{name: "start malformed", args: []string{"pass", "issue", "alice", "--start",
			"tomorrow", "--reason", "x"}, code: 2, errHas: []string{"RFC 3339"}},
		{name: "unknown user", args: []string{"pass", "issue", "nobody", "--reason", "x"},
			code: 1, out: "", errHas: []string{`user "nobody" not found`}},
		{name: "show none", args: []string{"pass", "show", "nobody"}, code: 1},
		{name: "add bob", args: []string{"user", "add", "bob"}},
		{name: "revoke without pass", args: []string{"pass", "revoke", "bob"}, code: 1,
			errHas: []string{`user "bob" has no access pass to revoke`}},
	})

	start := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	later := f.issuePass("alice", "--start", start.Format(time.RFC3339), "--reason", "Monday")
	if p := f.passState("alice"); p.State != "scheduled" || !p.StartsAt.Equal(start) {
		t.Errorf("pass show alice --json = %+v, want scheduled from %s", p, start)
	}
	if r := f.run(nil, "verify", "alice", later); r.code != 1 {
		t.Errorf("verify alice with a pass that starts in an hour = exit %d, %q; want reject",
			r.code, r.stdout)
	}
}

func TestBypassCommands(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")
	f.runSteps([]step{
		{name: "no bypass", args: []string{"verify", "alice", ""}, code: 1, out: "reject\n"},
		{name: "grant", args: []string{"bypass", "grant", "alice", "--for", "5m", "--reason",
			"on the phone, ticket 9"}, out: "",
			errHas: []string{"Granted alice a bypass until ", "accepted, once"}},
		{name: "show", args: []string{"bypass", "show", "alice"},
			has: []string{"state:    active\n", "reason:   on the phone, ticket 9\n",
				"by operator:tester\n"}},
		{name: "verify empty", args: []string{"verify", "alice", ""}, out: "accept bypass\n"},
		{name: "verify empty again", args: []string{"verify", "alice", ""}, code: 1,
			out: "reject\n"},
		{name: "show used", args: []string{"bypass", "show", "alice"},
			has: []string{"state:    used\n"}},
		{name: "revoke used", args: []string{"bypass", "revoke", "alice"}, code: 1,
			errHas: []string{"no unused bypass"}},
		{name: "grant again", args: []string{"bypass", "grant", "alice", "--for", "2m",
			"--reason", "again"}},
		{name: "revoke", args: []string{"bypass", "revoke", "alice", "--reason", "done"},
			out: "revoked the bypass of alice\n"},
		{name: "verify revoked", args: []string{"verify", "alice", ""}, code: 1,
			out: "reject\n"},
		{name: "over policy", args: []string{"bypass", "grant", "alice", "--for", "10m",
			"--reason", "x"}, code: 1,
			errHas: []string{"duration 10m is outside the policy for alice: it must be " +
				"between 1m and 5m"}},
	})
	var b bypassJSON
	if err := json.Unmarshal([]byte(f.must("bypass", "show", "alice", "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.State != "revoked" || b.RevokedAt.IsZero() ||
		b.ExpiresAt.Sub(b.CreatedAt) != 2*time.Minute {
		t.Errorf("bypass show alice --json = %+v, want a revoked bypass of 2m", b)
	}
}

// TestPassSecondApprover issues a pass to a user who holds a role, under a
// policy that wants a second admin: nothing reaches standard output until
// another operator approves.
func TestPassSecondApprover(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "carol", "--role", "helpdesk")
	if r := f.run(strings.NewReader(`{"access_pass": {"second_approver_for_roles": true}}`),
		"policy", "set", "-"); r.code != 0 {
		t.Fatalf("policy set - = exit %d; stderr:\n%s", r.code, r.stderr)
	}

	r := f.run(nil, "pass", "issue", "carol", "--reason", "lost phone")
	m := regexp.MustCompile(`mfad pass approve ([a-z2-7]{16}) --reason TEXT --data `).
		FindStringSubmatch(r.stderr)
	if r.code != 0 || r.stdout != "" || m == nil || !strings.Contains(r.stderr, "second admin") {
		t.Fatalf("pass issue carol = exit %d, stdout %q, stderr %q; want 0, nothing on "+
			"standard output, and how a second admin approves", r.code, r.stdout, r.stderr)
	}
	id := m[1]
	f.runSteps([]step{
		{name: "nothing issued", args: []string{"pass", "show", "carol"}, code: 1},
		{name: "listed", args: []string{"pass", "requests"},
			has: []string{id, " carol ", " staff ", " pending ", "operator:tester",
				"lost phone"}},
		{name: "same operator", args: []string{"pass", "approve", id, "--reason", "ok"},
			code: 1, out: "", errHas: []string{"a second admin, not the one who issued"}},
	})

	second := &fixture{t: t, data: f.data, login: "second"}
	pass := strings.TrimSpace(second.must("pass", "approve", id, "--reason", "checked"))
	if !passPattern.MatchString(pass + "\n") {
		t.Fatalf("pass approve by a second operator = %q, want the pass alone", pass)
	}
	f.runSteps([]step{
		{name: "verify", args: []string{"verify", "carol", pass}, out: "accept access_pass\n"},
		{name: "approved", args: []string{"pass", "requests", "--status", "approved"},
			has: []string{id, "operator:second"}},
		{name: "approve twice", args: []string{"pass", "approve", id, "--reason", "again"},
			code: 1, errHas: []string{"the request is approved"}},
	})
}

// TestBinaryPassRequests makes requests for a pass the way a locked-out
// user does, through the API of a running server, and decides them with the
// real binary.
func TestBinaryPassRequests(t *testing.T) {
	b := &binary{t: t, path: buildMfad(t), data: filepath.Join(t.TempDir(), "data")}
	b.must("user", "add", "alice")
	b.must("user", "add", "bob")
	srv := startServer(t, b)
	for _, user := range []string{"alice", "bob", "nobody"} {
		status, body := postJSON(t, "http://"+srv.addr+"/v1/access-pass-requests", "",
			map[string]string{"user": user, "message": "lost my phone"})
		if status != 202 {
			t.Fatalf("POST /v1/access-pass-requests for %s = %d %s, want 202", user, status,
				body)
		}
	}

	var list []requestJSON
	out := b.must("pass", "requests", "--json").stdout
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("pass requests --json = %q: %v", out, err)
	}
	ids := map[string]string{}
	for _, r := range list {
		if r.Kind != "user" || r.Status != "pending" || r.Message != "lost my phone" ||
			r.Source != "127.0.0.1" || !r.OneTime || r.ExpiresAt.Before(r.CreatedAt) {
			t.Errorf("pass requests --json holds %+v, want a pending user request", r)
		}
		ids[r.User] = r.ID
	}
	if len(list) != 2 || ids["alice"] == "" || ids["bob"] == "" {
		t.Fatalf("pass requests --json = %+v, want one request each of alice and bob "+
			"(none for an unknown user)", list)
	}

	r := b.must("pass", "approve", ids["alice"], "--reason", "called back on file number",
		"--lifetime", "2h")
	if !passPattern.MatchString(r.stdout) {
		t.Fatalf("pass approve stdout = %q, want the pass alone", r.stdout)
	}
	pass := strings.TrimSpace(r.stdout)
	if r := b.run("verify", "alice", pass); r.code != 0 || r.stdout != "accept access_pass\n" {
		t.Errorf("verify alice PASS = exit %d, %q; want accept access_pass", r.code, r.stdout)
	}
	if r := b.must("pass", "deny", ids["bob"], "--reason", "no answer on file number"); r.stdout !=
		"denied access pass request "+ids["bob"]+"\n" {
		t.Errorf("pass deny stdout = %q", r.stdout)
	}
	if r := b.must("pass", "requests"); strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("pass requests after both decisions = %q, want the header alone", r.stdout)
	}

	list = nil
	out = b.must("pass", "requests", "--status", "all", "--json").stdout
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	decided := map[string]string{}
	for _, r := range list {
		if !strings.HasPrefix(r.DecidedBy, "operator:") || r.DecidedAt.IsZero() {
			t.Errorf("decided request %+v, want the operator and the time", r)
		}
		decided[r.User] = r.Status + ": " + r.DecisionReason
	}
	want := map[string]string{"alice": "approved: called back on file number",
		"bob": "denied: no answer on file number"}
	if len(decided) != 2 || decided["alice"] != want["alice"] || decided["bob"] != want["bob"] {
		t.Errorf("pass requests --status all = %v, want %v", decided, want)
	}
	if r := b.run("pass", "deny", ids["alice"], "--reason", "late"); r.code != 1 ||
		!strings.Contains(r.stderr, "the request is approved") {
		t.Errorf("pass deny of an approved request = exit %d, %q; want 1 and why",
			r.code, r.stderr)
	}
}

func TestPolicyGroups(t *testing.T) {
	f := newFixture(t)
	f.must("group", "add", "field")
	f.must("user", "add", "dave")
	f.must("user", "add", "erin")
	f.must("group", "add-member", "field", "dave")
	dir := t.TempDir()
	doc := filepath.Join(dir, "field.json")
	os.WriteFile(doc, []byte(`{"bypass": {"max_duration": "15m"},
		"access_pass": {"max_lifetime": "4h"}}`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"bypass": {"max_duration": "2h"},
		"access_pass": {"length": 2, "groups": ["nosuch"]}, "lockout": {"threshold": 0}}`), 0o600)

	f.runSteps([]step{
		{name: "set", args: []string{"policy", "set", doc, "--group", "field"},
			has:    []string{`"group": "field"`, `"max_duration": "15m"`},
			errHas: []string{"The policy of group field is in force"}},
		{name: "set bad", args: []string{"policy", "set", bad, "--group", "field"}, code: 1,
			errHas: []string{"the policy of the group was not changed:\n  ",
				"\n  bypass.max_duration is 2h", "\n  access_pass.length is 2",
				"\n  lockout.threshold is 0"}},
		{name: "unknown group", args: []string{"policy", "set", doc, "--group", "nosuch"},
			code: 1, errHas: []string{`group "nosuch" not found`}},
		{name: "both", args: []string{"policy", "show", "--group", "field", "--user", "dave"},
			code: 2, errHas: []string{"--group or --user, not both"}},
		{name: "unset without group", args: []string{"policy", "unset"}, code: 2,
			errHas: []string{"policy unset needs --group"}},
		{name: "member may have 15m", args: []string{"bypass", "grant", "dave", "--for",
			"15m", "--reason", "field visit"}},
		{name: "others may not", args: []string{"bypass", "grant", "erin", "--for", "15m",
			"--reason", "x"}, code: 1, errHas: []string{"between 1m and 5m"}},
	})

	var gp struct {
		Group     string         `json:"group"`
		Overrides map[string]any `json:"overrides"`
		Policy    struct {
			Bypass struct {
				MaxDuration string `json:"max_duration"`
			} `json:"bypass"`
			Lockout struct {
				Threshold int `json:"threshold"`
			} `json:"lockout"`
		} `json:"policy"`
	}
	out := f.must("policy", "show", "--group", "field")
	if err := json.Unmarshal([]byte(out), &gp); err != nil {
		t.Fatal(err)
	}
	if gp.Group != "field" || len(gp.Overrides) != 2 || gp.Overrides["lockout"] != nil ||
		gp.Policy.Bypass.MaxDuration != "15m" || gp.Policy.Lockout.Threshold != 10 {
		t.Errorf("policy show --group field = %+v, want the two overrides over the global "+
			"policy", gp)
	}
	if got := bypassMax(t, f, "dave"); got != "15m" {
		t.Errorf("policy show --user dave: bypass.max_duration = %s, want the group's 15m", got)
	}
	if got := bypassMax(t, f, "erin"); got != "5m" {
		t.Errorf("policy show --user erin: bypass.max_duration = %s, want the global 5m", got)
	}

	f.runSteps([]step{
		{name: "unset", args: []string{"policy", "unset", "--group", "field"},
			has: []string{"removed the policy of group field"}},
		{name: "unset again", args: []string{"policy", "unset", "--group", "field"}, code: 1,
			errHas: []string{`group "field" has no policy of its own`}},
		{name: "show unset", args: []string{"policy", "show", "--group", "field"},
			has: []string{`"overrides": {}`}},
	})
	if got := bypassMax(t, f, "dave"); got != "5m" {
		t.Errorf("policy show --user dave after unset: bypass.max_duration = %s, want 5m", got)
	}
}

// bypassMax returns bypass.max_duration of the policy in force for user.
func bypassMax(t *testing.T, f *fixture, user string) string {
	t.Helper()
	var p struct {
		Bypass struct {
			MaxDuration string `json:"max_duration"`
		} `json:"bypass"`
	}
	if err := json.Unmarshal([]byte(f.must("policy", "show", "--user", user)), &p); err != nil {
		t.Fatal(err)
	}
	return p.Bypass.MaxDuration
}

// TestUnblock blocks a user with a fraud report from their own session,
// made through the service as the API would, and lifts the block with the
// CLI.
func TestUnblock(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "frank")
	first := f.issuePass("frank", "--multi-use", "--reason", "new phone")

	ctx := context.Background()
	withService(t, f, func(svc *mfa.Service) {
		api := mfa.Request{Source: "192.0.2.7", FrontDoor: audit.DoorAPI}
		sess, err := svc.SignIn(ctx, api, "frank", first)
		if err != nil {
			t.Fatalf("SignIn(frank, pass) = %v", err)
		}
		api.Actor, err = svc.Authenticate(ctx, sess.Token)
		if err != nil {
			t.Fatalf("Authenticate(session) = %v", err)
		}
		rep, err := svc.ReportFraud(ctx, api, "I did not ask for a pass")
		if err != nil || !rep.Blocked || !rep.PassRevoked {
			t.Fatalf("ReportFraud() = %+v, %v; want blocked and the pass revoked", rep, err)
		}
	})

	second := f.issuePass("frank", "--reason", "after the report")
	f.runSteps([]step{
		{name: "show blocked", args: []string{"user", "show", "frank"},
			has: []string{"status:        blocked by a fraud report since "}},
		{name: "list blocked", args: []string{"user", "list"},
			has: []string{" blocked by a fraud report since "}},
		{name: "verify blocked", args: []string{"verify", "frank", second}, code: 1,
			out: "reject\n"},
		{name: "unblock without reason", args: []string{"user", "unblock", "frank"}, code: 2,
			errHas: []string{"user unblock needs --reason"}},
		{name: "unblock", args: []string{"user", "unblock", "frank", "--reason",
			"a colleague asked for it; confirmed by phone"}, out: "unblocked user frank\n"},
		{name: "show unblocked", args: []string{"user", "show", "frank"},
			has: []string{"status:        active\n"}},
		{name: "verify unblocked", args: []string{"verify", "frank", second},
			out: "accept access_pass\n"},
		{name: "unblock again", args: []string{"user", "unblock", "frank", "--reason", "x"},
			code: 1, errHas: []string{`user "frank" is not blocked`}},
	})
	var u userJSON
	if err := json.Unmarshal([]byte(f.must("user", "show", "frank", "--json")), &u); err != nil {
		t.Fatal(err)
	}
	if u.Blocked || !u.BlockedAt.IsZero() {
		t.Errorf("user show frank --json = %+v, want not blocked", u)
	}
}

// TestPassUsage checks that the new commands refuse a missing reason or
// duration before they open anything, not even a fresh data folder.
func TestPassUsage(t *testing.T) {
	f := newFixture(t)
	f.runSteps([]step{
		{name: "issue without reason", args: []string{"pass", "issue", "alice"}, code: 2,
			errHas: []string{"pass issue needs --reason: say why, for the audit log"}},
		{name: "issue with blank reason", args: []string{"pass", "issue", "alice",
			"--reason", " "}, code: 2, errHas: []string{"pass issue needs --reason"}},
		{name: "issue without user", args: []string{"pass", "issue", "--reason", "x"},
			code: 2, errHas: []string{"pass issue needs USER --reason TEXT"}},
		{name: "approve without reason", args: []string{"pass", "approve", "abc"}, code: 2,
			errHas: []string{"pass approve needs --reason"}},
		{name: "deny without reason", args: []string{"pass", "deny", "abc"}, code: 2,
			errHas: []string{"pass deny needs --reason"}},
		{name: "requests bad limit", args: []string{"pass", "requests", "--limit", "0"},
			code: 2},
		{name: "bypass without duration", args: []string{"bypass", "grant", "alice",
			"--reason", "x"}, code: 2, errHas: []string{"bypass grant needs --for"}},
		{name: "bypass without reason", args: []string{"bypass", "grant", "alice", "--for",
			"5m"}, code: 2, errHas: []string{"bypass grant needs --reason"}},
		{name: "bypass zero", args: []string{"bypass", "grant", "alice", "--for", "0s",
			"--reason", "x"}, code: 2, errHas: []string{"want a positive duration"}},
		{name: "unblock without reason", args: []string{"user", "unblock", "alice"}, code: 2},
		{name: "policy unset without group", args: []string{"policy", "unset"}, code: 2},
		{name: "pass help", args: []string{"pass", "-h"},
			errHas: []string{"issue USER --reason TEXT", "show USER", "revoke USER",
				"requests", "approve ID --reason TEXT", "deny ID --reason TEXT"}},
		{name: "bypass help", args: []string{"bypass", "-h"},
			errHas: []string{"grant USER --for DURATION --reason TEXT", "show USER",
				"revoke USER"}},
		{name: "issue help", args: []string{"pass", "issue", "-h"},
			errHas: []string{"-lifetime DURATION", "-start time", "-multi-use", "-reason TEXT"}},
	})
	if _, err := os.Stat(f.data); !os.IsNotExist(err) {
		t.Errorf("usage errors created the data folder (%v)", err)
	}
}
