// Package sheet renders a set of backup codes as the page people print and
// keep: plain text for a terminal or a download, and a one-page PDF ready to
// print.
//
// The package is pure: it returns bytes and does no I/O. Both renderings
// carry the same content: a title, the account and issuer, when the set was
// issued and when it expires, the codes numbered in set order, and short
// advice on keeping them. Codes are secrets, so no error from this package
// ever includes one.
package sheet

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a sheet holds. They keep the PDF on one A4 page: twenty
// codes of MaxCodeLength characters in two columns, and an account and
// issuer of MaxNameLength wide characters each, still fit.
const (
	MaxCodes      = 20  // codes on one sheet
	MaxCodeLength = 24  // characters in one displayed code
	MaxNameLength = 128 // characters (runes) in the account or the issuer
)

// ErrInvalid is returned by PDF for a sheet it will not render: no codes or
// more than MaxCodes, a code that is empty, too long or not printable ASCII,
// an empty or too long account, a too long issuer, no issue time, or an
// expiry not after the issue time.
var ErrInvalid = errors.New("sheet: invalid backup-code sheet")

// Sheet is one set of backup codes as its owner sees it.
type Sheet struct {
	Account string    // the user name the codes belong to
	Issuer  string    // the organisation or service name, e.g. "mfad"
	Issued  time.Time // when the set was made
	Expires time.Time // zero when the set never expires
	Codes   []string  // codes as displayed, e.g. "abcde-fghjk", in set order
}

// FileName names the file of account's sheet with extension ext, such as
// "backup-codes-alice.pdf". User names hold only characters that are safe in
// a file name and in a quoted Content-Disposition header; anything else
// becomes "_", so a change to the naming rules cannot break either.
func FileName(account, ext string) string {
	safe := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@+", c) {
			return c
		}
		return '_'
	}, account)
	return "backup-codes-" + safe + "." + ext
}

// The fixed wording, shared by the text and the PDF.
const (
	title    = "Backup codes"
	onceLine = "Each code works only once."
	noCodes  = "(no codes)"
)

// advice is the short guidance printed under the codes.
var advice = []string{
	"Keep this page somewhere safe, and not with your phone.",
	"When you sign in with a code, the server crosses it off.",
	"Making a new set of codes stops every code on this page from working.",
}

// field is one labelled line of the sheet's header.
type field struct {
	label string
	value string
}

// check reports what is wrong with the sheet as an error wrapping
// ErrInvalid, or nil. Messages name a code by its position only.
func (s Sheet) check() error {
	switch {
	case strings.TrimSpace(s.Account) == "":
		return fmt.Errorf("%w: no account", ErrInvalid)
	case utf8.RuneCountInString(s.Account) > MaxNameLength:
		return fmt.Errorf("%w: account longer than %d characters",
			ErrInvalid, MaxNameLength)
	case utf8.RuneCountInString(s.Issuer) > MaxNameLength:
		return fmt.Errorf("%w: issuer longer than %d characters",
			ErrInvalid, MaxNameLength)
	case s.Issued.IsZero():
		// The PDF's creation date comes from Issued; fpdf would use the
		// current time instead and the output would not be reproducible.
		return fmt.Errorf("%w: no issue time", ErrInvalid)
	case !s.Expires.IsZero() && !s.Expires.After(s.Issued):
		return fmt.Errorf("%w: expires before it is issued", ErrInvalid)
	case len(s.Codes) == 0:
		return fmt.Errorf("%w: no codes", ErrInvalid)
	case len(s.Codes) > MaxCodes:
		return fmt.Errorf("%w: %d codes, at most %d fit on a page",
			ErrInvalid, len(s.Codes), MaxCodes)
	}
	for i, c := range s.Codes {
		if c == "" || len(c) > MaxCodeLength || cleanCode(c) != c {
			return fmt.Errorf("%w: code %d is not 1 to %d printable ASCII characters",
				ErrInvalid, i+1, MaxCodeLength)
		}
	}
	return nil
}

// fields returns the header lines: account, issuer (left out when empty),
// issue and expiry. Names are cleaned with cleanName.
func (s Sheet) fields() []field {
	fs := []field{{"Account:", cleanName(s.Account)}}
	if issuer := cleanName(s.Issuer); issuer != "" {
		fs = append(fs, field{"Issuer:", issuer})
	}
	issued := "unknown"
	if !s.Issued.IsZero() {
		issued = stamp(s.Issued)
	}
	expires := "never"
	if !s.Expires.IsZero() {
		expires = stamp(s.Expires)
	}
	return append(fs, field{"Issued:", issued}, field{"Expires:", expires})
}

// stamp formats t in UTC to the minute, such as "2026-12-03 21:40 UTC".
func stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04") + " UTC"
}

// grid says where each of n codes goes: one column up to ten codes, two
// beyond. Codes run down the first column and then the second, so reading
// order matches the numbering. Code i (from 0) is in column i/rows, row
// i%rows.
func grid(n int) (rows, cols int) {
	cols = 1
	if n > 10 {
		cols = 2
	}
	return (n + cols - 1) / cols, cols
}

// cleanName makes an account or issuer safe to show: invalid UTF-8 and
// characters that are not printable (controls, bidirectional overrides and
// other format characters) become '?', and other spaces become ' ', so a
// name can neither add lines to the sheet nor reorder what follows it.
func cleanName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteByte('?')
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case !unicode.IsPrint(r):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cleanCode replaces every byte of a code that is not printable ASCII
// (space to tilde) with '?'.
func cleanCode(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return string(b)
}
