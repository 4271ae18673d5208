package web

import (
	"context"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/totp"
)

func TestLoginSetsSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := newEnv(t, options{secure: secure})
		e.user("alice")
		secret := e.authenticator("alice")
		b := e.browser()

		p := b.signIn("alice", e.code(secret))
		var c *http.Cookie
		for _, k := range p.cookies {
			if k.Name == sessionCookie {
				c = k
			}
		}
		if c == nil || !strings.HasPrefix(c.Value, "mfads_") {
			t.Fatalf("sign-in cookies = %v, want %s with a session token", p.cookies, sessionCookie)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" ||
			c.Secure != secure {
			t.Errorf("cookie = %+v, want HttpOnly, SameSite=Strict, Path=/, Secure=%v", c, secure)
		}
		if secure {
			continue // the jar sends a Secure cookie over https only
		}
		page := b.follow(p)
		if page.status != 200 || byID(page.body, "signed-in-user") != "alice" {
			t.Errorf("GET /security = %d, signed in as %q, want 200 as alice", page.status,
				byID(page.body, "signed-in-user"))
		}
	}
}

func TestLoginRefusalsLookTheSame(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	e.user("locked")
	lockedSecret := e.authenticator("locked")
	b := e.browser()
	for range 10 {
		b.post("/login", url.Values{"user": {"locked"}, "code": {"000000"}})
	}

	type try struct{ name, user, code string }
	tries := []try{
		{"wrong code", "alice", "000000"},
		{"unknown user", "nobody", e.code(secret)},
		{"locked", "locked", e.code(lockedSecret)},
		{"empty", "", ""},
	}
	var first page
	for i, tc := range tries {
		p := b.post("/login", url.Values{"user": {tc.user}, "code": {tc.code}})
		if p.status != http.StatusUnauthorized || problem(p.body) != signInRefused {
			t.Errorf("%s: POST /login = %d, problem %q, want 401 %q", tc.name, p.status,
				problem(p.body), signInRefused)
		}
		// The page is the same but for the name typed back into the form.
		body := strings.ReplaceAll(p.body, `value="`+tc.user+`"`, `value=""`)
		if i == 0 {
			first.body = body
		} else if body != first.body {
			t.Errorf("%s: page differs from the wrong-code page", tc.name)
		}
		if len(p.cookies) != 0 {
			t.Errorf("%s: refusal set cookies %v", tc.name, p.cookies)
		}
	}
}

func TestSessionRotatesAtSignIn(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	first := b.token()
	e.clock.Add(30 * time.Second)
	b.signIn("alice", e.code(secret))
	second := b.token()
	if first == "" || second == "" || first == second {
		t.Fatalf("tokens of two sign-ins = %q, %q, want two different ones", first, second)
	}
	// The browser holds one session: the first ended with the second.
	if _, err := e.svc.Authenticate(context.Background(), first); err == nil {
		t.Error("the first session still works after the second sign-in")
	}
	if p := b.get("/security"); p.status != 200 {
		t.Errorf("GET /security with the second session = %d, want 200", p.status)
	}
}

func TestSignOutRevokes(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	token := b.token()

	p := b.post("/logout", nil)
	if p.status != http.StatusSeeOther || p.location != "/login" || b.token() != "" {
		t.Fatalf("POST /logout = %d to %q, cookie %q; want 303 to /login, cookie cleared",
			p.status, p.location, b.token())
	}
	if got := byID(b.follow(p).body, "flash"); got != flashes[flashSignedOut].Text {
		t.Errorf("after sign-out, flash = %q, want %q", got, flashes[flashSignedOut].Text)
	}

	// A copy of the old cookie no longer opens anything.
	thief := e.browser()
	u, _ := url.Parse(e.base)
	thief.jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: token, Path: "/"}})
	p = thief.get("/security")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
		t.Fatalf("GET /security with the old cookie = %d to %q, want the sign-in page",
			p.status, p.location)
	}
	if got := byID(thief.follow(p).body, "flash"); got != flashes[flashSessionEnded].Text {
		t.Errorf("flash = %q, want %q", got, flashes[flashSessionEnded].Text)
	}
}

