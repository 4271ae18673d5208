package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net/mail"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/notify"
)

// The settings of notices, email codes and SMS codes. The mail server, the
// SMS gateway and the templates are built by the notify package; Validate
// builds each once, so that whatever it finds wrong is reported with every
// other problem, and the server builds them again from the same settings.

// SMS gateways for --sms-gateway.
const (
	GatewayNone    = "none"
	GatewayWebhook = "webhook"
	GatewayTwilio  = "twilio"
)

// Bounds of --dispatch-interval.
const (
	minDispatchInterval = 100 * time.Millisecond
	maxDispatchInterval = time.Hour
)

// bindNotices adds the settings of notices, email and SMS to fs.
func (c *Config) bindNotices(fs *flag.FlagSet, env Env) {
	c.secret(fs, env, &c.SMTPURL, "smtp-url", "MFAD_SMTP_URL", "",
		"mail server `URL` for notices and email codes: smtp://user:pass@host:587 "+
			"(STARTTLS) or smtps://user:pass@host:465 (TLS); empty sends no email")
	c.str(fs, env, &c.SMTPFrom, "smtp-from", "MFAD_SMTP_FROM", "",
		"sender `address` of every email, such as \"Example MFA <mfa@example.com>\" "+
			"(required with --smtp-url)")
	c.str(fs, env, &c.SMTPTLS, "smtp-tls", "MFAD_SMTP_TLS", string(notify.TLSMandatory),
		"STARTTLS `policy` for smtp:// URLs: mandatory, opportunistic, or none "+
			"(a loopback host only)")
	c.str(fs, env, &c.SecurityContact, "security-contact", "MFAD_SECURITY_CONTACT", "",
		"email `address` also told of the events the policy's notices.security_contact names")
	c.str(fs, env, &c.NoticeTemplates, "notice-templates", "MFAD_NOTICE_TEMPLATES", "",
		"`folder` of notice templates (TYPE.txt, TYPE.html) that replace the built-in "+
			"ones of the same name")
	c.str(fs, env, &c.DispatchInterval, "dispatch-interval", "MFAD_DISPATCH_INTERVAL", "1s",
		"how often the server delivers waiting notices and webhook events: a `duration` "+
			"from 100ms to 1h")
	c.str(fs, env, &c.SMSGateway, "sms-gateway", "MFAD_SMS_GATEWAY", GatewayNone,
		"`gateway` that sends SMS codes: none, webhook or twilio")
	c.str(fs, env, &c.SMSWebhookURL, "sms-webhook-url", "MFAD_SMS_WEBHOOK_URL", "",
		"`URL` the webhook gateway posts each text message to (https, or http to loopback)")
	c.secretLines(fs, env, &c.SMSWebhookHeaders, "sms-webhook-header",
		"MFAD_SMS_WEBHOOK_HEADERS",
		"`\"Name: value\"` header sent with every text message, such as the gateway's "+
			"API key; repeat for several (the variable holds one a line)")
	c.str(fs, env, &c.SMSWebhookBody, "sms-webhook-body", "MFAD_SMS_WEBHOOK_BODY", "",
		"body `template` of the webhook gateway's request, over {{.To}} and {{.Text}}, "+
			"with json to quote them (default "+notify.DefaultSMSBody+")")
	c.str(fs, env, &c.TwilioAccountSID, "twilio-account-sid", "MFAD_TWILIO_ACCOUNT_SID", "",
		"Twilio account `SID`")
	c.secret(fs, env, &c.TwilioAuthToken, "twilio-auth-token", "MFAD_TWILIO_AUTH_TOKEN", "",
		"Twilio auth `token`; better from the file than on the command line")
	c.str(fs, env, &c.TwilioFrom, "twilio-from", "MFAD_TWILIO_FROM", "",
		"`number` (E.164) or sender ID Twilio sends from")
	c.str(fs, env, &c.TwilioURL, "twilio-url", "MFAD_TWILIO_URL", notify.DefaultTwilioBaseURL,
		"Twilio API `URL`")
}

