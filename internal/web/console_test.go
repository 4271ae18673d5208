package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// staff creates user name holding roles, with an authenticator, and
// returns a browser signed in to the console with it.
func (e *env) staff(name string, roles ...mfa.Role) *browser {
	e.t.Helper()
	e.user(name)
	e.roles(name, roles...)
	secret := e.authenticator(name)
	b := e.browser()
	b.signIn(name, e.code(secret))
	return b
}

// roles gives user the roles, as the operator would.
func (e *env) roles(user string, roles ...mfa.Role) {
	e.t.Helper()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	if _, err := e.svc.SetRoles(context.Background(), operator, user, names); err != nil {
		e.t.Fatalf("SetRoles(%s) = %v", user, err)
	}
}

// text returns the text of the element with id, up to the end of its
// tag, with the markup inside it removed and spaces collapsed.
func text(body, id string) string {
	re := regexp.MustCompile(`(?s)<([a-z0-9]+)[^>]*\sid="` + regexp.QuoteMeta(id) + `"[^>]*>`)
	m := re.FindStringSubmatchIndex(body)
	if m == nil {
		return ""
	}
	tag := body[m[2]:m[3]]
	rest := body[m[1]:]
	if end := strings.Index(rest, "</"+tag+">"); end >= 0 {
		rest = rest[:end]
	}
	rest = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(rest, "")
	return strings.Join(strings.Fields(html.UnescapeString(rest)), " ")
}

func has(body, id string) bool { return strings.Contains(body, `id="`+id+`"`) }

func TestConsoleHelpdeskSeesNoPolicyOrTokens(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.staff("helen", mfa.RoleHelpdesk)

	p := b.get("/console/users?q=ali")
	if p.status != 200 || !strings.Contains(text(p.body, "users"), "alice") ||
		!strings.Contains(p.body, `href="/console/users/alice"`) {
		t.Fatalf("GET /console/users?q=ali = %d, want alice in #users\n%s", p.status, p.body)
	}
	for _, path := range []string{"/console", "/console/users", "/console/users/alice",
		"/console/requests", "/security"} {
		p := b.get(path)
		if p.status != 200 || !has(p.body, "console-link") {
			t.Errorf("GET %s = %d, console link %v; want 200 with the link", path, p.status,
				has(p.body, "console-link"))
		}
		for _, link := range []string{`href="/console/policy"`, `href="/console/tokens"`,
			`href="/console/audit"`} {
			if strings.Contains(p.body, link) {
				t.Errorf("GET %s shows helpdesk the link %s", path, link)
			}
		}
	}
	doc := string(policy.Default().Marshal())
	p = b.post("/console/policy", url.Values{"policy": {doc}})
	if p.status != http.StatusForbidden || !strings.Contains(problem(p.body), "may not policy.write") {
		t.Errorf("POST /console/policy as helpdesk = %d, problem %q; want 403 from the service",
			p.status, problem(p.body))
	}
	for _, path := range []string{"/console/policy", "/console/tokens", "/console/audit"} {
		if p := b.get(path); p.status != http.StatusForbidden || problem(p.body) == "" {
			t.Errorf("GET %s as helpdesk = %d, problem %q; want 403", path, p.status,
				problem(p.body))
		}
	}

	// Someone without a role has no console link, and no console.
	a := e.browser()
	a.signIn("alice", e.code(secret))
	if p := a.get("/security"); has(p.body, "console-link") {
		t.Error("a user without a role sees the console link")
	}
	if p := a.get("/console/users"); p.status != http.StatusForbidden ||
		!has(p.body, "console-refused") {
		t.Errorf("GET /console/users without a role = %d, want 403 with the explanation",
			p.status)
	}
}

