package totp

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncodeSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		want   string
	}{
		{"RFC seed", []byte("12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"},
		{"no padding", []byte("f"), "MY"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodeSecret(tt.secret); got != tt.want {
				t.Errorf("EncodeSecret(%q) = %q, want %q", tt.secret, got, tt.want)
			}
		})
	}
}

func TestDecodeSecret(t *testing.T) {
	seed := []byte("12345678901234567890")
	tests := []struct {
		name string
		in   string
		want []byte
	}{
		{"canonical", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", seed},
		{"lower case", "gezdgnbvgy3tqojqgezdgnbvgy3tqojq", seed},
		{"mixed case", "GeZdGnBvGy3TqOjQgEzDgNbVgY3tQoJq", seed},
		{"groups of four", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", seed},
		{"surrounding space", "  GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", seed},
		{"tabs and line breaks", "GEZDGNBV\tGY3TQOJQ\r\nGEZDGNBVGY3TQOJQ", seed},
		{"padded", "MY======", []byte("f")},
		{"unpadded", "MY", []byte("f")},
		{"partly padded", "my==", []byte("f")},
		{"padding with spaces", "M Y = =", []byte("f")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSecret(tt.in)
			if err != nil {
				t.Fatalf("DecodeSecret(%q) error = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeSecret(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDecodeSecretErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"only spaces", "   "},
		{"only padding", "===="},
		{"digit 1", "GEZDGNB1"},
		{"digit 0", "GEZDGNB0"},
		{"digit 8", "GEZDGNB8"},
		{"hyphen", "GEZD-GNBV"},
		{"padding inside", "MY==MY"},
		{"impossible length 1", "G"},
		{"impossible length 3", "GEZ"},
		{"impossible length 6", "GEZDGN"},
		{"non-ASCII", "GEZDGNBVé"},
		{"trailing bits set", "MZ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSecret(tt.in)
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("DecodeSecret(%q) = %x, %v, want ErrInvalidSecret", tt.in, got, err)
			}
			if in := strings.TrimSpace(tt.in); len(in) > 2 && strings.Contains(err.Error(), in) {
				t.Errorf("DecodeSecret(%q) error %q contains the input", tt.in, err)
			}
		})
	}
}

func TestSecretRoundTrip(t *testing.T) {
	// Every length from 1 to 64 bytes exercises every base32 tail.
	for n := 1; n <= 64; n++ {
		secret := bytes.Repeat([]byte{byte(n)}, n)
		for i := range secret {
			secret[i] ^= byte(i * 37)
		}
		got, err := DecodeSecret(EncodeSecret(secret))
		if err != nil || !bytes.Equal(got, secret) {
			t.Errorf("DecodeSecret(EncodeSecret(%x)) = %x, %v, want %x, nil",
				secret, got, err, secret)
		}
	}
}

func FuzzDecodeSecret(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	f.Add("my==")
	f.Add(" a b c ")
	f.Add("mzxw6===")
	f.Fuzz(func(t *testing.T, s string) {
		secret, err := DecodeSecret(s)
		if err != nil {
			return
		}
		if len(secret) == 0 {
			t.Fatalf("DecodeSecret(%q) = empty, nil, want an error", s)
		}
		again, err := DecodeSecret(EncodeSecret(secret))
		if err != nil || !bytes.Equal(again, secret) {
			t.Errorf("DecodeSecret(EncodeSecret(DecodeSecret(%q))) = %x, %v, want %x",
				s, again, err, secret)
		}
	})
}
