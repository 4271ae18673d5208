package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mfad/mfad/internal/config"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/totp"
)

// fixture runs mfad commands in-process against one fresh data folder.
type fixture struct {
	t     *testing.T
	data  string
	login string // the operator's login; "tester" if empty
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return &fixture{t: t, data: filepath.Join(t.TempDir(), "data")}
}

func (f *fixture) lookup(key string) (string, bool) {
	switch key {
	case "MFAD_DATA":
		return f.data, true
	case "SUDO_USER":
		if f.login != "" {
			return f.login, true
		}
		return "tester", true
	}
	return "", false
}

// result is what one command did.
type result struct {
	code           int
	stdout, stderr string
}

// run runs mfad with args and stdin, as main does.
func (f *fixture) run(stdin io.Reader, args ...string) result {
	f.t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	e := &env{stdin: stdin, stdout: &out, stderr: &errOut, lookup: f.lookup}
	code := run(context.Background(), e, args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// must runs mfad with args and fails the test unless it succeeds.
func (f *fixture) must(args ...string) string {
	f.t.Helper()
	r := f.run(nil, args...)
	if r.code != 0 {
		f.t.Fatalf("mfad %s = exit %d, want 0; stderr:\n%s", strings.Join(args, " "), r.code,
			r.stderr)
	}
	return r.stdout
}

// step is one command of a scenario and what it must do.
type step struct {
	name   string
	args   []string
	stdin  string
	code   int
	out    string   // if set, a regular expression the whole stdout must match
	has    []string // strings stdout must contain
	errHas []string // strings stderr must contain
}

// runSteps runs steps in order; each builds on the state the earlier left.
func (f *fixture) runSteps(steps []step) {
	f.t.Helper()
	for _, s := range steps {
		f.t.Run(s.name, func(t *testing.T) {
			r := f.run(strings.NewReader(s.stdin), s.args...)
			cmd := "mfad " + strings.Join(s.args, " ")
			if r.code != s.code {
				t.Errorf("%s = exit %d, want %d; stdout:\n%s\nstderr:\n%s", cmd, r.code, s.code,
					r.stdout, r.stderr)
			}
			if s.out != "" && !regexp.MustCompile(`\A(?:`+s.out+`)\z`).MatchString(r.stdout) {
				t.Errorf("%s stdout = %q, want a match of %q", cmd, r.stdout, s.out)
			}
			for _, want := range s.has {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%s stdout = %q, want it to contain %q", cmd, r.stdout, want)
				}
			}
			for _, want := range s.errHas {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("%s stderr = %q, want it to contain %q", cmd, r.stderr, want)
				}
			}
		})
	}
}