func TestConsoleHelpdeskIssuesPass(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	e.user("ada")
	e.roles("ada", mfa.RoleAdmin)
	b := e.staff("helen", mfa.RoleHelpdesk)

	page := b.get("/console/users/alice")
	if page.status != 200 || !has(page.body, "issue-pass") || !has(page.body, "pass-reason") {
		t.Fatalf("GET /console/users/alice = %d, want the issue form\n%s", page.status, page.body)
	}
	// The reason is required, and the error sits by its field.
	p := b.post("/console/users/alice/access-pass", url.Values{"lifetime": {"2h"}})
	if p.status != 400 || text(p.body, "pass-reason-error") == "" ||
		attr(p.body, "pass-reason", "aria-invalid") != "true" ||
		!strings.Contains(p.body, `<option value="2h" selected>`) {
		t.Fatalf("issue without a reason = %d, error %q; want 400 by the reason, 2h kept",
			p.status, text(p.body, "pass-reason-error"))
	}

	p = b.post("/console/users/alice/access-pass", url.Values{"lifetime": {"2h"},
		"reason": {"lost phone; called back on the number on file"}})
	pass := text(p.body, "pass-readout")
	expires := attr(p.body, "pass-expires", "datetime")
	if p.status != 200 || !regexp.MustCompile(`^[a-z2-9]{4}( [a-z2-9]{4}){2}$`).MatchString(pass) ||
		expires != e.clock.Now().Add(2*time.Hour).UTC().Format(time.RFC3339) {
		t.Fatalf("issue = %d, read-out %q, expires %q; want a pass in groups of four for 2h\n%s",
			p.status, pass, expires, p.body)
	}
	if !strings.Contains(text(p.body, "pass-spelled"), phonetic(pass[0])) {
		t.Errorf("the spelled-out table %q does not say %q", text(p.body, "pass-spelled"),
			phonetic(pass[0]))
	}
	// Shown once: the user's page shows its state, never the pass.
	if again := b.get("/console/users/alice"); strings.Contains(again.body, pass) ||
		!strings.Contains(text(again.body, "pass-state"), "works until") {
		t.Errorf("user page after issuing: shows the pass %v, state %q", strings.Contains(
			again.body, pass), text(again.body, "pass-state"))
	}
	// The pass, as read out, signs alice in.
	e.browser().signIn("alice", pass)

	// On an admin's page there is no form, and a forged one is refused.
	page = b.get("/console/users/ada")
	if page.status != 200 || has(page.body, "issue-pass") || has(page.body, "unlock") ||
		!has(page.body, "hands-off") {
		t.Errorf("GET /console/users/ada as helpdesk = %d, issue form %v; want none, with the "+
			"reason why", page.status, has(page.body, "issue-pass"))
	}
	p = b.post("/console/users/ada/access-pass", url.Values{"reason": {"forged"}})
	if p.status != http.StatusForbidden ||
		!strings.Contains(problem(p.body), "may not access_pass.issue on user ada") ||
		has(p.body, "pass-readout") {
		t.Errorf("forged issue to an admin = %d, problem %q; want 403 from the service",
			p.status, problem(p.body))
	}
	if _, err := e.svc.PassStatus(context.Background(), operator, "ada"); err == nil {
		t.Error("the forged issue gave ada a pass")
	}
}

func TestConsoleSecondApprover(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	if _, err := e.svc.SetPolicy(ctx, operator,
		[]byte(`{"access_pass": {"second_approver_for_roles": true}}`)); err != nil {
		t.Fatal(err)
	}
	e.user("hank")
	e.roles("hank", mfa.RoleHelpdesk)
	first := e.staff("ada", mfa.RoleAdmin)
	second := e.staff("alan", mfa.RoleAdmin)
	helpdesk := e.staff("helen", mfa.RoleHelpdesk)

	p := first.post("/console/users/hank/access-pass", url.Values{"reason": {"new phone"}})
	id := text(p.body, "request-id")
	if p.status != 200 || !has(p.body, "pending-approval") || id == "" ||
		has(p.body, "pass-readout") {
		t.Fatalf("issue to a helpdesk user = %d, request %q; want the pending page\n%s",
			p.status, id, p.body)
	}

	// The issuer and helpdesk see the request but may not approve it.
	q := first.get("/console/requests")
	if !has(q.body, "request-"+id) || has(q.body, "approve-"+id) || !has(q.body, "waits-"+id) {
		t.Errorf("queue for the issuer: row %v, approve %v; want the row without approve",
			has(q.body, "request-"+id), has(q.body, "approve-"+id))
	}
	if q := helpdesk.get("/console/requests"); has(q.body, "approve-"+id) ||
		has(q.body, "deny-"+id) {
		t.Error("helpdesk is offered to decide a pass for a helpdesk user")
	}
	// The issuer's forged approval is refused.
	p = first.post("/console/requests/"+id+"/approve", url.Values{"reason": {"me again"}})
	if p.status != http.StatusForbidden || !strings.Contains(problem(p.body), "second admin") {
		t.Errorf("approval by the issuer = %d, problem %q; want 403", p.status, problem(p.body))
	}

	q = second.get("/console/requests")
	if !has(q.body, "approve-"+id) || !has(q.body, "approve-reason-"+id) ||
		!has(q.body, "deny-"+id) {
		t.Fatalf("queue for a second admin lacks the approve and deny forms\n%s", q.body)
	}
	p = second.post("/console/requests/"+id+"/approve", url.Values{})
	if p.status != 400 || text(p.body, "approve-reason-"+id+"-error") == "" {
		t.Errorf("approve without a reason = %d, error %q; want 400 by the row's field",
			p.status, text(p.body, "approve-reason-"+id+"-error"))
	}
	p = second.post("/console/requests/"+id+"/approve", url.Values{"reason": {"checked by phone"}})
	pass := text(p.body, "pass-readout")
	if p.status != 200 || pass == "" {
		t.Fatalf("approval by a second admin = %d, want the read-out\n%s", p.status, p.body)
	}
	e.browser().signIn("hank", pass)
	if q := second.get("/console/requests"); has(q.body, "request-"+id) {
		t.Error("the approved request is still in the queue")
	}
}

