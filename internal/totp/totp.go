// Package totp owns the one-time password arithmetic of mfad: HOTP (RFC 4226),
// TOTP (RFC 6238), base32 secrets and otpauth key URIs for enrolment.
//
// The package is pure. It reads no clock (the caller passes the time), draws
// randomness only from the io.Reader it is given, and does no other I/O.
// Replay protection (RFC 6238 §5.2: a step is accepted at most once) and
// failure throttling (RFC 4226 §7.3) need shared state and belong to the
// service; Match only reports which step a code belongs to.
package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Algorithm names the HMAC hash function, spelled as in the otpauth URI
// "algorithm" parameter.
type Algorithm string

// The hash functions RFC 6238 §1.2 allows.
const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

// ErrUnsupported is returned when an algorithm, digit count or period is not
// one mfad accepts.
var ErrUnsupported = errors.New("totp: unsupported parameters")

// maxSkew bounds the window Match searches, so that a bad configuration
// cannot turn one verification into thousands of HMAC computations.
const maxSkew = 10

// newHash returns the hash constructor for a, or nil if a is unknown.
func (a Algorithm) newHash() func() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// SecretSize returns the length in bytes of the secrets NewSecret draws for
// a: the hash's output size, which is what RFC 6238 Appendix B uses as seed
// length for each hash. It returns 0 for an unknown algorithm.
func (a Algorithm) SecretSize() int {
	switch a {
	case SHA1:
		return 20
	case SHA256:
		return 32
	case SHA512:
		return 64
	}
	return 0
}

// Params are the TOTP parameters shared by the server and the authenticator
// app.
type Params struct {
	Algorithm Algorithm
	Digits    int // length of a code: 6 or 8
	Period    int // length of a time step in seconds: 30 or 60
}

// DefaultParams returns SHA1, 6 digits and 30 seconds: the only profile that
// every authenticator app honours (several ignore the URI parameters and use
// these values whatever the URI says).
func DefaultParams() Params {
	return Params{Algorithm: SHA1, Digits: 6, Period: 30}
}

// Validate reports why p is not a profile mfad supports, or nil. The error
// wraps ErrUnsupported and says which values are allowed.
func (p Params) Validate() error {
	if p.Algorithm.newHash() == nil {
		return fmt.Errorf("%w: algorithm must be SHA1, SHA256 or SHA512, got %q",
			ErrUnsupported, p.Algorithm)
	}
	if p.Digits != 6 && p.Digits != 8 {
		return fmt.Errorf("%w: digits must be 6 or 8, got %d", ErrUnsupported, p.Digits)
	}
	if p.Period != 30 && p.Period != 60 {
		return fmt.Errorf("%w: period must be 30 or 60 seconds, got %d",
			ErrUnsupported, p.Period)
	}
	return nil
}

// NewSecret reads a fresh secret from r (crypto/rand.Reader in production).
// Its length is alg.SecretSize(): 20 bytes for SHA1, 32 for SHA256 and 64 for
// SHA512, above the 128 bits RFC 4226 §4 R6 requires and at least the 160 it
// recommends.
func NewSecret(r io.Reader, alg Algorithm) ([]byte, error) {
	n := alg.SecretSize()
	if n == 0 {
		return nil, fmt.Errorf("%w: algorithm must be SHA1, SHA256 or SHA512, got %q",
			ErrUnsupported, alg)
	}
	secret := make([]byte, n)
	if _, err := io.ReadFull(r, secret); err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	return secret, nil
}

// pow10 returns 10^digits.
func pow10(digits int) uint32 {
	v := uint32(1)
	for range digits {
		v *= 10
	}
	return v
}

// generator computes HOTP values for one secret, reusing its HMAC state and
// buffers across counters.
type generator struct {
	mac    hash.Hash
	digits int
	mod    uint32 // 10^digits
	msg    [8]byte
	sum    []byte
}

// newGenerator returns nil if the secret is empty, alg is unknown or digits is
// outside 6..8, so that callers fail closed.
func newGenerator(secret []byte, alg Algorithm, digits int) *generator {
	h := alg.newHash()
	if h == nil || len(secret) == 0 || digits < 6 || digits > 8 {
		return nil
	}
	mac := hmac.New(h, secret)
	return &generator{
		mac:    mac,
		digits: digits,
		mod:    pow10(digits),
		sum:    make([]byte, 0, mac.Size()),
	}
}

