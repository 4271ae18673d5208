package httpapi

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/store/sqlstore"
)

// codePattern matches one backup code as the API shows it.
var codePattern = regexp.MustCompile(`\b[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}\b`)

// The answers of verify, byte for byte.
const (
	acceptBackup = "{\n  \"result\": \"accept\",\n  \"factor\": \"backup_code\"\n}\n"
	rejectAny    = "{\n  \"result\": \"reject\"\n}\n"
)

// backupCodesOut is the test-side shape of a set of backup codes.
type backupCodesOut struct {
	Codes     []string `json:"codes"`
	Total     int      `json:"total"`
	Remaining int      `json:"remaining"`
	CreatedAt string   `json:"created_at"`
	ExpiresAt *string  `json:"expires_at"`
	Text      string   `json:"text"`
	PDF       string   `json:"pdf"`
}

// makeCodes makes a set of backup codes at path (such as
// /v1/users/alice/backup-codes) with token and returns the JSON answer.
func (e *env) makeCodes(t testing.TB, token, path string) backupCodesOut {
	t.Helper()
	var out backupCodesOut
	e.do(t, call{method: "POST", path: path, token: token}).
		want(t, http.StatusCreated).decode(t, &out)
	return out
}

// verdict returns the body of the answer to POST /v1/verify, which must be
// 200.
func (e *env) verdict(t testing.TB, token, user, code string) string {
	t.Helper()
	return string(e.verify(t, token, user, code).want(t, http.StatusOK).body)
}

// codeStatus returns the state of the set of backup codes at path.
func (e *env) codeStatus(t testing.TB, token, path string) backupCodesOut {
	t.Helper()
	var out backupCodesOut
	e.do(t, call{method: "GET", path: path, token: token}).
		want(t, http.StatusOK).decode(t, &out)
	return out
}

// TestBackupCodes drives backup codes over HTTP: making a set in each form,
// its status, using codes through verify, replacing and removing it.
func TestBackupCodes(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, options{db: db})
		vt := e.createToken(t, "verifier", "").Token
		e.createUser(t, "alice")
		const path = "/v1/users/alice/backup-codes"

		e.do(t, call{method: "GET", path: path, token: e.admin}).want(t, http.StatusNotFound)

		r := e.do(t, call{method: "POST", path: path, token: e.admin}).
			want(t, http.StatusCreated)
		if got := r.header.Get("Location"); got != path {
			t.Errorf("POST %s: Location = %q, want %s", path, got, path)
		}
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("POST %s: Cache-Control = %q, want no-store", path, got)
		}
		if !bytes.Contains(r.body, []byte(`"expires_at": null`)) {
			t.Errorf("POST %s: expires_at is not null for a set that never expires: %s",
				path, r.body)
		}
		var set backupCodesOut
		r.decode(t, &set)
		checkNewSet(t, set)

		// The status never shows a code.
		r = e.do(t, call{method: "GET", path: path, token: e.admin}).want(t, http.StatusOK)
		for _, c := range set.Codes {
			if bytes.Contains(r.body, []byte(c)) {
				t.Fatalf("GET %s shows a code: %s", path, r.body)
			}
		}
		if bytes.Contains(r.body, []byte(`"codes"`)) {
			t.Errorf("GET %s has a codes field: %s", path, r.body)
		}
		var st backupCodesOut
		r.decode(t, &st)
		if st.Total != 10 || st.Remaining != 10 || st.CreatedAt != set.CreatedAt {
			t.Errorf("GET %s = %+v, want 10 of 10 made at %s", path, st, set.CreatedAt)
		}

		// Each code works once, however it is typed.
		if got := e.verdict(t, vt, "alice", set.Codes[0]); got != acceptBackup {
			t.Errorf("verify(code 1) = %q, want %q", got, acceptBackup)
		}
		if got := e.verdict(t, vt, "alice", set.Codes[0]); got != rejectAny {
			t.Errorf("verify(code 1 again) = %q, want %q", got, rejectAny)
		}
		typed := strings.ToUpper(strings.ReplaceAll(set.Codes[1], "-", " "))
		if got := e.verdict(t, vt, "alice", typed); got != acceptBackup {
			t.Errorf("verify(%q) = %q, want %q", typed, got, acceptBackup)
		}
		if got := e.codeStatus(t, e.admin, path).Remaining; got != 8 {
			t.Errorf("remaining after two codes = %d, want 8", got)
		}

		// A new set replaces the old one at once.
		again := e.makeCodes(t, e.admin, path)
		checkNewSet(t, again)
		if got := e.verdict(t, vt, "alice", set.Codes[2]); got != rejectAny {
			t.Errorf("verify(code of the replaced set) = %q, want %q", got, rejectAny)
		}

		e.do(t, call{method: "DELETE", path: path, token: e.admin}).want(t, http.StatusNoContent)
		e.do(t, call{method: "GET", path: path, token: e.admin}).want(t, http.StatusNotFound)
		e.do(t, call{method: "DELETE", path: path, token: e.admin}).want(t, http.StatusNotFound)
		if got := e.verdict(t, vt, "alice", again.Codes[0]); got != rejectAny {
			t.Errorf("verify(code of the removed set) = %q, want %q", got, rejectAny)
		}
	})
}