func TestConsoleUserRequestQueue(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	e.user("bob")
	anon := e.browser()
	for _, u := range []string{"alice", "bob"} {
		if p := anon.post("/login/request-pass", url.Values{"user": {u},
			"message": {"call 555"}}); p.status != 200 {
			t.Fatalf("request for %s = %d", u, p.status)
		}
	}
	reqs, err := e.svc.ListPassRequests(context.Background(), operator, mfa.PassRequestQuery{})
	if err != nil || len(reqs) != 2 {
		t.Fatalf("ListPassRequests = %d, %v", len(reqs), err)
	}
	ids := map[string]string{}
	for _, r := range reqs {
		ids[r.User] = r.ID
	}
	b := e.staff("helen", mfa.RoleHelpdesk)
	q := b.get("/console/requests")
	if !strings.Contains(text(q.body, "request-"+ids["alice"]), "call 555") ||
		!has(q.body, "approve-"+ids["alice"]) || !has(q.body, "deny-reason-"+ids["bob"]) {
		t.Fatalf("queue lacks the requests or their forms\n%s", q.body)
	}
	p := b.post("/console/requests/"+ids["alice"]+"/approve", url.Values{
		"reason": {"called back"}, "lifetime": {"1h"}})
	pass := text(p.body, "pass-readout")
	if p.status != 200 || pass == "" {
		t.Fatalf("approve = %d, want the read-out\n%s", p.status, p.body)
	}
	e.browser().signIn("alice", pass)

	p = b.post("/console/requests/"+ids["bob"]+"/deny", url.Values{"reason": {""}})
	if p.status != 400 || text(p.body, "deny-reason-"+ids["bob"]+"-error") == "" {
		t.Errorf("deny without a reason = %d, want 400 by the field", p.status)
	}
	p = b.post("/console/requests/"+ids["bob"]+"/deny", url.Values{"reason": {"no answer"}})
	if p.status != http.StatusSeeOther ||
		text(b.follow(p).body, "flash") != flashes[flashRequestDenied].Text {
		t.Errorf("deny = %d, want 303 with the message", p.status)
	}
}

func TestConsoleUnlock(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	anon := e.browser()
	for range 10 {
		anon.post("/login", url.Values{"user": {"alice"}, "code": {"000000"}})
	}
	b := e.staff("helen", mfa.RoleHelpdesk)
	page := b.get("/console/users/alice")
	if !strings.HasPrefix(text(page.body, "lock-state"), "Locked") || !has(page.body, "unlock") {
		t.Fatalf("lock state %q, unlock form %v; want locked with the form",
			text(page.body, "lock-state"), has(page.body, "unlock"))
	}
	p := b.post("/console/users/alice/unlock", url.Values{"reason": {"  "}})
	if p.status != 400 || text(p.body, "unlock-reason-error") == "" {
		t.Errorf("unlock without a reason = %d, error %q; want 400 by the field", p.status,
			text(p.body, "unlock-reason-error"))
	}
	if u, _ := e.svc.GetUser(context.Background(), operator, "alice"); !u.Locked {
		t.Fatal("unlock without a reason unlocked")
	}
	p = b.post("/console/users/alice/unlock", url.Values{"reason": {"verified by phone"}})
	if p.status != http.StatusSeeOther || p.location != "/console/users/alice" {
		t.Fatalf("unlock = %d to %q, want 303 to the user page", p.status, p.location)
	}
	after := b.follow(p)
	if text(after.body, "flash") != flashes[flashUnlocked].Text ||
		text(after.body, "lock-state") != "Not locked." || has(after.body, "unlock") {
		t.Errorf("after unlock: flash %q, state %q", text(after.body, "flash"),
			text(after.body, "lock-state"))
	}
	if u, _ := e.svc.GetUser(context.Background(), operator, "alice"); u.Locked || u.Failures != 0 {
		t.Errorf("after unlock: locked %v, failures %d", u.Locked, u.Failures)
	}
	e.browser().signIn("alice", e.code(secret))
	evs, _ := e.svc.ListAudit(context.Background(), operator, mfa.AuditQuery{Action: "user.unlock"})
	if len(evs) != 1 || evs[0].Detail["reason"] != "verified by phone" ||
		!strings.HasPrefix(evs[0].Actor, "staff:helen ") {
		t.Errorf("audit of unlock = %+v, want helen's with the reason", evs)
	}
}

