package mfa

import (
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/mfad/mfad/internal/metrics"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

var testRP = virtualwebauthn.RelyingParty{Name: "Example MFA", ID: "mfa.example.com",
	Origin: "https://mfa.example.com"}

// keyFixture is a fixture whose service is a WebAuthn relying party, with
// a virtual authenticator and the metrics the service reports to.
type keyFixture struct {
	*fixture
	auth    virtualwebauthn.Authenticator
	metrics *metrics.Metrics
}

func newKeyFixture(t *testing.T, st store.Store) *keyFixture {
	t.Helper()
	f := newFixture(t, st)
	m := metrics.New()
	svc, err := New(Config{Store: st, Keys: f.ring, Clock: f.clock.Now, Observer: m,
		WebAuthn: &WebAuthnConfig{RPID: testRP.ID, Origins: []string{testRP.Origin}}})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return &keyFixture{fixture: f, auth: virtualwebauthn.NewAuthenticator(), metrics: m}
}

// metric returns the value of one sample of the service's /metrics page,
// such as `mfad_verify_duration_seconds_sum{result="accept"}`, or -1.
func (f *keyFixture) metric(t *testing.T, sample string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	f.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("metric %s = %q: %v", sample, m[1], err)
	}
	return v
}

// register registers a new credential of the authenticator for user,
// answering as rp, and returns it.
func (f *keyFixture) register(t *testing.T, req Request, user string, rp virtualwebauthn.RelyingParty) (
	virtualwebauthn.Credential, WebAuthnKey, error) {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.BeginWebAuthnRegistration(ctx, req, user, "laptop")
	if err != nil {
		t.Fatalf("BeginWebAuthnRegistration = %v", err)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(c.Options))
	if err != nil {
		t.Fatalf("ParseAttestationOptions = %v\n%s", err, c.Options)
	}
	cred := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
	resp := virtualwebauthn.CreateAttestationResponse(rp, f.auth, cred, *opts)
	key, err := f.svc.FinishWebAuthnRegistration(ctx, req, user, c.ID, []byte(resp))
	return cred, key, err
}

// login signs in with cred, answering as rp with the given user handle.
func (f *keyFixture) login(t *testing.T, cred virtualwebauthn.Credential, handle []byte,
	rp virtualwebauthn.RelyingParty) (string, Session, error) {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.BeginWebAuthnLogin(ctx, anonymous)
	if err != nil {
		t.Fatalf("BeginWebAuthnLogin = %v", err)
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(c.Options))
	if err != nil {
		t.Fatalf("ParseAssertionOptions = %v\n%s", err, c.Options)
	}
	auth := f.auth
	auth.Options.UserHandle = handle
	resp := virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *opts)
	s, err := f.svc.FinishWebAuthnLogin(ctx, anonymous, c.ID, []byte(resp))
	return c.ID, s, err
}

