package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/mfad/mfad/internal/mfa"
)

// passkey is a virtual authenticator holding one passkey, for a relying
// party at origin.
type passkey struct {
	rp   virtualwebauthn.RelyingParty
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newPasskey(origin string) *passkey {
	return &passkey{
		rp:   virtualwebauthn.RelyingParty{Name: "mfad", ID: "localhost", Origin: origin},
		auth: virtualwebauthn.NewAuthenticator(),
		cred: virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2),
	}
}

// register answers a registration's options as navigator.credentials.create
// would.
func (k *passkey) register(t *testing.T, options json.RawMessage) json.RawMessage {
	t.Helper()
	opts, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		t.Fatalf("registration options %s: %v", options, err)
	}
	k.auth.Options.UserHandle = []byte(opts.UserID)
	resp := virtualwebauthn.CreateAttestationResponse(k.rp, k.auth, k.cred, *opts)
	k.auth.AddCredential(k.cred)
	return json.RawMessage(resp)
}

// sign answers a sign-in's options as navigator.credentials.get would.
func (k *passkey) sign(t *testing.T, options json.RawMessage) json.RawMessage {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		t.Fatalf("sign-in options %s: %v", options, err)
	}
	return json.RawMessage(virtualwebauthn.CreateAssertionResponse(k.rp, k.auth, k.cred, *opts))
}

func TestPasskeyRegisterAndSignIn(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))

	sec := b.get("/security")
	if attr(sec.body, "passkey-register", "data-begin") != "/security/keys/begin" ||
		attr(sec.body, "passkey-register", "data-origins") != e.base {
		t.Fatalf("security page lacks the registration form\n%s", sec.body)
	}
	status, begin := b.postJSON("/security/keys/begin", map[string]string{"name": "YubiKey"})
	if status != 200 || begin.Ceremony == "" || len(begin.Options) == 0 {
		t.Fatalf("begin registration = %d %+v", status, begin)
	}
	k := newPasskey(e.base)
	status, fin := b.postJSON("/security/keys/finish", map[string]any{
		"ceremony": begin.Ceremony, "credential": k.register(t, begin.Options)})
	if status != 200 || fin.Redirect != "/security" {
		t.Fatalf("finish registration = %d %+v, want 200 to /security", status, fin)
	}
	sec = b.get(fin.Redirect)
	if !strings.Contains(sec.body, "YubiKey <span class=\"tag\">passkey</span>") ||
		byID(sec.body, "flash") != flashes[flashKeyAdded].Text {
		t.Errorf("security page after registering lacks the key or the message\n%s", sec.body)
	}

	// Sign out, and back in with the passkey alone.
	b.post("/logout", nil)
	login := b.get("/login?next=%2Factivity")
	if attr(login.body, "passkey-login", "data-begin") != "/login/passkey/begin" ||
		attr(login.body, "passkey-login", "data-next") != "/activity" {
		t.Fatalf("sign-in page lacks the passkey button\n%s", login.body)
	}
	status, lb := b.postJSON("/login/passkey/begin", map[string]string{})
	if status != 200 || lb.Ceremony == "" {
		t.Fatalf("begin sign-in = %d %+v", status, lb)
	}
	answer := k.sign(t, lb.Options)
	status, lf := b.postJSON("/login/passkey/finish", map[string]any{
		"ceremony": lb.Ceremony, "credential": answer, "next": "/activity"})
	if status != 200 || lf.Redirect != "/activity" || b.token() == "" {
		t.Fatalf("finish sign-in = %d %+v, token %q; want 200 to /activity", status, lf,
			b.token())
	}
	if p := b.get("/activity"); p.status != 200 || byID(p.body, "signed-in-user") != "alice" {
		t.Errorf("GET /activity after passkey sign-in = %d", p.status)
	}

	// The same answer again: the challenge is used.
	status, again := b.postJSON("/login/passkey/finish", map[string]any{
		"ceremony": lb.Ceremony, "credential": answer})
	if status != http.StatusUnauthorized || !strings.HasPrefix(again.Error, "Sign-in refused") {
		t.Errorf("replayed passkey answer = %d %+v, want 401", status, again)
	}

	// An answer made for another origin is refused.
	status, lb = b.postJSON("/login/passkey/begin", map[string]string{})
	k.rp.Origin = "https://evil.example"
	status, bad := b.postJSON("/login/passkey/finish", map[string]any{
		"ceremony": lb.Ceremony, "credential": k.sign(t, lb.Options)})
	if status != http.StatusUnauthorized || bad.Error == "" {
		t.Errorf("answer for another origin = %d %+v, want 401", status, bad)
	}
}

