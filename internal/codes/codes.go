// Package codes normalises the one-time codes people type and recognises
// which factor a code belongs to by its shape. It is pure.
package codes

import "strings"

// MaxInput is the longest input Clean accepts, before removing separators.
// Anything longer is not a code of any factor mfad knows.
const MaxInput = 64

// Shape says which kind of factor a cleaned code could belong to.
type Shape int

// Shapes of codes.
const (
	Unknown Shape = iota // matches no factor's format
	Numeric              // 6 or 8 ASCII digits: an authenticator (TOTP) code
)

// Clean prepares typed input for checking: it drops spaces, tabs and dashes,
// which people add to read codes aloud, and upper-cases ASCII letters. It
// reports false for empty input, input longer than MaxInput, or any byte
// outside printable ASCII; such input is no code at all.
func Clean(s string) (string, bool) {
	if s == "" || len(s) > MaxInput {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '-':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c < 0x21 || c > 0x7e:
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() == 0 {
		return "", false
	}
	return b.String(), true
}

// Classify returns the shape of a cleaned code.
func Classify(code string) Shape {
	if (len(code) == 6 || len(code) == 8) && allDigits(code) {
		return Numeric
	}
	return Unknown
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
