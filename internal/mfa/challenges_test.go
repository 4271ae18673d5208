package mfa

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

var codeRE = regexp.MustCompile(`code: (\d{6,8})`)

// smsGateway is an SMS gateway in the test: it keeps what it is asked to
// send.
type smsGateway struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []map[string]string
}

func newSMSGateway(t *testing.T) *smsGateway {
	g := &smsGateway{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &m)
		g.mu.Lock()
		g.got = append(g.got, m)
		g.mu.Unlock()
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// wait returns the n-th message sent, waiting for it.
func (g *smsGateway) wait(t *testing.T, n int) map[string]string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		g.mu.Lock()
		if len(g.got) >= n {
			m := g.got[n-1]
			g.mu.Unlock()
			return m
		}
		g.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("SMS %d never sent", n)
	return nil
}

func (g *smsGateway) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.got)
}

// codeIn returns the code in the n-th mail to address, waiting for it.
func (f *mailFixture) codeIn(t *testing.T, address string, n int) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if ms := f.mail.To(address); len(ms) >= n {
			m := codeRE.FindStringSubmatch(ms[n-1].Text)
			if m == nil {
				t.Fatalf("mail %q has no code:\n%s", ms[n-1].Subject, ms[n-1].Text)
			}
			return m[1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("mail %d to %s never arrived", n, address)
	return ""
}

func newCodesFixture(t *testing.T, st store.Store) (*mailFixture, *smsGateway) {
	t.Helper()
	g := newSMSGateway(t)
	sms, err := notify.NewWebhookSMS(notify.WebhookSMSConfig{URL: g.srv.URL + "/send"})
	if err != nil {
		t.Fatal(err)
	}
	f := newMailFixture(t, st, func(c *Config) { c.SMS = sms })
	f.setPolicy(t, `{"out_of_band": {"email": true, "sms": true}}`)
	return f, g
}

// bound binds and proves alice's email address, as staff.
func (f *mailFixture) bound(t *testing.T, user, address string) {
	t.Helper()
	ctx := context.Background()
	before := len(f.mail.To(address))
	ch, err := f.svc.BindDestination(ctx, f.operator, user, "email", address)
	if err != nil {
		t.Fatalf("BindDestination = %v", err)
	}
	code := f.codeIn(t, address, before+1)
	u, err := f.svc.ConfirmDestination(ctx, f.operator, user, "email", ch.ID, code)
	if err != nil || u.Email != address || u.EmailVerifiedAt.IsZero() {
		t.Fatalf("ConfirmDestination = %+v, %v; want %s proved", u, err, address)
	}
}

func TestEmailCodes(t *testing.T) {
	engines(t, func(t *testing.T, f0 *fixture) {
		f, _ := newCodesFixture(t, f0.st)
		ctx := context.Background()
		f.user(t, "alice")
		f.bound(t, "alice", "alice@example.com")

		ch, err := f.svc.SendChallenge(ctx, anonymous, "alice", "email")
		if err != nil || ch.ID == "" || !ch.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
			t.Fatalf("SendChallenge = %+v, %v", ch, err)
		}
		code := f.codeIn(t, "alice@example.com", 2)
		if len(code) != 6 {
			t.Errorf("code %q, want 6 digits", code)
		}
		verifier, _ := f.token(t, "verifier", "")
		res, err := f.svc.VerifyChallenge(ctx, verifier, "alice", ch.ID, code)
		if err != nil || !res.Accepted || res.Factor != "email" {
			t.Fatalf("VerifyChallenge = %+v, %v; want accepted by email", res, err)
		}
		if res, _ := f.svc.VerifyChallenge(ctx, verifier, "alice", ch.ID, code); res.Accepted ||
			f.lastEvent(t, "verify").Reason != reasonReplay {
			t.Errorf("second use of an email code accepted or not refused as a replay")
		}
		// A code never answers without its challenge.
		if res, _ := f.svc.Verify(ctx, verifier, "alice", code); res.Accepted {
			t.Errorf("an email code was accepted as an authenticator code")
		}

		// A resend voids the code before it.
		first, _ := f.svc.SendChallenge(ctx, anonymous, "alice", "email")
		firstCode := f.codeIn(t, "alice@example.com", 3)
		second, _ := f.svc.SendChallenge(ctx, anonymous, "alice", "email")
		secondCode := f.codeIn(t, "alice@example.com", 4)
		if res, _ := f.svc.VerifyChallenge(ctx, verifier, "alice", first.ID, firstCode); res.Accepted {
			t.Errorf("a code voided by a resend was accepted")
		}
		// ... and it expires after ten minutes, exactly.
		f.clock.Add(10 * time.Minute)
		if res, _ := f.svc.VerifyChallenge(ctx, verifier, "alice", second.ID, secondCode); res.Accepted ||
			f.lastEvent(t, "verify").Reason != reasonExpired {
			t.Errorf("a code at its expiry was accepted or not refused as expired")
		}

		// The code is nowhere in the database: not in the audit log, the
		// outbox or the challenge.
		evs, _ := f.st.ListAudit(ctx, store.AuditQuery{Limit: 1000})
		raw, _ := json.Marshal(evs)
		out, _ := json.Marshal(f.outbox(t))
		c, _ := f.st.Challenge(ctx, ch.ID)
		for _, c0 := range []string{code, firstCode, secondCode} {
			if strings.Contains(string(raw)+string(out)+string(c.Hash), c0) {
				t.Errorf("code %s found in the database", c0)
			}
		}
	})
}

