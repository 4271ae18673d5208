package config

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func TestNoticeDefaults(t *testing.T) {
	c, err := load(t, nil, true)
	if err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	if c.SMTPTLS != "mandatory" || c.DispatchInterval != "1s" || c.SMSGateway != "none" ||
		c.TwilioURL != "https://api.twilio.com" {
		t.Errorf("defaults = smtp-tls %q, dispatch-interval %q, sms-gateway %q, twilio-url %q",
			c.SMTPTLS, c.DispatchInterval, c.SMSGateway, c.TwilioURL)
	}
	if d, err := c.DispatchEvery(); err != nil || d != time.Second {
		t.Errorf("DispatchEvery() = %v, %v; want 1s", d, err)
	}
	mailer, err := c.Mailer()
	if mailer != nil || err != nil {
		t.Errorf("Mailer() = %v, %v; want nil, nil without --smtp-url", mailer, err)
	}
	sms, err := c.SMS()
	if sms != nil || err != nil {
		t.Errorf("SMS() = %v, %v; want nil, nil with --sms-gateway none", sms, err)
	}
	tmpl, err := c.Templates()
	if tmpl != nil || err != nil {
		t.Errorf("Templates() = %v, %v; want nil, nil without --notice-templates", tmpl, err)
	}
}

// The secrets the notice tests use; no problem and no log line may hold one.
const (
	smtpPassword = "smtp-s3cret"
	headerValue  = "Bearer hdr-s3cret"
	twilioToken  = "twilio-s3cret"
)

