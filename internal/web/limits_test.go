package web

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/mfad/mfad/internal/mfa"
)

// setPolicy puts doc in force, as the operator would.
func (e *env) setPolicy(doc string) {
	e.t.Helper()
	if _, err := e.svc.SetPolicy(context.Background(), operator, []byte(doc)); err != nil {
		e.t.Fatalf("SetPolicy(%s) = %v", doc, err)
	}
}

func TestCodesWarnAtPolicyLevel(t *testing.T) {
	e := newEnv(t, options{})
	e.setPolicy(`{"backup_codes": {"warn_at": 5}}`)
	e.user("alice")
	codes := e.backupCodes("alice")
	b := e.browser()
	for i := range 4 {
		b.signIn("alice", codes[i])
	}
	if sec := b.get("/security"); has(sec.body, "codes-warning") {
		t.Errorf("with 6 codes left and warn_at 5, the page warns")
	}
	b.signIn("alice", codes[4])
	for _, path := range []string{"/security", "/security/backup-codes"} {
		if p := b.get(path); !has(p.body, "codes-warning") ||
			!strings.Contains(p.body, `id="codes-remaining" class="warn"><strong>5 of`) {
			t.Errorf("GET %s with 5 codes left and warn_at 5 does not warn", path)
		}
	}
}

func TestPassPageExplainsLimits(t *testing.T) {
	e := newEnv(t, options{})
	e.setPolicy(`{"access_pass": {"self_service": {"max_lifetime": "30m"}}}`)
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	p := b.get("/security/access-pass")
	if !strings.Contains(text(p.body, "pass-limits"), "at most 30 minutes") ||
		strings.Contains(p.body, `<option value="1h"`) ||
		!strings.Contains(p.body, `<option value="30m"`) {
		t.Errorf("pass page with a 30m maximum: limits %q\n%s", text(p.body, "pass-limits"), p.body)
	}

	e.setPolicy(`{"access_pass": {"self_service": {"enabled": false}}}`)
	p = b.get("/security/access-pass")
	if !has(p.body, "pass-not-allowed") || has(p.body, "issue-pass") {
		t.Errorf("pass page without self-service: note %v, form %v", has(p.body,
			"pass-not-allowed"), has(p.body, "issue-pass"))
	}
}

func TestLastFactorSaysFreshness(t *testing.T) {
	e := newEnv(t, options{})
	e.setPolicy(`{"sessions": {"freshness": "5m"}}`)
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	manage := regexp.MustCompile(`href="(/security/factors/totp/[a-z0-9]+)"`).
		FindStringSubmatch(b.get("/security").body)
	if manage == nil {
		t.Fatal("no factor link")
	}
	if p := b.get(manage[1]); !strings.Contains(text(p.body, "last-factor-warning"),
		"within the last 5 minutes") {
		t.Errorf("last-factor warning = %q, want the policy's 5 minutes",
			text(p.body, "last-factor-warning"))
	}
}

func TestConsoleHomeByRole(t *testing.T) {
	e := newEnv(t, options{})
	for _, tc := range []struct {
		role     mfa.Role
		sections []string
	}{
		{mfa.RoleAdmin, []string{"/console/users", "/console/requests", "/console/policy",
			"/console/tokens", "/console/audit"}},
		{mfa.RoleAuthAdmin, []string{"/console/users", "/console/requests", "/console/policy"}},
		{mfa.RoleHelpdesk, []string{"/console/users", "/console/requests"}},
		{mfa.RoleAuditor, []string{"/console/audit"}},
		{mfa.RoleVerifier, nil},
	} {
		b := e.staff("staff-"+string(tc.role), tc.role)
		p := b.get("/console")
		list := regexp.MustCompile(`(?s)<ul class="sections" id="console-sections">.*?</ul>`).
			FindString(p.body)
		got := regexp.MustCompile(`<a href="(/console/[a-z]+)">`).FindAllStringSubmatch(list, -1)
		var paths []string
		for _, m := range got {
			paths = append(paths, m[1])
		}
		if p.status != 200 || strings.Join(paths, " ") != strings.Join(tc.sections, " ") {
			t.Errorf("%s: GET /console = %d, sections %v, want %v", tc.role, p.status, paths,
				tc.sections)
		}
		if tc.sections == nil && !has(p.body, "console-nothing") {
			t.Errorf("%s: the start page does not say there is nothing here", tc.role)
		}
	}
}
