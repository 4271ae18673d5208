// Package codes normalises the one-time codes people type, recognises which
// factor a code belongs to by its shape, and makes backup codes. It is pure
// apart from the random source its callers hand it.
package codes

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// MaxInput is the longest input Clean accepts, before removing separators.
// Anything longer is not a code of any factor mfad knows.
const MaxInput = 64

// Shape says which kind of factor a cleaned code could belong to.
type Shape int

// Shapes of codes.
const (
	Unknown Shape = iota // matches no factor's format
	Numeric              // 6 or 8 ASCII digits: an authenticator (TOTP) code
	// Passcode is MinPassLength to MaxPassLength symbols of Alphabet: an
	// access pass, or, at MinBackupLength to MaxBackupLength, also a
	// backup code.
	Passcode
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
	switch {
	case (len(code) == 6 || len(code) == 8) && allDigits(code):
		return Numeric
	case len(code) >= MinPassLength && len(code) <= MaxPassLength && inAlphabet(code):
		return Passcode
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

// Alphabet holds the symbols of backup codes, in their canonical (upper
// case) form. It leaves out the look-alikes 0 and O, 1, I and L, so that a
// code read off paper is typed right: 8 digits and 23 letters, 31 symbols,
// log2(31) = 4.95 bits each.
const Alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// Bounds of the length of backup codes and access passes, in symbols. Ten
// symbols carry 49.5 bits, eight 39.6; passes make up for their shorter
// minimum by expiring within hours.
const (
	MinBackupLength = 10
	MaxBackupLength = 20
	MinPassLength   = 8
	MaxPassLength   = 48
)

// IsBackupLength reports whether a Passcode of n symbols may be a backup
// code.
func IsBackupLength(n int) bool { return n >= MinBackupLength && n <= MaxBackupLength }

// Bits returns the entropy of a backup code of length symbols.
func Bits(length int) float64 {
	return float64(length) * math.Log2(float64(len(Alphabet)))
}

// ErrRandom wraps a failure of the random source.
var ErrRandom = errors.New("codes: random source failed")

// GenerateBackup returns n distinct backup codes of length symbols each, in
// canonical form, drawn uniformly from Alphabet with bytes from r (which
// should be crypto/rand.Reader).
func GenerateBackup(r io.Reader, n, length int) ([]string, error) {
	if length < MinBackupLength || length > MaxBackupLength || n < 1 {
		return nil, fmt.Errorf("codes: %d backup codes of length %d: out of bounds", n, length)
	}
	out := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(out) < n {
		c, err := randomString(r, length)
		if err != nil {
			return nil, err
		}
		// Two equal codes in one set are all but impossible (49.5 bits); if
		// it happens, draw again rather than hand out a set with a twin.
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// GeneratePass returns one access pass of length symbols, in canonical
// form, drawn as GenerateBackup draws. A pass of digits alone would look
// like an authenticator code, so such a draw is made again.
func GeneratePass(r io.Reader, length int) (string, error) {
	if length < MinPassLength || length > MaxPassLength {
		return "", fmt.Errorf("codes: access pass of length %d: out of bounds", length)
	}
	for {
		p, err := randomString(r, length)
		if err != nil || !allDigits(p) {
			return p, err
		}
	}
}

// randomString draws length symbols of Alphabet. A byte is used only when
// it is below the largest multiple of the alphabet's size that fits in a
// byte, so that every symbol is equally likely (no modulo bias).
func randomString(r io.Reader, length int) (string, error) {
	const size = len(Alphabet)
	const limit = 256 - 256%size
	b := make([]byte, 0, length)
	buf := make([]byte, length+length/4+1)
	for len(b) < length {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("%w: %v", ErrRandom, err)
		}
		for _, x := range buf {
			if int(x) < limit && len(b) < length {
				b = append(b, Alphabet[int(x)%size])
			}
		}
	}
	return string(b), nil
}

// Display formats a canonical backup code the way people see it: lower
// case, in groups of five joined by dashes, such as "abcde-fghjk".
func Display(code string) string { return grouped(code, 5) }

// DisplayPass formats an access pass for reading out: lower case, in
// groups of four joined by dashes, such as "k7qm-2xrt-9hcp".
func DisplayPass(pass string) string { return grouped(pass, 4) }

func grouped(code string, size int) string {
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		if i > 0 && i%size == 0 {
			b.WriteByte('-')
		}
		c := code[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func inAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(Alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}
