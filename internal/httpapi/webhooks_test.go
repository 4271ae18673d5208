package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/store/sqlstore"
)

// Test-side shapes of webhooks and their deliveries.
type (
	webhookOut struct {
		ID        string   `json:"id"`
		URL       string   `json:"url"`
		Events    []string `json:"events"`
		CreatedAt string   `json:"created_at"`
		CreatedBy string   `json:"created_by"`
		Secret    string   `json:"secret"`
	}
	deliveryOut struct {
		ID          string `json:"id"`
		EventID     string `json:"event_id"`
		EventType   string `json:"event_type"`
		Attempts    int    `json:"attempts"`
		State       string `json:"state"`
		NextAt      string `json:"next_at"`
		DeliveredAt string `json:"delivered_at"`
		GaveUpAt    string `json:"gave_up_at"`
		LastError   string `json:"last_error"`
		LastStatus  int    `json:"last_status"`
	}
)

// delivered is one POST a webhook receiver took.
type delivered struct {
	eventID string // the Mfad-Event-Id header
	sigErr  error  // what notify.VerifySignature said of it
	event   struct {
		ID   string         `json:"id"`
		Type string         `json:"type"`
		User string         `json:"user"`
		Data map[string]any `json:"data"`
	}
}

// receiver is a webhook endpoint for the test. It checks each delivery's
// signature with the secret it is given, as a real receiver would, and
// answers with the status it is told to.
type receiver struct {
	srv *httptest.Server
	now func() time.Time

	mu     sync.Mutex
	secret []byte
	status int
	got    []delivered
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	t.Helper()
	rc := &receiver{now: now, status: http.StatusOK}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var d delivered
	d.eventID = r.Header.Get(notify.EventIDHeader)
	d.sigErr = notify.VerifySignature(rc.secret, r.Header.Get(notify.SignatureHeader), body,
		rc.now(), 0)
	if err == nil {
		err = json.Unmarshal(body, &d.event)
	}
	if err != nil {
		d.sigErr = err
	}
	rc.got = append(rc.got, d)
	w.WriteHeader(rc.status)
}

func (rc *receiver) set(secret string, status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret, rc.status = []byte(secret), status
}

func (rc *receiver) received() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// dispatch runs one round of the service's outbox delivery.
func (e *env) dispatch(t testing.TB) mfa.DispatchStats {
	t.Helper()
	st, err := e.svc.Dispatch(context.Background())
	if err != nil {
		t.Fatalf("Dispatch = %v", err)
	}
	return st
}

// deliveries lists a webhook's deliveries, newest first.
func (e *env) deliveries(t testing.TB, id string) []deliveryOut {
	t.Helper()
	var out struct {
		Deliveries []deliveryOut `json:"deliveries"`
	}
	e.do(t, call{method: "GET", path: "/v1/webhooks/" + id + "/deliveries", token: e.admin}).
		want(t, http.StatusOK).decode(t, &out)
	return out.Deliveries
}