func TestIdleSessionEnds(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))

	e.clock.Add(9 * time.Minute)
	if p := b.get("/security"); p.status != 200 {
		t.Fatalf("GET /security after 9 minutes = %d, want 200", p.status)
	}
	e.clock.Add(5 * time.Minute) // 5 idle minutes: within the 10 of the default policy
	if p := b.get("/activity"); p.status != 200 {
		t.Fatalf("GET /activity after 5 idle minutes = %d, want 200", p.status)
	}
	e.clock.Add(11 * time.Minute)
	p := b.get("/security/backup-codes")
	if p.status != http.StatusSeeOther ||
		p.location != "/login?next="+url.QueryEscape("/security/backup-codes") {
		t.Fatalf("GET after 11 idle minutes = %d to %q, want the sign-in page", p.status,
			p.location)
	}
	login := b.follow(p)
	if !strings.Contains(login.body, "Your session has ended") {
		t.Errorf("sign-in page after the session ended lacks the message:\n%s", login.body)
	}
	if attr(login.body, "login-form", "action") != "/login" ||
		!strings.Contains(login.body, `name="next" value="/security/backup-codes"`) {
		t.Errorf("sign-in page does not lead back to the page asked for")
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))

	for _, path := range []string{"/login", "/security", "/activity", "/nowhere"} {
		p := b.get(path)
		want := map[string]string{
			"Content-Security-Policy": "default-src 'self'; script-src 'self'; " +
				"style-src 'self'; img-src 'self' data:; form-action 'self'; " +
				"frame-ancestors 'none'; base-uri 'none'",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "same-origin",
			"Cache-Control":          "no-store",
			"Content-Type":           "text/html; charset=utf-8",
		}
		for k, v := range want {
			if got := p.header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
		if p.header.Get("X-Request-ID") == "" {
			t.Errorf("GET %s: no X-Request-ID", path)
		}
		// No inline script or style anywhere: the CSP would block it.
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=`).
			MatchString(p.body) {
			t.Errorf("GET %s holds inline script or style", path)
		}
		if !strings.Contains(p.body, `<html lang="en">`) {
			t.Errorf("GET %s: no lang", path)
		}
		// The page's own files are served, for a year.
		for _, m := range regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).
			FindAllStringSubmatch(p.body, -1) {
			s := b.get(m[1])
			if s.status != 200 || s.header.Get("Cache-Control") !=
				"public, max-age=31536000, immutable" {
				t.Errorf("GET %s = %d, Cache-Control %q", m[1], s.status,
					s.header.Get("Cache-Control"))
			}
		}
	}
	if p := b.get("/static/style.css"); p.status != 404 {
		t.Errorf("GET /static/style.css without its hash = %d, want 404", p.status)
	}
	if p := b.get("/report?token=x"); p.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("GET /report: Referrer-Policy = %q, want no-referrer",
			p.header.Get("Referrer-Policy"))
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))

	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		{"Origin": "https://evil.example"}, // an older browser
	} {
		hdr["Content-Type"] = "application/x-www-form-urlencoded"
		req, _ := http.NewRequest("POST", e.base+"/logout", strings.NewReader(""))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST /logout with %v = %d, want 403", hdr, resp.StatusCode)
		}
	}
	if p := b.get("/security"); p.status != 200 {
		t.Errorf("after refused cross-origin sign-outs, GET /security = %d, want 200", p.status)
	}
	// A sign-in from another site is refused too, before any code is
	// checked.
	req, _ := http.NewRequest("POST", e.base+"/login", strings.NewReader(url.Values{
		"user": {"alice"}, "code": {"000000"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := e.svc.GetUser(context.Background(), operator, "alice")
	if resp.StatusCode != http.StatusForbidden || u.Failures != 0 {
		t.Errorf("cross-site POST /login = %d, failures %d; want 403, none counted",
			resp.StatusCode, u.Failures)
	}
}

func TestEnrolAuthenticator(t *testing.T) {
	e := newEnv(t, options{})
	e.user("bob")
	codes := e.backupCodes("bob")
	b := e.browser()
	b.signIn("bob", codes[0]) // a recovery session may add an authenticator

	p := b.post("/security/totp", url.Values{"name": {"New phone"}})
	secret := strings.ReplaceAll(byID(p.body, "totp-secret"), " ", "")
	if p.status != 200 || secret == "" ||
		!strings.HasPrefix(attr(p.body, "totp-qr", "src"), "data:image/png;base64,") {
		t.Fatalf("POST /security/totp = %d, secret %q; want the page with a QR code and the key\n%s",
			p.status, secret, p.body)
	}
	raw, err := totp.DecodeSecret(secret)
	if err != nil {
		t.Fatalf("secret on the page %q: %v", secret, err)
	}
	confirm := attr(p.body, "confirm-totp-form", "action")
	uri := regexp.MustCompile(`name="uri" value="([^"]*)"`).FindStringSubmatch(p.body)
	if confirm == "" || uri == nil {
		t.Fatalf("enrolment page lacks the confirm form")
	}
	hidden := url.Values{"name": {"New phone"}, "secret": {secret},
		"uri": {html.UnescapeString(uri[1])}}

	// A wrong code keeps the page, with the same key and the error by the
	// field.
	form := url.Values{"code": {"000000"}}
	for k, v := range hidden {
		form[k] = v
	}
	p = b.post(confirm, form)
	if p.status != 400 || byID(p.body, "code-error") == "" ||
		attr(p.body, "code", "aria-describedby") != "code-error" ||
		strings.ReplaceAll(byID(p.body, "totp-secret"), " ", "") != secret {
		t.Fatalf("confirm with a wrong code = %d, error %q; want 400 with the same key\n%s",
			p.status, byID(p.body, "code-error"), p.body)
	}

	form.Set("code", e.code(raw))
	p = b.post(confirm, form)
	if p.status != http.StatusSeeOther || p.location != "/security" {
		t.Fatalf("confirm = %d to %q, want 303 to /security\n%s", p.status, p.location, p.body)
	}
	page := b.follow(p)
	if !strings.Contains(page.body, "New phone") ||
		byID(page.body, "flash") != flashes[flashTOTPAdded].Text {
		t.Errorf("security page after enrolment lacks the app or the message\n%s", page.body)
	}
}