func TestUserCommands(t *testing.T) {
	f := newFixture(t)
	f.runSteps([]step{
		{name: "add", args: []string{"user", "add", "Alice", "--email", "alice@example.com",
			"--display-name", "Alice Liddell", "--phone", "+4915123456789",
			"--role", "helpdesk", "--role", "auditor"},
			out: `added user alice \(ID [a-z2-7]{16}\)\n`},
		{name: "add plain", args: []string{"user", "add", "bob"}, out: `added user bob .*\n`},
		{name: "add twice", args: []string{"user", "add", "alice"}, code: 1,
			errHas: []string{`mfad user: user "alice" already exists`}},
		{name: "add bad role", args: []string{"user", "add", "carol", "--role", "wizard"},
			code: 1, errHas: []string{`unknown role "wizard"`}},
		{name: "add bad fields", args: []string{"user", "add", "Bad Name!", "--email", "x"},
			code: 1, errHas: []string{"the user was not added:\n  name may contain only",
				"\n  email must be a plain address"}},
		{name: "add without name", args: []string{"user", "add"}, code: 2,
			errHas: []string{"user add needs NAME", "run 'mfad user -h' for help"}},
		{name: "add two names", args: []string{"user", "add", "x", "y"}, code: 2,
			errHas: []string{"user add takes NAME, got 2 arguments"}},
		{name: "add bad flag", args: []string{"user", "add", "x", "--colour", "red"}, code: 2,
			errHas: []string{"flag provided but not defined: -colour"}},
		{name: "list", args: []string{"user", "list"},
			out: `NAME +DISPLAY NAME +EMAIL +ROLES +STATUS\n` +
				`alice +Alice Liddell +alice@example.com +auditor,helpdesk +active\n` +
				`bob +- +- +- +active\n`},
		{name: "list search", args: []string{"user", "list", "--search", "liddell"},
			out: `NAME .*\nalice .*\n`},
		{name: "list limit", args: []string{"user", "list", "--limit", "1"},
			out: `NAME .*\nalice .*\n`, errHas: []string{"add --after alice"}},
		{name: "list bad limit", args: []string{"user", "list", "--limit", "1000"}, code: 1,
			errHas: []string{"limit must be between 1 and 500"}},
		{name: "list positional", args: []string{"user", "list", "alice"}, code: 2,
			errHas: []string{"user list takes no arguments"}},
		{name: "show", args: []string{"user", "show", "ALICE"},
			has: []string{"name:", "alice\n", "email:         alice@example.com\n",
				"roles:         auditor,helpdesk\n", "status:        active\n"}},
		{name: "show unknown", args: []string{"user", "show", "nobody"}, code: 1,
			errHas: []string{`mfad user: user "nobody" not found`}},
		{name: "set", args: []string{"user", "set", "alice", "--email", "al@example.org",
			"--phone", ""}, out: "changed user alice\n"},
		{name: "set nothing", args: []string{"user", "set", "alice"}, code: 2,
			errHas: []string{"nothing to change"}},
		{name: "set bad phone", args: []string{"user", "set", "alice", "--phone", "123"},
			code: 1, errHas: []string{"phone must be in E.164 form"}},
		{name: "show changed", args: []string{"user", "show", "alice"},
			has: []string{"email:         al@example.org\n", "phone:         -\n"}},
		{name: "disable", args: []string{"user", "disable", "bob"}, out: "disabled user bob\n"},
		{name: "show disabled", args: []string{"user", "show", "bob"},
			has: []string{"status:        disabled\n"}},
		{name: "enable", args: []string{"user", "enable", "bob"}, out: "enabled user bob\n"},
		{name: "enable unknown", args: []string{"user", "enable", "nobody"}, code: 1,
			errHas: []string{`user "nobody" not found`}},
		{name: "roles", args: []string{"user", "roles", "bob", "verifier", "admin"},
			out: "user bob now holds admin,verifier\n"},
		{name: "roles bad", args: []string{"user", "roles", "bob", "root"}, code: 1,
			errHas: []string{`unknown role "root"`}},
		{name: "roles none", args: []string{"user", "roles", "bob"},
			out: "user bob now holds no role\n"},
		{name: "roles no user", args: []string{"user", "roles"}, code: 2},
	})

	t.Run("json", func(t *testing.T) {
		var list []userJSON
		if err := json.Unmarshal([]byte(f.must("user", "list", "--json")), &list); err != nil {
			t.Fatalf("user list --json: %v", err)
		}
		var got userJSON
		out := f.must("user", "show", "alice", "--json")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("user show --json: %v", err)
		}
		want := userJSON{Name: "alice", DisplayName: "Alice Liddell", Email: "al@example.org",
			Roles: []string{"auditor", "helpdesk"}}
		ignore := cmpopts.IgnoreFields(userJSON{}, "ID", "CreatedAt", "UpdatedAt")
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("user show alice --json: (-want +got)\n%s", diff)
		}
		if len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
			t.Errorf("user list --json = %+v, want alice and bob", list)
		}
		if got.ID == "" || got.CreatedAt.IsZero() {
			t.Errorf("user show alice --json = %+v, want an ID and a creation time", got)
		}
	})
	t.Run("json keys", func(t *testing.T) {
		var raw map[string]any
		out := f.must("user", "show", "bob", "--json")
		if err := json.Unmarshal([]byte(out), &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"id", "name", "display_name", "email", "phone", "disabled",
			"locked", "failures", "roles", "created_at", "updated_at"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("user show --json has no key %q: %v", k, raw)
			}
		}
		if roles, ok := raw["roles"].([]any); !ok || len(roles) != 0 {
			t.Errorf("user show bob --json roles = %v, want []", raw["roles"])
		}
	})
}

