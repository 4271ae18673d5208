package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mfad/mfad/internal/testtool"
)

var backupCodeLine = regexp.MustCompile(`^[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}$`)

// TestBinaryBackupCodes generates a set with the real binary, prints it to
// both sheets, uses a code once, and checks that the database holds none of
// the codes in clear.
func TestBinaryBackupCodes(t *testing.T) {
	b := &binary{t: t, path: buildMfad(t), data: filepath.Join(t.TempDir(), "data")}
	b.must("user", "add", "alice")

	r := b.must("codes", "generate", "alice")
	codes := strings.Fields(r.stdout)
	if len(codes) != 10 {
		t.Fatalf("codes generate stdout = %q, want 10 codes, one per line", r.stdout)
	}
	for _, c := range codes {
		if !backupCodeLine.MatchString(c) {
			t.Errorf("code %q: want two groups of five from the alphabet", c)
		}
	}
	if !strings.Contains(r.stderr, "shown this once") {
		t.Errorf("codes generate stderr = %q, want a warning that they are shown once", r.stderr)
	}

	if r := b.run("verify", "alice", strings.ToUpper(codes[0])); r.code != 0 ||
		r.stdout != "accept backup_code\n" {
		t.Errorf("verify alice CODE = exit %d, %q; want 0, accept backup_code", r.code, r.stdout)
	}
	if r := b.run("verify", "alice", codes[0]); r.code != 1 || r.stdout != "reject\n" {
		t.Errorf("verify alice CODE again = exit %d, %q; want 1, reject", r.code, r.stdout)
	}
	var st codesJSON
	if err := json.Unmarshal([]byte(b.must("codes", "status", "alice", "--json").stdout),
		&st); err != nil || st.Remaining != 9 || st.Total != 10 || st.Codes != nil {
		t.Errorf("codes status --json = %+v, %v; want 9 of 10 and no codes", st, err)
	}
	if out := b.must("codes", "status", "alice").stdout; !strings.Contains(out, "9 of 10") ||
		strings.Contains(out, codes[1]) {
		t.Errorf("codes status = %q, want 9 of 10 and no code", out)
	}

	// The sheets, then the database.
	dir := t.TempDir()
	text, pdf := filepath.Join(dir, "codes.txt"), filepath.Join(dir, "codes.pdf")
	r = b.must("codes", "generate", "alice", "--text", text, "--pdf", pdf)
	if r.stdout != "" {
		t.Errorf("codes generate --text --pdf stdout = %q, want nothing", r.stdout)
	}
	sheet, err := os.ReadFile(text)
	if err != nil {
		t.Fatal(err)
	}
	fresh := regexp.MustCompile(`[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}`).FindAllString(
		string(sheet), -1)
	if len(fresh) != 10 {
		t.Fatalf("text sheet holds %d codes, want 10:\n%s", len(fresh), sheet)
	}
	for _, path := range []string{text, pdf} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", path, err, fi.Mode().Perm())
		}
	}
	pdftotext := testtool.Look(t, "pdftotext", "poppler-utils")
	out, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fresh {
		if !bytes.Contains(out, []byte(c)) {
			t.Errorf("the PDF sheet lacks code %s", c)
		}
	}
	// A file that exists is not overwritten, and no new set is made.
	if r := b.run("codes", "generate", "alice", "--text", text); r.code == 0 {
		t.Errorf("codes generate --text EXISTING = exit 0, want a refusal")
	}
	if r := b.run("verify", "alice", fresh[3]); r.stdout != "accept backup_code\n" {
		t.Errorf("a code of the sheet = %q after a refused generate, want accept", r.stdout)
	}
	// The first set is gone.
	if r := b.run("verify", "alice", codes[5]); r.stdout != "reject\n" {
		t.Errorf("a code of the replaced set = %q, want reject", r.stdout)
	}

	forbidden := map[string][]byte{}
	for _, c := range append(append([]string{}, codes...), fresh...) {
		for _, form := range []string{c, strings.ToUpper(c),
			strings.ReplaceAll(c, "-", ""), strings.ToUpper(strings.ReplaceAll(c, "-", ""))} {
			forbidden["backup code "+form] = []byte(form)
		}
	}
	notStored(t, b.data, forbidden)

	b.must("codes", "delete", "alice")
	if r := b.run("codes", "status", "alice"); r.code == 0 ||
		!strings.Contains(r.stderr, "no backup codes") {
		t.Errorf("codes status after delete = exit %d, %q; want no backup codes", r.code,
			r.stderr)
	}
}
