package notify

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// noticeTypes are the event types the embedded templates cover.
var noticeTypes = []string{
	"backup_codes.generated", "backup_codes.deleted", "backup_code.used",
	"backup_codes.low", "backup_codes.exhausted",
	"access_pass.issued", "access_pass.used", "access_pass.revoked",
	"access_pass.requested", "access_pass.approval_pending", "access_pass.request_denied",
	"bypass.granted", "bypass.used", "bypass.revoked",
	"fraud.reported", "fraud.cleared",
	"totp.added", "totp.removed", "webauthn.added", "webauthn.removed",
	"user.locked", "user.unlocked",
	"code.replayed", "email.changed", "phone.changed",
}

func testNotice(typ string) Notice {
	return Notice{
		Type:        typ,
		Issuer:      "Example Corp MFA",
		User:        "alice",
		DisplayName: "Alice Liddell",
		Time:        time.Date(2026, 3, 4, 9, 15, 30, 0, time.UTC),
		Actor:       "helpdesk agent bob",
		Source:      "192.0.2.44",
		FrontDoor:   "web",
		Facts: []Fact{
			{Label: "Factor", Value: "Work phone"},
			{Label: "Reason", Value: "ticket 4711"},
		},
		Data:      map[string]any{"ticket": "4711"},
		ReportURL: "https://mfa.example.com/report?n=abc&sig=def",
		Recipient: RecipientUser,
	}
}

func loadTemplates(t *testing.T, dir string) *Templates {
	t.Helper()
	tpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatalf("LoadTemplates(%q) = %v", dir, err)
	}
	return tpl
}

func TestRenderEveryType(t *testing.T) {
	tpl := loadTemplates(t, "")
	_, defaultText, _, err := tpl.Render(testNotice("no.such_type"))
	if err != nil {
		t.Fatal(err)
	}
	defaultSubject, _, _, _ := tpl.Render(testNotice("no.such_type"))

	for _, typ := range noticeTypes {
		t.Run(typ, func(t *testing.T) {
			n := testNotice(typ)
			subject, text, html, err := tpl.Render(n)
			if err != nil {
				t.Fatalf("Render() = %v", err)
			}
			if !strings.Contains(subject, n.Issuer) || strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject %q: want one line naming %q", subject, n.Issuer)
			}
			if subject == defaultSubject {
				t.Errorf("subject %q is the default one; want the type's own", subject)
			}
			for _, want := range []string{
				"Alice Liddell", "helpdesk agent bob", "192.0.2.44", "the web portal",
				"Wednesday 4 March 2026, 09:15:30 UTC", "Work phone", "ticket 4711",
			} {
				if !strings.Contains(text, want) || !strings.Contains(html, want) {
					t.Errorf("text or HTML lacks %q", want)
				}
			}
			if !strings.Contains(text, n.ReportURL) {
				t.Errorf("text lacks the report URL %q", n.ReportURL)
			}
			if !strings.Contains(html, `href="https://mfa.example.com/report?n=abc&amp;sig=def"`) {
				t.Errorf("HTML lacks a link to the report URL:\n%s", html)
			}
			if text == defaultText {
				t.Error("text is the unknown type's text; want the type's own headline")
			}

			n.ReportURL = ""
			_, text, html, err = tpl.Render(n)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(text, "report?") || strings.Contains(html, "report?") ||
				strings.Contains(text, "report it here") {
				t.Error("text or HTML mentions the report link although ReportURL is empty")
			}
		})
	}
}

func TestRenderEmbeddedFiles(t *testing.T) {
	tpl := loadTemplates(t, "")
	want := append([]string{"default"}, noticeTypes...)
	got := tpl.Types()
	if diff := cmp.Diff(sortedStrings(want), got); diff != "" {
		t.Errorf("Types() (-want +got):\n%s", diff)
	}
}

func sortedStrings(s []string) []string {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return sortedKeys(m)
}

