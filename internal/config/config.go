// Package config reads mfad's settings from flags, MFAD_* environment
// variables and *_FILE variants for secrets, in that order of precedence, and
// validates them, reporting every problem at once.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Env looks up an environment variable; os.LookupEnv in production.
type Env func(key string) (string, bool)

// Config is every setting of mfad. Subcommands bind the common settings;
// serve binds the server settings as well.
type Config struct {
	Data      string // data folder: SQLite database and key file
	Database  string // database URL; empty means SQLite in Data
	KeyFile   string // key ring file; empty means keyring.json in Data
	LogLevel  string
	LogFormat string
	Issuer    string // name authenticator apps show beside the account

	HTTPAddr       string
	TLSCertFile    string
	TLSKeyFile     string
	TrustedProxies string // comma-separated addresses or CIDR prefixes
	SignInRate     string // sign-in attempts per minute per address; "0" for no limit
	// PublicURL is where people reach mfad, for links in notices. When it
	// is not set, Validate derives it from HTTPAddr.
	PublicURL string
	// RADIUSAddr is the UDP address of the RADIUS front door, "" for off;
	// RADIUSClientsFile the YAML file of its clients.
	RADIUSAddr        string
	RADIUSClientsFile string
	// WebAuthnRPID and WebAuthnOrigins name the relying party of security
	// keys and passkeys; empty, they follow PublicURL.
	WebAuthnRPID    string
	WebAuthnOrigins string

	// Notices, email and SMS (notices.go). The secrets among them (the
	// mail server URL, which may hold a password, the SMS webhook's header
	// values and the Twilio auth token) never appear in LogValue or String.
	SMTPURL           string
	SMTPFrom          string
	SMTPTLS           string // mandatory, opportunistic or none
	SecurityContact   string
	NoticeTemplates   string // folder of templates overriding the built-in ones
	DispatchInterval  string // a Go duration
	SMSGateway        string // none, webhook or twilio
	SMSWebhookURL     string
	SMSWebhookHeaders []string // "Name: value" lines
	SMSWebhookBody    string
	TwilioAccountSID  string
	TwilioAuthToken   string
	TwilioFrom        string
	TwilioURL         string

	server        bool
	publicDefault bool // PublicURL was derived, not set
	problems      []string
}

// BindCommon adds the settings every subcommand shares to fs. Flag defaults
// come from the environment, so a flag overrides its variable, which
// overrides the built-in default.
func (c *Config) BindCommon(fs *flag.FlagSet, env Env) {
	c.str(fs, env, &c.Data, "data", "MFAD_DATA", "./mfad-data",
		"data `folder` for the SQLite database and the key file")
	c.secret(fs, env, &c.Database, "database", "MFAD_DATABASE", "",
		"database `URL`: empty for SQLite in the data folder, or postgres://...")
	c.str(fs, env, &c.KeyFile, "key-file", "MFAD_KEY_FILE", "",
		"key ring `file` (default: keyring.json in the data folder)")
	c.str(fs, env, &c.LogLevel, "log-level", "MFAD_LOG_LEVEL", "info",
		"log `level`: debug, info, warn or error")
	c.str(fs, env, &c.LogFormat, "log-format", "MFAD_LOG_FORMAT", "text",
		"log `format`: text or json")
	c.str(fs, env, &c.Issuer, "issuer", "MFAD_ISSUER", "mfad",
		"issuer `name` that authenticator apps show")
}