// secretLines binds a repeatable setting whose values are secrets. The
// environment variable KEY (or the file KEY_FILE names) holds one value a
// line; a value given as a flag replaces those from the environment.
func (c *Config) secretLines(fs *flag.FlagSet, env Env, p *[]string, name, key,
	usage string) {
	if v, ok := c.secretEnv(env, key); ok {
		for line := range strings.Lines(v) {
			if line = strings.TrimRight(line, "\r\n"); strings.TrimSpace(line) != "" {
				*p = append(*p, line)
			}
		}
	}
	fs.Var(&linesFlag{p: p}, name, usage+" ["+key+" or "+key+"_FILE]")
}

// linesFlag is a repeatable flag over a slice that may already hold values
// from the environment: the first value given as a flag replaces them.
type linesFlag struct {
	p   *[]string
	set bool
}

// String shows nothing: the values are secrets, and -h prints it.
func (l *linesFlag) String() string { return "" }

func (l *linesFlag) Set(s string) error {
	if !l.set {
		*l.p, l.set = nil, true
	}
	*l.p = append(*l.p, s)
	return nil
}

// DispatchEvery returns --dispatch-interval as a duration.
func (c *Config) DispatchEvery() (time.Duration, error) {
	d, err := time.ParseDuration(c.DispatchInterval)
	if err != nil || d < minDispatchInterval || d > maxDispatchInterval {
		return 0, fmt.Errorf("--dispatch-interval is %q; it must be a duration from 100ms "+
			"to 1h, such as 1s", c.DispatchInterval)
	}
	return d, nil
}

// Mailer returns the mail server that sends notices and email codes, or
// nil when --smtp-url is empty.
func (c *Config) Mailer() (*notify.SMTP, error) {
	if c.SMTPURL == "" {
		return nil, nil
	}
	return notify.NewSMTP(c.smtpConfig())
}

func (c *Config) smtpConfig() notify.SMTPConfig {
	return notify.SMTPConfig{URL: c.SMTPURL, From: c.SMTPFrom,
		TLS: notify.TLSPolicy(c.SMTPTLS)}
}

// SMS returns the gateway that sends SMS codes, or nil for none. Admin
// commands bind no gateway (an empty setting) and get none.
func (c *Config) SMS() (notify.SMS, error) {
	switch c.SMSGateway {
	case "", GatewayNone:
		return nil, nil
	case GatewayWebhook:
		headers, problems := parseHeaders(c.SMSWebhookHeaders)
		if len(problems) > 0 {
			return nil, errors.New(strings.Join(problems, "; "))
		}
		// A nil *WebhookSMS must not become a non-nil notify.SMS.
		g, err := notify.NewWebhookSMS(c.webhookSMSConfig(headers))
		if err != nil {
			return nil, err
		}
		return g, nil
	case GatewayTwilio:
		g, err := notify.NewTwilioSMS(c.twilioConfig())
		if err != nil {
			return nil, err
		}
		return g, nil
	}
	return nil, fmt.Errorf("--sms-gateway is %q; it must be none, webhook or twilio",
		c.SMSGateway)
}

func (c *Config) webhookSMSConfig(headers map[string]string) notify.WebhookSMSConfig {
	return notify.WebhookSMSConfig{URL: c.SMSWebhookURL, Headers: headers,
		Body: c.SMSWebhookBody}
}

func (c *Config) twilioConfig() notify.TwilioConfig {
	return notify.TwilioConfig{BaseURL: c.TwilioURL, AccountSID: c.TwilioAccountSID,
		AuthToken: c.TwilioAuthToken, From: c.TwilioFrom}
}

// Templates returns the notice templates with the overrides of
// --notice-templates, or nil when it is empty: the built-in ones.
func (c *Config) Templates() (*notify.Templates, error) {
	if c.NoticeTemplates == "" {
		return nil, nil
	}
	return notify.LoadTemplates(c.NoticeTemplates)
}

