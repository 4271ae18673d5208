package totp

import (
	"crypto/rand"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/testtool"
)

// TestOathtool checks Code and Match against OATH Toolkit's oathtool, an
// independent implementation, for every supported profile.
func TestOathtool(t *testing.T) {
	oathtool := testtool.Look(t, "oathtool", "oathtool")
	times := []int64{59, 1111111111, 1700000000, 4102444800}
	for _, alg := range []Algorithm{SHA1, SHA256, SHA512} {
		for _, digits := range []int{6, 8} {
			for _, period := range []int{30, 60} {
				p := Params{Algorithm: alg, Digits: digits, Period: period}
				t.Run(fmt.Sprintf("%s/%d/%d", alg, digits, period), func(t *testing.T) {
					t.Parallel()
					secret, err := NewSecret(rand.Reader, alg)
					if err != nil {
						t.Fatalf("NewSecret(rand.Reader, %s) error = %v", alg, err)
					}
					for _, unix := range times {
						checkOathtool(t, oathtool, secret, p, time.Unix(unix, 0))
					}
				})
			}
		}
	}
}

func checkOathtool(t *testing.T, oathtool string, secret []byte, p Params, now time.Time) {
	t.Helper()
	// The key goes through standard input ("-"), not the command line.
	cmd := exec.Command(oathtool,
		"--totp="+string(p.Algorithm), "--base32",
		fmt.Sprintf("--digits=%d", p.Digits),
		fmt.Sprintf("--time-step-size=%ds", p.Period),
		fmt.Sprintf("--now=@%d", now.Unix()),
		"-")
	cmd.Stdin = strings.NewReader(EncodeSecret(secret) + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oathtool %v: %v", p, err)
	}
	want := strings.TrimSpace(string(out))

	step := Step(now, p.Period)
	if got := Code(secret, step, p); got != want {
		t.Errorf("Code(secret, %d, %v) = %q, want %q (oathtool)", step, p, got, want)
	}
	// Skew 0: with a wider window a random secret could, rarely, give a
	// neighbouring step the same code, and Match would rightly return it.
	if got, ok := Match(secret, want, now, p, 0); !ok || got != step {
		t.Errorf("Match(secret, %q, %d, %v, 0) = %d, %v, want %d, true",
			want, now.Unix(), p, got, ok, step)
	}
}