// TestWebhooks drives a webhook over HTTP: created with its secret shown
// once, events delivered signed, a failed attempt retried, and the log
// still readable once the endpoint is deleted.
func TestWebhooks(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})
		rc := newReceiver(t, e.clock.Now)
		vt := e.createToken(t, "verifier", "").Token

		var hook webhookOut
		e.do(t, call{method: "POST", path: "/v1/webhooks", token: e.admin,
			body: map[string]any{"url": rc.srv.URL + "/hook?key=receiver-key",
				"events": []string{"backup_code.used", "backup_codes.generated"}}}).
			want(t, http.StatusCreated).decode(t, &hook)
		if !strings.HasPrefix(hook.Secret, "whsec_") || len(hook.Secret) < 40 {
			t.Errorf("secret = %q, want a long whsec_ secret", hook.Secret)
		}
		wantEvents := []string{"backup_code.used", "backup_codes.generated"}
		if !cmp.Equal(hook.Events, wantEvents) || !strings.HasPrefix(hook.CreatedBy, "token:") {
			t.Errorf("webhook = %+v, want events %q created by the admin token", hook,
				wantEvents)
		}
		rc.set(hook.Secret, http.StatusOK)

		r := e.do(t, call{method: "GET", path: "/v1/webhooks", token: e.admin}).
			want(t, http.StatusOK)
		if bytes.Contains(r.body, []byte(hook.Secret)) || bytes.Contains(r.body, []byte("secret")) {
			t.Errorf("GET /v1/webhooks shows the secret: %s", r.body)
		}
		var list struct {
			Webhooks []webhookOut `json:"webhooks"`
		}
		r.decode(t, &list)
		if len(list.Webhooks) != 1 || list.Webhooks[0].ID != hook.ID ||
			list.Webhooks[0].URL != hook.URL {
			t.Errorf("GET /v1/webhooks = %+v, want the one webhook", list.Webhooks)
		}

		// Two events it wants, and one it does not (totp.added).
		e.createUser(t, "alice")
		e.enroll(t, "alice")
		codes := e.makeCodes(t, e.admin, "/v1/users/alice/backup-codes").Codes
		e.verify(t, vt, "alice", codes[0]).want(t, http.StatusOK)
		e.dispatch(t)

		got := rc.received()
		if len(got) != 2 {
			t.Fatalf("the receiver got %d deliveries, want 2: %+v", len(got), got)
		}
		types := map[string]string{}
		for _, d := range got {
			if d.sigErr != nil {
				t.Errorf("delivery of %s: signature: %v", d.event.Type, d.sigErr)
			}
			if d.eventID != d.event.ID || d.event.User != "alice" {
				t.Errorf("delivery = %+v, want Mfad-Event-Id = body id, user alice", d)
			}
			types[d.event.ID] = d.event.Type
		}
		ds := e.deliveries(t, hook.ID)
		if len(ds) != 2 {
			t.Fatalf("deliveries = %+v, want 2", ds)
		}
		for _, d := range ds {
			if d.State != "delivered" || d.Attempts != 1 || d.LastStatus != http.StatusOK ||
				d.DeliveredAt == "" || d.NextAt != "" || types[d.EventID] != d.EventType {
				t.Errorf("delivery = %+v, want delivered at the first attempt with 200", d)
			}
		}

		// A failed attempt is retried after the back-off.
		rc.set(hook.Secret, http.StatusInternalServerError)
		e.clock.Add(time.Minute) // so that this delivery is the newest
		e.makeCodes(t, e.admin, "/v1/users/alice/backup-codes")
		e.dispatch(t)
		d := e.deliveries(t, hook.ID)[0]
		if d.State != "pending" || d.Attempts != 1 || d.LastStatus != 500 ||
			!strings.Contains(d.LastError, "status 500") ||
			d.NextAt != *jsonTime(e.clock.Now().Add(30 * time.Second)) {
			t.Errorf("failed delivery = %+v, want pending, due again in 30s", d)
		}
		rc.set(hook.Secret, http.StatusNoContent)
		e.clock.Add(30 * time.Second)
		e.dispatch(t)
		if d := e.deliveries(t, hook.ID)[0]; d.State != "delivered" || d.Attempts != 2 ||
			d.LastStatus != http.StatusNoContent {
			t.Errorf("retried delivery = %+v, want delivered at the second attempt", d)
		}
		if got := rc.received(); len(got) != 4 || got[2].eventID != got[3].eventID {
			t.Errorf("the receiver got %d deliveries, want 4, the last two of one event", len(got))
		}
		var limited struct {
			Deliveries []deliveryOut `json:"deliveries"`
		}
		e.do(t, call{method: "GET", path: "/v1/webhooks/" + hook.ID + "/deliveries?limit=1",
			token: e.admin}).want(t, http.StatusOK).decode(t, &limited)
		if len(limited.Deliveries) != 1 {
			t.Errorf("deliveries?limit=1 = %d deliveries, want 1", len(limited.Deliveries))
		}

		// Deleted, it is gone from the list; its log stays.
		e.do(t, call{method: "DELETE", path: "/v1/webhooks/" + hook.ID, token: e.admin}).
			want(t, http.StatusNoContent)
		if ds := e.deliveries(t, hook.ID); len(ds) != 3 {
			t.Errorf("deliveries after delete = %d, want the 3 of before", len(ds))
		}
		e.do(t, call{method: "GET", path: "/v1/webhooks", token: e.admin}).
			want(t, http.StatusOK).decode(t, &list)
		if len(list.Webhooks) != 0 {
			t.Errorf("GET /v1/webhooks after delete = %+v, want none", list.Webhooks)
		}
		e.do(t, call{method: "DELETE", path: "/v1/webhooks/" + hook.ID, token: e.admin}).
			want(t, http.StatusNotFound)

		logs := e.logs.String()
		if strings.Contains(logs, hook.Secret) || strings.Contains(logs, "receiver-key") {
			t.Errorf("the log holds the webhook's secret or the key in its URL")
		}
	})
}