func TestGroupCommands(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")
	f.runSteps([]step{
		{name: "add", args: []string{"group", "add", "VPN", "--description", "VPN users"},
			out: `added group vpn \(ID [a-z2-7]{16}\)\n`},
		{name: "add twice", args: []string{"group", "add", "vpn"}, code: 1,
			errHas: []string{`group "vpn" already exists`}},
		{name: "add bad name", args: []string{"group", "add", "a b"}, code: 1,
			errHas: []string{"name may contain only"}},
		{name: "add member", args: []string{"group", "add-member", "vpn", "alice"},
			out: "added user alice to group vpn\n"},
		{name: "add member twice", args: []string{"group", "add-member", "vpn", "alice"},
			code: 1, errHas: []string{`user "alice" is already in group "vpn"`}},
		{name: "add unknown member", args: []string{"group", "add-member", "vpn", "nobody"},
			code: 1, errHas: []string{`user "nobody" not found`}},
		{name: "add member one arg", args: []string{"group", "add-member", "vpn"}, code: 2,
			errHas: []string{"group add-member needs GROUP USER"}},
		{name: "list", args: []string{"group", "list"},
			out: `NAME +DESCRIPTION +CREATED\nvpn +VPN users +\d{4}-\d\d-\d\dT[\d:]+Z\n`},
		{name: "show", args: []string{"group", "show", "vpn"},
			has: []string{"description:  VPN users\n", "members:      alice\n"}},
		{name: "user shows group", args: []string{"user", "show", "alice"},
			has: []string{"groups:        vpn\n"}},
		{name: "remove member", args: []string{"group", "remove-member", "vpn", "alice"},
			out: "removed user alice from group vpn\n"},
		{name: "remove member again", args: []string{"group", "remove-member", "vpn", "alice"},
			code: 1, errHas: []string{`user "alice" is not in group "vpn"`}},
		{name: "delete", args: []string{"group", "delete", "vpn"}, out: "deleted group vpn\n"},
		{name: "delete again", args: []string{"group", "delete", "vpn"}, code: 1,
			errHas: []string{`group "vpn" not found`}},
		{name: "show unknown", args: []string{"group", "show", "vpn"}, code: 1},
		{name: "list empty", args: []string{"group", "list", "--json"}, out: `\[\]\n`},
	})
}

// tokenRE matches what token create prints: the token alone on a line.
const tokenRE = `mfad_([a-z2-7]{16})_[A-Za-z0-9_-]{43}\n`

var tokenPattern = regexp.MustCompile(`\A` + tokenRE + `\z`)

func TestTokenCommands(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "bob", "--role", "verifier")

	r := f.run(nil, "token", "create", "--name", "deploy", "--role", "admin")
	m := tokenPattern.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("token create = exit %d, stdout %q; want 0 and the token alone; stderr:\n%s",
			r.code, r.stdout, r.stderr)
	}
	token, id := strings.TrimSpace(r.stdout), m[1]
	if !strings.Contains(r.stderr, "shown this once") || strings.Contains(r.stderr, token) {
		t.Errorf("token create stderr = %q, want a warning without the token", r.stderr)
	}
	checkToken(t, f, token, true)

	f.runSteps([]step{
		{name: "create bound", args: []string{"token", "create", "--name", "bob's",
			"--role", "verifier", "--user", "bob"}, out: tokenRE},
		{name: "create bound without role", args: []string{"token", "create", "--name", "x",
			"--role", "admin", "--user", "bob"}, code: 1,
			errHas: []string{`user "bob" does not hold role admin`}},
		{name: "create bad role", args: []string{"token", "create", "--name", "x",
			"--role", "root"}, code: 1, errHas: []string{`unknown role "root"`}},
		{name: "create no role", args: []string{"token", "create", "--name", "x"}, code: 2,
			errHas: []string{"token create needs --name and --role"}},
		{name: "create positional", args: []string{"token", "create", "x", "--role", "admin",
			"--name", "x"}, code: 2, errHas: []string{"token create takes no arguments"}},
		{name: "list", args: []string{"token", "list"},
			out: `ID +NAME +ROLE +USER +CREATED +CREATED BY +REVOKED\n` +
				`[a-z2-7]{16} +bob's +verifier +bob +\S+ +operator:tester +-\n` +
				id + ` +deploy +admin +- +\S+ +operator:tester +-\n`},
		{name: "revoke", args: []string{"token", "revoke", id}, out: "revoked token " + id + "\n"},
		{name: "revoke again", args: []string{"token", "revoke", id}, code: 1,
			errHas: []string{"no active token with ID"}},
		{name: "revoke no id", args: []string{"token", "revoke"}, code: 2},
	})
	checkToken(t, f, token, false)

	// A whole token pasted in place of its ID revokes it, and is not repeated.
	other := strings.TrimSpace(f.must("token", "create", "--name", "other", "--role", "admin"))
	otherID := tokenPattern.FindStringSubmatch(other + "\n")[1]
	if out := f.must("token", "revoke", other); out != "revoked token "+otherID+"\n" {
		t.Errorf("token revoke TOKEN = %q, want %q", out, "revoked token "+otherID+"\n")
	}
	checkToken(t, f, other, false)

	var list []tokenJSON
	out := f.must("token", "list", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("token list --json: %v", err)
	}
	if strings.Contains(out, "mfad_") {
		t.Errorf("token list --json = %s, want no token secret", out)
	}
	if len(list) != 3 || list[2].ID != id || list[2].RevokedAt.IsZero() {
		t.Errorf("token list --json = %+v, want token %s revoked", list, id)
	}
}

