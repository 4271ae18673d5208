package web

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// setup returns a server for the pages, the service behind it, and the
// token of a report link for a notice to alice.
func setup(t *testing.T) (*httptest.Server, *mfa.Service, string) {
	t.Helper()
	ctx := context.Background()
	st := sqltest.SQLite(t)
	ring, err := keyring.Create(filepath.Join(t.TempDir(), "keys.json"), rand.Reader,
		time.Now())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mfa.New(mfa.Config{Store: st, Keys: ring, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	op := mfa.Request{Actor: mfa.Operator("tester"), Source: "local", FrontDoor: audit.DoorCLI}
	if _, err := svc.CreateUser(ctx, op, mfa.NewUser{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.IssuePass(ctx, op, "alice", mfa.NewPass{OneTime: true, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	evs, err := st.ListOutbox(ctx, 0, 100)
	if err != nil || len(evs) == 0 {
		t.Fatalf("ListOutbox = %d events, %v", len(evs), err)
	}
	link, err := svc.ReportLink(evs[len(evs)-1])
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil || u.Host != "mfa.example.com" {
		t.Fatalf("ReportLink = %q, want it under the public URL", link)
	}
	h := New(Config{Service: svc, ClientIP: func(r *http.Request) string { return "192.0.2.7" }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, svc, u.Query().Get("token")
}

func get(t *testing.T, rawURL string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func post(t *testing.T, rawURL string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(rawURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReportPage(t *testing.T) {
	srv, svc, token := setup(t)
	ctx := context.Background()
	op := mfa.Request{Actor: mfa.Operator("tester"), Source: "local", FrontDoor: audit.DoorCLI}

	// Opening the link only asks; nothing happens yet.
	status, hdr, body := get(t, srv.URL+"/report?token="+url.QueryEscape(token))
	if status != 200 || !strings.Contains(body, `<form method="post" action="/report">`) ||
		!strings.Contains(body, `value="`+token+`"`) {
		t.Fatalf("GET /report = %d\n%s\nwant the confirmation form", status, body)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store",
		"Referrer-Policy": "no-referrer"} {
		if hdr.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, hdr.Get(k), want)
		}
	}
	if u, _ := svc.GetUser(ctx, op, "alice"); !u.BlockedAt.IsZero() {
		t.Fatal("opening the link blocked the account")
	}

	status, body = post(t, srv.URL+"/report", url.Values{"token": {token},
		"message": {"I was asleep"}})
	if status != 200 || !strings.Contains(body, "Sign-ins to the account <strong>alice</strong> are now blocked") {
		t.Fatalf("POST /report = %d\n%s\nwant the account blocked", status, body)
	}
	if u, _ := svc.GetUser(ctx, op, "alice"); u.BlockedAt.IsZero() {
		t.Error("the report did not block the account")
	}
	evs, _ := svc.ListAudit(ctx, op, mfa.AuditQuery{Action: "fraud.report"})
	if len(evs) != 1 || evs[0].FrontDoor != audit.DoorWeb || evs[0].Source != "192.0.2.7" ||
		evs[0].Detail["message"] != "I was asleep" {
		t.Errorf("audit = %+v, want one web report from 192.0.2.7", evs)
	}

	// The link works once.
	status, body = post(t, srv.URL+"/report", url.Values{"token": {token}})
	if status != 400 || !strings.Contains(body, "already used") {
		t.Errorf("second POST /report = %d\n%s\nwant 400: already used", status, body)
	}
}

func TestReportPageBadLink(t *testing.T) {
	srv, _, token := setup(t)
	for _, bad := range []string{"", "nonsense", token[:len(token)-3]} {
		status, _, body := get(t, srv.URL+"/report?token="+url.QueryEscape(bad))
		if status != 400 || strings.Contains(body, "<form") ||
			!strings.Contains(body, "this link is not valid") {
			t.Errorf("GET /report with token %q = %d\n%s\nwant 400 without a form", bad, status, body)
		}
	}
	// Markup in a message is shown as text, never as markup.
	status, body := post(t, srv.URL+"/report", url.Values{"token": {"<script>x</script>"}})
	if status != 400 || strings.Contains(body, "<script>x") {
		t.Errorf("POST /report with markup = %d, body escapes it: %v", status,
			!strings.Contains(body, "<script>x"))
	}
}