func TestChallengeSameAnswer(t *testing.T) {
	f, g := newCodesFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "alice")
	f.bound(t, "alice", "alice@example.com")
	f.user(t, "nomail")
	sent := len(f.mail.Mails())
	for _, u := range []string{"mallory", "nomail", "alice"} {
		ch, err := f.svc.SendChallenge(ctx, anonymous, u, "sms")
		if err != nil || len(ch.ID) != 16 || !ch.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
			t.Errorf("SendChallenge(%s, sms) = %+v, %v; want the same answer", u, ch, err)
		}
		if res, _ := f.svc.VerifyChallenge(ctx, f.operator, u, ch.ID, "123456"); res.Accepted {
			t.Errorf("a made-up code was accepted for %s", u)
		}
	}
	// alice has no proved phone: nothing was sent to anyone.
	time.Sleep(50 * time.Millisecond)
	if g.count() != 0 || len(f.mail.Mails()) != sent {
		t.Errorf("codes were sent: %d SMS, %d mails", g.count(), len(f.mail.Mails())-sent)
	}
	reasons := map[string]string{}
	evs, _ := f.st.ListAudit(ctx, store.AuditQuery{Action: "challenge.send", Limit: 10})
	for _, ev := range evs {
		reasons[ev.Subject] = ev.Reason
	}
	want := map[string]string{"mallory": reasonUnknownUser, "nomail": reasonNoFactor,
		"alice": reasonNoFactor}
	for u, r := range want {
		if reasons[u] != r {
			t.Errorf("audit reason for %s = %q, want %q", u, reasons[u], r)
		}
	}

	// Per user name: five an hour, the same 429 whether the user exists.
	// alice has used two (the bind and one above), mallory one: of six
	// more, the ones past five are refused.
	for u, want := range map[string]int{"alice": 3, "mallory": 2} {
		var limited int
		for range 6 {
			if _, err := f.svc.SendChallenge(ctx, anonymous, u, "email"); isKind(err, ErrRateLimited) {
				limited++
			}
		}
		if limited != want {
			t.Errorf("%d of 6 requests for %s limited, want %d", limited, u, want)
		}
	}
}

