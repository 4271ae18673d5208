package totp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// rfcSeed returns the RFC 6238 Appendix B seed for alg: the ASCII digits
// "1234567890" repeated to the hash's output length.
func rfcSeed(alg Algorithm) []byte {
	n := alg.SecretSize()
	return []byte(strings.Repeat("1234567890", 7)[:n])
}

func TestRFC6238Vectors(t *testing.T) {
	// RFC 6238 Appendix B, all 18 rows, 8 digits, period 30.
	tests := []struct {
		name string
		unix int64
		alg  Algorithm
		want string
	}{
		{"59/SHA1", 59, SHA1, "94287082"},
		{"59/SHA256", 59, SHA256, "46119246"},
		{"59/SHA512", 59, SHA512, "90693936"},
		{"1111111109/SHA1", 1111111109, SHA1, "07081804"},
		{"1111111109/SHA256", 1111111109, SHA256, "68084774"},
		{"1111111109/SHA512", 1111111109, SHA512, "25091201"},
		{"1111111111/SHA1", 1111111111, SHA1, "14050471"},
		{"1111111111/SHA256", 1111111111, SHA256, "67062674"},
		{"1111111111/SHA512", 1111111111, SHA512, "99943326"},
		{"1234567890/SHA1", 1234567890, SHA1, "89005924"},
		{"1234567890/SHA256", 1234567890, SHA256, "91819424"},
		{"1234567890/SHA512", 1234567890, SHA512, "93441116"},
		{"2000000000/SHA1", 2000000000, SHA1, "69279037"},
		{"2000000000/SHA256", 2000000000, SHA256, "90698825"},
		{"2000000000/SHA512", 2000000000, SHA512, "38618901"},
		{"20000000000/SHA1", 20000000000, SHA1, "65353130"},
		{"20000000000/SHA256", 20000000000, SHA256, "77737706"},
		{"20000000000/SHA512", 20000000000, SHA512, "47863826"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Params{Algorithm: tt.alg, Digits: 8, Period: 30}
			now := time.Unix(tt.unix, 0)
			step := Step(now, p.Period)
			if got := Code(rfcSeed(tt.alg), step, p); got != tt.want {
				t.Errorf("Code(seed, %d, %v) = %q, want %q", step, p, got, tt.want)
			}
			got, ok := Match(rfcSeed(tt.alg), tt.want, now, p, 0)
			if !ok || got != step {
				t.Errorf("Match(seed, %q, %d, %v, 0) = %d, %v, want %d, true",
					tt.want, tt.unix, p, got, ok, step)
			}
		})
	}
}

func TestRFC4226Vectors(t *testing.T) {
	// RFC 4226 Appendix D, 6 digits.
	secret := []byte("12345678901234567890")
	want := []string{
		"755224", "287082", "359152", "969429", "338314",
		"254676", "287922", "162583", "399871", "520489",
	}
	for count, w := range want {
		if got := HOTP(secret, uint64(count), SHA1, 6); got != w {
			t.Errorf("HOTP(secret, %d, SHA1, 6) = %q, want %q", count, got, w)
		}
	}
}

func TestHOTPInvalid(t *testing.T) {
	secret := []byte("12345678901234567890")
	tests := []struct {
		name   string
		secret []byte
		alg    Algorithm
		digits int
	}{
		{"empty secret", nil, SHA1, 6},
		{"unknown algorithm", secret, "MD5", 6},
		{"lower-case algorithm", secret, "sha1", 6},
		{"5 digits", secret, SHA1, 5},
		{"9 digits", secret, SHA1, 9},
		{"negative digits", secret, SHA1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HOTP(tt.secret, 0, tt.alg, tt.digits); got != "" {
				t.Errorf("HOTP(secret, 0, %q, %d) = %q, want \"\"", tt.alg, tt.digits, got)
			}
		})
	}
	// 7 digits is within RFC 4226 and supported by HOTP, though not by Params.
	if got := HOTP(secret, 0, SHA1, 7); len(got) != 7 {
		t.Errorf("HOTP(secret, 0, SHA1, 7) = %q, want 7 digits", got)
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		name   string
		t      time.Time
		period int
		want   int64
	}{
		{"epoch", time.Unix(0, 0), 30, 0},
		{"last second of step 0", time.Unix(29, 999_999_999), 30, 0},
		{"first second of step 1", time.Unix(30, 0), 30, 1},
		{"RFC 59", time.Unix(59, 0), 30, 1},
		{"RFC 1111111109", time.Unix(1111111109, 0), 30, 0x23523EC},
		{"RFC 20000000000", time.Unix(20000000000, 0), 30, 0x27BC86AA},
		{"period 60", time.Unix(119, 0), 60, 1},
		{"one nanosecond before epoch", time.Unix(0, -1), 30, -1},
		{"one second before epoch", time.Unix(-1, 0), 30, -1},
		{"first second of step -1", time.Unix(-30, 0), 30, -1},
		{"last second of step -2", time.Unix(-31, 0), 30, -2},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 30, -2071186560},
		{"zero period", time.Unix(100, 0), 0, 0},
		{"negative period", time.Unix(100, 0), -30, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Step(tt.t, tt.period); got != tt.want {
				t.Errorf("Step(%v, %d) = %d, want %d", tt.t, tt.period, got, tt.want)
			}
		})
	}
}

