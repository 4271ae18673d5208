package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, env map[string]string, server bool, args ...string) (*Config, error) {
	t.Helper()
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.BindCommon(fs, lookup)
	if server {
		c.BindServer(fs, lookup)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q) error = %v", args, err)
	}
	return &c, c.Validate()
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, true)
	if err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	if c.Data != "./mfad-data" || c.HTTPAddr != "127.0.0.1:8080" || c.Database != "" {
		t.Errorf("defaults = data %q, http %q, database %q", c.Data, c.HTTPAddr, c.Database)
	}
	if want := filepath.Join("mfad-data", "mfad.db"); c.DatabaseURL() != want {
		t.Errorf("DatabaseURL() = %q, want %q", c.DatabaseURL(), want)
	}
	if want := filepath.Join("mfad-data", "keyring.json"); c.KeyFile != want {
		t.Errorf("KeyFile = %q, want %q", c.KeyFile, want)
	}
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{"MFAD_DATA": "/env/data", "MFAD_HTTP_ADDR": "0.0.0.0:9000"}
	c, err := load(t, env, true, "--data", "/flag/data")
	if err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.Data != "/flag/data" {
		t.Errorf("Data = %q, want the flag to win over MFAD_DATA", c.Data)
	}
	if c.HTTPAddr != "0.0.0.0:9000" {
		t.Errorf("HTTPAddr = %q, want MFAD_HTTP_ADDR to win over the default", c.HTTPAddr)
	}
}

func TestDatabaseFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	url := "postgres://mfad:s3cret@db.example/mfad"
	if err := os.WriteFile(path, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, map[string]string{"MFAD_DATABASE_FILE": path}, false)
	if err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.Database != url {
		t.Errorf("Database = %q, want %q from MFAD_DATABASE_FILE", c.Database, url)
	}
	if got := c.LogValue().String(); strings.Contains(got, "s3cret") {
		t.Errorf("LogValue() = %s, want the password hidden", got)
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	env := map[string]string{
		"MFAD_DATABASE":      "mysql://x",
		"MFAD_DATABASE_FILE": "/nonexistent",
		"MFAD_LOG_LEVEL":     "loud",
	}
	_, err := load(t, env, true, "--log-format", "xml", "--http-addr", "8080",
		"--tls-cert", "c.pem", "--trusted-proxies", "10.0.0.0/8,nonsense", "--issuer", "a:b",
		"--sign-in-rate", "-1", "--public-url", "ftp://mfa.example.com")
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	for _, want := range []string{
		"MFAD_DATABASE or MFAD_DATABASE_FILE, not both",
		"--log-level is \"loud\"",
		"--log-format is \"xml\"",
		"--http-addr \"8080\"",
		"--tls-cert and --tls-key",
		"\"nonsense\"",
		"--issuer",
		"--sign-in-rate is \"-1\"",
		"--public-url \"ftp://mfa.example.com\" has the scheme ftp",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, want it to mention %q", err, want)
		}
	}
}

func TestSignInAttempts(t *testing.T) {
	for in, want := range map[string]int{"10": 10, "0": 0, "10000": 10000} {
		c := Config{SignInRate: in}
		if got, err := c.SignInAttempts(); err != nil || got != want {
			t.Errorf("SignInAttempts(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ten", "-1", "10001", "1.5"} {
		c := Config{SignInRate: in}
		if _, err := c.SignInAttempts(); err == nil {
			t.Errorf("SignInAttempts(%q) = nil error, want one", in)
		}
	}
}

func TestProxies(t *testing.T) {
	c := Config{TrustedProxies: "10.0.0.0/8, 192.168.1.7,::1"}
	got, err := c.Proxies()
	if err != nil {
		t.Fatalf("Proxies() error = %v", err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if want := "10.0.0.0/8 192.168.1.7/32 ::1/128"; strings.Join(s, " ") != want {
		t.Errorf("Proxies() = %v, want %s", s, want)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db?password=pw&sslmode=disable", "postgres://u@h/db?password=xxxxx&sslmode=disable"},
		{"mfad-data/mfad.db", "mfad-data/mfad.db"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPublicURL(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string   // the public URL in force, when valid
		bad  []string // what the problems mention, when not
	}{
		{name: "default", want: "http://127.0.0.1:8080"},
		{name: "default from http addr", args: []string{"--http-addr", "[::1]:9000"},
			want: "http://[::1]:9000"},
		{name: "default on every interface", args: []string{"--http-addr", ":9000"},
			want: "http://localhost:9000"},
		{name: "default with TLS", args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"},
			want: "https://127.0.0.1:8080"},
		{name: "https", args: []string{"--public-url", "https://mfa.example.com"},
			want: "https://mfa.example.com"},
		{name: "http with port and path",
			args: []string{"--public-url", "http://mfa.example.com:8443/mfa/"},
			want: "http://mfa.example.com:8443/mfa/"},
		{name: "relative", args: []string{"--public-url", "mfa.example.com/login"},
			bad: []string{`--public-url "mfa.example.com/login" is not absolute`}},
		{name: "ftp scheme", args: []string{"--public-url", "ftp://mfa.example.com"},
			bad: []string{`--public-url "ftp://mfa.example.com" has the scheme ftp`}},
		{name: "with query", args: []string{"--public-url", "https://mfa.example.com/?a=b"},
			bad: []string{"must not have a query"}},
		{name: "with fragment", args: []string{"--public-url", "https://mfa.example.com/#top"},
			bad: []string{"must not have a fragment"}},
		{name: "no host", args: []string{"--public-url", "https:///mfa"},
			bad: []string{"names no host"}},
		{name: "every problem at once",
			args: []string{"--public-url", "ftp://u:pw@mfa.example.com/?q#f"},
			bad: []string{"has the scheme ftp", "must not hold a user name or password",
				"must not have a query", "must not have a fragment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, nil, true, tt.args...)
			if len(tt.bad) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if c.PublicURL != tt.want {
					t.Errorf("PublicURL = %q, want %q", c.PublicURL, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want problems with --public-url")
			}
			for _, want := range tt.bad {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("Validate() = %q, want the password hidden", err)
			}
		})
	}
}

func TestPublicURLFromEnv(t *testing.T) {
	env := map[string]string{"MFAD_PUBLIC_URL": "https://mfa.example.com"}
	c, err := load(t, env, true)
	if err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.PublicURL != "https://mfa.example.com" || c.PublicURLDefaulted() {
		t.Errorf("PublicURL = %q (defaulted %v), want MFAD_PUBLIC_URL's value",
			c.PublicURL, c.PublicURLDefaulted())
	}
}