func TestFirstFactorPromptsForCodes(t *testing.T) {
	e := newEnv(t, options{})
	e.user("carol")
	issued, err := e.svc.IssuePass(context.Background(), operator, "carol",
		mfa.NewPass{OneTime: true, Reason: "new starter"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("carol", issued.Pass.Pass)
	sec := b.get("/security")
	if !strings.Contains(sec.body, `id="codes-remaining" class="warn">You have no backup codes`) {
		t.Errorf("security page without codes does not say so\n%s", sec.body)
	}
	p := b.post("/security/totp", url.Values{"name": {"Phone"}})
	secret, _ := totp.DecodeSecret(strings.ReplaceAll(byID(p.body, "totp-secret"), " ", ""))
	p = b.post(attr(p.body, "confirm-totp-form", "action"), url.Values{"code": {e.code(secret)}})
	if p.status != http.StatusSeeOther || p.location != "/security/backup-codes" {
		t.Fatalf("first confirm = %d to %q, want 303 to the backup codes", p.status, p.location)
	}
	if got := byID(b.follow(p).body, "flash"); got != flashes[flashFirstFactor].Text {
		t.Errorf("flash = %q, want the prompt to make codes", got)
	}
}

// codesRE finds the codes on the page of a new set.
var codesRE = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)

func TestBackupCodes(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))

	if p := b.get("/security/backup-codes"); p.status != 200 ||
		attr(p.body, "generate-codes-form", "action") != "/security/backup-codes" {
		t.Fatalf("GET /security/backup-codes = %d, want the form", p.status)
	}
	p := b.post("/security/backup-codes", nil)
	var codes []string
	for _, m := range codesRE.FindAllStringSubmatch(p.body, -1) {
		codes = append(codes, m[1])
	}
	if p.status != 200 || len(codes) != 10 || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("POST /security/backup-codes = %d with %d codes, Cache-Control %q; want 10",
			p.status, len(codes), p.header.Get("Cache-Control"))
	}
	text := dataURL(t, attr(p.body, "download-codes-text", "href"), "data:text/plain;charset=utf-8;base64,")
	pdf := dataURL(t, attr(p.body, "download-codes-pdf", "href"), "data:application/pdf;base64,")
	if !strings.Contains(text, codes[0]) || !strings.Contains(text, codes[9]) ||
		!strings.HasPrefix(pdf, "%PDF") {
		t.Errorf("downloads: text holds the codes %v, PDF starts %q", strings.Contains(text,
			codes[0]), pdf[:min(len(pdf), 8)])
	}
	if attr(p.body, "download-codes-pdf", "download") != "backup-codes-alice.pdf" ||
		!strings.Contains(p.body, `id="codes-saved" name="saved" value="yes" required>`) {
		t.Errorf("download name %q, or the saved box is not required",
			attr(p.body, "download-codes-pdf", "download"))
	}
	if got := attr(p.body, "copy-codes", "data-copy"); got != strings.Join(codes, "\n") {
		t.Errorf("copy button copies %q, want the codes", got)
	}
	done := b.post("/security/backup-codes/saved", url.Values{"saved": {"yes"}})
	if done.status != http.StatusSeeOther || done.location != "/security" {
		t.Errorf("confirm saved = %d to %q, want 303 to /security", done.status, done.location)
	}

	// Shown once: nowhere again.
	for _, path := range []string{"/security", "/security/backup-codes"} {
		if again := b.get(path); strings.Contains(again.body, codes[3]) {
			t.Errorf("GET %s shows a code again", path)
		}
	}
	if sec := b.get("/security"); !strings.Contains(sec.body, "<strong>10 of\n10</strong>") {
		t.Errorf("security page does not show 10 of 10\n%s", sec.body)
	}

	// Sign in with one: 9 remain.
	b.post("/logout", nil)
	b.signIn("alice", codes[4])
	sec := b.get("/security")
	if !strings.Contains(sec.body, "<strong>9 of\n10</strong>") {
		t.Errorf("after using a code, security page does not show 9 of 10\n%s", sec.body)
	}
	// A code is refused a second time, like any wrong one.
	b.post("/logout", nil)
	if p := b.post("/login", url.Values{"user": {"alice"}, "code": {codes[4]}}); p.status != 401 {
		t.Errorf("second sign-in with the same code = %d, want 401", p.status)
	}
}