func TestCodeInvalid(t *testing.T) {
	secret := rfcSeed(SHA1)
	tests := []struct {
		name string
		step int64
		p    Params
	}{
		{"negative step", -1, DefaultParams()},
		{"7 digits", 1, Params{Algorithm: SHA1, Digits: 7, Period: 30}},
		{"period 45", 1, Params{Algorithm: SHA1, Digits: 6, Period: 45}},
		{"zero params", 1, Params{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Code(secret, tt.step, tt.p); got != "" {
				t.Errorf("Code(secret, %d, %v) = %q, want \"\"", tt.step, tt.p, got)
			}
		})
	}
}

func TestMatchWindow(t *testing.T) {
	secret := rfcSeed(SHA1)
	p := DefaultParams()
	const s = 37037037 // the step of 1111111111
	code := Code(secret, s, p)
	at := func(step int64, sec int64) time.Time {
		return time.Unix(step*int64(p.Period)+sec, 0)
	}
	last := int64(p.Period - 1)

	tests := []struct {
		name string
		now  time.Time
		skew int
		ok   bool
	}{
		{"first second of s-2", at(s-2, 0), 1, false},
		{"last second of s-2", at(s-2, last), 1, false},
		{"first second of s-1", at(s-1, 0), 1, true},
		{"last second of s-1", at(s-1, last), 1, true},
		{"first second of s", at(s, 0), 1, true},
		{"last second of s", at(s, last), 1, true},
		{"first second of s+1", at(s+1, 0), 1, true},
		{"last second of s+1", at(s+1, last), 1, true},
		{"first second of s+2", at(s+2, 0), 1, false},
		{"last second of s+2", at(s+2, last), 1, false},
		{"skew 0 at s", at(s, 0), 0, true},
		{"skew 0 at s-1", at(s-1, last), 0, false},
		{"skew 0 at s+1", at(s+1, 0), 0, false},
		{"skew 2 at s-2", at(s-2, 0), 2, true},
		{"skew 10 at s+10", at(s+10, 0), 10, true},
		{"skew 11 refused", at(s, 0), 11, false},
		{"negative skew refused", at(s, 0), -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Match(secret, code, tt.now, p, tt.skew)
			want := int64(0)
			if tt.ok {
				want = s
			}
			if ok != tt.ok || got != want {
				t.Errorf("Match(secret, %q, %d, p, %d) = %d, %v, want %d, %v",
					code, tt.now.Unix(), tt.skew, got, ok, want, tt.ok)
			}
		})
	}
}

func TestMatchMalformed(t *testing.T) {
	secret := rfcSeed(SHA1)
	now := time.Unix(1111111111, 0)
	p := DefaultParams()
	code := Code(secret, Step(now, p.Period), p)
	p8 := Params{Algorithm: SHA1, Digits: 8, Period: 30}

	tests := []struct {
		name   string
		secret []byte
		code   string
		p      Params
	}{
		{"empty", secret, "", p},
		{"too short", secret, code[:5], p},
		{"too long", secret, code + "0", p},
		{"6 digits for 8", secret, code, p8},
		{"leading space", secret, " " + code[1:], p},
		{"leading space, full code", secret, " " + code, p},
		{"trailing space", secret, code + " ", p},
		{"trailing newline", secret, code + "\n", p},
		{"letter", secret, code[:5] + "a", p},
		{"sign", secret, "+" + code[1:], p},
		{"NUL", secret, code[:5] + "\x00", p},
		{"Arabic-Indic digits", secret, "٠١٢", p},
		{"fullwidth digits", secret, "１２", p},
		{"Arabic-Indic digits of the code", secret, arabicIndic(code), p},
		{"empty secret", nil, code, p},
		{"other secret", []byte("09876543210987654321"), code, p},
		{"invalid params", secret, code, Params{Algorithm: SHA1, Digits: 6, Period: 31}},
		{"other algorithm", secret, code, Params{Algorithm: SHA256, Digits: 6, Period: 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := Match(tt.secret, tt.code, now, tt.p, 1); ok || got != 0 {
				t.Errorf("Match(secret, %q, %d, %v, 1) = %d, %v, want 0, false",
					tt.code, now.Unix(), tt.p, got, ok)
			}
		})
	}
	if _, ok := Match(secret, code, now, p, 1); !ok {
		t.Errorf("Match(secret, %q, %d, p, 1) = false, want true", code, now.Unix())
	}
}

// arabicIndic writes an ASCII digit string in Arabic-Indic digits, which
// unicode.IsDigit accepts and Match must not.
func arabicIndic(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune('٠' + r - '0')
	}
	return b.String()
}