func (f *keyFixture) userID(t *testing.T, name string) []byte {
	t.Helper()
	u, err := f.st.User(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(u.ID)
}

func TestWebAuthn(t *testing.T) {
	engines(t, func(t *testing.T, f0 *fixture) {
		f := newKeyFixture(t, f0.st)
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		req, _ := f.signIn(t, "alice", f.code(secret, 0))

		cred, key, err := f.register(t, req, "alice", testRP)
		if err != nil || key.Name != "laptop" || !key.Passkey {
			t.Fatalf("FinishWebAuthnRegistration = %+v, %v; want the passkey kept", key, err)
		}
		if types := outboxTypes(f.outbox(t)); types[len(types)-1] != EventKeyAdded {
			t.Errorf("outbox ends %v, want %s", types, EventKeyAdded)
		}
		cred.Counter = 1
		_, sess, err := f.login(t, cred, f.userID(t, "alice"), testRP)
		if err != nil || sess.User != "alice" || sess.Factor != "webauthn" {
			t.Fatalf("FinishWebAuthnLogin = %+v, %v; want alice's webauthn session", sess, err)
		}
		ev := f.lastEvent(t, "verify")
		if ev.Factor != "webauthn" || ev.Reason != reasonAccepted {
			t.Errorf("audit = %s/%s, want an accepted webauthn verification", ev.Factor, ev.Reason)
		}
		// A passkey session is phishing-resistant: it may issue itself a
		// pass.
		actor, err := f.svc.Authenticate(ctx, sess.Token)
		if err != nil {
			t.Fatal(err)
		}
		keyReq := Request{Actor: actor, Source: "198.51.100.4"}
		if _, err := f.svc.SelfIssuePass(ctx, keyReq, 0, ""); err != nil {
			t.Errorf("SelfIssuePass from a passkey session = %v", err)
		}
		keys, err := f.svc.ListWebAuthn(ctx, keyReq, "alice")
		if err != nil || len(keys) != 1 || keys[0].LastUsedAt.IsZero() {
			t.Errorf("ListWebAuthn = %+v, %v; want one key, used", keys, err)
		}
		if err := f.svc.RenameFactor(ctx, keyReq, "alice", "webauthn", keys[0].ID, "yubikey"); err != nil {
			t.Errorf("RenameFactor = %v", err)
		}
		if err := f.svc.DeleteWebAuthn(ctx, keyReq, "alice", keys[0].ID); err != nil {
			t.Errorf("DeleteWebAuthn = %v", err)
		}
		cred.Counter = 2
		if _, _, err := f.login(t, cred, f.userID(t, "alice"), testRP); !isKind(err, ErrUnauthenticated) {
			t.Errorf("sign-in with a removed key = %v, want refused", err)
		}
	})
}

// TestWebAuthnRefusals covers what a browser test cannot: a wrong origin,
// a reused challenge, another user's handle, a counter that went back.
func TestWebAuthnRefusals(t *testing.T) {
	f := newKeyFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	f.user(t, "bob")
	req, _ := f.signIn(t, "alice", f.code(secret, 0))

	evil := testRP
	evil.Origin = "https://mfa.example.com.evil.test"
	if _, _, err := f.register(t, req, "alice", evil); !isKind(err, ErrInvalid) ||
		f.lastEvent(t, "webauthn.enroll").Reason != "invalid" {
		t.Errorf("registration answered from another origin = %v, want refused as invalid", err)
	}
	cred, _, err := f.register(t, req, "alice", testRP)
	if err != nil {
		t.Fatal(err)
	}
	alice := f.userID(t, "alice")

	cred.Counter = 5
	if _, _, err := f.login(t, cred, alice, evil); !isKind(err, ErrUnauthenticated) {
		t.Errorf("sign-in from another origin = %v, want refused", err)
	}
	if _, _, err := f.login(t, cred, f.userID(t, "bob"), testRP); !isKind(err, ErrUnauthenticated) {
		t.Errorf("sign-in with bob's user handle = %v, want refused", err)
	}
	if _, s, err := f.login(t, cred, alice, testRP); err != nil || s.User != "alice" {
		t.Fatalf("sign-in = %+v, %v", s, err)
	}

	// The same challenge answered twice: once only.
	c, _ := f.svc.BeginWebAuthnLogin(ctx, anonymous)
	opts, _ := virtualwebauthn.ParseAssertionOptions(string(c.Options))
	auth := f.auth
	auth.Options.UserHandle = alice
	cred.Counter = 6
	resp := virtualwebauthn.CreateAssertionResponse(testRP, auth, cred, *opts)
	if _, err := f.svc.FinishWebAuthnLogin(ctx, anonymous, c.ID, []byte(resp)); err != nil {
		t.Fatalf("first answer = %v", err)
	}
	if _, err := f.svc.FinishWebAuthnLogin(ctx, anonymous, c.ID, []byte(resp)); !isKind(err, ErrUnauthenticated) {
		t.Errorf("second answer to one challenge = %v, want refused", err)
	}
	if ev := f.lastEvent(t, "verify"); ev.Reason != "bad_ceremony" {
		t.Errorf("audit reason = %q, want bad_ceremony", ev.Reason)
	}

	// A counter that does not grow is a cloned authenticator.
	cred.Counter = 6
	if _, _, err := f.login(t, cred, alice, testRP); !isKind(err, ErrUnauthenticated) {
		t.Errorf("sign-in with a counter that went back = %v, want refused", err)
	}
	if ev := f.lastEvent(t, "verify"); ev.Reason != "sign_count" {
		t.Errorf("audit reason = %q, want sign_count", ev.Reason)
	}

	// Garbage is refused, not a server error.
	c, _ = f.svc.BeginWebAuthnLogin(ctx, anonymous)
	if _, err := f.svc.FinishWebAuthnLogin(ctx, anonymous, c.ID, []byte(`{"id": 3}`)); !isKind(err, ErrUnauthenticated) {
		t.Errorf("a malformed answer = %v, want refused", err)
	}
	// Registration for another user with alice's session is refused.
	if _, err := f.svc.BeginWebAuthnRegistration(ctx, req, "bob", "x"); !isKind(err, ErrForbidden) {
		t.Errorf("registering for bob with alice's session = %v, want ErrForbidden", err)
	}

	// Two sign-ins got in and five were refused, and /metrics says so, with
	// the time each took.
	for sample, want := range map[string]float64{
		`mfad_verifications_total{factor="webauthn",result="accept"}`: 2,
		`mfad_verifications_total{factor="webauthn",result="reject"}`: 5,
	} {
		if got := f.metric(t, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	if got := f.metric(t, `mfad_verify_duration_seconds_sum{result="accept"}`); got <= 0 {
		t.Errorf("accepted passkey sign-ins took %v seconds in all, want their time", got)
	}
}

func TestWebAuthnLastFactor(t *testing.T) {
	f := newKeyFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "alice")
	set := f.generated(t, "alice")
	// A backup-code session may add a passkey (recovery), not remove one.
	rec, _ := f.signIn(t, "alice", set.Codes[0])
	cred, key, err := f.register(t, rec, "alice", testRP)
	if err != nil {
		t.Fatalf("registering from a recovery session = %v", err)
	}
	if err := f.svc.DeleteWebAuthn(ctx, rec, "alice", key.ID); !isKind(err, ErrForbidden) {
		t.Errorf("removing from a recovery session = %v, want ErrForbidden", err)
	}
	cred.Counter = 1
	_, sess, err := f.login(t, cred, f.userID(t, "alice"), testRP)
	if err != nil {
		t.Fatal(err)
	}
	actor, _ := f.svc.Authenticate(ctx, sess.Token)
	req := Request{Actor: actor}
	// Ten minutes on, the last strong factor needs a fresh sign-in.
	f.clock.Add(10*time.Minute + time.Second)
	err = f.svc.DeleteWebAuthn(ctx, req, "alice", key.ID)
	if !isKind(err, ErrForbidden) || !strings.Contains(err.Error(), "last authenticator or security key") {
		t.Errorf("removing the last strong factor from a stale session = %v, want ErrForbidden", err)
	}
}