func TestFewCodesWarn(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	codes := e.backupCodes("alice")
	b := e.browser()
	for i := range 7 {
		b.signIn("alice", codes[i])
	}
	sec := b.get("/security")
	if !strings.Contains(sec.body, `id="codes-remaining" class="warn"><strong>3 of`) ||
		byID(sec.body, "codes-warning") == "" {
		t.Errorf("with 3 codes left, the security page does not warn\n%s", sec.body)
	}
}

// dataURL decodes a base64 data: URL with prefix.
func dataURL(t *testing.T, u, prefix string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(u, prefix)
	if !ok {
		t.Fatalf("URL %.60q does not start %q", u, prefix)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		t.Fatalf("data URL: %v", err)
	}
	return string(raw)
}

func TestSelfIssuedPass(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	codes := e.backupCodes("alice")

	// From a backup-code session, the service says no, and why.
	b := e.browser()
	b.signIn("alice", codes[0])
	p := b.post("/security/access-pass", url.Values{"lifetime": {""}})
	if p.status != http.StatusForbidden ||
		!strings.Contains(problem(p.body), "needs a session opened with an authenticator or "+
			"security key, not with backup code") {
		t.Errorf("self-issue from a backup-code session = %d, problem %q; want 403 with the "+
			"service's reason", p.status, problem(p.body))
	}
	if byID(p.body, "access-pass") != "" {
		t.Error("a refused pass page shows a pass")
	}

	// From an authenticator session, it is shown once, with its expiry.
	b = e.browser()
	b.signIn("alice", e.code(secret))
	p = b.post("/security/access-pass", url.Values{"lifetime": {"30m"}, "note": {"laptop"}})
	pass := byID(p.body, "access-pass")
	expires := attr(p.body, "pass-expires", "datetime")
	if p.status != 200 || pass == "" ||
		expires != e.clock.Now().Add(30*time.Minute).UTC().Format(time.RFC3339) {
		t.Fatalf("self-issue = %d, pass %q, expires %q; want a pass for 30 minutes\n%s",
			p.status, pass, expires, p.body)
	}
	if again := b.get("/security/access-pass"); strings.Contains(again.body, pass) {
		t.Error("the pass page shows the pass again")
	}
	// The pass signs in on another device.
	e.browser().signIn("alice", pass)

	// A lifetime not offered is refused by the field.
	p = b.post("/security/access-pass", url.Values{"lifetime": {"forever"}})
	if p.status != 400 || byID(p.body, "lifetime-error") == "" {
		t.Errorf("lifetime forever = %d, error %q; want 400 by the field", p.status,
			byID(p.body, "lifetime-error"))
	}
}