// standIn is given to a notify constructor in place of a setting already
// reported as missing or malformed.
//
// NOTE: the constructors check everything at once too, in their own words.
// A stand-in keeps them from reporting again, without the flag's name, what
// Validate has reported, while their other checks still run.
const standIn = "stand-in@mfad.invalid"

// checkNotices returns every problem of the settings of notices, email and
// SMS.
func (c *Config) checkNotices() []string {
	var problems []string
	if _, err := c.DispatchEvery(); err != nil {
		problems = append(problems, err.Error())
	}
	problems = append(problems, c.checkMail()...)
	problems = append(problems, c.checkSMS()...)
	if c.NoticeTemplates != "" {
		if fi, err := os.Stat(c.NoticeTemplates); err != nil || !fi.IsDir() {
			problems = append(problems, fmt.Sprintf("--notice-templates %q is not a folder",
				c.NoticeTemplates))
		} else if _, err := c.Templates(); err != nil {
			problems = append(problems, notifyProblems("--notice-templates", err)...)
		}
	}
	return problems
}

// checkMail returns the problems of the mail server's settings. The URL is
// never repeated: it may hold a password.
func (c *Config) checkMail() []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if c.SMTPURL == "" {
		if c.SMTPFrom != "" {
			bad("--smtp-from is set but --smtp-url is not: without a mail server no email " +
				"is sent")
		}
		if c.SecurityContact != "" {
			bad("--security-contact needs --smtp-url: the security contact is told by email")
		}
		return problems
	}

	cfg := c.smtpConfig()
	switch {
	case strings.TrimSpace(c.SMTPFrom) == "":
		bad("--smtp-from is required with --smtp-url: the address every email comes from")
		cfg.From = standIn
	case !isAddress(c.SMTPFrom, true):
		bad("--smtp-from %q is not an email address such as mfa@example.com or "+
			"\"Example MFA <mfa@example.com>\"", c.SMTPFrom)
		cfg.From = standIn
	}
	if _, err := notify.ParseTLSPolicy(c.SMTPTLS); err != nil {
		bad("--smtp-tls is %q; it must be mandatory, opportunistic or none", c.SMTPTLS)
		cfg.TLS = notify.TLSMandatory
	}
	if _, err := notify.NewSMTP(cfg); err != nil {
		problems = append(problems, notifyProblems("--smtp-url", err)...)
	}
	if c.SecurityContact != "" && !isAddress(c.SecurityContact, false) {
		bad("--security-contact %q is not an email address such as soc@example.com",
			c.SecurityContact)
	}
	return problems
}

// isAddress reports whether s is one email address: a bare one, or with a
// display name when named is set.
func isAddress(s string, named bool) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && (named || a.Address == s)
}

// checkSMS returns the problems of the SMS gateway's settings. No header
// value and no auth token is repeated.
func (c *Config) checkSMS() []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	webhookSet := c.SMSWebhookURL != "" || len(c.SMSWebhookHeaders) > 0 ||
		c.SMSWebhookBody != ""
	twilioSet := c.TwilioAccountSID != "" || c.TwilioAuthToken != "" || c.TwilioFrom != ""
	switch c.SMSGateway {
	case GatewayNone, GatewayWebhook, GatewayTwilio:
	default:
		bad("--sms-gateway is %q; it must be none, webhook or twilio", c.SMSGateway)
		return problems
	}
	if webhookSet && c.SMSGateway != GatewayWebhook {
		bad("--sms-webhook-url, --sms-webhook-header or --sms-webhook-body is set, but "+
			"--sms-gateway is %s, not webhook", c.SMSGateway)
	}
	if twilioSet && c.SMSGateway != GatewayTwilio {
		bad("--twilio-account-sid, --twilio-auth-token or --twilio-from is set, but "+
			"--sms-gateway is %s, not twilio", c.SMSGateway)
	}

	switch c.SMSGateway {
	case GatewayWebhook:
		headers, hp := parseHeaders(c.SMSWebhookHeaders)
		problems = append(problems, hp...)
		cfg := c.webhookSMSConfig(headers)
		if c.SMSWebhookURL == "" {
			bad("--sms-gateway webhook needs --sms-webhook-url")
			cfg.URL = "https://mfad.invalid/"
		}
		if _, err := notify.NewWebhookSMS(cfg); err != nil {
			problems = append(problems, notifyProblems("--sms-gateway webhook", err)...)
		}
	case GatewayTwilio:
		cfg := c.twilioConfig()
		for _, s := range []struct {
			value *string
			flag  string
		}{
			{&cfg.AccountSID, "--twilio-account-sid"},
			{&cfg.AuthToken, "--twilio-auth-token (or MFAD_TWILIO_AUTH_TOKEN_FILE)"},
			{&cfg.From, "--twilio-from"},
		} {
			if strings.TrimSpace(*s.value) == "" {
				bad("--sms-gateway twilio needs %s", s.flag)
				*s.value = "standin"
			}
		}
		if _, err := notify.NewTwilioSMS(cfg); err != nil {
			problems = append(problems, notifyProblems("--sms-gateway twilio", err)...)
		}
	}
	return problems
}