func TestFirstPasskeyPromptsForCodes(t *testing.T) {
	e := newEnv(t, options{})
	e.user("dave")
	issued, err := e.svc.IssuePass(context.Background(), operator, "dave",
		mfa.NewPass{OneTime: true, Reason: "new starter"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("dave", issued.Pass.Pass)
	_, begin := b.postJSON("/security/keys/begin", map[string]string{"name": "Laptop"})
	_, fin := b.postJSON("/security/keys/finish", map[string]any{
		"ceremony": begin.Ceremony, "credential": newPasskey(e.base).register(t, begin.Options)})
	if fin.Redirect != "/security/backup-codes" {
		t.Errorf("first key without codes goes to %q, want /security/backup-codes", fin.Redirect)
	}
	if got := byID(b.get(fin.Redirect).body, "flash"); got != flashes[flashFirstFactor].Text {
		t.Errorf("flash = %q, want the prompt to make codes", got)
	}
}

func TestPasskeyWrongUserHandle(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	_, begin := b.postJSON("/security/keys/begin", map[string]string{"name": "Key"})
	k := newPasskey(e.base)
	b.postJSON("/security/keys/finish", map[string]any{"ceremony": begin.Ceremony,
		"credential": k.register(t, begin.Options)})

	k.auth.Options.UserHandle = []byte("someoneelse00000")
	other := e.browser()
	_, lb := other.postJSON("/login/passkey/begin", map[string]string{})
	status, a := other.postJSON("/login/passkey/finish", map[string]any{
		"ceremony": lb.Ceremony, "credential": k.sign(t, lb.Options)})
	if status != http.StatusUnauthorized || other.token() != "" {
		t.Errorf("passkey answer with another user's handle = %d %+v, want 401", status, a)
	}
}

func TestPasskeysOnWrongAddress(t *testing.T) {
	e := newEnv(t, options{})
	b := e.browser()
	b.base = strings.Replace(e.base, "localhost", "127.0.0.1", 1)
	p := b.get("/login")
	msg := byID(p.body, "passkey-address-problem")
	if p.status != 200 || !strings.Contains(p.body, `id="passkey-address-problem"`) ||
		!strings.Contains(p.body, "work only at "+e.base) ||
		strings.Contains(p.body, `id="passkey-sign-in"`) {
		t.Errorf("sign-in page at 127.0.0.1 = %d, problem %q; want the address to use\n%s",
			p.status, msg, p.body)
	}
	status, a := b.postJSON("/login/passkey/begin", map[string]string{})
	if status != http.StatusConflict || !strings.Contains(a.Error, "Open "+e.base) {
		t.Errorf("begin at 127.0.0.1 = %d %+v, want 409 naming %s", status, a, e.base)
	}
}

func TestScriptEndpointsNeedJSONAndSession(t *testing.T) {
	e := newEnv(t, options{})
	b := e.browser()
	status, a := b.postJSON("/security/keys/begin", map[string]string{"name": "x"})
	if status != http.StatusUnauthorized || !strings.HasPrefix(a.Redirect, "/login") {
		t.Errorf("begin registration without a session = %d %+v, want 401 with the way in",
			status, a)
	}
	p := b.post("/login/passkey/finish", url.Values{"ceremony": {"x"}})
	if p.status != http.StatusUnsupportedMediaType {
		t.Errorf("finish with a form body = %d, want 415", p.status)
	}
}

func TestKeyFormWithoutScript(t *testing.T) {
	e := newEnv(t, options{})
	e.user("alice")
	secret := e.authenticator("alice")
	b := e.browser()
	b.signIn("alice", e.code(secret))
	p := b.post("/security/keys", url.Values{"name": {"Key"}})
	if p.status != http.StatusBadRequest || !strings.Contains(problem(p.body), "needs JavaScript") {
		t.Errorf("the registration form without script = %d %q", p.status, problem(p.body))
	}
}