// BindServer adds the settings of `mfad serve` to fs.
func (c *Config) BindServer(fs *flag.FlagSet, env Env) {
	c.server = true
	c.str(fs, env, &c.HTTPAddr, "http-addr", "MFAD_HTTP_ADDR", "127.0.0.1:8080",
		"`address` for the HTTP API")
	c.str(fs, env, &c.TLSCertFile, "tls-cert", "MFAD_TLS_CERT", "",
		"TLS certificate `file` (PEM); serve HTTPS when set with --tls-key")
	c.str(fs, env, &c.TLSKeyFile, "tls-key", "MFAD_TLS_KEY", "",
		"TLS private key `file` (PEM)")
	c.str(fs, env, &c.TrustedProxies, "trusted-proxies", "MFAD_TRUSTED_PROXIES", "",
		"comma-separated `addresses` or prefixes of reverse proxies whose X-Forwarded-For is believed")
	c.str(fs, env, &c.SignInRate, "sign-in-rate", "MFAD_SIGN_IN_RATE", "10",
		"`attempts` each client address may make per minute at each route that takes no "+
			"credential (sign-in, pass requests, fraud reports); 0 for no limit")
	c.str(fs, env, &c.PublicURL, "public-url", "MFAD_PUBLIC_URL", "",
		"`URL` where people reach mfad, for links in notices, such as "+
			"https://mfa.example.com (default: http:// and --http-addr; "+
			"https:// with --tls-cert)")
	c.bindNotices(fs, env)
	c.bindRADIUS(fs, env)
	c.bindWebAuthn(fs, env)
}

// checkPublicURL returns every problem of an explicit --public-url. Links
// in notices are made from it alone, never from a request's Host or
// forwarded headers (SECURITY.md 10), so it must be a whole address.
func checkPublicURL(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's message repeats the URL, which may hold a password.
		return []string{"--public-url is not a URL"}
	}
	var problems []string
	shown := u.Redacted() // a password in it is not repeated
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("--public-url %q ", shown)+
			fmt.Sprintf(format, args...))
	}
	switch {
	case !u.IsAbs():
		bad("is not absolute; it must begin with https:// or http://")
	case u.Scheme != "http" && u.Scheme != "https":
		bad("has the scheme %s; it must be https or http", u.Scheme)
	}
	if u.IsAbs() && u.Hostname() == "" {
		bad("names no host")
	}
	if u.User != nil {
		bad("must not hold a user name or password")
	}
	if u.RawQuery != "" || u.ForceQuery {
		bad("must not have a query")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		bad("must not have a fragment")
	}
	return problems
}

// defaultPublicURL is the public URL when none is set: the server's own
// address, over HTTPS when it serves TLS. A listener on every interface
// (":8080") is named as localhost.
func (c *Config) defaultPublicURL() string {
	scheme := "http://"
	if c.TLSCertFile != "" {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return scheme + c.HTTPAddr // reported as a bad --http-addr
	}
	if host == "" {
		host = "localhost"
	}
	return scheme + net.JoinHostPort(host, port)
}

// PublicURLDefaulted reports whether the public URL was derived from
// --http-addr rather than set.
func (c *Config) PublicURLDefaulted() bool { return c.publicDefault }

// SignInAttempts returns --sign-in-rate as a number; 0 means no limit.
func (c *Config) SignInAttempts() (int, error) {
	n, err := strconv.Atoi(c.SignInRate)
	if err != nil || n < 0 || n > 10_000 {
		return 0, fmt.Errorf("--sign-in-rate is %q; it must be a whole number from 0 (no "+
			"limit) to 10000", c.SignInRate)
	}
	return n, nil
}

func (c *Config) str(fs *flag.FlagSet, env Env, p *string, name, key, def, usage string) {
	if v, ok := env(key); ok {
		def = v
	}
	fs.StringVar(p, name, def, usage+" ["+key+"]")
}

// secret binds a setting that may hold a secret, which can also be read from
// the file named by KEY_FILE (for container secrets) instead of KEY.
func (c *Config) secret(fs *flag.FlagSet, env Env, p *string, name, key, def, usage string) {
	if v, ok := c.secretEnv(env, key); ok {
		def = v
	}
	// NOTE: the value from the environment is set, not made the flag's
	// default, so that -h, which prints defaults, never shows it.
	fs.StringVar(p, name, "", usage+" ["+key+" or "+key+"_FILE]")
	*p = def
}