func TestRevokePass(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	pass := byID(b.post("/security/access-pass", nil).body, "access-pass")
	p := b.post("/security/access-pass/revoke", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke = %d, want 303", p.status)
	}
	if byID(b.follow(p).body, "flash") != flashes[flashPassRevoked].Text {
		t.Error("no message after revoking")
	}
	if p := e.browser().post("/login", url.Values{"user": {"alice"}, "code": {pass}}); p.status != 401 {
		t.Errorf("sign-in with a revoked pass = %d, want 401", p.status)
	}
}

func TestRequestPassSameAnswer(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	b := e.browser()
	known := b.post("/login/request-pass", url.Values{"user": {"alice"},
		"message": {"call me on 555"}})
	unknown := b.post("/login/request-pass", url.Values{"user": {"nobody"},
		"message": {"call me on 555"}})
	if known.status != 200 || byID(known.body, "request-sent") != "Your request is sent." {
		t.Fatalf("request for alice = %d\n%s", known.status, known.body)
	}
	if unknown.status != known.status ||
		strings.ReplaceAll(unknown.body, "nobody", "alice") != known.body {
		t.Errorf("request for an unknown name differs from one for alice:\n%s\n---\n%s",
			unknown.body, known.body)
	}
	reqs, err := e.svc.ListPassRequests(context.Background(), operator, mfa.PassRequestQuery{})
	if err != nil || len(reqs) != 1 || reqs[0].User != "alice" || reqs[0].Source != "192.0.2.7" {
		t.Errorf("pass requests = %+v, %v; want alice's from 192.0.2.7", reqs, err)
	}
	// A name that cannot be one is an error by the field.
	bad := b.post("/login/request-pass", url.Values{"user": {""}})
	if bad.status != 400 || byID(bad.body, "request-user-error") == "" ||
		attr(bad.body, "request-user", "aria-invalid") != "true" {
		t.Errorf("request with no name = %d, error %q", bad.status,
			byID(bad.body, "request-user-error"))
	}
}

func TestRemoveLastFactor(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	sec := b.get("/security")
	manage := regexp.MustCompile(`href="(/security/factors/totp/[a-z0-9]+)"`).
		FindStringSubmatch(sec.body)
	if manage == nil {
		t.Fatalf("security page has no link to manage the app\n%s", sec.body)
	}
	fp := b.get(manage[1])
	if fp.status != 200 || !strings.Contains(fp.body, `id="last-factor-warning"`) {
		t.Fatalf("GET %s = %d, want the last-factor warning\n%s", manage[1], fp.status, fp.body)
	}

	// Eleven minutes after the sign-in, used a minute ago: alive, not
	// fresh.
	e.clock.Add(9 * time.Minute)
	b.get("/security")
	e.clock.Add(2 * time.Minute)
	p := b.post(manage[1]+"/remove", nil)
	if p.status != http.StatusForbidden || !strings.Contains(problem(p.body), "sign in again") ||
		!strings.Contains(p.body, `href="/login?next=`+url.QueryEscape(manage[1])+`"`) {
		t.Fatalf("remove the last app, not fresh = %d, problem %q; want 403 with a way to "+
			"sign in again\n%s", p.status, problem(p.body), p.body)
	}

	// A fresh sign-in, and it goes.
	b.signIn("alice", e.code(secret))
	p = b.post(manage[1]+"/remove", nil)
	if p.status != http.StatusSeeOther || p.location != "/security" {
		t.Fatalf("remove after a fresh sign-in = %d, want 303\n%s", p.status, p.body)
	}
	if list, _ := e.svc.ListTOTP(context.Background(), operator, "alice"); len(list) != 0 {
		t.Errorf("apps after removal = %v, want none", list)
	}
}

