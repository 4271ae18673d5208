package httpapi

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore"
)

// fraudOut is the test-side shape of a fraud report.
type fraudOut struct {
	User           string `json:"user"`
	Blocked        bool   `json:"blocked"`
	PassRevoked    bool   `json:"pass_revoked"`
	BypassRevoked  bool   `json:"bypass_revoked"`
	SessionsEnded  int    `json:"sessions_ended"`
	RequestsDenied int    `json:"requests_denied"`
	ReportedAt     string `json:"reported_at"`
}

// TestFraudReport walks through "this was not me" from a session: it blocks
// verification and ends every way in, until staff unblock the user.
func TestFraudReport(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})
		vt := e.createToken(t, "verifier", "").Token
		e.createUser(t, "alice")
		secret := e.enroll(t, "alice")
		pass := e.issuePass(t, e.admin, "alice", map[string]any{"reason": "lost phone"})
		e.do(t, call{method: "POST", path: "/v1/users/alice/bypass", token: e.admin,
			body: map[string]string{"reason": "on the phone"}}).want(t, http.StatusCreated)
		e.do(t, call{method: "POST", path: "/v1/access-pass-requests",
			body: map[string]string{"user": "alice"}}).want(t, http.StatusAccepted)
		s := e.session(t, "alice", e.code(secret))

		var rep fraudOut
		e.do(t, call{method: "POST", path: "/v1/me/fraud-report", token: s.Token,
			body: map[string]string{"message": "I got a notice for a pass I never asked for"}}).
			want(t, http.StatusCreated).decode(t, &rep)
		want := fraudOut{User: "alice", Blocked: true, PassRevoked: true, BypassRevoked: true,
			SessionsEnded: 1, RequestsDenied: 1, ReportedAt: *jsonTime(e.clock.Now())}
		if diff := cmp.Diff(want, rep); diff != "" {
			t.Errorf("POST /v1/me/fraud-report (-want +got):\n%s", diff)
		}

		// The session is over, and nothing lets alice in.
		e.do(t, call{method: "GET", path: "/v1/me", token: s.Token}).
			want(t, http.StatusUnauthorized)
		e.clock.Add(30 * time.Second)
		if got := e.verdict(t, vt, "alice", e.code(secret)); got != rejectAny {
			t.Errorf("verify(right code, blocked) = %q, want %q", got, rejectAny)
		}
		if got := e.verdict(t, vt, "alice", pass.Pass); got != rejectAny {
			t.Errorf("verify(pass, blocked) = %q, want %q", got, rejectAny)
		}
		var u struct {
			Blocked   bool    `json:"blocked"`
			BlockedAt *string `json:"blocked_at"`
		}
		e.do(t, call{method: "GET", path: "/v1/users/alice", token: e.admin}).
			want(t, http.StatusOK).decode(t, &u)
		if !u.Blocked || u.BlockedAt == nil || *u.BlockedAt != rep.ReportedAt {
			t.Errorf("GET /v1/users/alice = %+v, want blocked at %s", u, rep.ReportedAt)
		}

		// Unblocking restores it.
		r := e.do(t, call{method: "POST", path: "/v1/users/alice/unblock", token: e.admin,
			body: map[string]string{"reason": "a colleague used her laptop; resolved"}}).
			want(t, http.StatusOK)
		if bytes.Contains(r.body, []byte(`"blocked_at"`)) ||
			!bytes.Contains(r.body, []byte(`"blocked": false`)) {
			t.Errorf("POST /v1/users/alice/unblock = %s, want the user, not blocked", r.body)
		}
		e.clock.Add(30 * time.Second)
		if got := e.verdict(t, vt, "alice", e.code(secret)); got == rejectAny {
			t.Errorf("verify(right code, unblocked) = %q, want accept", got)
		}
		e.do(t, call{method: "POST", path: "/v1/users/alice/unblock", token: e.admin,
			body: map[string]string{"reason": "again"}}).want(t, http.StatusConflict)
	})
}

// TestFraudReportByLink checks the signed link of a notice: it works once,
// without signing in, and anything else is a 400.
func TestFraudReportByLink(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "").Token
	alice := e.createUser(t, "alice")
	secret := e.enroll(t, "alice")
	link, err := e.svc.ReportLink(store.OutboxEvent{ID: "ev-1", UserID: alice.ID,
		Type: "access_pass.issued"})
	if err != nil {
		t.Fatalf("ReportLink = %v", err)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("url.Parse(%q) = %v", link, err)
	}
	token := u.Query().Get("token")
	report := func(token string) reply {
		return e.do(t, call{method: "POST", path: "/v1/fraud-reports",
			body: map[string]string{"token": token, "message": "not me"}})
	}

	for _, bad := range []string{"", "nonsense", token[:len(token)-2] + "AA"} {
		p := report(bad).want(t, http.StatusBadRequest).problem(t)
		if p.Detail != "this link is not valid: it may be mistyped, expired or already used" {
			t.Errorf("report(%q): detail = %q", bad, p.Detail)
		}
	}
	var rep fraudOut
	report(token).want(t, http.StatusCreated).decode(t, &rep)
	if rep.User != "alice" || !rep.Blocked {
		t.Errorf("POST /v1/fraud-reports = %+v, want alice blocked", rep)
	}
	report(token).want(t, http.StatusBadRequest)
	if got := e.verdict(t, vt, "alice", e.code(secret)); got != rejectAny {
		t.Errorf("verify(right code, blocked) = %q, want %q", got, rejectAny)
	}
}