func TestSMSCodes(t *testing.T) {
	f, g := newCodesFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "alice")
	ch, err := f.svc.BindDestination(ctx, f.operator, "alice", "sms", "+44 (20) 7946-0018")
	if err != nil {
		t.Fatal(err)
	}
	m := g.wait(t, 1)
	if m["to"] != "+442079460018" {
		t.Errorf("SMS to %q, want the normalized number", m["to"])
	}
	code := codeRE.FindStringSubmatch(m["text"])[1]
	if _, err := f.svc.ConfirmDestination(ctx, f.operator, "alice", "sms", ch.ID, "000000"); !isKind(err, ErrInvalid) {
		t.Errorf("confirming with a wrong code = %v, want ErrInvalid", err)
	}
	if u, _ := f.svc.GetUser(ctx, f.operator, "alice"); u.Failures != 1 {
		t.Errorf("a wrong confirmation counted %d failures, want 1", u.Failures)
	}
	if _, err := f.svc.ConfirmDestination(ctx, f.operator, "alice", "sms", ch.ID, code); err != nil {
		t.Fatalf("ConfirmDestination = %v", err)
	}
	sess, err := func() (Session, error) {
		c, err := f.svc.SendChallenge(ctx, anonymous, "alice", "sms")
		if err != nil {
			return Session{}, err
		}
		m := g.wait(t, 2)
		return f.svc.SignInChallenge(ctx, anonymous, "alice", c.ID, codeRE.FindStringSubmatch(m["text"])[1])
	}()
	if err != nil || sess.Factor != "sms" {
		t.Fatalf("SignInChallenge = %+v, %v; want an sms session", sess, err)
	}
	req := Request{Source: "198.51.100.4"}
	req.Actor, _ = f.svc.Authenticate(ctx, sess.Token)
	// An SMS session adds factors but takes none away, and never issues
	// itself a pass.
	if _, err := f.svc.SelfIssuePass(ctx, req, 0, ""); !isKind(err, ErrForbidden) {
		t.Errorf("SelfIssuePass from an SMS session = %v, want ErrForbidden", err)
	}
	if _, err := f.svc.RemoveDestination(ctx, req, "alice", "sms"); !isKind(err, ErrForbidden) {
		t.Errorf("RemoveDestination from an SMS session = %v, want ErrForbidden", err)
	}

	// Policy can switch SMS codes off; a code already sent stops working.
	c, _ := f.svc.SendChallenge(ctx, anonymous, "alice", "sms")
	code = codeRE.FindStringSubmatch(g.wait(t, 3)["text"])[1]
	f.setPolicy(t, `{"out_of_band": {"email": true, "sms": false}}`)
	if res, _ := f.svc.VerifyChallenge(ctx, f.operator, "alice", c.ID, code); res.Accepted {
		t.Errorf("an SMS code accepted with SMS codes switched off")
	}
	if _, err := f.svc.BindDestination(ctx, f.operator, "alice", "sms", "+442079460019"); !isKind(err, ErrForbidden) {
		t.Errorf("BindDestination with SMS off = %v, want ErrForbidden", err)
	}
}

func TestBindNeedsFreshSession(t *testing.T) {
	f, _ := newCodesFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	req, _ := f.signIn(t, "alice", f.code(secret, 0))
	if _, err := f.svc.BindDestination(ctx, req, "alice", "email", "alice@example.com"); err != nil {
		t.Errorf("BindDestination from a fresh session = %v", err)
	}
	f.clock.Add(10*time.Minute + time.Second)
	_, err := f.svc.BindDestination(ctx, req, "alice", "email", "alice@example.com")
	if !isKind(err, ErrForbidden) || !strings.Contains(err.Error(), "within the last 10m") {
		t.Errorf("BindDestination from a stale session = %v, want ErrForbidden", err)
	}
	set := f.generated(t, "alice")
	rec, _ := f.signIn(t, "alice", set.Codes[0])
	if _, err := f.svc.BindDestination(ctx, rec, "alice", "email", "a@example.com"); !isKind(err, ErrForbidden) {
		t.Errorf("BindDestination from a backup-code session = %v, want ErrForbidden", err)
	}
	if _, err := f.svc.BindDestination(ctx, f.operator, "alice", "email", "not an address"); !isKind(err, ErrInvalid) {
		t.Errorf("BindDestination of a bad address = %v, want ErrInvalid", err)
	}
}

func TestCodesOffByDefault(t *testing.T) {
	f := newMailFixture(t, sqltest.SQLite(t))
	f.user(t, "alice")
	_, err := f.svc.BindDestination(context.Background(), f.operator, "alice", "email",
		"alice@example.com")
	if !isKind(err, ErrForbidden) || !strings.Contains(err.Error(), "does not allow email codes") {
		t.Errorf("BindDestination under the default policy = %v, want ErrForbidden", err)
	}
}

func TestRandomDigits(t *testing.T) {
	seen := map[byte]int{}
	for range 2000 {
		d, err := randomDigits(rand.Reader, 8)
		if err != nil || len(d) != 8 || !allDigits(d) {
			t.Fatalf("randomDigits = %q, %v", d, err)
		}
		for i := range d {
			seen[d[i]]++
		}
	}
	for c := byte('0'); c <= '9'; c++ {
		if n := seen[c]; n < 1300 || n > 1900 {
			t.Errorf("digit %c drawn %d times of 16000, want about 1600", c, n)
		}
	}
}