func TestRecoverySessionMayNotRemove(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	e.authenticator("alice")
	codes := e.backupCodes("alice")
	b := e.browser()
	b.signIn("alice", codes[0])
	sec := b.get("/security")
	if !strings.Contains(sec.body, `id="limited-session"`) {
		t.Errorf("backup-code session: the page does not say what it may not do")
	}
	manage := regexp.MustCompile(`href="(/security/factors/totp/[a-z0-9]+)"`).
		FindStringSubmatch(sec.body)
	p := b.post(manage[1]+"/remove", nil)
	if p.status != http.StatusForbidden || problem(p.body) == "" {
		t.Errorf("remove from a backup-code session = %d, problem %q; want 403", p.status,
			problem(p.body))
	}
}

func TestRenameFactor(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	manage := regexp.MustCompile(`href="(/security/factors/totp/[a-z0-9]+)"`).
		FindStringSubmatch(b.get("/security").body)
	p := b.post(manage[1]+"/rename", url.Values{"name": {"Work phone"}})
	if p.status != http.StatusSeeOther || !strings.Contains(b.follow(p).body, "Work phone") {
		t.Fatalf("rename = %d, want 303 and the new name", p.status)
	}
	p = b.post(manage[1]+"/rename", url.Values{"name": {""}})
	if p.status != 400 || byID(p.body, "name-error") == "" {
		t.Errorf("rename to nothing = %d, error %q; want 400 by the field", p.status,
			byID(p.body, "name-error"))
	}
	if p := b.get("/security/factors/totp/nosuchfactor"); p.status != 404 {
		t.Errorf("GET a factor that does not exist = %d, want 404", p.status)
	}
}

func TestActivityAndNotMe(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	act := b.get("/activity")
	if act.status != 200 || !strings.Contains(act.body, "Signed in to this portal") ||
		!strings.Contains(act.body, "192.0.2.7") {
		t.Fatalf("GET /activity = %d, want the sign-in from 192.0.2.7\n%s", act.status, act.body)
	}
	if p := b.get("/activity/report"); p.status != 200 ||
		attr(p.body, "not-me-form", "action") != "/activity/report" {
		t.Fatalf("GET /activity/report = %d, want the confirmation form", p.status)
	}
	p := b.post("/activity/report", url.Values{"message": {"not me at 3am"}})
	if p.status != 200 || !strings.Contains(p.body, "Sign-ins to the account <strong>alice</strong> are now blocked") {
		t.Fatalf("POST /activity/report = %d\n%s", p.status, p.body)
	}
	if b.token() != "" {
		t.Error("the cookie stays after the report ended the session")
	}
	if u, _ := e.svc.GetUser(context.Background(), operator, "alice"); u.BlockedAt.IsZero() {
		t.Error("the report did not block the account")
	}
}

func TestSignInLimitPerAddress(t *testing.T) {
	e := newEnv(t, options{signInRate: 2})
	e.user("alice")
	b := e.browser()
	for i := range 2 {
		if p := b.post("/login", url.Values{"user": {"alice"}, "code": {"000000"}}); p.status != 401 {
			t.Fatalf("attempt %d = %d, want 401", i+1, p.status)
		}
	}
	p := b.post("/login", url.Values{"user": {"alice"}, "code": {"000000"}})
	if p.status != http.StatusTooManyRequests || problem(p.body) != tooFast {
		t.Errorf("third attempt = %d %q, want 429", p.status, problem(p.body))
	}
	u, _ := e.svc.GetUser(context.Background(), operator, "alice")
	if u.Failures != 2 {
		t.Errorf("failures = %d, want 2: the limited attempt is not counted", u.Failures)
	}
	// The pass request form counts on its own.
	if p := b.post("/login/request-pass", url.Values{"user": {"alice"}}); p.status != 200 {
		t.Errorf("request-pass after the sign-in limit = %d, want 200", p.status)
	}
}

