package totp

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	seed20 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"                     // "12345678901234567890"
	seed32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA" // 32 bytes of the same
)

func TestURIGolden(t *testing.T) {
	tests := []struct {
		name    string
		issuer  string
		account string
		secret  []byte
		p       Params
		want    string
	}{
		{
			name:    "plain",
			issuer:  "mfad",
			account: "alice",
			secret:  rfcSeed(SHA1),
			p:       DefaultParams(),
			want: "otpauth://totp/mfad:alice?secret=" + seed20 +
				"&issuer=mfad&algorithm=SHA1&digits=6&period=30",
		},
		{
			name:    "spaces and special characters",
			issuer:  "ACME Co & Sons",
			account: "jöhn+doe@example.com/x?y=z#1 %",
			secret:  rfcSeed(SHA256),
			p:       Params{Algorithm: SHA256, Digits: 8, Period: 60},
			want: "otpauth://totp/ACME%20Co%20%26%20Sons:" +
				"j%C3%B6hn%2Bdoe%40example.com%2Fx%3Fy%3Dz%231%20%25" +
				"?secret=" + seed32 + "&issuer=ACME%20Co%20%26%20Sons" +
				"&algorithm=SHA256&digits=8&period=60",
		},
		{
			name:    "no issuer",
			issuer:  "",
			account: "bob_smith-2.x~y",
			secret:  rfcSeed(SHA1),
			p:       DefaultParams(),
			want: "otpauth://totp/bob_smith-2.x~y?secret=" + seed20 +
				"&algorithm=SHA1&digits=6&period=30",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := URI(tt.issuer, tt.account, tt.secret, tt.p)
			if err != nil {
				t.Fatalf("URI(%q, %q, secret, %v) error = %v", tt.issuer, tt.account, tt.p, err)
			}
			if got != tt.want {
				t.Errorf("URI(%q, %q, secret, %v) =\n%s\nwant\n%s",
					tt.issuer, tt.account, tt.p, got, tt.want)
			}
		})
	}
}

func TestURIErrors(t *testing.T) {
	secret := rfcSeed(SHA1)
	tests := []struct {
		name    string
		issuer  string
		account string
		secret  []byte
		p       Params
		wantErr error
	}{
		{"colon in issuer", "ACME:Co", "alice", secret, DefaultParams(), ErrInvalidURI},
		{"colon in account", "ACME", "corp:alice", secret, DefaultParams(), ErrInvalidURI},
		{"empty account", "ACME", "", secret, DefaultParams(), ErrInvalidURI},
		{"short secret", "ACME", "alice", secret[:15], DefaultParams(), ErrInvalidSecret},
		{"no secret", "ACME", "alice", nil, DefaultParams(), ErrInvalidSecret},
		{"bad params", "ACME", "alice", secret, Params{SHA1, 7, 30}, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := URI(tt.issuer, tt.account, tt.secret, tt.p)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("URI(%q, %q, secret, %v) = %q, %v, want %v",
					tt.issuer, tt.account, tt.p, got, err, tt.wantErr)
			}
		})
	}
}

func TestParseURIRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		issuer  string
		account string
		secret  []byte
		p       Params
	}{
		{"plain", "mfad", "alice", rfcSeed(SHA1), DefaultParams()},
		{"special", "ACME Co & Sons", "jöhn+doe@example.com/x?y=z#1 %", rfcSeed(SHA256),
			Params{SHA256, 8, 60}},
		{"SHA512", "Ünïcödé 日本", "a b\tc", rfcSeed(SHA512), Params{SHA512, 8, 30}},
		{"no issuer", "", "alice", rfcSeed(SHA1), Params{SHA1, 6, 60}},
		{"leading space kept in issuer", " x", "alice", rfcSeed(SHA1), DefaultParams()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri, err := URI(tt.issuer, tt.account, tt.secret, tt.p)
			if err != nil {
				t.Fatalf("URI(%q, %q, secret, %v) error = %v", tt.issuer, tt.account, tt.p, err)
			}
			issuer, account, secret, p, err := ParseURI(uri)
			if err != nil {
				t.Fatalf("ParseURI(%q) error = %v", uri, err)
			}
			got := []any{issuer, account, secret, p}
			want := []any{tt.issuer, tt.account, tt.secret, tt.p}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseURI(%q) mismatch (-want +got):\n%s", uri, diff)
			}
		})
	}
}

