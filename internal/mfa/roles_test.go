package mfa

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// TestRolesTableMatchesDocs keeps docs/roles.md and the permissions table in
// step.
func TestRolesTableMatchesDocs(t *testing.T) {
	got := map[string]string{}
	for _, row := range docTable(t, "roles.md", "roles-table") {
		got[row[0]] = strings.Join(row[1:], ",")
	}
	want := map[string]string{}
	for _, act := range Actions() {
		var cells []string
		for _, r := range Roles {
			cells = append(cells, map[bool]string{true: "yes"}[Allowed(r, act)])
		}
		cells = append(cells, map[bool]string{true: "tiered"}[Tiered(act)])
		want[string(act)] = strings.Join(cells, ",")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docs/roles.md differs from roles.go (-code +docs):\n%s", diff)
	}
}

// docTable returns the rows of the Markdown table between the markers
// "<!-- NAME:start -->" and "<!-- NAME:end -->" in docs/FILE, without its
// header: each row's cells trimmed, the first without its backquotes.
func docTable(t *testing.T, file, name string) [][]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/" + file)
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "<!-- "+name+":start -->")
	table, _, ok2 := strings.Cut(table, "<!-- "+name+":end -->")
	if !ok || !ok2 {
		t.Fatalf("docs/%s lacks the %s markers", file, name)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[2:] {
		line = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "|"), "|")
		cells := trimAll(strings.Split(line, "|"))
		cells[0] = strings.Trim(cells[0], "`")
		rows = append(rows, cells)
	}
	return rows
}

func trimAll(ss []string) []string {
	for i := range ss {
		ss[i] = strings.TrimSpace(ss[i])
	}
	return ss
}

func TestTiering(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "boss", "admin")
	f.user(t, "boss2", "admin")
	f.user(t, "authadm", "authentication-admin")
	f.user(t, "agent", "helpdesk")
	f.user(t, "agent2", "helpdesk")
	f.user(t, "reader", "auditor")
	f.user(t, "plain")

	actors := map[string]Request{}
	for _, a := range []struct{ user, role string }{
		{"boss", "admin"}, {"authadm", "authentication-admin"}, {"agent", "helpdesk"},
	} {
		actors[a.user], _ = f.token(t, a.role, a.user)
	}
	service, _ := f.token(t, "helpdesk", "")
	actors["service-helpdesk"] = service

	// May the actor unlock the subject?
	tests := []struct {
		actor, subject string
		want           bool
	}{
		{"boss", "boss2", true},
		{"boss", "authadm", true},
		{"boss", "plain", true},
		{"boss", "boss", false}, // own account
		{"authadm", "plain", true},
		{"authadm", "agent", true},
		{"authadm", "boss", false},
		{"authadm", "reader", false},
		{"authadm", "authadm", false},
		{"agent", "plain", true},
		{"agent", "agent2", false},
		{"agent", "agent", false},
		{"agent", "reader", false},
		{"agent", "boss", false},
		{"service-helpdesk", "plain", true},
		{"service-helpdesk", "agent", false},
	}
	for _, tt := range tests {
		_, err := f.svc.Unlock(ctx, actors[tt.actor], tt.subject, "identity checked")
		if got := err == nil; got != tt.want {
			t.Errorf("%s unlocks %s: err = %v, want allowed %v", tt.actor, tt.subject, err, tt.want)
		}
		if !tt.want {
			if !isKind(err, ErrForbidden) {
				t.Errorf("%s unlocks %s: err = %v, want ErrForbidden", tt.actor, tt.subject, err)
			}
			ev := f.lastEvent(t, "user.unlock")
			if ev.Outcome != audit.Denied || ev.Subject != tt.subject {
				t.Errorf("%s unlocks %s: audit %s on %q, want denied", tt.actor, tt.subject, ev.Outcome, ev.Subject)
			}
		}
	}
}

func TestRolesByAction(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "plain")
	f.enrolled(t, "enrolled")
	tokens := map[string]Request{}
	for _, r := range Roles {
		tokens[string(r)], _ = f.token(t, string(r), "")
	}
	tests := []struct {
		name    string
		call    func(req Request) error
		allowed []string
	}{
		{"list users", func(req Request) error {
			_, err := f.svc.ListUsers(ctx, req, UserQuery{})
			return err
		}, []string{"admin", "authentication-admin", "helpdesk"}},
		{"enrol totp", func(req Request) error {
			_, err := f.svc.EnrollTOTP(ctx, req, "plain", NewTOTP{Name: req.Actor.ID})
			return err
		}, []string{"admin", "authentication-admin"}},
		{"read audit", func(req Request) error {
			_, err := f.svc.ListAudit(ctx, req, AuditQuery{})
			return err
		}, []string{"admin", "auditor"}},
		{"create token", func(req Request) error {
			_, _, err := f.svc.CreateToken(ctx, req, NewToken{Name: "x", Role: "verifier"})
			return err
		}, []string{"admin"}},
		{"set policy", func(req Request) error {
			_, err := f.svc.SetPolicy(ctx, req, []byte(`{}`))
			return err
		}, []string{"admin"}},
		{"grant role", func(req Request) error {
			_, err := f.svc.SetRoles(ctx, req, "plain", nil)
			return err
		}, []string{"admin"}},
		{"rotate keys", func(req Request) error {
			_, err := f.svc.ResealSecrets(ctx, req)
			return err
		}, nil},
		{"verify", func(req Request) error {
			_, err := f.svc.Verify(ctx, req, "enrolled", "123456")
			return err
		}, []string{"admin", "verifier"}},
	}
	for _, tt := range tests {
		for _, r := range Roles {
			err := tt.call(tokens[string(r)])
			want := contains(tt.allowed, string(r))
			if got := !isKind(err, ErrForbidden); got != want {
				t.Errorf("%s as %s: err = %v, want allowed %v", tt.name, r, err, want)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestCreateUserValidation(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	_, err := f.svc.CreateUser(ctx, f.operator, NewUser{
		Name: "bad name!", Email: "not an email", Phone: "0123", Roles: []string{"root"},
		DisplayName: "x\x07",
	})
	var e *Error
	if !isKind(err, ErrInvalid) || !asError(err, &e) || len(e.Problems) != 5 {
		t.Fatalf("CreateUser(bad) = %v, want 5 problems at once", err)
	}
	u, err := f.svc.CreateUser(ctx, f.operator, NewUser{
		Name: " Alice@Example.com ", Email: "alice@example.com", Phone: "+4915123456789",
		Roles: []string{"helpdesk", "auditor", "helpdesk"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice@example.com" || !cmp.Equal(u.Roles, []Role{RoleAuditor, RoleHelpdesk}) {
		t.Errorf("CreateUser = name %q roles %v, want canonical name and sorted unique roles", u.Name, u.Roles)
	}
	if _, err := f.svc.CreateUser(ctx, f.operator, NewUser{Name: "ALICE@example.com"}); !isKind(err, ErrConflict) {
		t.Errorf("CreateUser(same name, other case) = %v, want ErrConflict", err)
	}
	if _, err := f.svc.GetUser(ctx, f.operator, "Alice@Example.COM"); err != nil {
		t.Errorf("GetUser(other case) = %v", err)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}