// secretEnv returns the value of KEY, or the content of the file KEY_FILE
// names without its final line break, and whether either was set. A
// problem with them is kept for Validate.
func (c *Config) secretEnv(env Env, key string) (string, bool) {
	v, inline := env(key)
	path, fromFile := env(key + "_FILE")
	switch {
	case inline && fromFile:
		c.problems = append(c.problems, fmt.Sprintf("set %s or %s_FILE, not both", key, key))
	case inline:
		return v, true
	case fromFile:
		b, err := os.ReadFile(path)
		if err != nil {
			c.problems = append(c.problems, fmt.Sprintf("%s_FILE: %v", key, err))
			return "", false
		}
		return strings.TrimRight(string(b), "\r\n"), true
	}
	return "", false
}

// Validate fills in derived defaults and reports every problem at once.
func (c *Config) Validate() error {
	problems := append([]string(nil), c.problems...)
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if c.Data == "" {
		bad("--data must not be empty")
	}
	if c.KeyFile == "" {
		c.KeyFile = filepath.Join(c.Data, "keyring.json")
	}
	if c.Database != "" && !IsPostgres(c.Database) {
		bad("--database must be empty (SQLite in the data folder) or a postgres:// URL")
	}
	if _, err := c.Level(); err != nil {
		bad("%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("--log-format is %q; it must be text or json", c.LogFormat)
	}
	if c.Issuer == "" || strings.Contains(c.Issuer, ":") {
		bad("--issuer must be non-empty and must not contain ':'")
	}
	if c.server {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			bad("--http-addr %q is not host:port", c.HTTPAddr)
		}
		if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
			bad("--tls-cert and --tls-key go together")
		}
		if _, err := c.Proxies(); err != nil {
			bad("%v", err)
		}
		if _, err := c.SignInAttempts(); err != nil {
			bad("%v", err)
		}
		if c.PublicURL == "" || c.publicDefault {
			c.PublicURL, c.publicDefault = c.defaultPublicURL(), true
		} else {
			problems = append(problems, checkPublicURL(c.PublicURL)...)
		}
		problems = append(problems, c.checkNotices()...)
		problems = append(problems, c.checkRADIUS()...)
		problems = append(problems, c.checkWebAuthn()...)
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("configuration:\n  " + strings.Join(problems, "\n  "))
}

// IsPostgres reports whether url names a PostgreSQL database.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// DatabaseURL is the database to open: the configured URL, or the SQLite
// file in the data folder.
func (c *Config) DatabaseURL() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.Data, "mfad.db")
}

// Level returns the configured log level.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level is %q; it must be debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// Proxies parses the trusted proxies.
func (c *Config) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is neither an address nor a prefix", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// LogValue shows the configuration in logs with any password hidden.
func (c *Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("data", c.Data),
		slog.String("database", Redact(c.DatabaseURL())),
		slog.String("key_file", c.KeyFile),
	}
	if c.server {
		attrs = append(attrs, slog.String("http_addr", c.HTTPAddr),
			slog.Bool("tls", c.TLSCertFile != ""), slog.String("public_url", c.PublicURL))
		attrs = append(attrs, c.noticeAttrs()...)
		if c.RADIUSAddr != "" {
			attrs = append(attrs, slog.String("radius_addr", c.RADIUSAddr),
				slog.String("radius_clients", c.RADIUSClientsFile))
		}
		if rpID, origins := c.WebAuthn(); rpID != "" {
			attrs = append(attrs, slog.String("webauthn_rp_id", rpID),
				slog.String("webauthn_origins", strings.Join(origins, ",")))
		}
	}
	return slog.GroupValue(attrs...)
}

// String is the configuration as LogValue shows it, secrets hidden, so
// that printing a *Config by mistake shows no password either.
func (c *Config) String() string { return c.LogValue().String() }

// Redact hides the password in a database URL.
func Redact(raw string) string {
	if !IsPostgres(raw) {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://(unparsable URL hidden)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