func TestParseURIForeign(t *testing.T) {
	// URIs as other systems write them.
	tests := []struct {
		name    string
		uri     string
		issuer  string
		account string
		secret  string
		p       Params
	}{
		{
			name:    "encoded colon, defaults",
			uri:     "otpauth://totp/Example%3Aalice%40example.com?secret=" + seed20 + "&issuer=Example",
			issuer:  "Example",
			account: "alice@example.com",
			secret:  "12345678901234567890",
			p:       DefaultParams(),
		},
		{
			name: "spaces before account, padded lower-case secret",
			uri: "otpauth://totp/Big%20Corp:%20%20bob?secret=" +
				"gezdgnbvgy3tqojqgezdgnbvgy%3D%3D%3D%3D%3D%3D",
			issuer:  "Big Corp",
			account: "bob",
			secret:  "1234567890123456",
			p:       DefaultParams(),
		},
		{
			name:    "no issuer at all",
			uri:     "otpauth://totp/carol?secret=" + seed20,
			account: "carol",
			secret:  "12345678901234567890",
			p:       DefaultParams(),
		},
		{
			name:    "issuer only as parameter, plus as space",
			uri:     "otpauth://totp/dave?issuer=Big+Corp&secret=" + seed20,
			issuer:  "Big Corp",
			account: "dave",
			secret:  "12345678901234567890",
			p:       DefaultParams(),
		},
		{
			name:    "lower-case algorithm, upper-case scheme and type",
			uri:     "OTPAUTH://TOTP/X:erin?secret=" + seed32 + "&algorithm=sha256&digits=8&period=60",
			issuer:  "X",
			account: "erin",
			secret:  "12345678901234567890123456789012",
			p:       Params{SHA256, 8, 60},
		},
		{
			name:    "account with a second colon",
			uri:     "otpauth://totp/X:corp:frank?secret=" + seed20,
			issuer:  "X",
			account: "corp:frank",
			secret:  "12345678901234567890",
			p:       DefaultParams(),
		},
		{
			name:    "unknown parameter ignored",
			uri:     "otpauth://totp/X:gina?secret=" + seed20 + "&image=https%3A%2F%2Fx%2Fy.png",
			issuer:  "X",
			account: "gina",
			secret:  "12345678901234567890",
			p:       DefaultParams(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issuer, account, secret, p, err := ParseURI(tt.uri)
			if err != nil {
				t.Fatalf("ParseURI(%q) error = %v", tt.uri, err)
			}
			got := []any{issuer, account, string(secret), p}
			want := []any{tt.issuer, tt.account, tt.secret, tt.p}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseURI(%q) mismatch (-want +got):\n%s", tt.uri, diff)
			}
		})
	}
}

func TestParseURIErrors(t *testing.T) {
	const q = "?secret=" + seed20
	tests := []struct {
		name    string
		uri     string
		wantErr error
	}{
		{"empty", "", ErrInvalidURI},
		{"https", "https://totp/X:a" + q, ErrInvalidURI},
		{"hotp", "otpauth://hotp/X:a" + q + "&counter=0", ErrInvalidURI},
		{"opaque", "otpauth:totp/X:a" + q, ErrInvalidURI},
		{"user info", "otpauth://u@totp/X:a" + q, ErrInvalidURI},
		{"port", "otpauth://totp:1/X:a" + q, ErrInvalidURI},
		{"no label", "otpauth://totp" + q, ErrInvalidURI},
		{"empty label", "otpauth://totp/" + q, ErrInvalidURI},
		{"empty account", "otpauth://totp/X:" + q, ErrInvalidURI},
		{"only spaces as account", "otpauth://totp/X:%20" + q, ErrInvalidURI},
		{"bad escape in label", "otpauth://totp/X:%zz" + q, ErrInvalidURI},
		{"bad escape in query", "otpauth://totp/X:a" + q + "&issuer=%zz", ErrInvalidURI},
		{"issuers differ", "otpauth://totp/X:a" + q + "&issuer=Y", ErrInvalidURI},
		{"missing secret", "otpauth://totp/X:a?issuer=X", ErrInvalidURI},
		{"repeated secret", "otpauth://totp/X:a" + q + "&secret=" + seed20, ErrInvalidURI},
		{"repeated digits", "otpauth://totp/X:a" + q + "&digits=6&digits=8", ErrInvalidURI},
		{"empty secret", "otpauth://totp/X:a?secret=", ErrInvalidSecret},
		{"secret not base32", "otpauth://totp/X:a?secret=GEZDGNBVGY3TQOJ1", ErrInvalidSecret},
		{"80-bit secret", "otpauth://totp/X:a?secret=GEZDGNBVGY3TQOJQ", ErrInvalidSecret},
		{"digits not a number", "otpauth://totp/X:a" + q + "&digits=six", ErrInvalidURI},
		{"digits 7", "otpauth://totp/X:a" + q + "&digits=7", ErrUnsupported},
		{"period 15", "otpauth://totp/X:a" + q + "&period=15", ErrUnsupported},
		{"empty period", "otpauth://totp/X:a" + q + "&period=", ErrInvalidURI},
		{"algorithm MD5", "otpauth://totp/X:a" + q + "&algorithm=MD5", ErrUnsupported},
		{"empty algorithm", "otpauth://totp/X:a" + q + "&algorithm=", ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issuer, account, secret, p, err := ParseURI(tt.uri)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseURI(%q) = %q, %q, %x, %v, %v, want %v",
					tt.uri, issuer, account, secret, p, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "GEZDGNBV") {
				t.Errorf("ParseURI(%q) error %q contains the secret", tt.uri, err)
			}
		})
	}
}

func FuzzParseURI(f *testing.F) {
	f.Add("otpauth://totp/X:a?secret=" + seed20)
	f.Add("otpauth://totp/ACME%20Co:j%C3%B6hn?secret=" + seed32 +
		"&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60")
	f.Fuzz(func(t *testing.T, uri string) {
		issuer, account, secret, p, err := ParseURI(uri)
		if err != nil || strings.Contains(issuer, ":") {
			return // ParseURI is lenient about colons URI refuses
		}
		again, err := URI(issuer, account, secret, p)
		if err != nil {
			if strings.Contains(account, ":") {
				return
			}
			t.Fatalf("URI(ParseURI(%q)) error = %v", uri, err)
		}
		i2, a2, s2, p2, err := ParseURI(again)
		if err != nil {
			t.Fatalf("ParseURI(%q) error = %v", again, err)
		}
		if diff := cmp.Diff([]any{issuer, account, secret, p}, []any{i2, a2, s2, p2}); diff != "" {
			t.Errorf("ParseURI(%q) mismatch (-first +second):\n%s", again, diff)
		}
	})
}
