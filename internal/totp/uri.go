package totp

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ErrInvalidURI is returned for an otpauth URI that cannot be built or
// parsed. Its messages never include the URI, which carries the secret.
var ErrInvalidURI = errors.New("totp: invalid otpauth URI")

// URI returns the otpauth key URI that enrols secret in an authenticator app,
// in the Key URI Format documented for Google Authenticator:
//
//	otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
//
// The label and every parameter value are percent-encoded, leaving only
// RFC 3986 unreserved characters as they are: a space becomes %20, never '+',
// which apps disagree about. The colon between issuer and account stays
// literal, so neither may contain one (apps split the decoded label at the
// first colon, so encoding it would not help): URI rejects them rather than
// enrol an account under a different name. An empty issuer is left out of
// label and parameters; the account must not be empty (leading spaces in it
// are dropped by apps and by ParseURI), and the secret must be at least
// MinSecretSize bytes, as ParseURI requires.
func URI(issuer, account string, secret []byte, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if account == "" {
		return "", fmt.Errorf("%w: empty account", ErrInvalidURI)
	}
	if strings.Contains(issuer, ":") || strings.Contains(account, ":") {
		return "", fmt.Errorf("%w: issuer and account must not contain ':'", ErrInvalidURI)
	}
	if len(secret) < MinSecretSize {
		return "", fmt.Errorf("%w: %d bits, need at least %d",
			ErrInvalidSecret, 8*len(secret), 8*MinSecretSize)
	}

	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if issuer != "" {
		b.WriteString(escape(issuer))
		b.WriteByte(':')
	}
	b.WriteString(escape(account))
	b.WriteString("?secret=")
	b.WriteString(EncodeSecret(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(issuer))
	}
	b.WriteString("&algorithm=")
	b.WriteString(string(p.Algorithm))
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(p.Digits))
	b.WriteString("&period=")
	b.WriteString(strconv.Itoa(p.Period))
	return b.String(), nil
}

// escape percent-encodes every byte of s except RFC 3986 §2.3 unreserved
// characters. It is stricter than url.PathEscape and url.QueryEscape, which
// leave '+', '&' or '@' alone or turn a space into '+'.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// unreserved reports whether c is an RFC 3986 §2.3 unreserved character.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// ParseURI reads an otpauth://totp/ key URI, as written by URI or by other
// systems. It is forgiving where the Key URI Format is: the label's colon may
// be encoded and followed by spaces, the issuer may come from the label
// prefix or the parameter (if both are present they must be equal), missing
// algorithm, digits and period take DefaultParams values, and the algorithm's
// case does not matter. The account is everything after the first colon.
//
// The result must pass Params.Validate, the secret must be at least
// MinSecretSize bytes, and a parameter may not appear twice. Errors wrap
// ErrInvalidURI, ErrInvalidSecret or ErrUnsupported.
func ParseURI(uri string) (issuer, account string, secret []byte, p Params, err error) {
	fail := func(err error) (string, string, []byte, Params, error) {
		return "", "", nil, Params{}, err
	}

	// Errors from net/url quote the input, secret included, so they are
	// replaced rather than wrapped.
	u, err := url.Parse(uri)
	if err != nil {
		return fail(fmt.Errorf("%w: malformed", ErrInvalidURI))
	}
	if !strings.EqualFold(u.Scheme, "otpauth") || u.User != nil {
		return fail(fmt.Errorf("%w: scheme must be otpauth", ErrInvalidURI))
	}
	if !strings.EqualFold(u.Host, "totp") {
		return fail(fmt.Errorf("%w: type must be totp", ErrInvalidURI))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail(fmt.Errorf("%w: malformed query", ErrInvalidURI))
	}
	for k, v := range q {
		if len(v) > 1 {
			return fail(fmt.Errorf("%w: parameter %q repeated", ErrInvalidURI, k))
		}
	}

	issuer, account, err = parseLabel(strings.TrimPrefix(u.Path, "/"), q.Get("issuer"))
	if err != nil {
		return fail(err)
	}
	if !q.Has("secret") {
		return fail(fmt.Errorf("%w: missing secret", ErrInvalidURI))
	}
	secret, err = DecodeSecret(q.Get("secret"))
	if err != nil {
		return fail(err)
	}
	if len(secret) < MinSecretSize {
		return fail(fmt.Errorf("%w: %d bits, need at least %d",
			ErrInvalidSecret, 8*len(secret), 8*MinSecretSize))
	}
	p, err = parseParams(q)
	if err != nil {
		return fail(err)
	}
	return issuer, account, secret, p, nil
}

// parseLabel splits a decoded label "ISSUER:ACCOUNT" or "ACCOUNT" and
// reconciles the prefix with the issuer parameter.
func parseLabel(label, param string) (issuer, account string, err error) {
	prefix, account, found := strings.Cut(label, ":")
	if !found {
		prefix, account = "", label
	}
	// Key URI Format: optional spaces may precede the account name.
	account = strings.TrimLeft(account, " ")
	if account == "" {
		return "", "", fmt.Errorf("%w: empty account", ErrInvalidURI)
	}

	switch {
	case prefix == "":
		issuer = param
	case param == "" || param == prefix:
		issuer = prefix
	default:
		return "", "", fmt.Errorf("%w: label issuer and issuer parameter differ", ErrInvalidURI)
	}
	return issuer, account, nil
}

// parseParams reads algorithm, digits and period, defaulting missing ones.
func parseParams(q url.Values) (Params, error) {
	p := DefaultParams()
	if q.Has("algorithm") {
		p.Algorithm = Algorithm(strings.ToUpper(q.Get("algorithm")))
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"digits", &p.Digits}, {"period", &p.Period}} {
		if !q.Has(f.key) {
			continue
		}
		n, err := strconv.Atoi(q.Get(f.key))
		if err != nil {
			return Params{}, fmt.Errorf("%w: %s is not a number", ErrInvalidURI, f.key)
		}
		*f.dst = n
	}
	if err := p.Validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}