// withService opens the fixture's service in-process and calls fn with it,
// for what the API does and no command can, such as a user's own actions.
func withService(t *testing.T, f *fixture, fn func(svc *mfa.Service)) {
	t.Helper()
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		lookup: f.lookup}
	var cfg config.Config
	if err := newFlags(e, "test", &cfg).Parse(nil); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), e, &cfg, slog.LevelWarn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	fn(a.svc)
}

// checkToken reports whether the service accepts token, as the HTTP API would.
func checkToken(t *testing.T, f *fixture, token string, want bool) {
	t.Helper()
	withService(t, f, func(svc *mfa.Service) {
		_, err := svc.Authenticate(context.Background(), token)
		if got := err == nil; got != want {
			t.Errorf("Authenticate(token) = %v, want accepted %v", err, want)
		}
	})
}

// enrollJSON enrolls an authenticator for user and returns its enrolment.
func enrollJSON(t *testing.T, f *fixture, user string, args ...string) enrollmentJSON {
	t.Helper()
	out := f.must(append([]string{"totp", "enroll", user, "--json"}, args...)...)
	var en enrollmentJSON
	if err := json.Unmarshal([]byte(out), &en); err != nil {
		t.Fatalf("totp enroll --json: %v\n%s", err, out)
	}
	return en
}