func TestNoticeSettings(t *testing.T) {
	const (
		local    = "smtp://127.0.0.1:2525"
		provider = "smtp://mfa:" + smtpPassword + "@smtp.example.com:587"
	)
	from := []string{"--smtp-from", "mfa@example.com"}
	with := func(args ...string) []string { return append(args, from...) }
	twilio := []string{"--sms-gateway", "twilio", "--twilio-account-sid", "AC123",
		"--twilio-auth-token", twilioToken, "--twilio-from", "+15005550006"}
	hook := []string{"--sms-gateway", "webhook", "--sms-webhook-url", "https://sms.example.com/send"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		bad  []string // what the problems mention; none when the settings are valid
	}{
		{name: "local relay without TLS", args: with("--smtp-url", local, "--smtp-tls", "none")},
		{name: "provider on 587", args: with("--smtp-url", provider)},
		{name: "provider on 465",
			args: with("--smtp-url", "smtps://mfa:"+smtpPassword+"@smtp.example.com")},
		{name: "named sender and contact", args: []string{"--smtp-url", provider,
			"--smtp-from", "Example MFA <mfa@example.com>", "--security-contact", "soc@example.com"}},
		{name: "smtp url scheme", args: with("--smtp-url", "https://smtp.example.com"),
			bad: []string{`--smtp-url: smtp URL scheme "https" is not smtp or smtps`}},
		{name: "smtp url with a path", args: with("--smtp-url", provider+"/x"),
			bad: []string{"--smtp-url: smtp URL must not have a path"}},
		{name: "smtp url without password", args: with("--smtp-url", "smtp://mfa@smtp.example.com"),
			bad: []string{"--smtp-url: smtp URL user info needs both a user and a password"}},
		{name: "smtp from missing", args: []string{"--smtp-url", provider},
			bad: []string{"--smtp-from is required with --smtp-url"}},
		{name: "smtp from bad", args: []string{"--smtp-url", provider, "--smtp-from", "mfa at example"},
			bad: []string{`--smtp-from "mfa at example" is not an email address`}},
		{name: "smtp from without url", args: from,
			bad: []string{"--smtp-from is set but --smtp-url is not"}},
		{name: "smtp tls unknown", args: with("--smtp-url", provider, "--smtp-tls", "sometimes"),
			bad: []string{`--smtp-tls is "sometimes"; it must be mandatory, opportunistic or none`}},
		{name: "smtp tls none for a remote host",
			args: with("--smtp-url", provider, "--smtp-tls", "none"),
			bad: []string{"--smtp-url: smtp TLS policy none is allowed only for a loopback " +
				"host, not smtp.example.com"}},
		{name: "smtps with opportunistic TLS", args: with("--smtp-url",
			"smtps://smtp.example.com", "--smtp-tls", "opportunistic"),
			bad: []string{"--smtp-url: smtps uses implicit TLS"}},
		{name: "security contact without smtp", args: []string{"--security-contact", "soc@example.com"},
			bad: []string{"--security-contact needs --smtp-url"}},
		{name: "security contact bad", args: with("--smtp-url", provider,
			"--security-contact", "SOC <soc@example.com>"),
			bad: []string{`--security-contact "SOC <soc@example.com>" is not an email address`}},
		{name: "twilio", args: twilio},
		{name: "twilio without sid, token and from", args: []string{"--sms-gateway", "twilio"},
			bad: []string{"--sms-gateway twilio needs --twilio-account-sid",
				"--sms-gateway twilio needs --twilio-auth-token",
				"--sms-gateway twilio needs --twilio-from"}},
		{name: "twilio url over http", args: append(twilio, "--twilio-url", "http://twilio.example.com"),
			bad: []string{"--sms-gateway twilio: twilio base URL must use https"}},
		{name: "twilio settings without twilio", args: twilio[2:],
			bad: []string{"--sms-gateway is none, not twilio"}},
		{name: "webhook", args: append(hook, "--sms-webhook-header", "Authorization: "+headerValue,
			"--sms-webhook-body", `{"number": {{json .To}}, "message": {{json .Text}}}`)},
		{name: "webhook without url", args: []string{"--sms-gateway", "webhook"},
			bad: []string{"--sms-gateway webhook needs --sms-webhook-url"}},
		{name: "webhook over http to a remote host",
			args: []string{"--sms-gateway", "webhook", "--sms-webhook-url", "http://sms.example.com"},
			bad:  []string{"--sms-gateway webhook: sms webhook URL must use https"}},
		{name: "webhook header without a colon",
			args: append(hook, "--sms-webhook-header", "X-Id: 1", "--sms-webhook-header", headerValue),
			bad:  []string{`--sms-webhook-header number 2 is not "Name: value"`}},
		{name: "webhook header lines without a colon",
			env: map[string]string{
				"MFAD_SMS_WEBHOOK_HEADERS": headerValue + "\nX-Key: 1\n: " + headerValue},
			args: hook,
			bad: []string{`--sms-webhook-header number 1 is not "Name: value"`,
				`--sms-webhook-header number 3 is not "Name: value"`}},
		{name: "webhook header twice", args: append(hook, "--sms-webhook-header", "x-key: 1",
			"--sms-webhook-header", "X-Key: "+headerValue),
			bad: []string{"--sms-webhook-header X-Key is given twice"}},
		{name: "webhook header bad name", args: append(hook, "--sms-webhook-header",
			"Api Key: "+headerValue),
			bad: []string{`--sms-gateway webhook: sms webhook header "Api Key" is invalid`}},
		{name: "webhook body template", args: append(hook, "--sms-webhook-body", "{{.To"),
			bad: []string{"--sms-gateway webhook: sms webhook body template"}},
		{name: "webhook settings without webhook", args: hook[2:],
			bad: []string{"--sms-gateway is none, not webhook"}},
		{name: "unknown gateway", args: []string{"--sms-gateway", "pigeon"},
			bad: []string{`--sms-gateway is "pigeon"; it must be none, webhook or twilio`}},
		{name: "dispatch interval", args: []string{"--dispatch-interval", "250ms"}},
		{name: "dispatch interval zero", args: []string{"--dispatch-interval", "0"},
			bad: []string{`--dispatch-interval is "0"; it must be a duration from 100ms to 1h`}},
		{name: "dispatch interval long", args: []string{"--dispatch-interval", "2h"},
			bad: []string{`--dispatch-interval is "2h"`}},
		{name: "dispatch interval words", env: map[string]string{"MFAD_DISPATCH_INTERVAL": "often"},
			bad: []string{`--dispatch-interval is "often"`}},
		{name: "templates folder missing", args: []string{"--notice-templates", "/nonexistent"},
			bad: []string{`--notice-templates "/nonexistent" is not a folder`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.env, true, tt.args...)
			if len(tt.bad) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				checkBuilt(t, c)
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want problems mentioning %q", tt.bad)
			}
			for _, want := range tt.bad {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
			noSecrets(t, "Validate()", err.Error())
		})
	}
}

