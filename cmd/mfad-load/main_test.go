package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/httpapi"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// newServer serves the real API over a fresh SQLite database and returns
// its URL and an admin token.
func newServer(t *testing.T) (string, string) {
	t.Helper()
	url, token, _ := newService(t)
	return url, token
}

// newService is newServer that returns the service as well.
func newService(t *testing.T) (string, string, *mfa.Service) {
	t.Helper()
	ring, err := keyring.Create(filepath.Join(t.TempDir(), "keyring.json"), rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mfa.New(mfa.Config{Store: sqltest.SQLite(t), Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	op := mfa.Request{Actor: mfa.Operator("tester"), Source: "local", FrontDoor: audit.DoorCLI}
	_, token, err := svc.CreateToken(context.Background(), op,
		mfa.NewToken{Name: "admin", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Service: svc}))
	t.Cleanup(srv.Close)
	return srv.URL, token, svc
}

var reportLine = regexp.MustCompile(`(?m)^(\S+) +(\S+)$`)

// TestRun drives a real API for a second in each mode and checks the report.
func TestRun(t *testing.T) {
	base, token := newServer(t)
	tests := []struct {
		name string
		args []string
	}{
		{"accept", []string{"--mode", "accept", "--users", "40"}},
		{"reject", []string{"--mode", "reject", "--users", "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--url", base, "--clients", "4", "--duration", "1s"}, tt.args...)
			lookup := func(k string) (string, bool) {
				return token, k == "MFAD_LOAD_TOKEN"
			}
			var out, errOut bytes.Buffer
			if err := run(context.Background(), args, lookup, &out, &errOut); err != nil {
				t.Fatalf("run(%q) = %v\nstderr:\n%s", args, err, errOut.String())
			}
			fields := reportFields(out.String())
			checkReport(t, fields, tt.name, "verifications/s")
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
			}
		})
	}
}

// reportFields returns the report's lines by name.
func reportFields(out string) map[string]string {
	fields := map[string]string{}
	for _, m := range reportLine.FindAllStringSubmatch(out, -1) {
		fields[m[1]] = m[2]
	}
	return fields
}

// checkReport checks a run of mode without errors: its rate, under the
// name rateKey, and its percentiles; and for reject mode that users were
// unlocked, so that no verification met a lock.
func checkReport(t *testing.T, fields map[string]string, mode, rateKey string) {
	t.Helper()
	if fields["mode"] != mode || fields["errors"] != "0" {
		t.Errorf("report says mode %q, errors %q; want %s, 0", fields["mode"], fields["errors"], mode)
	}
	if n, _ := strconv.Atoi(fields["unlocks"]); mode == "reject" && n <= 0 {
		t.Errorf("unlocks = %q, want some", fields["unlocks"])
	}
	rate, err := strconv.ParseFloat(fields[rateKey], 64)
	if err != nil || rate <= 0 {
		t.Errorf("%s = %q, want a positive rate", rateKey, fields[rateKey])
	}
	var lat [4]time.Duration
	for i, k := range []string{"p50", "p90", "p99", "max"} {
		if lat[i], err = time.ParseDuration(fields[k]); err != nil || lat[i] <= 0 {
			t.Errorf("%s = %q, want a positive duration", k, fields[k])
		}
	}
	if !(lat[0] <= lat[1] && lat[1] <= lat[2] && lat[2] <= lat[3]) {
		t.Errorf("p50, p90, p99, max = %v, want them in order", lat)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{}, "admin token is required"},
		{"bad mode", []string{"--token", "x", "--mode", "maybe"}, "--mode is \"maybe\""},
		{"too few users", []string{"--token", "x", "--clients", "4", "--users", "2"},
			"--users must be at least --clients"},
		{"no clients", []string{"--token", "x", "--clients", "0"}, "--clients must be at least 1"},
		{"bad url", []string{"--token", "x", "--url", "127.0.0.1:8080"}, "--url must be"},
		{"argument", []string{"--token", "x", "now"}, "takes no arguments"},
		{"static over HTTP", []string{"--mode", "static", "--static-user", "u",
			"--static-password", "p"}, "--mode static needs --radius"},
		{"static without password", []string{"--mode", "static", "--radius", "127.0.0.1:1812",
			"--radius-secret", "s", "--static-user", "u"},
			"needs --static-user and --static-password"},
		{"no secret", []string{"--token", "x", "--radius", "127.0.0.1:1812"},
			"a RADIUS secret is required"},
		{"bad radius address", []string{"--token", "x", "--radius", "127.0.0.1",
			"--radius-secret", "s"}, "--radius must be host:port"},
	}
	none := func(string) (string, bool) { return "", false }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, none, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error saying %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(values ...int) []time.Duration {
		var d []time.Duration
		for _, n := range values {
			d = append(d, time.Duration(n)*time.Millisecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"median of four", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p90 of 100", ms(hundred...), 90, 90 * time.Millisecond},
		{"max", ms(1, 2, 3), 100, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %d) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}
