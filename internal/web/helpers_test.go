package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/store/sqlstore"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
	"github.com/mfad/mfad/internal/testtool"
	"github.com/mfad/mfad/internal/totp"
)

// t0 is the start of a TOTP step, so tests know exactly which step is now.
var t0 = time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)

// operator is the request of a person at the server's command line.
var operator = mfa.Request{Actor: mfa.Operator("tester"), Source: "local",
	FrontDoor: audit.DoorCLI}

// options configures newEnv.
type options struct {
	signInRate int  // Config.SignInRate; 0 means no limit
	secure     bool // Config.Secure
}

// env is the pages on a real SQLite store, served at http://localhost:PORT
// so that the address is a WebAuthn origin, with the service and a
// settable clock behind them.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	base  string // http://localhost:PORT
	svc   *mfa.Service
	store *sqlstore.DB
	h     *Handler
	clock *testtool.Clock
	mail  *mailer
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	base := "http://localhost:" + port
	ring, err := keyring.Create(filepath.Join(t.TempDir(), "keys.json"), rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	clk := testtool.NewClock(t0)
	mail := &mailer{sent: make(chan notify.Message, 100)}
	st := sqltest.SQLite(t)
	svc, err := mfa.New(mfa.Config{Store: st, Keys: ring, Clock: clk.Now,
		PublicURL: base, Mailer: mail,
		WebAuthn: &mfa.WebAuthnConfig{RPID: "localhost", Origins: []string{base}}})
	if err != nil {
		t.Fatal(err)
	}
	if o.signInRate == 0 {
		o.signInRate = -1
	}
	h := New(Config{Service: svc, Clock: clk.Now, PublicURL: base, Secure: o.secure,
		WebAuthnOrigins: []string{base}, SignInRate: o.signInRate,
		ClientIP: func(*http.Request) string { return "192.0.2.7" }})
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, base: base, svc: svc, store: st, h: h, clock: clk, mail: mail}
}

// mailer keeps what the service sends.
type mailer struct{ sent chan notify.Message }

func (m *mailer) Send(_ context.Context, msg notify.Message) error {
	m.sent <- msg
	return nil
}

// user creates a user.
func (e *env) user(name string) {
	e.t.Helper()
	if _, err := e.svc.CreateUser(context.Background(), operator, mfa.NewUser{Name: name}); err != nil {
		e.t.Fatalf("CreateUser(%s) = %v", name, err)
	}
}

// authenticator enrols and confirms an authenticator for user, as staff
// would, and returns its secret.
func (e *env) authenticator(user string) []byte {
	e.t.Helper()
	ctx := context.Background()
	en, err := e.svc.EnrollTOTP(ctx, operator, user, mfa.NewTOTP{Name: "Phone"})
	if err != nil {
		e.t.Fatalf("EnrollTOTP(%s) = %v", user, err)
	}
	secret, err := totp.DecodeSecret(en.Secret)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, operator, user, en.ID, e.code(secret)); err != nil {
		e.t.Fatalf("ConfirmTOTP(%s) = %v", user, err)
	}
	// The confirming code's step is used; the next sign-in needs the next.
	e.clock.Add(30 * time.Second)
	return secret
}

// code is the authenticator's code now.
func (e *env) code(secret []byte) string {
	p := totp.DefaultParams()
	return totp.Code(secret, totp.Step(e.clock.Now(), p.Period), p)
}

// backupCodes makes a set of backup codes for user, as staff would.
func (e *env) backupCodes(user string) []string {
	e.t.Helper()
	set, err := e.svc.GenerateBackupCodes(context.Background(), operator, user)
	if err != nil {
		e.t.Fatalf("GenerateBackupCodes(%s) = %v", user, err)
	}
	return set.Codes
}

// browser is one browser: a cookie jar, and no redirects followed unless
// asked, so tests see each answer.
type browser struct {
	e      *env
	base   string // where it opens pages: the env's base unless told
	jar    *cookiejar.Jar
	client *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, base: e.base, jar: jar, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}}
}

// page is an answer as a test reads it.
type page struct {
	status   int
	header   http.Header
	cookies  []*http.Cookie
	body     string
	location string
}

// do sends a request the way a browser posting from the page would:
// with Sec-Fetch-Site same-origin on changes.
func (b *browser) do(method, path string, body io.Reader, hdr map[string]string) page {
	b.e.t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", b.base)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, cookies: resp.Cookies(),
		body: string(raw), location: resp.Header.Get("Location")}
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	return b.do(http.MethodGet, path, nil, nil)
}

func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	return b.do(http.MethodPost, path, strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// postJSON calls a script endpoint.
func (b *browser) postJSON(path string, v any) (int, scriptAnswer) {
	b.e.t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		b.e.t.Fatal(err)
	}
	p := b.do(http.MethodPost, path, bytes.NewReader(raw),
		map[string]string{"Content-Type": "application/json"})
	var a scriptAnswer
	if err := json.Unmarshal([]byte(p.body), &a); err != nil {
		b.e.t.Fatalf("POST %s = %d %q, not JSON: %v", path, p.status, p.body, err)
	}
	return p.status, a
}

// follow gets where p redirects to.
func (b *browser) follow(p page) page {
	b.e.t.Helper()
	if p.status != http.StatusSeeOther || p.location == "" {
		b.e.t.Fatalf("answer = %d (Location %q), want a 303 redirect\n%s", p.status, p.location,
			p.body)
	}
	return b.get(p.location)
}

// signIn signs in with user and code and checks it worked.
func (b *browser) signIn(user, code string) page {
	b.e.t.Helper()
	p := b.post("/login", url.Values{"user": {user}, "code": {code}, "next": {"/security"}})
	if p.status != http.StatusSeeOther || p.location != "/security" {
		b.e.t.Fatalf("sign in %s = %d (Location %q), want 303 to /security\n%s", user, p.status,
			p.location, p.body)
	}
	return p
}

// token is the session token in the browser's cookie, or "".
func (b *browser) token() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	return ""
}

// byID returns the text of the element with id, unescaped, or "".
func byID(body, id string) string {
	re := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(html.UnescapeString(m[1]))
}

// problem returns the page's problem message, or "".
func problem(body string) string {
	re := regexp.MustCompile(`(?s)<div id="problem" class="problem" role="alert"><p>(.*?)</p>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// attr returns the value of attribute name of the element with id.
func attr(body, id, name string) string {
	re := regexp.MustCompile(`<[^>]*id="` + regexp.QuoteMeta(id) + `"[^>]*>`)
	tag := re.FindString(body)
	m := regexp.MustCompile(`\s` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}
