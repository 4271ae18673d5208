package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/config"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/notify/notifytest"
)

// These tests run the server's dispatcher for real: events that commands
// write to the outbox reach a real SMTP server and real webhook receivers.

// deliveryWait bounds a wait for a notice or a webhook event that is due
// now: a few rounds of the dispatcher, which runs every second.
const deliveryWait = 15 * time.Second

// webhookSecretRE matches what webhook add prints: the secret alone.
var webhookSecretRE = regexp.MustCompile(`\Awhsec_[A-Za-z0-9_-]{43}\n\z`)

// receiver is a webhook endpoint. It checks every request's signature and
// counts, by event ID, the requests it answered and those it acknowledged
// with a 2xx status.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	secret   []byte
	fail     int // requests still to answer 500
	attempts map[string]int
	acked    map[string]int
	events   map[string]hookEvent
	problems []string
}

// hookEvent is the part of a webhook body the tests look at.
type hookEvent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	User string `json:"user"`
}

// newReceiver starts a receiver that answers the first fail requests with
// 500 and the rest with 204. It stops when the test ends.
func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{t: t, fail: fail, attempts: map[string]int{}, acked: map[string]int{},
		events: map[string]hookEvent{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, p := range r.problems {
			t.Errorf("webhook receiver: %s", p)
		}
	})
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