// checkBuilt checks that valid settings build what they name.
func checkBuilt(t *testing.T, c *Config) {
	t.Helper()
	mailer, err := c.Mailer()
	if err != nil || (mailer != nil) != (c.SMTPURL != "") {
		t.Errorf("Mailer() = %v, %v; want a mail server exactly when --smtp-url is set",
			mailer, err)
	}
	sms, err := c.SMS()
	if err != nil || (sms != nil) != (c.SMSGateway != "none") {
		t.Errorf("SMS() = %v, %v; want a gateway exactly when --sms-gateway is not none",
			sms, err)
	}
}

// noSecrets fails the test if s holds any of the notice tests' secrets.
func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{smtpPassword, "hdr-s3cret", twilioToken} {
		if strings.Contains(s, secret) {
			t.Errorf("%s = %q, want the secret %q hidden", what, s, secret)
		}
	}
}

func TestNoticeProblemsAtOnce(t *testing.T) {
	env := map[string]string{
		"MFAD_SMTP_URL":            "smtp://mfa:" + smtpPassword + "@smtp.example.com",
		"MFAD_DATABASE":            "postgres://db.example/mfad",
		"MFAD_DATABASE_FILE":       "/nonexistent",
		"MFAD_SMS_WEBHOOK_HEADERS": headerValue,
	}
	_, err := load(t, env, true, "--smtp-tls", "none", "--security-contact", "soc",
		"--sms-gateway", "webhook", "--twilio-auth-token", twilioToken,
		"--dispatch-interval", "1d", "--notice-templates", "/nonexistent", "--http-addr", "x")
	if err == nil {
		t.Fatal("Validate() = nil, want problems")
	}
	for _, want := range []string{
		"set MFAD_DATABASE or MFAD_DATABASE_FILE, not both",
		"--http-addr",
		`--dispatch-interval is "1d"`,
		"--smtp-from is required with --smtp-url",
		"--smtp-url: smtp TLS policy none is allowed only for a loopback host",
		`--security-contact "soc" is not an email address`,
		"--sms-gateway is webhook, not twilio",
		`--sms-webhook-header number 1 is not "Name: value"`,
		"--sms-gateway webhook needs --sms-webhook-url",
		`--notice-templates "/nonexistent" is not a folder`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, want it to mention %q", err, want)
		}
	}
	noSecrets(t, "Validate()", err.Error())
}

func TestNoticeSecretsHidden(t *testing.T) {
	smtpURL := "smtps://mfa:" + smtpPassword + "@smtp.example.com"
	tests := []struct {
		name string
		args []string
		show []string // what the log form must show
	}{
		{name: "webhook", args: []string{"--smtp-url", smtpURL, "--smtp-from", "mfa@example.com",
			"--sms-gateway", "webhook", "--sms-webhook-url", "https://sms.example.com/send?key=q-s3cret",
			"--sms-webhook-header", "Authorization: " + headerValue,
			"--sms-webhook-header", "X-Api-Key: " + headerValue},
			show: []string{"smtps://mfa:xxxxx@smtp.example.com", "mfa@example.com",
				"https://sms.example.com/send?xxxxx", "[Authorization X-Api-Key]"}},
		{name: "twilio", args: []string{"--sms-gateway", "twilio", "--twilio-account-sid", "AC123",
			"--twilio-auth-token", twilioToken, "--twilio-from", "+15005550006"},
			show: []string{"smtp=none", "AC123", "+15005550006", "https://api.twilio.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, nil, true, tt.args...)
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			for what, got := range map[string]string{
				"LogValue()":  c.LogValue().String(),
				"String()":    c.String(),
				"Sprint(c)":   fmt.Sprint(c),
				"slog line":   logLine(c),
				"Mailer name": fmt.Sprint(mustMailer(t, c)),
			} {
				noSecrets(t, what, got)
				if strings.Contains(got, "q-s3cret") {
					t.Errorf("%s = %q, want the query of the SMS webhook URL hidden", what, got)
				}
				if what == "LogValue()" {
					for _, want := range tt.show {
						if !strings.Contains(got, want) {
							t.Errorf("%s = %q, want it to show %q", what, got, want)
						}
					}
				}
			}
		})
	}
}

func logLine(c *Config) string {
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("mfad started", "config", c)
	return b.String()
}

func mustMailer(t *testing.T, c *Config) any {
	t.Helper()
	m, err := c.Mailer()
	if err != nil {
		t.Fatalf("Mailer() = %v", err)
	}
	if m == nil {
		return "none"
	}
	return m
}

func TestNoticeSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	smtpURL := "smtp://mfa:" + smtpPassword + "@127.0.0.1:2525"
	env := map[string]string{
		"MFAD_SMTP_URL_FILE":   write("smtp", smtpURL+"\n"),
		"MFAD_SMTP_FROM":       "mfa@example.com",
		"MFAD_SMTP_TLS":        "none",
		"MFAD_SMS_GATEWAY":     "webhook",
		"MFAD_SMS_WEBHOOK_URL": "https://sms.example.com/send",
		"MFAD_SMS_WEBHOOK_HEADERS_FILE": write("headers",
			"Authorization: "+headerValue+"\r\n\r\nX-Account: 42\n"),
	}
	c, err := load(t, env, true)
	if err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.SMTPURL != smtpURL {
		t.Errorf("SMTPURL = %q, want %q from MFAD_SMTP_URL_FILE", c.SMTPURL, smtpURL)
	}
	want := []string{"Authorization: " + headerValue, "X-Account: 42"}
	if strings.Join(c.SMSWebhookHeaders, "|") != strings.Join(want, "|") {
		t.Errorf("SMSWebhookHeaders = %q, want %q from MFAD_SMS_WEBHOOK_HEADERS_FILE",
			c.SMSWebhookHeaders, want)
	}

	// A header given as a flag replaces those from the environment.
	c, err = load(t, env, true, "--sms-webhook-header", "X-Other: 1")
	if err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if len(c.SMSWebhookHeaders) != 1 || c.SMSWebhookHeaders[0] != "X-Other: 1" {
		t.Errorf("SMSWebhookHeaders with --sms-webhook-header = %q, want the flag's alone",
			c.SMSWebhookHeaders)
	}

	twilio := map[string]string{
		"MFAD_SMS_GATEWAY": "twilio", "MFAD_TWILIO_ACCOUNT_SID": "AC123",
		"MFAD_TWILIO_FROM":            "+15005550006",
		"MFAD_TWILIO_AUTH_TOKEN_FILE": write("token", twilioToken+"\n"),
	}
	c, err = load(t, twilio, true)
	if err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.TwilioAuthToken != twilioToken {
		t.Errorf("TwilioAuthToken = %q, want it from MFAD_TWILIO_AUTH_TOKEN_FILE",
			c.TwilioAuthToken)
	}

	secrets := []string{"MFAD_SMTP_URL", "MFAD_SMS_WEBHOOK_HEADERS", "MFAD_TWILIO_AUTH_TOKEN"}
	for _, key := range secrets {
		t.Run(key, func(t *testing.T) {
			both := map[string]string{key: "x: y", key + "_FILE": write("x", "x: y")}
			_, err := load(t, both, true)
			if err == nil || !strings.Contains(err.Error(), "set "+key+" or "+key+"_FILE, not both") {
				t.Errorf("Validate() with %s and %s_FILE = %v, want them refused together",
					key, key, err)
			}
			missing := map[string]string{key + "_FILE": filepath.Join(dir, "missing")}
			_, err = load(t, missing, true)
			if err == nil || !strings.Contains(err.Error(), key+"_FILE: ") {
				t.Errorf("Validate() with a missing %s_FILE = %v, want it reported", key, err)
			}
		})
	}
}

// TestSecretsNotInHelp checks that -h, which prints each flag's default,
// does not show a secret taken from the environment.
func TestSecretsNotInHelp(t *testing.T) {
	env := map[string]string{
		"MFAD_DATABASE":            "postgres://mfad:db-s3cret@db.example/mfad",
		"MFAD_SMTP_URL":            "smtp://mfa:" + smtpPassword + "@smtp.example.com",
		"MFAD_SMS_WEBHOOK_HEADERS": "Authorization: " + headerValue,
		"MFAD_TWILIO_AUTH_TOKEN":   twilioToken,
	}
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var help strings.Builder
	fs.SetOutput(&help)
	c.BindCommon(fs, lookup)
	c.BindServer(fs, lookup)
	fs.PrintDefaults()
	noSecrets(t, "PrintDefaults()", help.String())
	if strings.Contains(help.String(), "db-s3cret") {
		t.Errorf("PrintDefaults() = %q, want the database password hidden", help.String())
	}
	if !strings.Contains(help.String(), "MFAD_SMTP_URL or MFAD_SMTP_URL_FILE") {
		t.Errorf("PrintDefaults() = %q, want --smtp-url with its variables", help.String())
	}
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.TwilioAuthToken != twilioToken || len(c.SMSWebhookHeaders) != 1 {
		t.Errorf("TwilioAuthToken %q, SMSWebhookHeaders %q; want them from the environment",
			c.TwilioAuthToken, c.SMSWebhookHeaders)
	}
}

