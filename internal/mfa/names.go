package mfa

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	maxNameLen        = 128
	maxDisplayNameLen = 200
	maxEmailLen       = 254
)

// CanonicalName returns a user or group name as mfad keeps it: lower case.
// Names are compared case-insensitively, so "Alice" signs in as "alice".
func CanonicalName(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// checkName reports what is wrong with a canonical name, or "" if nothing.
// Names are what people type at sign-in and what appears in URLs, so they
// are limited to letters, digits and . _ - @ + (an email address is a
// valid name).
func checkName(what, name string) string {
	if name == "" {
		return what + " is required"
	}
	if len(name) > maxNameLen {
		return what + " is longer than 128 characters"
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case strings.ContainsRune("._-@+", r):
		default:
			return what + " may contain only letters a-z, digits and . _ - @ +"
		}
	}
	return ""
}

// checkDisplayName reports what is wrong with a display name, or "".
func checkDisplayName(s string) string {
	if len(s) > maxDisplayNameLen {
		return "display_name is longer than 200 characters"
	}
	if !printable(s) {
		return "display_name must be printable text"
	}
	return ""
}

// checkEmail reports what is wrong with an email address, or "". Empty is
// allowed: not every user has one.
func checkEmail(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > maxEmailLen {
		return "email is longer than 254 characters"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "email must be a plain address such as alice@example.com"
	}
	return ""
}

// checkPhone reports what is wrong with a phone number, or "". Numbers are
// kept in E.164 form (a plus sign and 8 to 15 digits) so that any SMS
// gateway can use them.
func checkPhone(s string) string {
	if s == "" {
		return ""
	}
	digits, ok := strings.CutPrefix(s, "+")
	if !ok || len(digits) < 8 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
		return "phone must be in E.164 form, such as +4915123456789"
	}
	return ""
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