func TestRenderRecipients(t *testing.T) {
	tpl := loadTemplates(t, "")
	tests := []struct {
		recipient string
		want      []string
		notWant   []string
	}{
		{
			recipient: RecipientUser,
			want:      []string{"Hello Alice Liddell,", "on your account was changed"},
			notWant:   []string{"security contact", "before the change"},
		},
		{
			recipient: "",
			want:      []string{"Hello Alice Liddell,", "on your account was changed"},
			notWant:   []string{"security contact", "before the change"},
		},
		{
			recipient: RecipientOldAddress,
			want:      []string{"Hello Alice Liddell,", "before the change"},
			notWant:   []string{"security contact"},
		},
		{
			recipient: RecipientSecurityContact,
			want: []string{
				"Hello,", "security contact of Example Corp MFA", "alice (Alice Liddell)",
				"on the account alice was changed", "check with the account's owner",
			},
			notWant: []string{"Hello Alice", "your account was changed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.recipient, func(t *testing.T) {
			n := testNotice("email.changed")
			n.Recipient = tt.recipient
			subject, text, html, err := tpl.Render(n)
			if err != nil {
				t.Fatal(err)
			}
			all := subject + "\n" + strings.Join(strings.Fields(text), " ") + "\n" +
				strings.Join(strings.Fields(html), " ")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("notice lacks %q:\n%s", w, all)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(all, w) {
					t.Errorf("notice has %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	tpl := loadTemplates(t, "")
	n := testNotice("backup_code.used")
	n.DisplayName = `Mallory <img src=x onerror=alert(1)>`
	n.Facts = []Fact{{Label: "Device <b>", Value: `<script>alert("x")</script>`}}
	n.ReportURL = `javascript:alert(1)`

	_, text, html, err := tpl.Render(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img", "<b>", `href="javascript:`} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML holds %q unescaped:\n%s", bad, html)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("HTML lacks the escaped fact:\n%s", html)
	}
	if !strings.Contains(text, `<script>alert("x")</script>`) {
		t.Errorf("text should carry the fact as it is:\n%s", text)
	}
}

func TestRenderDefaults(t *testing.T) {
	tpl := loadTemplates(t, "")
	subject, text, _, err := tpl.Render(Notice{Type: "some.future_event"})
	if err != nil {
		t.Fatal(err)
	}
	if subject != "mfad: security notice for your account" {
		t.Errorf("subject = %q, want the default subject with issuer mfad", subject)
	}
	for _, bad := range []string{"When:", "By:", "From:", "Through:", "<no value>"} {
		if strings.Contains(text, bad) {
			t.Errorf("text of an empty notice has %q:\n%s", bad, text)
		}
	}
}

func TestRenderGolden(t *testing.T) {
	tpl := loadTemplates(t, "")
	tests := []struct {
		name string
		n    Notice
	}{
		{"backup_code.used", testNotice("backup_code.used")},
		{"email.changed.old_address", func() Notice {
			n := testNotice("email.changed")
			n.Recipient = RecipientOldAddress
			return n
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, text, html, err := tpl.Render(tt.n)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".txt", "Subject: "+subject+"\n\n"+text)
			golden(t, tt.name+".html", html)
		})
	}
}

// golden compares got with testdata/golden/name, or rewrites the file
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestLoadTemplatesOverride(t *testing.T) {
	tpl := loadTemplates(t, filepath.Join("testdata", "templates", "override"))

	subject, text, html, err := tpl.Render(testNotice("backup_code.used"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[Example Corp MFA] Backup code used by alice"; subject != want {
		t.Errorf("subject = %q, want the override's %q", subject, want)
	}
	for _, part := range []string{text, html} {
		if !strings.Contains(part, "Organisation override: a backup code was used.") {
			t.Errorf("body lacks the override's headline:\n%s", part)
		}
		if !strings.Contains(part, "Work phone") {
			t.Errorf("body lost the default layout:\n%s", part)
		}
	}

	// Other types keep the embedded templates.
	subject, _, _, err = tpl.Render(testNotice("user.locked"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Example Corp MFA: your account has been locked"; subject != want {
		t.Errorf("user.locked subject = %q, want %q", subject, want)
	}
}

func TestLoadTemplatesBroken(t *testing.T) {
	tests := []struct {
		dir  string
		want string // in the error
	}{
		{"broken-parse", "user.locked.txt"},
		{"broken-field", "NoSuchField"},
		{"stray-text", "outside {{define}}"},
		{"no-such-directory", "no-such-directory"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			_, err := LoadTemplates(filepath.Join("testdata", "templates", tt.dir))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadTemplates(%s) = %v, want an error mentioning %q", tt.dir, err, tt.want)
			}
		})
	}
}

func TestLoadTemplatesMissingBody(t *testing.T) {
	dir := t.TempDir()
	err := os.WriteFile(filepath.Join(dir, "default.txt"), []byte(`{{define "subject"}}x{{end}}`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTemplates(dir); err == nil || !strings.Contains(err.Error(), `"headline"`) {
		t.Errorf("LoadTemplates() = %v, want an error naming the missing template", err)
	}
}
