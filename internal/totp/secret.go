package totp

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSecret is returned for a secret that is not base32 or is too
// short. Its messages never include the secret.
var ErrInvalidSecret = errors.New("totp: invalid secret")

// MinSecretSize is the shortest secret ParseURI accepts, in bytes: the 128
// bits RFC 4226 §4 R6 requires.
const MinSecretSize = 16

// b32 is RFC 4648 base32 without padding, the form authenticator apps
// expect in otpauth URIs and for typing by hand.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret returns secret in upper-case base32 without padding.
func EncodeSecret(secret []byte) string {
	return b32.EncodeToString(secret)
}

// DecodeSecret decodes a base32 secret as a person might type or paste it:
// in any case, with spaces, tabs or line breaks between groups, and with or
// without trailing '=' padding. Otherwise it is strict: an empty secret, a
// character outside the base32 alphabet, or a form EncodeSecret could not
// have produced (a length no byte count gives, or unused trailing bits set)
// is an error wrapping ErrInvalidSecret.
func DecodeSecret(s string) ([]byte, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	clean := strings.TrimRight(b.String(), "=")
	if clean == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}

	// The decoder's message is not wrapped: it adds nothing a person can act
	// on, and a secret's content must never reach an error. Re-encoding
	// refuses what the decoder lets through: impossible lengths (1, 3 or 6
	// characters past a multiple of 8) and set bits past the last byte,
	// typically a typo in the final character.
	secret, err := b32.DecodeString(clean)
	if err != nil || len(secret) == 0 || b32.EncodeToString(secret) != clean {
		return nil, fmt.Errorf("%w: not base32", ErrInvalidSecret)
	}
	return secret, nil
}
