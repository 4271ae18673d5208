package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/metrics"
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
var operator = mfa.Request{Actor: mfa.Operator("test"), Source: "local", FrontDoor: "cli"}

// options configures newEnv.
type options struct {
	db      *sqlstore.DB // default: a new SQLite database
	proxies []netip.Prefix
	// signInRate is Config.SignInRate; 0 means 1000 a minute, which the
	// tests that are not about the limit never reach.
	signInRate int
	// mailer, sms and securityContact are what the service sends email
	// and SMS with and whom it tells of what the policy names; by default
	// it sends nothing and has no security contact.
	mailer          mfa.Mailer
	sms             notify.SMS
	securityContact string
}

// env is an API server on a real store, with the service behind it, a
// settable clock, the log output and an admin token.
type env struct {
	srv   *httptest.Server
	svc   *mfa.Service
	db    *sqlstore.DB
	clock *testtool.Clock
	logs  *testtool.LogBuffer
	spec  *spec
	admin string
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	if o.db == nil {
		o.db = sqltest.SQLite(t)
	}
	ring, err := keyring.Create(filepath.Join(t.TempDir(), "keys"), rand.Reader, time.Now())
	if err != nil {
		t.Fatalf("keyring.Create = %v", err)
	}
	clk := testtool.NewClock(t0)
	logs := &testtool.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		// The wall-clock time is noise for the tests that read the log.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	m := metrics.New()
	svc, err := mfa.New(mfa.Config{Store: o.db, Keys: ring, Clock: clk.Now, Logger: log,
		Observer: m, Mailer: o.mailer, SMS: o.sms, SecurityContact: o.securityContact})
	if err != nil {
		t.Fatalf("mfa.New = %v", err)
	}
	if o.signInRate == 0 {
		o.signInRate = 1000
	}
	srv := httptest.NewServer(New(Config{
		Service: svc, Logger: log, Metrics: m.Handler(), TrustedProxies: o.proxies,
		SignInRate: o.signInRate, Clock: clk.Now,
	}))
	t.Cleanup(srv.Close)

	_, admin, err := svc.CreateToken(context.Background(), operator,
		mfa.NewToken{Name: "test admin", Role: string(mfa.RoleAdmin)})
	if err != nil {
		t.Fatalf("CreateToken(admin) = %v", err)
	}
	return &env{srv: srv, svc: svc, db: o.db, clock: clk, logs: logs, spec: loadSpec(t),
		admin: admin}
}

// engines runs fn on a fresh SQLite database and a fresh PostgreSQL schema.
func engines(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, sqltest.SQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, sqltest.Postgres(t))
	})
}

// spec is the OpenAPI document, loaded for checking requests and responses.
type spec struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options

	// mu serialises validation: kin-openapi does not promise that its
	// validators are safe for concurrent use.
	mu sync.Mutex
}

// loadSpec loads and validates the embedded document and closes every
// object schema that lists properties: the published document lets clients
// expect new fields, but the tests hold the server to fields it documents.
func loadSpec(t testing.TB) *spec {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPI)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("validate openapi.json: %v", err)
	}
	seen := map[*openapi3.Schema]bool{}
	for _, s := range doc.Components.Schemas {
		closeObjects(s, seen)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("legacy.NewRouter = %v", err)
	}
	return &spec{doc: doc, router: router, opts: &openapi3filter.Options{
		AuthenticationFunc:    bearerPresent,
		IncludeResponseStatus: true,
	}}
}

func closeObjects(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	ap := &s.AdditionalProperties
	if len(s.Properties) > 0 && ap.Has == nil && ap.Schema == nil {
		closed := false
		ap.Has = &closed
	}
	for _, p := range s.Properties {
		closeObjects(p, seen)
	}
	closeObjects(s.Items, seen)
	for _, list := range [][]*openapi3.SchemaRef{s.OneOf, s.AnyOf, s.AllOf} {
		for _, sub := range list {
			closeObjects(sub, seen)
		}
	}
}