// checkNewSet checks the JSON answer to making a default set: ten distinct
// codes, the text sheet holding them, and a PDF.
func checkNewSet(t *testing.T, set backupCodesOut) {
	t.Helper()
	if len(set.Codes) != 10 || set.Total != 10 || set.Remaining != 10 || set.ExpiresAt != nil {
		t.Errorf("new set = %d codes, %d of %d left, expires %v; want 10 of 10, never",
			len(set.Codes), set.Remaining, set.Total, set.ExpiresAt)
	}
	seen := map[string]bool{}
	for i, c := range set.Codes {
		if !codePattern.MatchString(c) || len(c) != 11 || seen[c] {
			t.Errorf("codes[%d] = %q, want a new code such as abcde-fghjk", i, c)
		}
		seen[c] = true
		if !strings.Contains(set.Text, c) {
			t.Errorf("text sheet lacks codes[%d]", i)
		}
	}
	if !strings.Contains(set.Text, "alice") {
		t.Errorf("text sheet does not name the account:\n%s", set.Text)
	}
	pdf, err := base64.StdEncoding.DecodeString(set.PDF)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("pdf = %.20q... (%v), want base64 of a PDF", set.PDF, err)
	}
}

// TestBackupCodesForms checks the forms the new set comes in by Accept, and
// that a refused form makes no set.
func TestBackupCodesForms(t *testing.T) {
	e := newEnv(t, options{})
	vt := e.createToken(t, "verifier", "").Token
	e.createUser(t, "alice")
	const path = "/v1/users/alice/backup-codes"
	accept := func(v string) map[string]string { return map[string]string{"Accept": v} }

	r := e.do(t, call{method: "POST", path: path, token: e.admin, header: accept("text/plain")}).
		want(t, http.StatusCreated)
	checkHeaders(t, r, map[string]string{
		"Content-Type":        "text/plain; charset=utf-8",
		"Content-Disposition": `attachment; filename="backup-codes-alice.txt"`,
		"Cache-Control":       "no-store",
		"Location":            path,
	})
	codes := codePattern.FindAllString(string(r.body), -1)
	if len(codes) != 10 || !strings.HasPrefix(string(r.body), "Backup codes\n") {
		t.Fatalf("text sheet holds %d codes, want 10:\n%s", len(codes), r.body)
	}
	if got := e.verdict(t, vt, "alice", codes[9]); got != acceptBackup {
		t.Errorf("verify(code 10 of the text sheet) = %q, want %q", got, acceptBackup)
	}

	r = e.do(t, call{method: "POST", path: path, token: e.admin,
		header: accept("application/pdf")}).want(t, http.StatusCreated)
	checkHeaders(t, r, map[string]string{
		"Content-Type":        "application/pdf",
		"Content-Disposition": `attachment; filename="backup-codes-alice.pdf"`,
		"Cache-Control":       "no-store",
	})
	if !bytes.HasPrefix(r.body, []byte("%PDF-")) {
		t.Errorf("Accept: application/pdf answered %.20q, want a PDF", r.body)
	}

	// A code of the PDF's set is used, so a set made by a refused request
	// would show as 10 remaining rather than 9.
	set := e.makeCodes(t, e.admin, path)
	e.verify(t, vt, "alice", set.Codes[0]).want(t, http.StatusOK)
	before := e.codeStatus(t, e.admin, path)
	for _, a := range []string{"image/png", "application/json;q=0, text/*;q=0, */*;q=0"} {
		p := e.do(t, call{method: "POST", path: path, token: e.admin, header: accept(a)}).
			want(t, http.StatusNotAcceptable).problem(t)
		if !strings.Contains(p.Detail, "application/pdf") {
			t.Errorf("Accept: %s: detail = %q, want it to name the forms on offer", a, p.Detail)
		}
	}
	if diff := cmp.Diff(before, e.codeStatus(t, e.admin, path)); diff != "" {
		t.Errorf("a 406 changed the set (-before +after):\n%s", diff)
	}
	if got := e.verdict(t, vt, "alice", set.Codes[1]); got != acceptBackup {
		t.Errorf("verify after 406 = %q, want the set still working", got)
	}

	// No body and {} are the same request; anything in it is refused.
	for _, body := range []any{nil, "{}"} {
		e.do(t, call{method: "POST", path: path, token: e.admin, body: body}).
			want(t, http.StatusCreated)
	}
	e.do(t, call{method: "POST", path: path, token: e.admin, invalid: true,
		body: map[string]int{"count": 5}}).want(t, http.StatusBadRequest).problem(t)
	e.do(t, call{method: "POST", path: path, token: e.admin, invalid: true, body: "[]"}).
		want(t, http.StatusBadRequest).problem(t)
}

