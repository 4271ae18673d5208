package sheet

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/mfad/mfad/internal/codes"

	"github.com/mfad/mfad/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	issued  = time.Date(2026, 12, 3, 21, 40, 0, 0, time.UTC)
	expires = time.Date(2027, 12, 3, 21, 40, 0, 0, time.UTC)
)

// makeCodes returns n distinct codes of length symbols from codes.Alphabet,
// as codes.Display shows them.
func makeCodes(n, length int) []string {
	const a = codes.Alphabet
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		b.WriteByte(a[i/len(a)])
		b.WriteByte(a[i%len(a)])
		for j := 2; j < length; j++ {
			b.WriteByte(a[(i*7+j*5+i*j)%len(a)])
		}
		out[i] = codes.Display(b.String())
	}
	return out
}

// sample returns a valid sheet of n codes of length symbols.
func sample(n, length int) Sheet {
	return Sheet{
		Account: "alice@example.com",
		Issuer:  "Example Corp",
		Issued:  issued,
		Expires: expires,
		Codes:   makeCodes(n, length),
	}
}

// numbered returns a pattern matching code with its number, 1-based, at
// the start of a line or after other text and spaces.
func numbered(pos int, code string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`(^|\s)%d\.\s+%s(\s|$)`,
		pos, regexp.QuoteMeta(code)))
}

// pdfTools holds the poppler tools that read a PDF back.
type pdfTools struct {
	pdftotext, pdfinfo string
}

func lookPDFTools(t *testing.T) pdfTools {
	t.Helper()
	return pdfTools{
		pdftotext: testtool.Look(t, "pdftotext", "poppler-utils"),
		pdfinfo:   testtool.Look(t, "pdfinfo", "poppler-utils"),
	}
}

// read writes doc to a file and returns what pdfinfo and
// pdftotext -layout make of it.
func (p pdfTools) read(t *testing.T, doc []byte) (info, text string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "sheet.pdf")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return p.run(t, p.pdfinfo, file), p.run(t, p.pdftotext, "-layout", file, "-")
}

func (p pdfTools) run(t *testing.T, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, args...)
	// pdfinfo shows dates in the local time zone.
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(tool), strings.Join(args, " "), err)
	}
	return string(out)
}

func TestText(t *testing.T) {
	never := sample(5, 10)
	never.Expires = time.Time{}
	tests := []struct {
		name    string
		sheet   Sheet
		expires string
	}{
		{"5 codes", sample(5, 10), "Expires: 2027-12-03 21:40 UTC"},
		{"10 codes", sample(10, 10), "Expires: 2027-12-03 21:40 UTC"},
		{"20 codes", sample(20, 20), "Expires: 2027-12-03 21:40 UTC"},
		{"never expires", never, "Expires: never"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := string(tt.sheet.Text())
			for i, c := range tt.sheet.Codes {
				if !numbered(i+1, c).MatchString(text) {
					t.Errorf("Text() lacks code %d numbered; got\n%s", i+1, text)
				}
			}
			lines := strings.Split(text, "\n")
			for _, want := range []string{
				title,
				"Account: alice@example.com",
				"Issuer:  Example Corp",
				"Issued:  2026-12-03 21:40 UTC",
				tt.expires,
				onceLine,
			} {
				if !containsLine(lines, want) {
					t.Errorf("Text() lacks line %q; got\n%s", want, text)
				}
			}
			for _, a := range advice {
				if !strings.Contains(text, a) {
					t.Errorf("Text() lacks advice %q", a)
				}
			}
			if strings.Contains(text, "\r") || !strings.HasSuffix(text, "\n") {
				t.Errorf("Text() does not use LF line endings")
			}
		})
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

func TestTextGolden(t *testing.T) {
	tests := []struct {
		name  string
		sheet Sheet
	}{
		{"twelve", sample(12, 10)},
		{"twenty-long", sample(20, 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join("testdata", tt.name+".txt")
			got := tt.sheet.Text()
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Text() mismatch with %s (-want +got):\n%s", file, diff)
			}
		})
	}
}