// setSecret gives the receiver the secret that webhook add printed.
func (r *receiver) setSecret(secret string) {
	r.mu.Lock()
	r.secret = []byte(strings.TrimSpace(secret))
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	var ev hookEvent
	switch {
	case err != nil:
		r.problems = append(r.problems, fmt.Sprintf("read body: %v", err))
	case notify.VerifySignature(r.secret, req.Header.Get(notify.SignatureHeader), body,
		time.Now(), 0) != nil:
		r.problems = append(r.problems, fmt.Sprintf("signature %q does not verify",
			req.Header.Get(notify.SignatureHeader)))
	case json.Unmarshal(body, &ev) != nil || ev.ID == "" ||
		ev.ID != req.Header.Get(notify.EventIDHeader):
		r.problems = append(r.problems, fmt.Sprintf("body %s does not match %s %q", body,
			notify.EventIDHeader, req.Header.Get(notify.EventIDHeader)))
	default:
		r.attempts[ev.ID]++
		r.events[ev.ID] = ev
		if r.fail > 0 {
			r.fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		r.acked[ev.ID]++
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
}

// snapshot returns copies of what the receiver counted.
func (r *receiver) snapshot() (attempts, acked map[string]int, events map[string]hookEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	attempts, acked, events = map[string]int{}, map[string]int{}, map[string]hookEvent{}
	for k, v := range r.attempts {
		attempts[k] = v
	}
	for k, v := range r.acked {
		acked[k] = v
	}
	for k, v := range r.events {
		events[k] = v
	}
	return attempts, acked, events
}

// waitFor polls until cond reports true, or fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ackedFor returns the IDs of the acknowledged events of type typ for user.
func (r *receiver) ackedFor(typ, user string) []string {
	_, acked, events := r.snapshot()
	var ids []string
	for id := range acked {
		if ev := events[id]; ev.Type == typ && ev.User == user {
			ids = append(ids, id)
		}
	}
	return ids
}

// attemptsFor returns the IDs of the events of type typ for user that
// reached the receiver, acknowledged or not.
func (r *receiver) attemptsFor(typ, user string) []string {
	attempts, _, events := r.snapshot()
	var ids []string
	for id := range attempts {
		if ev := events[id]; ev.Type == typ && ev.User == user {
			ids = append(ids, id)
		}
	}
	return ids
}

// mailsTo waits until n mails have arrived for address and returns them.
func mailsTo(t *testing.T, srv *notifytest.Server, address string, n int) []notifytest.Mail {
	t.Helper()
	var got []notifytest.Mail
	waitFor(t, deliveryWait, fmt.Sprintf("%d mails to %s", n, address), func() bool {
		got = srv.To(address)
		return len(got) >= n
	})
	return got
}

// TestBinaryNoticeByEmail has the CLI make backup codes and grant a bypass
// beside a running server with a mail server: the server's dispatcher
// mails the notices, which name what happened and hold no code.
func TestBinaryNoticeByEmail(t *testing.T) {
	t.Parallel()
	mail := notifytest.Start(t)
	b := &binary{t: t, path: buildMfad(t), data: filepath.Join(t.TempDir(), "data")}
	b.must("user", "add", "alice", "--email", "alice@example.com")
	srv := startServer(t, b, "--smtp-url", mail.URL(), "--smtp-tls", "none",
		"--smtp-from", "mfa@example.com", "--security-contact", "soc@example.com")

	codes := strings.Fields(b.must("codes", "generate", "alice").stdout)
	if len(codes) == 0 {
		t.Fatal("codes generate alice printed no codes")
	}
	m := mailsTo(t, mail, "alice@example.com", 1)[0]
	if want := "mfad: new backup codes were created for your account"; m.Subject != want {
		t.Errorf("notice subject = %q, want %q", m.Subject, want)
	}
	if !strings.Contains(m.Header.Get("From"), "mfa@example.com") || m.From != "mfa@example.com" {
		t.Errorf("notice from %q (envelope %q), want mfa@example.com", m.Header.Get("From"),
			m.From)
	}
	for _, want := range []string{"an administrator at the server", "command line"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("notice text = %q, want it to say %q", m.Text, want)
		}
	}
	for _, code := range codes {
		for _, form := range []string{code, strings.ReplaceAll(code, "-", ""),
			strings.ToUpper(code)} {
			if strings.Contains(string(m.Raw), form) || strings.Contains(m.Text, form) ||
				strings.Contains(m.HTML, form) {
				t.Errorf("notice holds the backup code %s", code)
			}
		}
		if strings.Contains(srv.logText(), code) {
			t.Errorf("server log holds the backup code %s", code)
		}
	}

	// The policy tells the security contact of a bypass, as well as alice.
	b.must("bypass", "grant", "alice", "--for", "5m", "--reason", "ticket 4712")
	soc := mailsTo(t, mail, "soc@example.com", 1)[0]
	want := "mfad: the account alice may be signed in to without a second factor"
	if soc.Subject != want {
		t.Errorf("security contact's subject = %q, want %q", soc.Subject, want)
	}
	mailsTo(t, mail, "alice@example.com", 2)
	srv.stop()
	if n := len(mail.Mails()); n != 3 {
		t.Errorf("%d mails arrived, want 3: two to alice, one to the security contact", n)
	}
}

// TestBinaryWebhookDurable shows that webhook events survive a failed
// attempt and a server killed with SIGKILL. The receiver fails its first
// request, so the first event waits for the service's first back-off (30
// seconds) in the database while the server is killed, and a second event
// is written while no server runs. A new server delivers both, and each is
// acknowledged once.
func TestBinaryWebhookDurable(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 1)
	b := &binary{t: t, path: buildMfad(t), data: filepath.Join(t.TempDir(), "data")}
	b.must("user", "add", "alice")
	b.must("user", "add", "bob")
	add := b.must("webhook", "add", rcv.url(), "--events", mfa.EventCodesGenerated)
	rcv.setSecret(add.stdout)
	id := webhookID(t, add.stderr)

	first := startServer(t, b)
	b.must("codes", "generate", "alice")
	waitFor(t, deliveryWait, "the first attempt at alice's event", func() bool {
		return len(rcv.attemptsFor(mfa.EventCodesGenerated, "alice")) == 1
	})
	// The failure is recorded before the server is killed.
	var ds []deliveryJSON
	waitFor(t, deliveryWait, "the failed attempt recorded", func() bool {
		ds = deliveries(t, b, id)
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	if d := ds[0]; d.State != "pending" || d.LastStatus != 500 || d.NextAt.IsZero() ||
		!strings.Contains(d.LastError, "status 500") {
		t.Errorf("delivery after a 500 = %+v, want pending, last status 500, a next attempt", d)
	}
	first.kill()

	b.must("codes", "generate", "bob") // no server runs: it waits in the outbox
	second := startServer(t, b)
	waitFor(t, deliveryWait, "bob's event, written while no server ran", func() bool {
		return len(rcv.ackedFor(mfa.EventCodesGenerated, "bob")) == 1
	})
	// alice's retry is due 30 seconds after the first attempt.
	waitFor(t, 30*time.Second+2*deliveryWait, "alice's event, retried", func() bool {
		return len(rcv.ackedFor(mfa.EventCodesGenerated, "alice")) == 1
	})
	waitFor(t, deliveryWait, "both deliveries recorded", func() bool {
		ds = deliveries(t, b, id)
		return len(ds) == 2 && ds[0].State == "delivered" && ds[1].State == "delivered"
	})
	second.stop()

	attempts, acked, events := rcv.snapshot()
	for eid, n := range acked {
		if n != 1 {
			t.Errorf("event %s (%s of %s) acknowledged %d times, want once", eid,
				events[eid].Type, events[eid].User, n)
		}
	}
	if len(acked) != 2 {
		t.Errorf("acknowledged events = %v, want alice's and bob's", acked)
	}
	byEvent := map[string]deliveryJSON{}
	for _, d := range ds {
		byEvent[d.EventID] = d
	}
	for eid, ev := range events {
		want := map[string]int{"alice": 2, "bob": 1}[ev.User]
		if attempts[eid] != want || byEvent[eid].Attempts != want {
			t.Errorf("%s's event: %d requests received, %d attempts recorded; want %d",
				ev.User, attempts[eid], byEvent[eid].Attempts, want)
		}
	}
	out := b.must("webhook", "deliveries", id).stdout
	if !regexp.MustCompile(`(?m)^\S+ +\S+ +backup_codes.generated +delivered +2 +204 `).
		MatchString(out) {
		t.Errorf("webhook deliveries = %q, want alice's delivery on the second attempt", out)
	}
}

// webhookID picks the ID out of what webhook add says on standard error.
func webhookID(t *testing.T, stderr string) string {
	t.Helper()
	m := regexp.MustCompile(`Added webhook ([a-z2-7]{16}):`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("webhook add stderr = %q, want the ID", stderr)
	}
	return m[1]
}

// deliveries returns what webhook deliveries --json says of webhook id.
func deliveries(t *testing.T, b *binary, id string) []deliveryJSON {
	t.Helper()
	var ds []deliveryJSON
	out := b.must("webhook", "deliveries", id, "--json").stdout
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatalf("webhook deliveries --json = %q: %v", out, err)
	}
	return ds
}

// TestBinaryWebhookCommands adds a webhook with the real binary, has a
// running server deliver to it, lists its deliveries and deletes it.
func TestBinaryWebhookCommands(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 0)
	b := &binary{t: t, path: buildMfad(t), data: filepath.Join(t.TempDir(), "data")}
	b.must("user", "add", "alice")

	add := b.must("webhook", "add", rcv.url(), "--events", "backup_codes.generated,user.locked")
	if !webhookSecretRE.MatchString(add.stdout) {
		t.Fatalf("webhook add stdout = %q, want the secret alone", add.stdout)
	}
	secret := strings.TrimSpace(add.stdout)
	rcv.setSecret(secret)
	id := webhookID(t, add.stderr)
	for _, want := range []string{"backup_codes.generated, user.locked", rcv.url(),
		"shown this once"} {
		if !strings.Contains(add.stderr, want) {
			t.Errorf("webhook add stderr = %q, want it to say %q", add.stderr, want)
		}
	}
	if strings.Contains(add.stderr, secret) {
		t.Errorf("webhook add stderr = %q, want the secret on standard output only", add.stderr)
	}

	list := b.must("webhook", "list").stdout
	if !regexp.MustCompile(`\AID +URL +EVENTS +CREATED +CREATED BY\n` + id + ` +` +
		regexp.QuoteMeta(rcv.url()) + ` +backup_codes.generated,user.locked +\S+ +operator:\S+\n\z`).
		MatchString(list) {
		t.Errorf("webhook list = %q, want the webhook", list)
	}
	if out := b.must("webhook", "deliveries", id).stdout; strings.Count(out, "\n") != 1 {
		t.Errorf("webhook deliveries before any event = %q, want the header alone", out)
	}

	srv := startServer(t, b)
	b.must("codes", "generate", "alice")
	waitFor(t, deliveryWait, "the event recorded as delivered", func() bool {
		ds := deliveries(t, b, id)
		return len(ds) == 1 && ds[0].State == "delivered"
	})
	srv.stop()
	out := b.must("webhook", "deliveries", id).stdout
	if !regexp.MustCompile(`\ACREATED +EVENT +TYPE +STATE +ATTEMPTS +STATUS +ERROR +NEXT +DONE\n` +
		`\S+Z +[a-z2-7]{16} +backup_codes.generated +delivered +1 +204 +- +- +\S+Z\n\z`).
		MatchString(out) {
		t.Errorf("webhook deliveries = %q, want one delivered event", out)
	}

	if r := b.must("webhook", "delete", id); r.stdout != "deleted webhook "+id+"\n" {
		t.Errorf("webhook delete = %q, want it confirmed", r.stdout)
	}
	if out := b.must("webhook", "list").stdout; strings.Count(out, "\n") != 1 {
		t.Errorf("webhook list after delete = %q, want the header alone", out)
	}
	// A deleted webhook's deliveries stay listed.
	if ds := deliveries(t, b, id); len(ds) != 1 {
		t.Errorf("webhook deliveries after delete = %+v, want the one delivery", ds)
	}
	notStored(t, b.data, map[string][]byte{"webhook secret": []byte(secret)})
}