// codeAt returns the code of en's authenticator for the step of now plus
// offset steps.
func codeAt(t *testing.T, en enrollmentJSON, offset int64) string {
	t.Helper()
	secret, err := totp.DecodeSecret(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	p := totp.Params{Algorithm: totp.Algorithm(en.Algorithm), Digits: en.Digits,
		Period: en.Period}
	return totp.Code(secret, totp.Step(time.Now(), en.Period)+offset, p)
}

// The confirmation consumes the current time step. A verification must use
// a later step, so the tests verify with the code of the next step: RFC 6238
// §5.2's window of one step either way accepts it, and it is strictly
// greater than any step the confirmation can have used.
func TestTOTPAndVerify(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")
	f.must("user", "add", "bob")

	r := f.run(nil, "totp", "enroll", "alice", "--json")
	if r.code != 0 {
		t.Fatalf("totp enroll alice = exit %d; stderr:\n%s", r.code, r.stderr)
	}
	var en enrollmentJSON
	if err := json.Unmarshal([]byte(r.stdout), &en); err != nil {
		t.Fatalf("totp enroll --json: %v", err)
	}
	wantEn := enrollmentJSON{User: "alice", totpJSON: totpJSON{Name: "Authenticator",
		Algorithm: "SHA1", Digits: 6, Period: 30}}
	ignore := cmpopts.IgnoreFields(enrollmentJSON{}, "Secret", "URI")
	if diff := cmp.Diff(wantEn, en, ignore, cmp.AllowUnexported(enrollmentJSON{}),
		cmpopts.IgnoreFields(totpJSON{}, "ID", "CreatedAt")); diff != "" {
		t.Errorf("totp enroll alice --json: (-want +got)\n%s", diff)
	}
	if !strings.HasPrefix(en.URI, "otpauth://totp/") || !strings.Contains(en.URI, en.Secret) {
		t.Errorf("totp enroll URI = %q, want an otpauth URI with the secret", en.URI)
	}
	hint := "mfad totp confirm alice " + en.ID + " CODE --data " + f.data
	if !strings.Contains(r.stderr, hint) {
		t.Errorf("totp enroll stderr = %q, want the hint %q", r.stderr, hint)
	}

	now := codeAt(t, en, 0)
	f.runSteps([]step{
		{name: "list unconfirmed", args: []string{"totp", "list", "alice"},
			out: `ID +NAME +ALGORITHM +DIGITS +PERIOD +STATUS +CREATED +LAST USED\n` +
				en.ID + ` +Authenticator +SHA1 +6 +30 +unconfirmed +\S+ +-\n`},
		{name: "verify unconfirmed", args: []string{"verify", "alice", now}, code: 1,
			out: "reject\n", errHas: []string{"mfad verify: the code was rejected"}},
		{name: "confirm wrong", args: []string{"totp", "confirm", "alice", en.ID,
			wrong(now)}, code: 1, errHas: []string{"the code does not match"}},
		{name: "confirm malformed", args: []string{"totp", "confirm", "alice", en.ID, "abc"},
			code: 1, errHas: []string{"code must be the 6 or 8 digits"}},
		{name: "confirm unknown id", args: []string{"totp", "confirm", "alice", "x", now},
			code: 1, errHas: []string{`user "alice" has no authenticator "x"`}},
		{name: "confirm missing code", args: []string{"totp", "confirm", "alice", en.ID},
			code: 2, errHas: []string{"totp confirm needs USER ID CODE"}},
		{name: "confirm", args: []string{"totp", "confirm", "alice", en.ID, now},
			out: "confirmed authenticator " + en.ID + ` \(Authenticator\) of user alice\n`},
		{name: "confirm again", args: []string{"totp", "confirm", "alice", en.ID, now},
			code: 1, errHas: []string{"already confirmed"}},
		{name: "list confirmed", args: []string{"totp", "list", "alice"},
			has: []string{" confirmed "}},
	})

	next := codeAt(t, en, 1)
	f.runSteps([]step{
		{name: "verify wrong", args: []string{"verify", "alice", wrong(next)}, code: 1,
			out: "reject\n"},
		{name: "verify next step", args: []string{"verify", "alice", next}, out: "accept totp\n"},
		{name: "verify replay", args: []string{"verify", "alice", next}, code: 1,
			out: "reject\n"},
		{name: "verify replay json", args: []string{"verify", "alice", next, "--json"},
			code: 1, out: `\{\n  "result": "reject"\n\}\n`},
		{name: "verify unknown user", args: []string{"verify", "nobody", next}, code: 1,
			out: "reject\n"},
		{name: "verify one arg", args: []string{"verify", "alice"}, code: 2,
			errHas: []string{"verify needs USER CODE"}},
		{name: "verify help", args: []string{"verify", "-h"},
			errHas: []string{"Usage: mfad verify USER CODE [flags]", "-json"}},
	})

	t.Run("stdin and json", func(t *testing.T) {
		bobEn := enrollJSON(t, f, "bob", "--name", "Phone")
		f.must("totp", "confirm", "bob", bobEn.ID, codeAt(t, bobEn, 0))
		f.runSteps([]step{
			{name: "accept", args: []string{"verify", "bob", "-", "--json"},
				stdin: codeAt(t, bobEn, 1) + "\n",
				out: `\{\n  "result": "accept",\n  "factor": "totp",\n` +
					`  "credential": "Phone"\n\}\n`},
		})
	})

	t.Run("parameters", func(t *testing.T) {
		en := enrollJSON(t, f, "bob", "--name", "Strong", "--algorithm", "sha512",
			"--digits", "8", "--period", "60")
		if en.Algorithm != "SHA512" || en.Digits != 8 || en.Period != 60 {
			t.Errorf("totp enroll --algorithm sha512 --digits 8 --period 60 = %+v", en.totpJSON)
		}
		f.must("totp", "confirm", "bob", en.ID, codeAt(t, en, 0))
		f.runSteps([]step{
			{name: "verify", args: []string{"verify", "bob", codeAt(t, en, 1)},
				out: "accept totp\n"},
			{name: "bad digits", args: []string{"totp", "enroll", "bob", "--digits", "7"},
				code: 1},
			{name: "bad digits flag", args: []string{"totp", "enroll", "bob", "--digits", "x"},
				code: 2},
			{name: "duplicate name", args: []string{"totp", "enroll", "bob", "--name", "Phone"},
				code: 1, errHas: []string{`already has an authenticator named "Phone"`}},
			{name: "unknown user", args: []string{"totp", "enroll", "nobody"}, code: 1,
				errHas: []string{`user "nobody" not found`}},
		})
	})

	t.Run("text output", func(t *testing.T) {
		out := f.must("totp", "enroll", "bob", "--name", "Tablet")
		fields := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			k, v, _ := strings.Cut(line, ":")
			fields[k] = strings.TrimSpace(v)
		}
		if _, err := totp.DecodeSecret(fields["secret"]); err != nil || fields["id"] == "" ||
			fields["user"] != "bob" || fields["name"] != "Tablet" {
			t.Errorf("totp enroll bob = %q, want user, id, name and secret lines", out)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("totp enroll to a buffer = %q, want no QR code (no terminal)", out)
		}
		f.runSteps([]step{
			{name: "delete", args: []string{"totp", "delete", "bob", fields["id"]},
				out: "deleted authenticator " + fields["id"] + " of user bob\n"},
			{name: "delete again", args: []string{"totp", "delete", "bob", fields["id"]},
				code: 1, errHas: []string{"has no authenticator"}},
			{name: "list unknown user", args: []string{"totp", "list", "nobody"}, code: 1},
		})
	})

	t.Run("qr png", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "qr.png")
		r := f.run(nil, "totp", "enroll", "alice", "--name", "Spare", "--qr-png", path)
		if r.code != 0 {
			t.Fatalf("totp enroll --qr-png = exit %d; stderr:\n%s", r.code, r.stderr)
		}
		img, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("totp enroll --qr-png wrote %d bytes (%v), want a PNG", len(img), err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("QR PNG mode = %v (%v), want 0600", fi.Mode(), err)
		}
		before := f.must("totp", "list", "alice", "--json")
		r = f.run(nil, "totp", "enroll", "alice", "--name", "Other", "--qr-png", path)
		if r.code != 1 || !strings.Contains(r.stderr, "file exists") {
			t.Errorf("totp enroll --qr-png EXISTING = exit %d, stderr %q; want 1, file exists",
				r.code, r.stderr)
		}
		if after := f.must("totp", "list", "alice", "--json"); after != before {
			t.Errorf("totp enroll --qr-png EXISTING enrolled: %s", after)
		}
	})
}