func TestNoticeTemplates(t *testing.T) {
	tests := []struct {
		name    string
		file    string // written into the folder
		content string
		bad     string // what the problem mentions; empty when valid
	}{
		{name: "override", file: "backup_codes.generated.txt",
			content: `{{define "subject"}}New codes for {{.User}}{{end}}`},
		{name: "does not parse", file: "backup_codes.generated.txt",
			content: `{{define "subject"}}{{.User{{end}}`,
			bad:     "--notice-templates: template backup_codes.generated.txt"},
		{name: "fails to render", file: "user.locked.txt",
			content: `{{define "subject"}}{{.NoSuchField}}{{end}}`,
			bad:     "--notice-templates: render user.locked"},
		{name: "text outside define", file: "default.html", content: `<p>hello</p>`,
			bad: "text outside {{define}} would be ignored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o600)
			if err != nil {
				t.Fatal(err)
			}
			c, err := load(t, nil, true, "--notice-templates", dir)
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if tmpl, err := c.Templates(); err != nil || tmpl == nil {
					t.Fatalf("Templates() = %v, %v; want the templates", tmpl, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("Validate() = %v, want it to mention %q", err, tt.bad)
			}
		})
	}
}

// TestWebhookSMSHeaders sends a message through the webhook gateway the
// settings build, and checks that it carries the configured headers.
func TestWebhookSMSHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	env := map[string]string{"MFAD_SMS_WEBHOOK_HEADERS": "authorization: " + headerValue +
		"\nX-Account:  42 "}
	c, err := load(t, env, true, "--sms-gateway", "webhook", "--sms-webhook-url", srv.URL)
	if err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	g, err := c.SMS()
	if err != nil {
		t.Fatalf("SMS() = %v", err)
	}
	if err := g.Send(context.Background(), "+4915123456789", "hello"); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	h := <-got
	if h.Get("Authorization") != headerValue || h.Get("X-Account") != "42" {
		t.Errorf("gateway request headers = %v, want Authorization %q and X-Account 42",
			h, headerValue)
	}
}

func TestRADIUSSettings(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("clients:\n  - name: vpn\n    address: 10.0.0.0/24\n"+
		"    secret: \"a secret of sixteen or more\"\n"), 0o600)
	os.WriteFile(bad, []byte("clients:\n  - name: vpn\n    address: nowhere\n"+
		"    secret: short-secret\n"), 0o600)
	tests := []struct {
		name string
		args []string
		bad  []string // what the problems mention; none when valid
	}{
		{name: "off", args: nil},
		{name: "on", args: []string{"--radius-addr", ":1812", "--radius-clients", good}},
		{name: "no clients", args: []string{"--radius-addr", ":1812"},
			bad: []string{"--radius-addr needs --radius-clients"}},
		{name: "clients without the front door", args: []string{"--radius-clients", good},
			bad: []string{"--radius-clients is set but --radius-addr is not"}},
		{name: "bad address", args: []string{"--radius-addr", "1812", "--radius-clients", good},
			bad: []string{`--radius-addr "1812" is not host:port`}},
		{name: "every problem of the file",
			args: []string{"--radius-addr", ":1812", "--radius-clients", bad},
			bad:  []string{"--radius-clients " + bad, "nowhere", "shorter than 16"}},
		{name: "no such file",
			args: []string{"--radius-addr", ":1812", "--radius-clients", dir + "/none.yaml"},
			bad:  []string{"none.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, nil, true, tt.args...)
			if len(tt.bad) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if cl, err := c.RADIUSClients(); err != nil || (c.RADIUSAddr != "") != (len(cl) == 1) {
					t.Errorf("RADIUSClients() = %d clients, %v", len(cl), err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want problems")
			}
			for _, want := range tt.bad {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "short-secret") {
				t.Errorf("Validate() = %q, shows a secret", err)
			}
		})
	}
}