func TestConsoleRemoveFactor(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	e.user("alice")
	e.authenticator("alice")
	helpdesk := e.staff("helen", mfa.RoleHelpdesk)
	b := e.staff("ann", mfa.RoleAuthAdmin)

	page := b.get("/console/users/alice")
	m := regexp.MustCompile(`action="(/console/users/alice/factors/totp/([a-z0-9]+)/remove)"`).
		FindStringSubmatch(page.body)
	if m == nil || !strings.Contains(page.body, `aria-label="Remove Phone"`) ||
		!strings.Contains(text(page.body, "factors"), "Phone") {
		t.Fatalf("user page lacks the factor or its remove form\n%s", page.body)
	}
	if strings.Contains(page.body, "otpauth") || strings.Contains(page.body, "secret") {
		t.Error("the user page shows something of a secret")
	}
	// Helpdesk may not remove factors: no button, and the service refuses.
	if hp := helpdesk.get("/console/users/alice"); strings.Contains(hp.body, "Remove Phone") {
		t.Error("helpdesk is offered to remove a factor")
	}
	if p := helpdesk.post(m[1], url.Values{"reason": {"x"}}); p.status != http.StatusForbidden {
		t.Errorf("remove as helpdesk = %d, want 403", p.status)
	}

	field := "remove-reason-totp-" + m[2]
	p := b.post(m[1], url.Values{"reason": {""}})
	if p.status != 400 || text(p.body, field+"-error") == "" {
		t.Errorf("remove without a reason = %d, error %q; want 400 by the row's field",
			p.status, text(p.body, field+"-error"))
	}
	if list, _ := e.svc.ListTOTP(ctx, operator, "alice"); len(list) != 1 {
		t.Fatal("removed without a reason")
	}
	p = b.post(m[1], url.Values{"reason": {"phone stolen"}})
	if p.status != http.StatusSeeOther ||
		text(b.follow(p).body, "flash") != flashes[flashFactorRemoved].Text {
		t.Fatalf("remove = %d, want 303 with the message\n%s", p.status, p.body)
	}
	if list, _ := e.svc.ListTOTP(ctx, operator, "alice"); len(list) != 0 {
		t.Errorf("factors after removal = %v", list)
	}
	evs, err := e.store.ListOutbox(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(ev store.OutboxEvent) bool {
		return ev.Type == mfa.EventTOTPRemoved && ev.Subject == "alice"
	}) {
		t.Errorf("outbox holds no totp.removed for alice: %+v", evs)
	}
	audit, _ := e.svc.ListAudit(ctx, operator, mfa.AuditQuery{Action: "totp.delete"})
	if len(audit) == 0 || audit[0].Outcome != "success" || audit[0].Detail["reason"] != "phone stolen" {
		t.Errorf("audit of the removal = %+v, want the reason", audit)
	}
}