// TestTextUnchecked shows what Text does with sheets PDF rejects and with
// hostile names: it renders them without failing, and what it shows
// stays on its own lines.
func TestTextUnchecked(t *testing.T) {
	tests := []struct {
		name    string
		sheet   Sheet
		want    []string // substrings that must appear
		notWant []string // substrings that must not appear
	}{
		{
			name:  "no codes",
			sheet: Sheet{Account: "bob", Issued: issued},
			want:  []string{noCodes, "Account: bob", "Expires: never"},
		},
		{
			name:  "empty account and no issue time",
			sheet: Sheet{Codes: makeCodes(5, 10)},
			want:  []string{"Account:", "Issued:  unknown"},
			// With no issuer the line is left out.
			notWant: []string{"Issuer:"},
		},
		{
			name:  "more than MaxCodes",
			sheet: Sheet{Account: "bob", Issued: issued, Codes: makeCodes(25, 10)},
			want:  []string{"25. " + makeCodes(25, 10)[24]},
		},
		{
			name: "control characters in names",
			sheet: Sheet{
				Account: "eve\n  1. fake-code\x1b[2J",
				Issuer:  "Corp\u202eevil\t\xff",
				Issued:  issued,
				Codes:   makeCodes(5, 10),
			},
			want:    []string{"Account: eve   1. fake-code?[2J", "Issuer:  Corp?evil ?"},
			notWant: []string{"\x1b", "\u202e", "\xff"},
		},
		{
			name: "codes outside printable ASCII",
			sheet: Sheet{
				Account: "bob",
				Issued:  issued,
				Codes:   []string{"ab\ncd", "é", "x\x00y", "ok", "fine"},
			},
			want:    []string{"1. ab?cd", "2. ??", "3. x?y"},
			notWant: []string{"é", "\x00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := string(tt.sheet.Text())
			for _, want := range tt.want {
				if !strings.Contains(text, want) {
					t.Errorf("Text() lacks %q; got\n%s", want, text)
				}
			}
			for _, bad := range tt.notWant {
				if strings.Contains(text, bad) {
					t.Errorf("Text() contains %q; got\n%s", bad, text)
				}
			}
		})
	}
}

func TestTextASCII(t *testing.T) {
	s := sample(20, 20)
	s.Account = "Zoë 用户"
	s.Issuer = "Ünïcode Örg"
	text := s.Text()
	if !utf8.Valid(text) {
		t.Fatalf("Text() is not valid UTF-8")
	}
	rest := bytes.ReplaceAll(text, []byte(s.Account), nil)
	rest = bytes.ReplaceAll(rest, []byte(s.Issuer), nil)
	for i, c := range rest {
		if c >= utf8.RuneSelf {
			t.Fatalf("Text() has non-ASCII byte %#x outside the names at %d", c, i)
		}
	}
}

func TestPDF(t *testing.T) {
	tools := lookPDFTools(t)
	never := sample(10, 10)
	never.Expires = time.Time{}
	tests := []struct {
		name    string
		sheet   Sheet
		expires string
	}{
		{"5 codes of 10", sample(5, 10), "2027-12-03 21:40 UTC"},
		{"10 codes of 10", sample(10, 10), "2027-12-03 21:40 UTC"},
		{"20 codes of 10", sample(20, 10), "2027-12-03 21:40 UTC"},
		{"20 codes of 20", sample(20, 20), "2027-12-03 21:40 UTC"},
		{"never expires", never, "never"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := tt.sheet.PDF()
			if err != nil {
				t.Fatalf("PDF() error = %v", err)
			}
			info, text := tools.read(t, doc)
			checkPages(t, info)
			for i, c := range tt.sheet.Codes {
				if !numbered(i+1, c).MatchString(text) {
					t.Errorf("PDF() text lacks code %d numbered; got\n%s", i+1, text)
				}
			}
			for _, want := range []string{
				title,
				"alice@example.com",
				"Example Corp",
				"2026-12-03 21:40 UTC",
				tt.expires,
				onceLine,
			} {
				if !strings.Contains(text, want) {
					t.Errorf("PDF() text lacks %q; got\n%s", want, text)
				}
			}
		})
	}
}