func TestWebhookCommands(t *testing.T) {
	f := newFixture(t)
	r := f.run(nil, "webhook", "add", "https://hooks.example.com/mfad", "--events", "*")
	if r.code != 0 || !webhookSecretRE.MatchString(r.stdout) {
		t.Fatalf("webhook add = exit %d, stdout %q; want 0 and the secret alone; stderr:\n%s",
			r.code, r.stdout, r.stderr)
	}
	id := webhookID(t, r.stderr)
	if !strings.Contains(r.stderr, "it receives every event at https://hooks.example.com/mfad") {
		t.Errorf("webhook add --events '*' stderr = %q, want it to say every event", r.stderr)
	}
	f.runSteps([]step{
		{name: "add without events", args: []string{"webhook", "add", "https://x.example"},
			code: 2, errHas: []string{"webhook add needs --events"}},
		{name: "add blank events", args: []string{"webhook", "add", "https://x.example",
			"--events", " , "}, code: 2, errHas: []string{"webhook add needs --events"}},
		{name: "add without url", args: []string{"webhook", "add", "--events", "*"}, code: 2,
			errHas: []string{"webhook add needs URL"}},
		{name: "add bad", args: []string{"webhook", "add", "ftp://u:p@x.example",
			"--events", "nope,user.locked"}, code: 1,
			errHas: []string{"no webhook was added:\n  ", `url has scheme "ftp"`,
				`unknown event type "nope"`}},
		{name: "add repeated events", args: []string{"webhook", "add", "https://b.example",
			"--events", "user.locked", "--events", "user.unlocked,user.locked"},
			out: `whsec_\S+\n`, errHas: []string{"it receives user.locked, user.unlocked at"}},
		{name: "list", args: []string{"webhook", "list"},
			out: `ID +URL +EVENTS +CREATED +CREATED BY\n` +
				id + ` +https://hooks.example.com/mfad +\* +\S+ +operator:tester\n` +
				`[a-z2-7]{16} +https://b.example +user.locked,user.unlocked +\S+ +operator:tester\n`},
		{name: "list positional", args: []string{"webhook", "list", "x"}, code: 2},
		{name: "deliveries none", args: []string{"webhook", "deliveries", id},
			out: `CREATED +EVENT +TYPE +STATE +ATTEMPTS +STATUS +ERROR +NEXT +DONE\n`},
		{name: "deliveries json", args: []string{"webhook", "deliveries", id, "--json"},
			out: `\[\]\n`},
		{name: "deliveries unknown", args: []string{"webhook", "deliveries", "nosuchwebhook"},
			code: 1, errHas: []string{`no webhook "nosuchwebhook"`}},
		{name: "deliveries bad limit", args: []string{"webhook", "deliveries", id,
			"--limit", "0"}, code: 2, errHas: []string{"--limit must be between 1 and 500"}},
		{name: "delete", args: []string{"webhook", "delete", id},
			out: "deleted webhook " + id + "\n"},
		{name: "delete again", args: []string{"webhook", "delete", id}, code: 1,
			errHas: []string{`no webhook "` + id + `"`}},
		{name: "help", args: []string{"webhook"}, code: 2,
			errHas: []string{"add URL --events TYPE[,TYPE...]", "deliveries ID"}},
	})

	var list []webhookJSON
	out := f.must("webhook", "list", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("webhook list --json: %v", err)
	}
	if len(list) != 1 || list[0].URL != "https://b.example" ||
		strings.Join(list[0].Events, ",") != "user.locked,user.unlocked" {
		t.Errorf("webhook list --json = %+v, want the second webhook", list)
	}
	if strings.Contains(out, "whsec_") {
		t.Errorf("webhook list --json = %s, want no secret", out)
	}
}