func TestConsoleCodesBypassAndFraud(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.staff("helen", mfa.RoleHelpdesk)

	// Backup codes for the user: a reason, then the set once.
	p := b.post("/console/users/alice/backup-codes", nil)
	if p.status != 400 || text(p.body, "codes-reason-error") == "" {
		t.Errorf("codes without a reason = %d, want 400 by the field", p.status)
	}
	p = b.post("/console/users/alice/backup-codes", url.Values{"reason": {"new starter pack"}})
	codes := codesRE.FindAllStringSubmatch(p.body, -1)
	if p.status != 200 || len(codes) != 10 ||
		!strings.HasPrefix(attr(p.body, "download-codes-pdf", "href"), "data:application/pdf;base64,") {
		t.Fatalf("codes = %d with %d codes, want 10 and the downloads", p.status, len(codes))
	}
	page := b.get("/console/users/alice")
	if strings.Contains(page.body, codes[0][1]) ||
		!strings.HasPrefix(text(page.body, "codes-remaining"), "10 of 10") {
		t.Errorf("user page after codes: remaining %q, shows a code %v",
			text(page.body, "codes-remaining"), strings.Contains(page.body, codes[0][1]))
	}

	// A bypass, and its end.
	p = b.post("/console/users/alice/bypass", url.Values{"duration": {"2m"}})
	if p.status != 400 || text(p.body, "bypass-reason-error") == "" {
		t.Errorf("bypass without a reason = %d, want 400 by the field", p.status)
	}
	p = b.post("/console/users/alice/bypass", url.Values{"duration": {"2h"}, "reason": {"x"}})
	if p.status != 400 || text(p.body, "bypass-duration-error") == "" {
		t.Errorf("bypass of 2h = %d, error %q; want 400 by the duration", p.status,
			text(p.body, "bypass-duration-error"))
	}
	p = b.post("/console/users/alice/bypass", url.Values{"duration": {"2m"},
		"reason": {"VPN, phone dead"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("bypass = %d, want 303\n%s", p.status, p.body)
	}
	bp, err := e.svc.BypassStatus(ctx, operator, "alice")
	if err != nil || bp.State != mfa.PassActive ||
		!bp.ExpiresAt.Equal(e.clock.Now().Add(2*time.Minute)) {
		t.Errorf("bypass = %+v, %v; want active for 2 minutes", bp, err)
	}
	if p := b.post("/console/users/alice/bypass/revoke", nil); p.status != 400 ||
		text(p.body, "revoke-bypass-reason-error") != reasonRequired {
		t.Errorf("revoke bypass without a reason = %d, want 400 by the field", p.status)
	}
	if p := b.post("/console/users/alice/bypass/revoke",
		url.Values{"reason": {"not needed"}}); p.status != http.StatusSeeOther {
		t.Errorf("revoke bypass = %d, want 303", p.status)
	}

	// A fraud report blocks alice; the console lifts it.
	a := e.browser()
	a.signIn("alice", e.code(secret))
	a.post("/activity/report", url.Values{"message": {"not me"}})
	page = b.get("/console/users/alice")
	if !strings.HasPrefix(text(page.body, "fraud-state"), "Sign-ins blocked") ||
		!has(page.body, "unblock") {
		t.Fatalf("fraud state %q, want blocked with the form", text(page.body, "fraud-state"))
	}
	if p := b.post("/console/users/alice/unblock", url.Values{"reason": {"it was her " +
		"colleague, with permission"}}); p.status != http.StatusSeeOther {
		t.Fatalf("unblock = %d, want 303\n%s", p.status, p.body)
	}
	if u, _ := e.svc.GetUser(ctx, operator, "alice"); !u.BlockedAt.IsZero() {
		t.Error("the block is still there")
	}
}

func TestConsolePolicyEditor(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	if _, err := e.svc.CreateGroup(ctx, operator, "contractors", "agency staff"); err != nil {
		t.Fatal(err)
	}
	b := e.staff("ada", mfa.RoleAdmin)

	p := b.get("/console/policy")
	if p.status != 200 || !strings.Contains(text(p.body, "policy-doc"), `"threshold": 10`) ||
		!has(p.body, "save-policy") || !has(p.body, "bounds-lockout") ||
		!strings.Contains(p.body, `href="/console/groups/contractors/policy"`) {
		t.Fatalf("GET /console/policy = %d, want the document, the bounds and the group\n%s",
			p.status, p.body)
	}

	bad := `{"lockout": {"threshold": 0}, "backup_codes": {"count": 99},
		"bypass": {"max_duration": "2h"}, "access_pass": {"groups": ["nobody"]}}`
	p = b.post("/console/policy", url.Values{"policy": {bad}})
	_, perr := policy.Parse([]byte(bad))
	want := problemsOf(perr)
	if p.status != 400 || len(want) < 3 {
		t.Fatalf("POST a bad policy = %d; policy.Parse found %d problems", p.status, len(want))
	}
	listed := text(p.body, "policy-problems")
	for _, w := range want {
		if !strings.Contains(listed, sentence(w)) {
			t.Errorf("#policy-problems = %q, lacks %q", listed, sentence(w))
		}
	}
	marked := `<tr class="has-problem"><th scope="row"><code>lockout.threshold</code>`
	if !strings.Contains(p.body, marked) {
		t.Error("the bounds table does not mark lockout.threshold")
	}
	if !strings.Contains(text(p.body, "policy-doc"), `"count": 99`) {
		t.Error("the editor does not keep the document sent")
	}
	if got, _ := e.svc.GetPolicy(ctx, operator); got.Lockout.Threshold != 10 ||
		got.BackupCodes.Count != 10 {
		t.Errorf("a bad document changed the policy: %+v", got.Lockout)
	}

	p = b.post("/console/policy", url.Values{"policy": {`{"lockout": {"threshold": 5}}`}})
	if p.status != http.StatusSeeOther ||
		text(b.follow(p).body, "flash") != flashes[flashPolicySaved].Text {
		t.Fatalf("POST a good policy = %d\n%s", p.status, p.body)
	}
	if got, _ := e.svc.GetPolicy(ctx, operator); got.Lockout.Threshold != 5 {
		t.Errorf("threshold = %d, want 5", got.Lockout.Threshold)
	}

	// A group's document: its problems, then a change, then its removal.
	path := "/console/groups/contractors/policy"
	p = b.post(path, url.Values{"policy": {`{"access_pass": {"max_lifetime": "90d"}}`}})
	if p.status != 400 || !strings.Contains(text(p.body, "group-policy-problems"),
		"access_pass.max_lifetime") {
		t.Errorf("POST a bad group policy = %d, problems %q", p.status,
			text(p.body, "group-policy-problems"))
	}
	p = b.post(path, url.Values{"policy": {`{"access_pass": {"max_lifetime": "2h"}}`}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("POST a group policy = %d\n%s", p.status, p.body)
	}
	g := b.follow(p)
	if !strings.Contains(text(g.body, "group-policy-effective"), `"max_lifetime": "2h"`) ||
		!strings.Contains(g.body, "set by this group") || !has(g.body, "remove-override") {
		t.Errorf("group page after saving lacks what it amounts to\n%s", g.body)
	}
	if p := b.post(path+"/delete", nil); p.status != http.StatusSeeOther {
		t.Errorf("remove the override = %d, want 303", p.status)
	}
	if gp, _ := e.svc.GetGroupPolicy(ctx, operator, "contractors"); string(gp.Overrides) != "{}" {
		t.Errorf("overrides after removal = %s", gp.Overrides)
	}

	// An authentication admin reads and may not write.
	ann := e.staff("ann", mfa.RoleAuthAdmin)
	p = ann.get("/console/policy")
	if p.status != 200 || has(p.body, "save-policy") ||
		!regexp.MustCompile(`id="policy-doc"[^>]* readonly>`).MatchString(p.body) {
		t.Errorf("GET /console/policy as authentication-admin = %d, save button %v; want "+
			"read-only", p.status, has(p.body, "save-policy"))
	}
	p = ann.post("/console/policy", url.Values{"policy": {`{"lockout": {"threshold": 7}}`}})
	if p.status != http.StatusForbidden {
		t.Errorf("POST /console/policy as authentication-admin = %d, want 403", p.status)
	}
	if p := ann.get(path); p.status != 200 || has(p.body, "save-group-policy") {
		t.Errorf("group page as authentication-admin = %d, save %v", p.status,
			has(p.body, "save-group-policy"))
	}
}

// problemsOf splits the joined errors of policy.Parse.
func problemsOf(err error) []string {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range j.Unwrap() {
		out = append(out, e.Error())
	}
	return out
}

func TestPolicyTableCoversEveryField(t *testing.T) {
	var fields []string
	for f := range flatten(policy.Default().Marshal()) {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	if got := policyFields(); !slices.Equal(got, fields) {
		t.Errorf("the bounds table has fields\n%v\nthe policy has\n%v", got, fields)
	}
}

func TestConsoleAudit(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	e.user("alice")
	secret := e.authenticator("alice")
	e.browser().signIn("alice", e.code(secret))
	e.user("bob")
	for i := range auditLimit + 5 {
		if _, err := e.svc.Unlock(ctx, operator, "bob", "round "+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	b := e.staff("audrey", mfa.RoleAuditor)

	// A view lists events; the chain is checked when asked, with the
	// filters kept.
	p := b.get("/console/audit?user=alice&action=session.create")
	if p.status != 200 || text(p.body, "chain-status") != "" ||
		!strings.Contains(p.body, `id="verify-chain"`) {
		t.Errorf("GET /console/audit = %d, chain %q; want no check yet and the button",
			p.status, text(p.body, "chain-status"))
	}
	p = b.post("/console/audit/verify", url.Values{"user": {"alice"},
		"action": {"session.create"}})
	if p.status != 200 || !strings.Contains(text(p.body, "chain-status"), "intact") {
		t.Fatalf("POST /console/audit/verify = %d, chain %q; want intact\n%s", p.status,
			text(p.body, "chain-status"), p.body)
	}
	rows := regexp.MustCompile(`(?s)<tr><td>\d+</td>.*?</tr>`).FindAllString(p.body, -1)
	if len(rows) != 1 || !strings.Contains(rows[0], "<code>session.create</code>") ||
		!strings.Contains(rows[0], ">alice<") {
		t.Errorf("filtered rows = %q, want alice's one sign-in", rows)
	}
	if strings.Contains(p.body, `href="/console/users`) {
		t.Error("an auditor sees links to user pages")
	}

	// Bad filters are refused by their fields.
	p = b.get("/console/audit?since=2027-03-02&until=2027-03-01")
	if p.status != 400 || text(p.body, "audit-until-error") == "" {
		t.Errorf("until before since = %d, error %q; want 400 by until", p.status,
			text(p.body, "audit-until-error"))
	}
	if p := b.get("/console/audit?since=yesterday"); p.status != 400 ||
		text(p.body, "audit-since-error") == "" {
		t.Errorf("since=yesterday = %d, want 400 by since", p.status)
	}
	// A date as until takes in the whole day.
	p = b.get("/console/audit?user=alice&action=session.create&since=2027-03-01&until=2027-03-01")
	if n := strings.Count(p.body, "<code>session.create</code>"); p.status != 200 || n != 1 {
		t.Errorf("the day of alice's sign-in = %d with %d rows, want 1", p.status, n)
	}

	// Paging: older, then newer back to the first page.
	first := b.get("/console/audit?user=bob")
	older := attr(first.body, "older", "href")
	if strings.Count(first.body, "<code>user.unlock</code>") != auditLimit || older == "" ||
		has(first.body, "newer") {
		t.Fatalf("first page of bob: %d rows, older %q", strings.Count(first.body,
			"<code>user.unlock</code>"), older)
	}
	second := b.get(older)
	if n := strings.Count(second.body, "<code>user.unlock</code>"); n != 5 ||
		has(second.body, "older") {
		t.Errorf("second page of bob: %d rows, want the 5 oldest", n)
	}
	if newer := attr(second.body, "newer", "href"); newer != "/console/audit?user=bob" {
		t.Errorf("newer = %q, want the first page", newer)
	}
}

func TestConsoleTokens(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	b := e.staff("ada", mfa.RoleAdmin)

	p := b.post("/console/tokens", url.Values{"name": {"vpn-gateway"}, "role": {"verifier"}})
	secret := text(p.body, "new-token")
	if p.status != 200 || !strings.HasPrefix(secret, "mfad_") {
		t.Fatalf("create a token = %d, token %q\n%s", p.status, secret, p.body)
	}
	if a, err := e.svc.Authenticate(ctx, secret); err != nil || a.Role != mfa.RoleVerifier {
		t.Fatalf("the token shown = %+v, %v; want a verifier", a, err)
	}
	list := b.get("/console/tokens")
	if list.status != 200 || strings.Contains(list.body, secret) || has(list.body, "new-token") ||
		!strings.Contains(text(list.body, "tokens"), "vpn-gateway") {
		t.Fatalf("token list = %d, shows the secret %v", list.status,
			strings.Contains(list.body, secret))
	}

	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"no name", url.Values{"role": {"verifier"}}, "token-name"},
		{"unknown role", url.Values{"name": {"x"}, "role": {"root"}}, "token-role"},
		{"unknown user", url.Values{"name": {"x"}, "role": {"verifier"}, "user": {"ghost"}},
			"token-user"},
		{"user without the role", url.Values{"name": {"x"}, "role": {"verifier"},
			"user": {"ada"}}, "token-user"},
	} {
		p := b.post("/console/tokens", tc.form)
		if p.status != 400 || text(p.body, tc.field+"-error") == "" || has(p.body, "new-token") {
			t.Errorf("%s: create = %d, error %q; want 400 by %s", tc.name, p.status,
				text(p.body, tc.field+"-error"), tc.field)
		}
	}

	m := regexp.MustCompile(`action="(/console/tokens/[a-z0-9]+/revoke)"`).
		FindStringSubmatch(list.body)
	if m == nil {
		t.Fatal("no revoke form")
	}
	if p := b.post(m[1], nil); p.status != http.StatusSeeOther {
		t.Fatalf("revoke = %d, want 303", p.status)
	}
	if _, err := e.svc.Authenticate(ctx, secret); err == nil {
		t.Error("the revoked token still works")
	}
	ann := e.staff("ann", mfa.RoleAuthAdmin)
	if p := ann.get("/console/tokens"); p.status != http.StatusForbidden {
		t.Errorf("GET /console/tokens as authentication-admin = %d, want 403", p.status)
	}
}

func TestConsoleRefusesRecoverySession(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	e.user("helen")
	e.roles("helen", mfa.RoleHelpdesk)
	e.authenticator("helen")
	codes := e.backupCodes("helen")
	b := e.browser()
	b.signIn("helen", codes[0])

	if p := b.get("/security"); !has(p.body, "console-link") {
		t.Error("staff signed in with a backup code do not see where the console is")
	}
	p := b.get("/console/users")
	if p.status != http.StatusForbidden || !has(p.body, "console-refused") || has(p.body, "users") ||
		!strings.Contains(problem(p.body), "not with backup code") ||
		attr(p.body, "console-sign-in", "href") != "/login?next="+url.QueryEscape("/console/users") {
		t.Fatalf("GET /console/users from a backup-code session = %d, want the explanation\n%s",
			p.status, p.body)
	}
	p = b.post("/console/users/alice/access-pass", url.Values{"reason": {"x"}})
	if p.status != http.StatusForbidden || has(p.body, "pass-readout") {
		t.Errorf("issue from a backup-code session = %d, want 403", p.status)
	}
	if _, err := e.svc.PassStatus(context.Background(), operator, "alice"); err == nil {
		t.Error("a backup-code session issued a pass")
	}
}

// TestConsolePages draws every console page for an admin and checks the
// page rules: headers, no inline script or style, captions on tables.
func TestConsolePages(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	e.user("alice")
	e.authenticator("alice")
	e.backupCodes("alice")
	if _, err := e.svc.CreateGroup(ctx, operator, "contractors", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RequestPass(ctx, operator, "alice", "help"); err != nil {
		t.Fatal(err)
	}
	b := e.staff("ada", mfa.RoleAdmin)
	inline := regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=`)
	for _, path := range []string{"/console", "/console/users", "/console/users/alice",
		"/console/requests", "/console/policy", "/console/groups/contractors/policy",
		"/console/tokens", "/console/audit"} {
		p := b.get(path)
		if p.status != 200 {
			t.Errorf("GET %s = %d\n%s", path, p.status, p.body)
			continue
		}
		if p.header.Get("Content-Security-Policy") != contentSecurityPolicy ||
			p.header.Get("Cache-Control") != "no-store" || inline.MatchString(p.body) {
			t.Errorf("GET %s: CSP %q, Cache-Control %q, inline script or style %v", path,
				p.header.Get("Content-Security-Policy"), p.header.Get("Cache-Control"),
				inline.MatchString(p.body))
		}
		if strings.Count(p.body, "<table") != strings.Count(p.body, "<caption") {
			t.Errorf("GET %s: a table without a caption", path)
		}
		if !strings.Contains(p.body, `aria-label="Console"`) {
			t.Errorf("GET %s: no console navigation", path)
		}
	}
	// Forms of the console are refused from another site, like any other.
	req, _ := http.NewRequest("POST", e.base+"/console/users/alice/unlock",
		strings.NewReader("reason=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site unlock = %d, want 403", resp.StatusCode)
	}
}

func TestReadout(t *testing.T) {
	d := readout(mfa.PassIssue{Pass: mfa.AccessPass{Pass: "k7qm-2xrt-9hcp"}}, "alice")
	if got := d.Readout(); got != "k7qm 2xrt 9hcp" {
		t.Errorf("Readout() = %q, want %q", got, "k7qm 2xrt 9hcp")
	}
	want := []string{"kilo", "seven", "quebec", "mike"}
	if len(d.Groups) != 3 || !slices.Equal(d.Groups[0].Words, want) {
		t.Errorf("first group = %+v, want %v", d.Groups, want)
	}
}