// checkPages fails the test unless pdfinfo's output says one A4 page.
func checkPages(t *testing.T, info string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)^Pages:\s+1$`).MatchString(info) {
		t.Errorf("pdfinfo says not one page:\n%s", info)
	}
	if !strings.Contains(info, "(A4)") {
		t.Errorf("pdfinfo says not A4:\n%s", info)
	}
}

// TestPDFLimits renders the largest sheet check allows: MaxCodes codes of
// MaxCodeLength characters, and names of MaxNameLength wide characters.
func TestPDFLimits(t *testing.T) {
	tools := lookPDFTools(t)
	long := make([]string, MaxCodes)
	for i := range long {
		long[i] = fmt.Sprintf("%02d", i) + strings.Repeat("W", MaxCodeLength-2)
	}
	s := Sheet{
		Account: strings.Repeat("W", MaxNameLength),
		Issuer:  strings.Repeat("M", MaxNameLength),
		Issued:  issued,
		Expires: expires,
		Codes:   long,
	}
	doc, err := s.PDF()
	if err != nil {
		t.Fatalf("PDF() error = %v", err)
	}
	info, text := tools.read(t, doc)
	checkPages(t, info)
	for i, c := range long {
		if !numbered(i+1, c).MatchString(text) {
			t.Errorf("PDF() text lacks code %d numbered; got\n%s", i+1, text)
		}
	}
	if !strings.Contains(text, onceLine) {
		t.Errorf("PDF() text lacks %q; got\n%s", onceLine, text)
	}
	last := advice[len(advice)-1]
	if !strings.Contains(text, last) {
		t.Errorf("PDF() text lacks the last advice %q; got\n%s", last, text)
	}
}

func TestPDFNames(t *testing.T) {
	tools := lookPDFTools(t)
	tests := []struct {
		account string
		want    string // as pdftotext reads it back
	}{
		{"Zoë", "Zoë"},
		{"用户", "??"},
		{"Zoë 用户 €", "Zoë ?? €"},
		{"crème\u202ebrûlée\n", "crème?brûlée"},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			t.Parallel()
			s := sample(10, 10)
			s.Account = tt.account
			s.Issuer = "Ltd " + tt.account
			doc, err := s.PDF()
			if err != nil {
				t.Fatalf("PDF() error = %v", err)
			}
			info, text := tools.read(t, doc)
			checkPages(t, info)
			for _, want := range []string{tt.want, "Ltd " + tt.want} {
				if !strings.Contains(text, want) {
					t.Errorf("PDF() text lacks %q; got\n%s", want, text)
				}
			}
		})
	}
}

func TestPDFInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Sheet)
	}{
		{"no codes", func(s *Sheet) { s.Codes = nil }},
		{"too many codes", func(s *Sheet) { s.Codes = makeCodes(MaxCodes+1, 10) }},
		{"empty account", func(s *Sheet) { s.Account = "" }},
		{"blank account", func(s *Sheet) { s.Account = " \t" }},
		{"long account", func(s *Sheet) { s.Account = strings.Repeat("é", MaxNameLength+1) }},
		{"long issuer", func(s *Sheet) { s.Issuer = strings.Repeat("x", MaxNameLength+1) }},
		{"no issue time", func(s *Sheet) { s.Issued = time.Time{} }},
		{"expires at issue", func(s *Sheet) { s.Expires = s.Issued }},
		{"expires before issue", func(s *Sheet) { s.Expires = s.Issued.Add(-time.Hour) }},
		{"empty code", func(s *Sheet) { s.Codes[2] = "" }},
		{"long code", func(s *Sheet) { s.Codes[2] = strings.Repeat("k", MaxCodeLength+1) }},
		{"non-ASCII code", func(s *Sheet) { s.Codes[2] = "abcde-fghjé" }},
		{"control in code", func(s *Sheet) { s.Codes[2] = "abcde\tfghjk" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := sample(5, 10)
			tt.change(&s)
			doc, err := s.PDF()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("PDF() error = %v, want ErrInvalid", err)
			}
			if doc != nil {
				t.Errorf("PDF() returned %d bytes with an error", len(doc))
			}
			for _, c := range s.Codes {
				if c != "" && strings.Contains(err.Error(), c) {
					t.Errorf("PDF() error %q contains a code", err)
				}
			}
		})
	}
}

func TestPDFDeterministic(t *testing.T) {
	s := sample(20, 20)
	s.Account = "Zoë 用户"
	// The same instant in another zone is the same sheet.
	s.Issued = s.Issued.In(time.FixedZone("UTC+9", 9*3600))
	first, err := s.PDF()
	if err != nil {
		t.Fatalf("PDF() error = %v", err)
	}
	for range 3 {
		again, err := s.PDF()
		if err != nil {
			t.Fatalf("PDF() error = %v", err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("PDF() gave different bytes for the same sheet")
		}
	}

	tools := lookPDFTools(t)
	info, _ := tools.read(t, first)
	if !strings.Contains(info, "Dec  3 21:40:00 2026") {
		t.Errorf("pdfinfo does not show the issue time as the creation date:\n%s", info)
	}
}

func TestFileName(t *testing.T) {
	for account, want := range map[string]string{
		"alice":             "backup-codes-alice.pdf",
		"a.b-c_d+e@example": "backup-codes-a.b-c_d+e@example.pdf",
		`Bob "x"/../y`:      "backup-codes-_ob__x__.._y.pdf",
		"zoë":               "backup-codes-zo_.pdf",
	} {
		if got := FileName(account, "pdf"); got != want {
			t.Errorf("FileName(%q) = %q, want %q", account, got, want)
		}
	}
}