func TestEmailCodeSignIn(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	ctx := context.Background()
	if _, err := e.svc.SetPolicy(ctx, operator, []byte(`{"out_of_band": {"email": true}}`)); err != nil {
		t.Fatal(err)
	}
	ch, err := e.svc.BindDestination(ctx, operator, "alice", "email", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmDestination(ctx, operator, "alice", "email", ch.ID,
		mailedCode(t, e.mail)); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.post("/login/code", url.Values{"user": {"alice"}, "factor": {"email"}})
	m := regexp.MustCompile(`name="challenge" value="([a-z0-9]+)"`).FindStringSubmatch(p.body)
	if p.status != 200 || m == nil || !strings.Contains(p.body, `id="code-sent"`) {
		t.Fatalf("POST /login/code = %d, want the form with the challenge\n%s", p.status, p.body)
	}
	p = b.post("/login", url.Values{"user": {"alice"}, "code": {mailedCode(t, e.mail)},
		"challenge": {m[1]}, "channel": {"email"}, "next": {"/security"}})
	if p.status != http.StatusSeeOther || b.token() == "" {
		t.Fatalf("sign in with the emailed code = %d, want 303 and a session\n%s", p.status, p.body)
	}
	// An email session may look, not add.
	if sec := b.follow(p); sec.status != 200 || strings.Contains(sec.body, `id="add-totp"`) {
		t.Errorf("email session's security page = %d, offers to add an app: %v", sec.status,
			strings.Contains(sec.body, `id="add-totp"`))
	}
	// The same answer for a name that has no address.
	other := b.post("/login/code", url.Values{"user": {"nobody"}, "factor": {"email"}})
	if other.status != 200 || !strings.Contains(other.body, `id="code-sent"`) {
		t.Errorf("POST /login/code for nobody = %d, want the same answer", other.status)
	}
}

// mailedCode waits for a mail and returns the code in it.
func mailedCode(t *testing.T, m *mailer) string {
	t.Helper()
	select {
	case msg := <-m.sent:
		code := regexp.MustCompile(`\b(\d{6,8})\b`).FindStringSubmatch(msg.Text)
		if code == nil {
			t.Fatalf("mail %q holds no code:\n%s", msg.Subject, msg.Text)
		}
		return code[1]
	case <-time.After(10 * time.Second):
		t.Fatal("no mail within 10 seconds")
	}
	return ""
}

func TestStaffRoutes(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	e.user("helen")
	helenSecret := e.authenticator("helen")
	if _, err := e.svc.SetRoles(context.Background(), operator, "helen",
		[]string{string(mfa.RoleHelpdesk)}); err != nil {
		t.Fatal(err)
	}
	// A console page, as the console will add them.
	e.h.mux.Handle("GET /console/test", e.h.wrap(route{pattern: "GET /console/test",
		access: staff, handle: func(h *Handler, w http.ResponseWriter, r *http.Request,
			req mfa.Request) {
			w.Write([]byte("staff " + string(req.Actor.Kind) + " " + req.Actor.UserName))
		}}))

	if p := e.browser().get("/console/test"); p.status != http.StatusSeeOther {
		t.Errorf("console page without a session = %d, want a redirect to sign in", p.status)
	}
	b := e.browser()
	b.signIn("alice", e.code(secret))
	if p := b.get("/console/test"); p.status != http.StatusForbidden ||
		!strings.Contains(problem(p.body), "holds no staff role") {
		t.Errorf("console page for alice = %d %q, want 403", p.status, problem(p.body))
	}
	b = e.browser()
	b.signIn("helen", e.code(helenSecret))
	if p := b.get("/console/test"); p.status != 200 || p.body != "staff staff helen" {
		t.Errorf("console page for helen = %d %q, want the staff actor", p.status, p.body)
	}
}

func TestNextStaysOnSite(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/activity", "/activity"},
		{"/security/factors/totp/abc?x=1", "/security/factors/totp/abc?x=1"},
		{"", "/security"},
		{"//evil.example/", "/security"},
		{"/\\evil.example", "/security"},
		{"https://evil.example/", "/security"},
		{"/login", "/security"},
		{"javascript:alert(1)", "/security"},
	} {
		if got := nextPath(tc.next); got != tc.want {
			t.Errorf("nextPath(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}