// bearerPresent is the document's view of authentication: a request meets
// the bearer scheme when it sends a bearer token at all. Whether the token
// is good is the server's business.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// checkProblem checks v, a decoded JSON body, against the Problem schema.
func (s *spec) checkProblem(v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// call is one request to the API.
type call struct {
	method string
	path   string
	token  string            // sent as a bearer token unless empty
	body   any               // nil: none; string or []byte: as is; else JSON
	header map[string]string // more request headers; may replace Content-Type
	// forwarded are X-Forwarded-For headers, each sent on its own.
	forwarded []string
	// invalid says the request is deliberately outside the document (a
	// wrong type, no token): the document must then refuse it, and the
	// response is still checked against the document.
	invalid bool
	// trailing says the body holds data after its JSON value. The document
	// forbids that, but kin-openapi decodes only the first value and cannot
	// tell, so the request is not checked; the response still is.
	trailing bool
}

// reply is the answer to a call.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (c call) bodyBytes(t testing.TB) []byte {
	t.Helper()
	switch b := c.body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	b, err := json.Marshal(c.body)
	if err != nil {
		t.Errorf("json.Marshal(%v) = %v", c.body, err)
	}
	return b
}

func (c call) request(t testing.TB, base string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(c.method, base+c.path, rd)
	if err != nil {
		t.Errorf("http.NewRequest(%s %s) = %v", c.method, c.path, err)
		return nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	for _, v := range c.forwarded {
		req.Header.Add("X-Forwarded-For", v)
	}
	return req
}

// do sends c and checks both the request and the response against the
// document: every response a test sees through do is proven to match it.
// It reports problems with t.Errorf, so it may be used from goroutines.
func (e *env) do(t testing.TB, c call) reply {
	t.Helper()
	body := c.bodyBytes(t)
	vreq := c.request(t, e.srv.URL, body)
	if vreq == nil {
		return reply{}
	}
	route, params, err := e.spec.router.FindRoute(vreq)
	if err != nil {
		t.Errorf("%s %s: no operation in the document: %v", c.method, c.path, err)
		return reply{}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route, Options: e.spec.opts,
	}
	e.spec.mu.Lock()
	verr := openapi3filter.ValidateRequest(context.Background(), in)
	e.spec.mu.Unlock()
	switch {
	case c.trailing:
	case c.invalid && verr == nil:
		t.Errorf("%s %s with body %.200q: the document accepts the request, want it refused",
			c.method, c.path, body)
	case !c.invalid && verr != nil:
		t.Errorf("%s %s: the request does not match the document: %v", c.method, c.path, verr)
	}

	r := e.send(t, c.request(t, e.srv.URL, body))
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: r.status, Header: r.header, Options: e.spec.opts,
	}
	rin.SetBodyBytes(r.body)
	e.spec.mu.Lock()
	err = openapi3filter.ValidateResponse(context.Background(), rin)
	e.spec.mu.Unlock()
	if err != nil {
		t.Errorf("%s %s: response %d does not match the document: %v\nbody: %s",
			c.method, c.path, r.status, err, r.body)
	}
	return r
}

// doUnrouted sends a request that no operation of the document describes
// (an unknown path, a wrong method) and checks that the answer is a problem
// document.
func (e *env) doUnrouted(t testing.TB, c call) reply {
	t.Helper()
	r := e.send(t, c.request(t, e.srv.URL, c.bodyBytes(t)))
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Errorf("%s %s: body is not JSON: %v\nbody: %s", c.method, c.path, err, r.body)
		return r
	}
	if err := e.spec.checkProblem(v); err != nil {
		t.Errorf("%s %s: body is not a problem document: %v", c.method, c.path, err)
	}
	if got := r.header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("%s %s: Content-Type = %q, want application/problem+json", c.method, c.path, got)
	}
	return r
}

func (e *env) send(t testing.TB, req *http.Request) reply {
	t.Helper()
	if req == nil {
		return reply{}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		return reply{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// want fails the test unless the reply has the status.
func (r reply) want(t testing.TB, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.status, status, r.body)
	}
	return r
}

// decode decodes the JSON body into v.
func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", r.body, err)
	}
}

// problem decodes a problem document.
func (r reply) problem(t testing.TB) problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body: %s", ct, r.body)
	}
	var p problem
	r.decode(t, &p)
	return p
}

