package mfa

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/codes"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/notify/notifytest"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
	"github.com/mfad/mfad/internal/totp"
)

// mailFixture is a fixture whose service sends email to a real SMTP server
// in the test, with a security contact.
type mailFixture struct {
	*fixture
	mail *notifytest.Server
}

const securityContact = "soc@example.com"

func newMailFixture(t *testing.T, st store.Store, opts ...func(*Config)) *mailFixture {
	t.Helper()
	ms := notifytest.Start(t)
	mailer, err := notify.NewSMTP(notify.SMTPConfig{URL: ms.URL(), From: "MFA <mfa@example.com>",
		Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, st)
	cfg := Config{Store: st, Keys: f.ring, Clock: f.clock.Now, Mailer: mailer,
		SecurityContact: securityContact, Issuer: "Example MFA",
		PublicURL: "https://mfa.example.com"}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return &mailFixture{fixture: f, mail: ms}
}

func (f *mailFixture) dispatch(t *testing.T) DispatchStats {
	t.Helper()
	st, err := f.svc.Dispatch(context.Background())
	if err != nil {
		t.Fatalf("Dispatch = %v", err)
	}
	return st
}

func (f *fixture) userWithEmail(t *testing.T, name, email string) {
	t.Helper()
	if _, err := f.svc.CreateUser(context.Background(), f.operator,
		NewUser{Name: name, Email: email, DisplayName: strings.ToUpper(name[:1]) + name[1:]}); err != nil {
		t.Fatal(err)
	}
}

func TestNoticesByEmail(t *testing.T) {
	engines(t, func(t *testing.T, f0 *fixture) {
		f := newMailFixture(t, f0.st)
		ctx := context.Background()
		f.userWithEmail(t, "alice", "alice@example.com")
		set := f.generated(t, "alice")
		if ok, _ := f.verifyReason(t, "alice", set.Codes[0]); !ok {
			t.Fatal("backup code refused")
		}
		pass := f.issued(t, "alice", NewPass{OneTime: true})
		if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", 0, "phone flat"); err != nil {
			t.Fatal(err)
		}
		st := f.dispatch(t)
		if st.Events != 4 || st.Delivered != 5 || st.Failed != 0 {
			t.Errorf("Dispatch = %+v, want 4 events and 5 deliveries (4 to alice, 1 to the "+
				"security contact)", st)
		}

		mails := f.mail.To("alice@example.com")
		subjects := map[string]string{}
		for _, m := range mails {
			subjects[m.Subject] = m.Text
		}
		if len(mails) != 4 {
			t.Fatalf("alice got %d mails, want 4: %v", len(mails), subjects)
		}
		for subject, text := range subjects {
			if !strings.Contains(subject, "Example MFA") {
				t.Errorf("subject %q does not name the issuer", subject)
			}
			// Every notice here was caused by staff or a verification, not
			// by alice signed in: each carries the report link.
			if !strings.Contains(text, "https://mfa.example.com/report?token=") {
				t.Errorf("notice %q has no report link:\n%s", subject, text)
			}
		}
		// No notice holds a code or the pass.
		secrets := append([]string{pass.Pass}, set.Codes...)
		for _, m := range f.mail.Mails() {
			raw := strings.ToLower(string(m.Raw))
			for _, s := range secrets {
				clean, _ := codes.Clean(s)
				if strings.Contains(raw, strings.ToLower(s)) || strings.Contains(raw,
					strings.ToLower(clean)) {
					t.Errorf("mail %q holds a code or pass", m.Subject)
				}
			}
		}
		soc := f.mail.To(securityContact)
		if len(soc) != 1 || strings.Contains(soc[0].Text, "/report?token=") {
			t.Errorf("security contact got %d mails (%v), want the bypass alone, without a "+
				"report link", len(soc), soc)
		}

		// Nothing is sent twice.
		if st := f.dispatch(t); st.Events != 0 || st.Attempts != 0 {
			t.Errorf("second Dispatch = %+v, want nothing to do", st)
		}
	})
}

func TestNoticeLinkReports(t *testing.T) {
	f := newMailFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.userWithEmail(t, "alice", "alice@example.com")
	f.issued(t, "alice", NewPass{OneTime: true})
	f.dispatch(t)
	m := f.mail.To("alice@example.com")
	if len(m) != 1 {
		t.Fatalf("alice got %d mails, want 1", len(m))
	}
	i := strings.Index(m[0].Text, "https://mfa.example.com/report?token=")
	if i < 0 {
		t.Fatalf("no report link in:\n%s", m[0].Text)
	}
	link := strings.Fields(m[0].Text[i:])[0]
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.svc.ReportFraudByLink(ctx, caller("198.51.100.3"), u.Query().Get("token"), "")
	if err != nil || !rep.Blocked || rep.LinkedEventType != EventPassIssued {
		t.Errorf("report by the notice's link = %+v, %v; want alice blocked", rep, err)
	}
}