// withMailer opens the fixture's service in-process as mfad serve would,
// with mail going to srv, and calls fn with it and the operator's request.
func withMailer(t *testing.T, f *fixture, srv *notifytest.Server,
	fn func(svc *mfa.Service, req mfa.Request)) {
	t.Helper()
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		lookup: f.lookup}
	var cfg config.Config
	fs := newFlags(e, "test", &cfg)
	cfg.BindServer(fs, e.lookup)
	if err := fs.Parse([]string{"--smtp-url", srv.URL(), "--smtp-tls", "none",
		"--smtp-from", "mfa@example.com"}); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), e, &cfg, slog.LevelWarn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	fn(a.svc, operator(e))
}

var mailedCode = regexp.MustCompile(`code: (\d{6,8})\r?\n`)

// codeMailed waits for the n-th mail to address and returns the code in it.
func codeMailed(t *testing.T, srv *notifytest.Server, address string, n int) string {
	t.Helper()
	m := mailsTo(t, srv, address, n)[n-1]
	c := mailedCode.FindStringSubmatch(m.Text)
	if c == nil {
		t.Fatalf("mail %d to %s = %q, want a code", n, address, m.Text)
	}
	return c[1]
}

// TestVerifyChallenge proves alice's address with a code, as the API would,
// has a code sent to it, and checks it with mfad verify --challenge.
func TestVerifyChallenge(t *testing.T) {
	mail := notifytest.Start(t)
	f := newFixture(t)
	f.must("user", "add", "alice", "--email", "alice@example.com")
	if r := f.run(strings.NewReader(`{"out_of_band": {"email": true}}`), "policy", "set",
		"-"); r.code != 0 {
		t.Fatalf("policy set = exit %d; stderr:\n%s", r.code, r.stderr)
	}
	f.runSteps([]step{{name: "show unproved", args: []string{"user", "show", "alice"},
		has: []string{"email:         alice@example.com\n",
			"email proved:  no (no codes go there until it is proved)\n",
			"phone:         -\nphone proved:  -\n"}}})

	var challenge string
	withMailer(t, f, mail, func(svc *mfa.Service, req mfa.Request) {
		ctx := context.Background()
		bind, err := svc.BindDestination(ctx, req, "alice", "email", "alice@example.com")
		if err != nil {
			t.Fatalf("BindDestination() = %v", err)
		}
		code := codeMailed(t, mail, "alice@example.com", 1)
		if _, err := svc.ConfirmDestination(ctx, req, "alice", "email", bind.ID,
			code); err != nil {
			t.Fatalf("ConfirmDestination() = %v", err)
		}
		ch, err := svc.SendChallenge(ctx, req, "alice", "email")
		if err != nil {
			t.Fatalf("SendChallenge() = %v", err)
		}
		challenge = ch.ID
	})
	code := codeMailed(t, mail, "alice@example.com", 2)

	f.runSteps([]step{
		{name: "show proved", args: []string{"user", "show", "alice"},
			has: []string{"email proved:  yes, since 20"}},
		{name: "without the challenge", args: []string{"verify", "alice", code}, code: 1,
			out: "reject\n"},
		{name: "wrong code", args: []string{"verify", "alice", wrong(code), "--challenge",
			challenge}, code: 1, out: "reject\n"},
		{name: "unknown challenge", args: []string{"verify", "alice", code, "--challenge",
			"nosuchchallenge1"}, code: 1, out: "reject\n"},
		{name: "accept", args: []string{"verify", "alice", code, "--challenge", challenge},
			out: "accept email\n"},
		{name: "used", args: []string{"verify", "alice", code, "--challenge", challenge},
			code: 1, out: "reject\n"},
	})
	var u userJSON
	if err := json.Unmarshal([]byte(f.must("user", "show", "alice", "--json")), &u); err != nil {
		t.Fatal(err)
	}
	if !u.EmailVerified || u.EmailVerifiedAt.IsZero() || u.PhoneVerified {
		t.Errorf("user show alice --json = %+v, want the email proved and no phone", u)
	}
}

func TestWarnUnusedTemplates(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"bypass.granted.txt", "bypas.granted.txt"} {
		content := `{{define "subject"}}{{.Issuer}}: a bypass{{end}}`
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := notify.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	warnUnusedTemplates(slog.New(slog.NewTextHandler(&log, nil)), tmpl)
	if got := log.String(); strings.Count(got, "level=WARN") != 1 ||
		!strings.Contains(got, "type=bypas.granted\n") {
		t.Errorf("warnings = %q, want one, for bypas.granted", got)
	}
}