// parseHeaders reads "Name: value" lines into a map by canonical name. A
// problem names the line by its number, never by its text, which may be
// a key given without its name.
func parseHeaders(lines []string) (map[string]string, []string) {
	headers := make(map[string]string, len(lines))
	var problems []string
	for i, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			problems = append(problems, fmt.Sprintf("--sms-webhook-header number %d is not "+
				"\"Name: value\" (its text is not shown: it may be a key)", i+1))
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if _, dup := headers[key]; dup {
			problems = append(problems, fmt.Sprintf("--sms-webhook-header %s is given twice",
				key))
		}
		headers[key] = strings.TrimSpace(value)
	}
	return headers, problems
}

// notifyProblems turns an error of a notify constructor, which may join
// several, into problems under prefix, one for each.
func notifyProblems(prefix string, err error) []string {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var problems []string
	for _, e := range errs {
		for line := range strings.Lines(e.Error()) {
			// A joined error nested inside prints one error a line.
			line = strings.TrimPrefix(strings.TrimSpace(line), "notify: ")
			if line != "" {
				problems = append(problems, prefix+": "+line)
			}
		}
	}
	return problems
}

// noticeAttrs describes the settings of notices for the log, without a
// secret: the mail server's password, the gateway's header values and the
// auth token are left out, and so is any query of the gateway's URL.
func (c *Config) noticeAttrs() []slog.Attr {
	mailer := "none"
	if c.SMTPURL != "" {
		mailer = redactURL(c.SMTPURL)
	}
	attrs := []slog.Attr{slog.String("smtp", mailer)}
	if c.SMTPURL != "" {
		attrs = append(attrs, slog.String("smtp_from", c.SMTPFrom),
			slog.String("smtp_tls", c.SMTPTLS))
	}
	if c.SecurityContact != "" {
		attrs = append(attrs, slog.String("security_contact", c.SecurityContact))
	}
	if c.NoticeTemplates != "" {
		attrs = append(attrs, slog.String("notice_templates", c.NoticeTemplates))
	}
	attrs = append(attrs, slog.String("dispatch_interval", c.DispatchInterval),
		slog.String("sms_gateway", c.SMSGateway))
	switch c.SMSGateway {
	case GatewayWebhook:
		headers, _ := parseHeaders(c.SMSWebhookHeaders)
		names := slices.Sorted(maps.Keys(headers))
		attrs = append(attrs, slog.String("sms_webhook_url", redactURL(c.SMSWebhookURL)),
			slog.Any("sms_webhook_headers", names))
	case GatewayTwilio:
		attrs = append(attrs, slog.String("twilio_account_sid", c.TwilioAccountSID),
			slog.String("twilio_from", c.TwilioFrom),
			slog.String("twilio_url", redactURL(c.TwilioURL)))
	}
	return attrs
}

// redactURL hides the password and the query of a URL, and the whole URL
// when it cannot be parsed, since the parser's own message would repeat it.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL hidden)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "xxxxx"
	}
	return u.Redacted()
}