// code writes the HOTP value for counter into dst, which must hold g.digits
// bytes.
func (g *generator) code(dst []byte, counter uint64) {
	// RFC 4226 §5.2: HS = HMAC(K, C), C an 8-byte big-endian counter.
	binary.BigEndian.PutUint64(g.msg[:], counter)
	g.mac.Reset()
	g.mac.Write(g.msg[:])
	g.sum = g.mac.Sum(g.sum[:0])

	// RFC 4226 §5.3 dynamic truncation: the low 4 bits of the last byte pick
	// an offset; 31 bits from there (top bit masked, to avoid sign
	// ambiguity) are reduced modulo 10^Digit. RFC 6238 §1.2 extends this to
	// SHA-256 and SHA-512, whose longer output only moves the last byte.
	off := g.sum[len(g.sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(g.sum[off:off+4]) & 0x7fff_ffff
	v %= g.mod

	// A fixed number of iterations keeps the work independent of the value
	// and keeps leading zeros.
	for i := g.digits - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// HOTP returns the RFC 4226 one-time password for counter, with digits
// digits. It returns the empty string, which Match never accepts, if the
// secret is empty, alg is unknown or digits is outside 6..8 (RFC 4226 §5.3
// asks for at least 6; 31 truncated bits support no more than 9 uniformly, and
// no app uses more than 8).
func HOTP(secret []byte, counter uint64, alg Algorithm, digits int) string {
	g := newGenerator(secret, alg, digits)
	if g == nil {
		return ""
	}
	var buf [8]byte
	g.code(buf[:digits], counter)
	return string(buf[:digits])
}

// Step returns the RFC 6238 §4.2 time step of t: floor((t - T0) / period)
// with T0 the Unix epoch. Times before the epoch give negative steps, rounded
// towards minus infinity so that every step lasts exactly period seconds.
// Step returns 0 if period is not positive.
func Step(t time.Time, period int) int64 {
	if period <= 0 {
		return 0
	}
	sec, p := t.Unix(), int64(period)
	s := sec / p
	if sec%p < 0 {
		s--
	}
	return s
}

// Code returns the TOTP code for a time step: the HOTP value with the step as
// counter (RFC 6238 §4.2). It returns the empty string if p is not valid, the
// secret is empty or the step is negative (a clock before 1970 is broken;
// RFC 6238 defines no codes there).
func Code(secret []byte, step int64, p Params) string {
	if p.Validate() != nil || step < 0 {
		return ""
	}
	return HOTP(secret, uint64(step), p.Algorithm, p.Digits)
}

// Match reports whether code is the TOTP code of one of the steps from
// Step(now)-skew to Step(now)+skew, and which. RFC 6238 §5.2 recommends a
// window of at most one step each way (skew 1) to allow for clock drift and
// typing time; skew must be between 0 and 10, otherwise nothing matches.
//
// The code must be exactly p.Digits ASCII digits: Match does no trimming or
// other normalisation (that is the caller's job), and Unicode digits of other
// scripts never match. Every step of the window is computed and compared in
// constant time without early exit, so timing does not reveal which step
// matched. Should several steps match, the highest is returned.
//
// Match does not stop replays: the caller must accept a step only if it is
// strictly greater than the last step accepted for the credential.
func Match(secret []byte, code string, now time.Time, p Params, skew int) (step int64, ok bool) {
	if p.Validate() != nil || skew < 0 || skew > maxSkew || !wellFormed(code, p.Digits) {
		return 0, false
	}
	g := newGenerator(secret, p.Algorithm, p.Digits)
	if g == nil {
		return 0, false
	}

	center := Step(now, p.Period)
	var buf [8]byte
	want, got := buf[:p.Digits], []byte(code)
	found, best := 0, int64(0)
	for s := center - int64(skew); s <= center+int64(skew); s++ {
		// Steps before the epoch have no code; compute anyway to keep the
		// work constant, and never accept.
		g.code(want, uint64(s))
		eq := subtle.ConstantTimeCompare(want, got)
		if s < 0 {
			eq = 0
		}
		// best = s if eq == 1, branch free: mask is all ones or all zeros.
		mask := -int64(eq)
		best = s&mask | best&^mask
		found |= eq
	}
	if found != 1 {
		return 0, false
	}
	return best, true
}

// wellFormed reports whether code is exactly digits ASCII digits. It works on
// bytes, so multi-byte Unicode digits are refused.
func wellFormed(code string, digits int) bool {
	if len(code) != digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