// checkHeaders checks the reply's headers against want.
func checkHeaders(t *testing.T, r reply, want map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got := r.header.Get(k); got != want[k] {
			t.Errorf("%s = %q, want %q", k, got, want[k])
		}
	}
}

// TestBackupCodesTiered checks that making codes is tiered like the other
// changes to a user's factors.
func TestBackupCodesTiered(t *testing.T) {
	e := newEnv(t, options{})
	e.createUser(t, "root", "admin")
	e.createUser(t, "bob")
	helpdesk := e.createToken(t, "helpdesk", "").Token
	auditor := e.createToken(t, "auditor", "").Token

	tests := []struct {
		name   string
		c      call
		status int
	}{
		{"helpdesk makes codes for an admin",
			call{method: "POST", path: "/v1/users/root/backup-codes", token: helpdesk}, 403},
		{"helpdesk makes codes for a user without roles",
			call{method: "POST", path: "/v1/users/bob/backup-codes", token: helpdesk}, 201},
		{"helpdesk reads an admin's codes",
			call{method: "GET", path: "/v1/users/root/backup-codes", token: helpdesk}, 404},
		{"helpdesk removes an admin's codes",
			call{method: "DELETE", path: "/v1/users/root/backup-codes", token: helpdesk}, 403},
		{"auditor reads codes",
			call{method: "GET", path: "/v1/users/bob/backup-codes", token: auditor}, 403},
		{"auditor makes codes for someone unknown",
			call{method: "POST", path: "/v1/users/nobody/backup-codes", token: auditor}, 403},
		{"helpdesk removes codes of a user without roles",
			call{method: "DELETE", path: "/v1/users/bob/backup-codes", token: helpdesk}, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.c).want(t, tt.status)
			if tt.status >= 400 {
				r.problem(t)
			}
		})
	}
}