// Test-side shapes of the API's answers.
type (
	userOut struct {
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		Roles    []string `json:"roles"`
		Disabled bool     `json:"disabled"`
		Failures int      `json:"failures"`
		Locked   bool     `json:"locked"`
	}
	enrollmentOut struct {
		ID        string `json:"id"`
		Confirmed bool   `json:"confirmed"`
		Secret    string `json:"secret"`
		URI       string `json:"uri"`
		QRPNG     string `json:"qr_png"`
	}
	tokenOut struct {
		ID    string `json:"id"`
		Role  string `json:"role"`
		User  string `json:"user"`
		Token string `json:"token"`
	}
	eventOut struct {
		Seq       int64             `json:"seq"`
		Action    string            `json:"action"`
		Outcome   string            `json:"outcome"`
		Reason    string            `json:"reason"`
		Actor     string            `json:"actor"`
		Subject   string            `json:"subject"`
		Source    string            `json:"source"`
		FrontDoor string            `json:"front_door"`
		RequestID string            `json:"request_id"`
		Factor    string            `json:"factor"`
		Detail    map[string]string `json:"detail"`
	}
)

// createUser creates a user through the API.
func (e *env) createUser(t testing.TB, name string, roles ...string) userOut {
	t.Helper()
	in := map[string]any{"name": name}
	if len(roles) > 0 {
		in["roles"] = roles
	}
	var u userOut
	e.do(t, call{method: "POST", path: "/v1/users", token: e.admin, body: in}).
		want(t, http.StatusCreated).decode(t, &u)
	return u
}

// createToken creates an API token through the API, bound to user unless
// user is empty.
func (e *env) createToken(t testing.TB, role, user string) tokenOut {
	t.Helper()
	in := map[string]any{"name": role + " token", "role": role}
	if user != "" {
		in["user"] = user
	}
	var tok tokenOut
	e.do(t, call{method: "POST", path: "/v1/tokens", token: e.admin, body: in}).
		want(t, http.StatusCreated).decode(t, &tok)
	return tok
}

// enroll enrols and confirms an authenticator app for user through the API
// and returns its secret. It then moves the clock on by one step, so that
// code gives a code that has not been used.
func (e *env) enroll(t testing.TB, user string) []byte {
	t.Helper()
	var enr enrollmentOut
	e.do(t, call{method: "POST", path: "/v1/users/" + url.PathEscape(user) + "/totp",
		token: e.admin}).want(t, http.StatusCreated).decode(t, &enr)
	secret, err := totp.DecodeSecret(enr.Secret)
	if err != nil {
		t.Fatalf("totp.DecodeSecret(enrolment secret) = %v", err)
	}
	e.do(t, call{method: "POST", path: "/v1/users/" + url.PathEscape(user) + "/totp/" + enr.ID +
		"/confirm", token: e.admin, body: map[string]string{"code": e.code(secret)}}).
		want(t, http.StatusOK)
	e.clock.Add(30 * time.Second)
	return secret
}

// code returns the authenticator's code for now.
func (e *env) code(secret []byte) string {
	p := totp.DefaultParams()
	return totp.Code(secret, totp.Step(e.clock.Now(), p.Period), p)
}

// wrongCode returns a well-formed code that matches no step of the window
// around now.
func (e *env) wrongCode(secret []byte) string {
	p := totp.DefaultParams()
	now := totp.Step(e.clock.Now(), p.Period)
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		if c != totp.Code(secret, now-1, p) && c != totp.Code(secret, now, p) &&
			c != totp.Code(secret, now+1, p) {
			return c
		}
	}
}

// verify asks POST /v1/verify with token.
func (e *env) verify(t testing.TB, token, user, code string) reply {
	t.Helper()
	return e.do(t, call{method: "POST", path: "/v1/verify", token: token,
		body: map[string]string{"user": user, "code": code}})
}

// audit lists audit events with the query.
func (e *env) audit(t testing.TB, query url.Values) []eventOut {
	t.Helper()
	var out struct {
		Events []eventOut `json:"events"`
	}
	e.do(t, call{method: "GET", path: "/v1/audit?" + query.Encode(), token: e.admin}).
		want(t, http.StatusOK).decode(t, &out)
	return out.Events
}

// eventOf returns the audit event with action of the request with the ID.
func (e *env) eventOf(t testing.TB, action, requestID string) eventOut {
	t.Helper()
	for _, ev := range e.audit(t, url.Values{"action": {action}, "limit": {"1000"}}) {
		if ev.RequestID == requestID {
			return ev
		}
	}
	t.Fatalf("no %s event with request ID %q", action, requestID)
	return eventOut{}
}