func TestNoticeOwnAction(t *testing.T) {
	f := newMailFixture(t, sqltest.SQLite(t))
	f.userWithEmail(t, "alice", "alice@example.com")
	e, err := f.svc.EnrollTOTP(context.Background(), f.operator, "alice", NewTOTP{Name: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := totp.DecodeSecret(e.Secret)
	if _, err := f.svc.ConfirmTOTP(context.Background(), f.operator, "alice", e.ID,
		f.code(secret, -1)); err != nil {
		t.Fatal(err)
	}
	req, _ := f.signIn(t, "alice", f.code(secret, 0))
	if _, err := f.svc.GenerateBackupCodes(context.Background(), req, "alice"); err != nil {
		t.Fatal(err)
	}
	f.dispatch(t)
	var own *notifytest.Mail
	for _, m := range f.mail.To("alice@example.com") {
		if strings.Contains(strings.ToLower(m.Subject), "backup codes") {
			own = &m
		}
	}
	if own == nil {
		t.Fatalf("no backup-code notice among %d mails", len(f.mail.Mails()))
	}
	if strings.Contains(own.Text, "/report?token=") {
		t.Errorf("a notice of alice's own action carries a report link:\n%s", own.Text)
	}
	if !strings.Contains(own.Text, "you, signed in") {
		t.Errorf("the notice does not say alice did it herself:\n%s", own.Text)
	}
}

func TestNoticeToOldAddress(t *testing.T) {
	f := newMailFixture(t, sqltest.SQLite(t))
	f.userWithEmail(t, "alice", "alice@example.com")
	_, err := f.svc.UpdateUser(context.Background(), f.operator, "alice",
		UserUpdate{Email: ptr("mallory@example.net")})
	if err != nil {
		t.Fatal(err)
	}
	f.dispatch(t)
	old, cur := f.mail.To("alice@example.com"), f.mail.To("mallory@example.net")
	if len(old) != 1 || len(cur) != 1 {
		t.Fatalf("old address got %d, new %d mails; want one each", len(old), len(cur))
	}
	if !strings.Contains(old[0].Text, "m***@example.net") {
		t.Errorf("the old address is not told where notices go now (masked):\n%s", old[0].Text)
	}
}

func TestNoticePolicy(t *testing.T) {
	f := newMailFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.userWithEmail(t, "alice", "alice@example.com")
	f.userWithEmail(t, "bob", "bob@example.com")
	f.group(t, "quiet", "bob")
	if _, err := f.svc.SetGroupPolicy(ctx, f.operator, "quiet",
		[]byte(`{"notices": {"user": ["bypass.granted"], "security_contact": []}}`)); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		f.generated(t, u)
	}
	f.dispatch(t)
	if n := len(f.mail.To("alice@example.com")); n != 1 {
		t.Errorf("alice got %d notices of new codes, want 1", n)
	}
	if n := len(f.mail.To("bob@example.com")); n != 0 {
		t.Errorf("bob, whose group's policy leaves that notice out, got %d", n)
	}

	// The hourly bound holds back a storm.
	if _, err := f.svc.SetPolicy(ctx, f.operator, []byte(`{"notices": {"per_hour": 2}}`)); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		f.generated(t, "alice")
	}
	f.dispatch(t)
	if n := len(f.mail.To("alice@example.com")); n != 2 {
		t.Errorf("alice got %d notices in the hour, want the bound of 2", n)
	}
}