// wrong returns a code of the same length that differs from code.
func wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestUnlock(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")
	en := enrollJSON(t, f, "alice")
	f.must("totp", "confirm", "alice", en.ID, codeAt(t, en, 0))
	pol := `{"lockout": {"threshold": 1, "duration": "1h", "max_duration": "1h"}}`
	f.runSteps([]step{
		{name: "policy", args: []string{"policy", "set", "-"}, stdin: pol,
			has: []string{`"threshold": 1`}},
		{name: "fail", args: []string{"verify", "alice", wrong(codeAt(t, en, 1))}, code: 1,
			out: "reject\n"},
		{name: "locked out", args: []string{"verify", "alice", codeAt(t, en, 1)}, code: 1,
			out: "reject\n"},
		{name: "show locked", args: []string{"user", "show", "alice"},
			has: []string{"status:        locked until "}},
		{name: "no reason", args: []string{"unlock", "alice"}, code: 2,
			errHas: []string{"unlock needs --reason"}},
		{name: "empty reason", args: []string{"unlock", "alice", "--reason", " "}, code: 1,
			errHas: []string{"a reason (up to 500 characters of text) is required"}},
		{name: "unknown user", args: []string{"unlock", "nobody", "--reason", "x"}, code: 1,
			errHas: []string{`user "nobody" not found`}},
		{name: "unlock", args: []string{"unlock", "alice", "--reason", "ticket 42"},
			out: "unlocked user alice\n"},
		{name: "show unlocked", args: []string{"user", "show", "alice"},
			has: []string{"status:        active\n", "failures:      0\n"}},
		{name: "verify after unlock", args: []string{"verify", "alice", codeAt(t, en, 1)},
			out: "accept totp\n"},
		{name: "audited", args: []string{"audit", "list", "--action", "user.unlock"},
			out: `SEQ .*\n\d+ +\S+ +operator:tester +user\.unlock +alice +success +- +local +` +
				`failures_before=\d+ reason=ticket 42\n`},
	})
}