func TestMatchHighestStep(t *testing.T) {
	// Found by search: with the RFC SHA1 seed and 6 digits, steps 50424280
	// and 50424281 share the code 070562.
	secret := rfcSeed(SHA1)
	p := DefaultParams()
	const lo, hi = 50424280, 50424281
	if a, b := Code(secret, lo, p), Code(secret, hi, p); a != "070562" || b != a {
		t.Fatalf("Code(secret, %d/%d, p) = %q/%q, want 070562 for both", lo, hi, a, b)
	}
	for _, center := range []int64{lo, hi} {
		now := time.Unix(center*30, 0)
		if got, ok := Match(secret, "070562", now, p, 1); !ok || got != hi {
			t.Errorf("Match(secret, %q, %d, p, 1) = %d, %v, want %d, true",
				"070562", now.Unix(), got, ok, hi)
		}
	}
}

func TestMatchNearEpoch(t *testing.T) {
	secret := rfcSeed(SHA1)
	p := DefaultParams()
	code0 := Code(secret, 0, p)
	// HOTP of counter 2^64-1, which a careless conversion of step -1 would
	// accept.
	codeMinus1 := HOTP(secret, ^uint64(0), SHA1, 6)

	tests := []struct {
		name     string
		code     string
		now      time.Time
		wantStep int64
		wantOK   bool
	}{
		{"step 0 at epoch", code0, time.Unix(0, 0), 0, true},
		{"step 0 just before epoch", code0, time.Unix(-1, 0), 0, true},
		{"step 0 long before epoch", code0, time.Unix(-3600, 0), 0, false},
		{"step -1 never", codeMinus1, time.Unix(-1, 0), 0, false},
		{"step -1 never from epoch", codeMinus1, time.Unix(0, 0), 0, false},
		{"year 1", code0, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Match(secret, tt.code, tt.now, p, 1)
			if ok != tt.wantOK || got != tt.wantStep {
				t.Errorf("Match(secret, %q, %d, p, 1) = %d, %v, want %d, %v",
					tt.code, tt.now.Unix(), got, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       Params
		wantErr bool
	}{
		{"default", DefaultParams(), false},
		{"SHA256 8 60", Params{SHA256, 8, 60}, false},
		{"SHA512 6 30", Params{SHA512, 6, 30}, false},
		{"zero", Params{}, true},
		{"lower case", Params{"sha1", 6, 30}, true},
		{"MD5", Params{"MD5", 6, 30}, true},
		{"7 digits", Params{SHA1, 7, 30}, true},
		{"10 digits", Params{SHA1, 10, 30}, true},
		{"period 0", Params{SHA1, 6, 0}, true},
		{"period 15", Params{SHA1, 6, 15}, true},
		{"period 90", Params{SHA1, 6, 90}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("%v.Validate() = %v, want error %v", tt.p, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrUnsupported) {
				t.Errorf("%v.Validate() = %v, want it to wrap ErrUnsupported", tt.p, err)
			}
		})
	}
	// The message names what is allowed.
	err := Params{SHA1, 7, 30}.Validate()
	if err == nil || !strings.Contains(err.Error(), "6 or 8") {
		t.Errorf("Validate() = %v, want a message naming 6 or 8", err)
	}
}

func TestNewSecret(t *testing.T) {
	tests := []struct {
		name string
		alg  Algorithm
		want int
	}{
		{"SHA1", SHA1, 20},
		{"SHA256", SHA256, 32},
		{"SHA512", SHA512, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := bytes.Repeat([]byte{0xA5}, 100)
			got, err := NewSecret(bytes.NewReader(src), tt.alg)
			if err != nil {
				t.Fatalf("NewSecret(r, %s) error = %v", tt.alg, err)
			}
			if !bytes.Equal(got, src[:tt.want]) {
				t.Errorf("NewSecret(r, %s) = %x, want %x", tt.alg, got, src[:tt.want])
			}
		})
	}

	_, err := NewSecret(bytes.NewReader(make([]byte, 19)), SHA1)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("NewSecret(19-byte reader, SHA1) error = %v, want io.ErrUnexpectedEOF", err)
	}
	_, err = NewSecret(bytes.NewReader(make([]byte, 64)), "MD5")
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("NewSecret(r, MD5) error = %v, want ErrUnsupported", err)
	}
}

func BenchmarkMatch(b *testing.B) {
	secret := rfcSeed(SHA1)
	p := DefaultParams()
	now := time.Unix(1111111111, 0)
	// The worst case for the caller: a wrong code, every step computed.
	code := "000000"
	if Code(secret, Step(now, 30)-1, p) == code || Code(secret, Step(now, 30), p) == code ||
		Code(secret, Step(now, 30)+1, p) == code {
		b.Fatal("benchmark code matches; pick another")
	}
	b.ReportAllocs()
	for b.Loop() {
		Match(secret, code, now, p, 1)
	}
}