// TestWebhooksRefused checks bad input and callers who may not manage
// webhooks.
func TestWebhooksRefused(t *testing.T) {
	e := newEnv(t, options{})
	helpdesk := e.createToken(t, "helpdesk", "").Token
	auditor := e.createToken(t, "auditor", "").Token
	good := map[string]any{"url": "https://siem.example.com/mfad", "events": []string{"*"}}

	tests := []struct {
		name    string
		c       call
		status  int
		invalid bool // the document refuses the request too
	}{
		{"not a URL", call{method: "POST", path: "/v1/webhooks", token: e.admin,
			body: map[string]any{"url": "siem.example.com/mfad", "events": []string{"*"}}},
			http.StatusBadRequest, false},
		{"ftp URL", call{method: "POST", path: "/v1/webhooks", token: e.admin,
			body: map[string]any{"url": "ftp://siem.example.com/", "events": []string{"*"}}},
			http.StatusBadRequest, false},
		{"URL with a password", call{method: "POST", path: "/v1/webhooks", token: e.admin,
			body: map[string]any{"url": "https://u:p@siem.example.com/", "events": []string{"*"}}},
			http.StatusBadRequest, false},
		{"unknown event", call{method: "POST", path: "/v1/webhooks", token: e.admin,
			body: map[string]any{"url": "https://siem.example.com/", "events": []string{"nope"}}},
			http.StatusBadRequest, true},
		{"no events", call{method: "POST", path: "/v1/webhooks", token: e.admin,
			body: map[string]any{"url": "https://siem.example.com/", "events": []string{}}},
			http.StatusBadRequest, true},
		{"helpdesk creates", call{method: "POST", path: "/v1/webhooks", token: helpdesk,
			body: good}, http.StatusForbidden, false},
		{"auditor lists", call{method: "GET", path: "/v1/webhooks", token: auditor},
			http.StatusForbidden, false},
		{"helpdesk reads deliveries", call{method: "GET", path: "/v1/webhooks/x/deliveries",
			token: helpdesk}, http.StatusForbidden, false},
		{"no such webhook", call{method: "GET", path: "/v1/webhooks/nosuchhook/deliveries",
			token: e.admin}, http.StatusNotFound, false},
		{"delete no such webhook", call{method: "DELETE", path: "/v1/webhooks/nosuchhook",
			token: e.admin}, http.StatusNotFound, false},
		{"limit too high", call{method: "GET", path: "/v1/webhooks/x/deliveries?limit=501",
			token: e.admin}, http.StatusBadRequest, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.invalid = tt.invalid
			e.do(t, tt.c).want(t, tt.status).problem(t)
		})
	}
	var list struct {
		Webhooks []webhookOut `json:"webhooks"`
	}
	e.do(t, call{method: "GET", path: "/v1/webhooks", token: e.admin}).
		want(t, http.StatusOK).decode(t, &list)
	if len(list.Webhooks) != 0 {
		t.Errorf("webhooks after refused requests = %+v, want none", list.Webhooks)
	}
}

// TestNoticesByEmail checks that a change made over HTTP reaches the user
// and the security contact by email once the outbox is dispatched.
func TestNoticesByEmail(t *testing.T) {
	ms, mailer := mailbox(t)
	const soc = "soc@example.com"
	e := newEnv(t, options{mailer: mailer, securityContact: soc})
	e.do(t, call{method: "POST", path: "/v1/users", token: e.admin,
		body: map[string]string{"name": "alice", "email": "alice@example.com"}}).
		want(t, http.StatusCreated)
	e.do(t, call{method: "POST", path: "/v1/users/alice/bypass", token: e.admin,
		body: map[string]string{"duration": "5m", "reason": "on the phone, id checked"}}).
		want(t, http.StatusCreated)
	e.dispatch(t)

	mails := ms.Wait(t, 2, sendTimeout)
	to := map[string]string{}
	for _, m := range mails {
		to[strings.Join(m.To, ",")] = m.Text
	}
	for _, addr := range []string{"alice@example.com", soc} {
		text, ok := to[addr]
		if !ok {
			t.Errorf("no notice to %s; mails went to %v", addr, slices.Sorted(maps.Keys(to)))
			continue
		}
		if !strings.Contains(text, "on the phone, id checked") {
			t.Errorf("notice to %s does not give the reason:\n%s", addr, text)
		}
	}
}