func TestPolicyCommands(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"totp": {"digits": 8}}`), 0o600)
	os.WriteFile(bad, []byte(`{"lockout": {"threshold": 0}, "totp": {"period": 45}}`), 0o600)

	want := policy.Default()
	want.TOTP.Digits = 8
	f.runSteps([]step{
		{name: "show default", args: []string{"policy", "show"},
			out: regexp.QuoteMeta(string(policy.Default().Marshal()))},
		{name: "set", args: []string{"policy", "set", good},
			out: regexp.QuoteMeta(string(want.Marshal())), errHas: []string{"in force"}},
		{name: "show set", args: []string{"policy", "show", "--json"},
			out: regexp.QuoteMeta(string(want.Marshal()))},
		{name: "set invalid", args: []string{"policy", "set", bad}, code: 1,
			errHas: []string{"the policy was not changed:\n  lockout.threshold is 0",
				"\n  totp.period is 45"}},
		{name: "set unknown field", args: []string{"policy", "set", "-"},
			stdin: `{"lockout": {"treshold": 3}}`, code: 1, errHas: []string{"treshold"}},
		{name: "set missing file", args: []string{"policy", "set", filepath.Join(dir, "no")},
			code: 1, errHas: []string{"policy file:"}},
		{name: "set no file", args: []string{"policy", "set"}, code: 2},
		{name: "unchanged", args: []string{"policy", "show"},
			out: regexp.QuoteMeta(string(want.Marshal()))},
		{name: "new enrolments follow", args: []string{"user", "add", "alice"}},
		{name: "enroll 8 digits", args: []string{"totp", "enroll", "alice"},
			has: []string{"digits:     8\n"}},
	})
}

func TestAuditCommands(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")
	f.must("user", "add", "bob")
	if r := f.run(nil, "verify", "alice", "000000"); r.code != 1 {
		t.Fatalf("verify alice 000000 = exit %d, want 1 (no authenticator)", r.code)
	}

	f.runSteps([]step{
		{name: "list", args: []string{"audit", "list"},
			out: `SEQ +TIME +ACTOR +ACTION +SUBJECT +OUTCOME +REASON +SOURCE +DETAIL\n` +
				`3 +\S+ +operator:tester +verify +alice +failure +no_factor +local +-\n` +
				`2 +\S+ +operator:tester +user\.create +bob +success +- +local +-\n` +
				`1 +\S+ +operator:tester +user\.create +alice +success +- +local +-\n`},
		{name: "by user", args: []string{"audit", "list", "--user", "bob"},
			out: `SEQ .*\n2 .*\n`},
		{name: "by action prefix", args: []string{"audit", "list", "--action", "user."},
			out: `SEQ .*\n2 .*\n1 .*\n`},
		{name: "before", args: []string{"audit", "list", "--before", "2"},
			out: `SEQ .*\n1 .*\n`},
		{name: "limit", args: []string{"audit", "list", "--limit", "1"},
			out: `SEQ .*\n3 .*\n`, errHas: []string{"add --before 3"}},
		{name: "since future", args: []string{"audit", "list", "--since",
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, out: `SEQ .*\n`},
		{name: "bad since", args: []string{"audit", "list", "--since", "yesterday"}, code: 2,
			errHas: []string{"want an RFC 3339 time"}},
		{name: "until before since", args: []string{"audit", "list",
			"--since", "2025-01-02T00:00:00Z", "--until", "2025-01-01T00:00:00Z"}, code: 1,
			errHas: []string{"until must be after since"}},
		{name: "bad limit", args: []string{"audit", "list", "--limit", "5000"}, code: 1,
			errHas: []string{"limit must be between 1 and 1000"}},
		{name: "verify", args: []string{"audit", "verify"},
			out: `chain: +intact\nevents: +3\nsealed: +3\nunsealed: +0\nhead seq: +3\n` +
				`head mac: +[0-9a-f]{64}\n`},
	})

	t.Run("json", func(t *testing.T) {
		var events []auditJSON
		if err := json.Unmarshal([]byte(f.must("audit", "list", "--json")), &events); err != nil {
			t.Fatal(err)
		}
		// audit verify added one event.
		if len(events) != 4 || events[0].Action != "audit.verify" || events[3].Seq != 1 {
			t.Fatalf("audit list --json = %+v, want 4 events, newest first", events)
		}
		got := events[1]
		want := auditJSON{Seq: 3, Action: "verify", Outcome: "failure", Reason: "no_factor",
			Actor: "operator:tester", Subject: "alice", Source: "local", FrontDoor: "cli",
			LinkSeq: 3}
		ignore := cmpopts.IgnoreFields(auditJSON{}, "ID", "Time")
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("audit list --json event 3: (-want +got)\n%s", diff)
		}
		var rep auditReportJSON
		if err := json.Unmarshal([]byte(f.must("audit", "verify", "--json")), &rep); err != nil {
			t.Fatal(err)
		}
		// The check covers the events before its own.
		if !rep.Intact || rep.Events != 4 || rep.HeadSeq != 4 || len(rep.HeadMAC) != 64 {
			t.Errorf("audit verify --json = %+v, want intact with 4 events", rep)
		}
	})

	t.Run("broken", func(t *testing.T) {
		// Edit an event behind mfad's back, as an attacker with the database
		// but not the key file could.
		db, err := sql.Open("sqlite", filepath.Join(f.data, "mfad.db"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(`UPDATE audit_events SET subject = 'mallory' WHERE seq = 2`)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := f.run(nil, "audit", "verify")
		want := "first break: +audit: event 2 \\(link 2\\): edited"
		if r.code != 1 || !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("audit verify = exit %d, stdout %q, stderr %q; want 1 and %q on stdout",
				r.code, r.stdout, r.stderr, want)
		}
		if !strings.Contains(r.stdout, "BROKEN") || strings.Contains(r.stdout, "intact") {
			t.Errorf("audit verify stdout = %q, want the chain reported BROKEN", r.stdout)
		}
		// The failed check is itself audited.
		events := f.must("audit", "list", "--action", "audit.verify", "--limit", "1")
		if !strings.Contains(events, "chain_broken") {
			t.Errorf("audit list after a broken check = %q, want a chain_broken event", events)
		}
	})
}

func TestKeysRotate(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")
	en := enrollJSON(t, f, "alice")
	f.must("totp", "confirm", "alice", en.ID, codeAt(t, en, 0))
	enrollJSON(t, f, "alice", "--name", "Unconfirmed")

	f.runSteps([]step{
		{name: "rotate", args: []string{"keys", "rotate"},
			out:    `new active key: \S+\nre-sealed secrets: 2\n`,
			errHas: []string{"Copy " + filepath.Join(f.data, "keyring.json")}},
		{name: "secrets open", args: []string{"verify", "alice", codeAt(t, en, 1)},
			out: "accept totp\n"},
		{name: "reseal nothing left", args: []string{"keys", "reseal"},
			out: `active key: \S+\nre-sealed secrets: 0\n`},
		{name: "chain intact", args: []string{"audit", "verify"}, has: []string{"intact"}},
		{name: "audited", args: []string{"audit", "list", "--action", "keys.rotate"},
			has: []string{"resealed=2", "resealed=0"}},
		{name: "rotate positional", args: []string{"keys", "rotate", "now"}, code: 2},
	})
	var kf struct {
		Active string `json:"active"`
		Keys   []struct {
			ID string `json:"id"`
		} `json:"keys"`
	}
	b, err := os.ReadFile(filepath.Join(f.data, "keyring.json"))
	if err == nil {
		err = json.Unmarshal(b, &kf)
	}
	if err != nil || len(kf.Keys) != 2 || kf.Active != kf.Keys[1].ID {
		t.Errorf("key file after rotate = %+v (%v), want two keys, the new one active", kf, err)
	}
}

func TestUsage(t *testing.T) {
	f := newFixture(t)
	f.runSteps([]step{
		{name: "no subcommand", args: []string{"user"}, code: 2,
			errHas: []string{"Usage: mfad user SUBCOMMAND", "missing subcommand"}},
		{name: "unknown subcommand", args: []string{"group", "rename"}, code: 2,
			errHas: []string{`unknown subcommand "rename"`}},
		{name: "user help", args: []string{"user", "-h"},
			errHas: []string{"add NAME", "roles NAME [ROLE...]", "disable NAME"}},
		{name: "group help", args: []string{"group", "help"},
			errHas: []string{"add-member GROUP USER", "remove-member GROUP USER"}},
		{name: "token help", args: []string{"token", "--help"},
			errHas: []string{"create --name NAME --role ROLE [--user USER]", "revoke ID"}},
		{name: "totp help", args: []string{"totp", "-h"},
			errHas: []string{"enroll USER", "confirm USER ID CODE", "delete USER ID"}},
		{name: "audit help", args: []string{"audit", "-h"}, errHas: []string{"list", "verify"}},
		{name: "policy help", args: []string{"policy", "-h"},
			errHas: []string{"show", "set FILE"}},
		{name: "keys help", args: []string{"keys", "-h"}, errHas: []string{"rotate"}},
		{name: "unlock help", args: []string{"unlock", "-h"},
			errHas: []string{"Usage: mfad unlock USER --reason TEXT", "-reason", "-data"}},
		{name: "subcommand help", args: []string{"user", "add", "-h"},
			errHas: []string{"Usage: mfad user add NAME [flags]", "-email", "-role", "-data",
				"-database"}},
		{name: "subcommand help after args", args: []string{"totp", "enroll", "alice", "-h"},
			errHas: []string{"-algorithm", "-qr-png"}},
		{name: "user set no flags", args: []string{"user", "set", "alice"}, code: 2},
		{name: "unlock without reason", args: []string{"unlock", "alice"}, code: 2},
	})
	// Mistakes in how a command was called change nothing, not even a
	// fresh data folder.
	if _, err := os.Stat(f.data); !os.IsNotExist(err) {
		t.Errorf("usage errors created the data folder (%v)", err)
	}
}