// receiver is a webhook endpoint in the test that checks signatures.
type receiver struct {
	srv    *httptest.Server
	secret []byte

	mu     sync.Mutex
	fail   int // answer 500 to this many requests first
	events []map[string]any
	ids    map[string]int
	bad    int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{ids: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := notify.VerifySignature(r.secret, req.Header.Get(notify.SignatureHeader), body,
			time.Now(), 10*365*24*time.Hour); err != nil {
			r.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.fail > 0 {
			r.fail--
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		var ev map[string]any
		json.Unmarshal(body, &ev)
		r.events = append(r.events, ev)
		r.ids[req.Header.Get(notify.EventIDHeader)]++
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// hooked points a webhook for every event at r.
func (f *fixture) hooked(t *testing.T, r *receiver) Webhook {
	t.Helper()
	h, secret, err := f.svc.CreateWebhook(context.Background(), f.operator, r.srv.URL,
		[]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	r.secret = []byte(secret)
	return h
}

func (r *receiver) got() ([]map[string]any, map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := map[string]int{}
	for k, v := range r.ids {
		ids[k] = v
	}
	return append([]map[string]any(nil), r.events...), ids, r.bad
}

func TestWebhookDelivery(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		r := newReceiver(t)
		h, secret, err := f.svc.CreateWebhook(ctx, f.operator, r.srv.URL+"/hook?key=abc",
			[]string{EventCodeUsed, EventCodesGenerated})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
			t.Fatalf("secret %q, want whsec_ and 256 bits", secret)
		}
		r.secret = []byte(secret)
		f.user(t, "alice")
		set := f.generated(t, "alice")
		f.verifyReason(t, "alice", set.Codes[0])
		f.issued(t, "alice", NewPass{OneTime: true}) // not in the filter

		st, err := f.svc.Dispatch(ctx)
		if err != nil || st.Delivered != 2 {
			t.Fatalf("Dispatch = %+v, %v; want 2 webhook deliveries", st, err)
		}
		// Deliveries run side by side: receivers get no promise of order.
		events, _, bad := r.got()
		byType := map[any]map[string]any{}
		for _, ev := range events {
			byType[ev["type"]] = ev
		}
		used := byType[EventCodeUsed]
		if bad != 0 || len(events) != 2 || byType[EventCodesGenerated] == nil || used == nil ||
			used["user"] != "alice" {
			t.Fatalf("receiver got %v (bad signatures %d), want the two events", events, bad)
		}
		data := used["data"].(map[string]any)
		if data["position"] != float64(1) || data["remaining"] != float64(9) {
			t.Errorf("backup_code.used data = %v", data)
		}
		log, err := f.svc.WebhookDeliveries(ctx, f.operator, h.ID, 0)
		if err != nil || len(log) != 2 || log[0].State != "delivered" || log[0].Attempts != 1 {
			t.Errorf("WebhookDeliveries = %+v, %v; want 2 delivered", log, err)
		}
		if ev := f.lastEvent(t, "webhook.create"); strings.Contains(ev.Detail["url"], "abc") {
			t.Errorf("the audit log holds the URL's query: %v", ev.Detail)
		}
	})
}

func TestWebhookRetries(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	r := newReceiver(t)
	h := f.hooked(t, r)
	r.fail = 2
	f.user(t, "alice")
	f.generated(t, "alice")

	for i, wantState := range []string{"pending", "pending", "delivered"} {
		if _, err := f.svc.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		log, _ := f.svc.WebhookDeliveries(ctx, f.operator, h.ID, 0)
		if len(log) != 1 || log[0].State != wantState || log[0].Attempts != i+1 {
			t.Fatalf("after attempt %d: %+v, want %s", i+1, log, wantState)
		}
		if wantState == "pending" {
			if log[0].LastStatus != 500 || !log[0].NextAt.Equal(f.clock.Now().Add(backoff(i+1))) {
				t.Errorf("after attempt %d: status %d, next at %v; want 500 and a back-off of %s",
					i+1, log[0].LastStatus, log[0].NextAt, backoff(i+1))
			}
			// Not before the back-off.
			if st, _ := f.svc.Dispatch(ctx); st.Attempts != 0 {
				t.Errorf("attempted again before its back-off")
			}
			f.clock.Add(backoff(i + 1))
		}
	}

	// A receiver that never answers well is given up after maxAttempts.
	r.fail = 1000
	f.generated(t, "alice")
	for range maxAttempts + 2 {
		f.svc.Dispatch(ctx)
		f.clock.Add(maxBackoff)
	}
	log, _ := f.svc.WebhookDeliveries(ctx, f.operator, h.ID, 0)
	if log[0].State != "given_up" || log[0].Attempts != maxAttempts {
		t.Errorf("failing delivery = %+v, want given up after %d attempts", log[0], maxAttempts)
	}

	// Deleting the endpoint gives up what is due to it; its log stays.
	r.fail = 0
	f.generated(t, "alice")
	if _, err := f.svc.fanOut(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteWebhook(ctx, f.operator, h.ID); err != nil {
		t.Fatal(err)
	}
	f.svc.Dispatch(ctx)
	log, err := f.svc.WebhookDeliveries(ctx, f.operator, h.ID, 0)
	if err != nil || log[0].State != "given_up" || !strings.Contains(log[0].LastError, "deleted") {
		t.Errorf("delivery to a deleted webhook = %+v, %v; want given up", log, err)
	}
}

// TestDispatchAcrossReplicas runs two services, as two replicas would, on
// one database at once: every event reaches the webhook, each once.
func TestDispatchAcrossReplicas(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		r := newReceiver(t)
		f.hooked(t, r)
		other, err := New(Config{Store: f.st, Keys: f.ring, Clock: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		const users = 30
		for i := range users {
			name := "user" + string(rune('a'+i/26)) + string(rune('a'+i%26))
			f.user(t, name)
			f.generated(t, name)
		}
		var wg sync.WaitGroup
		for _, svc := range []*Service{f.svc, other, f.svc, other} {
			wg.Go(func() {
				for range 5 {
					if _, err := svc.Dispatch(ctx); err != nil {
						t.Errorf("Dispatch = %v", err)
					}
				}
			})
		}
		wg.Wait()
		_, ids, bad := r.got()
		if len(ids) != users || bad != 0 {
			t.Errorf("receiver got %d distinct events (bad signatures %d), want %d", len(ids),
				bad, users)
		}
		for id, n := range ids {
			if n != 1 {
				t.Errorf("event %s delivered %d times, want once", id, n)
			}
		}
	})
}

// TestDispatchAfterCrash leaves a delivery leased by a replica that died
// before it recorded anything: once the lease runs out, another delivers
// it.
func TestDispatchAfterCrash(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	r := newReceiver(t)
	f.hooked(t, r)
	f.user(t, "alice")
	f.generated(t, "alice")

	// The dead replica fanned the event out and leased its delivery.
	if _, err := f.svc.fanOut(ctx); err != nil {
		t.Fatal(err)
	}
	err := f.st.Update(ctx, func(tx store.Tx) error {
		ds, err := tx.ClaimDeliveries(ctx, "dead-replica", f.clock.Now(),
			f.clock.Now().Add(deliveryLease), 10)
		if len(ds) != 1 {
			t.Errorf("claimed %d deliveries, want 1", len(ds))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := f.svc.Dispatch(ctx); st.Attempts != 0 {
		t.Fatalf("a leased delivery was attempted by another replica")
	}
	f.clock.Add(deliveryLease)
	if st, _ := f.svc.Dispatch(ctx); st.Delivered != 1 {
		t.Errorf("after the lease ran out: %+v, want the delivery made", st)
	}
	if _, ids, _ := r.got(); len(ids) != 1 {
		t.Errorf("receiver got %v, want the one event", ids)
	}
}

func TestWebhookValidation(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	tests := []struct {
		url    string
		events []string
		want   string
	}{
		{"ftp://x.example/", []string{"*"}, "scheme"},
		{"/relative", []string{"*"}, "absolute"},
		{"https://user:pw@x.example/", []string{"*"}, "password"},
		{"https://x.example/", nil, "at least one"},
		{"https://x.example/", []string{"backup_code.usd"}, `unknown event type "backup_code.usd"`},
	}
	for _, tt := range tests {
		_, _, err := f.svc.CreateWebhook(ctx, f.operator, tt.url, tt.events)
		if !isKind(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CreateWebhook(%q, %v) = %v, want ErrInvalid with %q", tt.url, tt.events,
				err, tt.want)
		}
	}
	desk, _ := f.token(t, "helpdesk", "")
	if _, _, err := f.svc.CreateWebhook(ctx, desk, "https://x.example/", []string{"*"}); !isKind(err, ErrForbidden) {
		t.Errorf("helpdesk creating a webhook = %v, want ErrForbidden", err)
	}
}

// TestWebhookSecretSealed checks that the signing secret is kept sealed,
// bound to its endpoint.
func TestWebhookSecretSealed(t *testing.T) {
	st := sqltest.SQLite(t)
	ring, err := keyring.Create(filepath.Join(t.TempDir(), "k.json"), rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Store: st, Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	op := Request{Actor: Operator("t")}
	h, secret, err := svc.CreateWebhook(context.Background(), op, "https://x.example/", []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	row, err := st.Webhook(context.Background(), h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(row.Secret), secret[6:]) {
		t.Errorf("webhook secret stored in clear")
	}
	if _, err := ring.Open(row.KeyID, row.Secret, webhookAAD("another")); err == nil {
		t.Errorf("the sealed secret opens for another endpoint")
	}
}
