package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// SMS sends a text message to a phone number through a gateway.
//
// Send delivers text to to, an E.164 number (NormalizePhone); a number not
// in that form is refused before any request. It returns nil once the
// gateway has accepted the message (any 2xx status) and otherwise an error
// naming the gateway and the status, never the text, which usually holds a
// code. Implementations are safe for concurrent use.
type SMS interface {
	Send(ctx context.Context, to, text string) error
}

// ErrPhone reports a phone number that is not in E.164 form.
var ErrPhone = errors.New("notify: phone number is not in E.164 form (+ and 8 to 15 digits)")

// NormalizePhone returns s as an E.164 number: a "+" and 8 to 15 digits,
// the first not 0. Spaces, dashes, dots and parentheses are dropped; the
// number must carry its country code, which is never guessed. The error
// does not repeat s.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune(" -.()\u00a0", r):
		default:
			return "", ErrPhone
		}
	}
	n := b.String()
	digits := strings.TrimPrefix(n, "+")
	if len(digits) == len(n) || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return "", ErrPhone
	}
	return n, nil
}

// DefaultSMSBody is the WebhookSMS body template used when none is set.
const DefaultSMSBody = `{"to": {{json .To}}, "text": {{json .Text}}}`

// WebhookSMSConfig configures a generic HTTP SMS gateway.
type WebhookSMSConfig struct {
	// URL receives a POST per message. It must be https, or http to a
	// loopback host.
	URL string
	// Headers are sent with every request, typically the gateway's API
	// key. Their values never appear in errors.
	Headers map[string]string
	// Body is a text/template over .To and .Text, with a "json" function
	// that JSON-quotes a string; empty means DefaultSMSBody.
	Body string
	// ContentType defaults to application/json.
	ContentType string
	// Client defaults to one with DefaultHTTPTimeout. Redirects are never
	// followed.
	Client *http.Client
}

// WebhookSMS is an SMS gateway reached by posting a templated body.
type WebhookSMS struct {
	url         string
	host        string
	headers     http.Header
	body        *template.Template
	contentType string
	client      *http.Client
}

// NewWebhookSMS checks cfg and returns the gateway.
func NewWebhookSMS(cfg WebhookSMSConfig) (*WebhookSMS, error) {
	var errs []error
	u, err := checkURL("sms webhook", cfg.URL)
	errs = append(errs, err)

	src := cfg.Body
	if src == "" {
		src = DefaultSMSBody
	}
	body, err := template.New("sms").Funcs(template.FuncMap{"json": jsonQuote}).Parse(src)
	if err != nil {
		errs = append(errs, fmt.Errorf("notify: sms webhook body template: %w", err))
	}

	headers := make(http.Header)
	for name, value := range cfg.Headers {
		if !validHeaderName(name) || strings.ContainsAny(value, "\r\n") {
			// The value is left out: it is usually a key.
			errs = append(errs, fmt.Errorf("notify: sms webhook header %q is invalid", name))
			continue
		}
		headers.Set(name, value)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	ct := cfg.ContentType
	if ct == "" {
		ct = "application/json"
	}
	return &WebhookSMS{
		url: u.String(), host: u.Host, headers: headers, body: body,
		contentType: ct, client: httpClient(cfg.Client),
	}, nil
}

// jsonQuote returns s as a JSON string literal.
func jsonQuote(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

// Send posts the rendered body to the gateway.
func (g *WebhookSMS) Send(ctx context.Context, to, text string) error {
	to, err := NormalizePhone(to)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	if err := g.body.Execute(&body, struct{ To, Text string }{to, text}); err != nil {
		// The template error could quote the text, so it is not passed on.
		return fmt.Errorf("notify: sms webhook %s: body template failed", g.host)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, &body)
	if err != nil {
		return requestError("sms webhook", g.host, err)
	}
	for name, values := range g.headers {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", g.contentType)
	req.Header.Set("User-Agent", userAgent)

	_, err = do(g.client, req, "sms webhook", g.host)
	return err
}

// TwilioConfig configures Twilio's Messages API.
type TwilioConfig struct {
	// BaseURL defaults to https://api.twilio.com.
	BaseURL    string
	AccountSID string
	AuthToken  string
	// From is the sending number (E.164) or alphanumeric sender ID.
	From   string
	Client *http.Client
}

// DefaultTwilioBaseURL is Twilio's API root.
const DefaultTwilioBaseURL = "https://api.twilio.com"

// Twilio sends SMS through Twilio's Messages API.
type Twilio struct {
	endpoint string
	host     string
	sid      string
	token    string
	from     string
	client   *http.Client
}

// NewTwilioSMS checks cfg and returns the gateway. Errors never include the
// auth token.
func NewTwilioSMS(cfg TwilioConfig) (*Twilio, error) {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultTwilioBaseURL
	}
	var errs []error
	u, err := checkURL("twilio base", base)
	errs = append(errs, err)
	if cfg.AccountSID == "" {
		errs = append(errs, errors.New("notify: twilio account SID is missing"))
	} else if strings.ContainsAny(cfg.AccountSID, "/?#% ") {
		errs = append(errs, errors.New("notify: twilio account SID is invalid"))
	}
	if cfg.AuthToken == "" {
		errs = append(errs, errors.New("notify: twilio auth token is missing"))
	}
	if strings.TrimSpace(cfg.From) == "" {
		errs = append(errs, errors.New("notify: twilio From number is missing"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	endpoint := strings.TrimSuffix(u.String(), "/") +
		"/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json"
	return &Twilio{
		endpoint: endpoint, host: u.Host, sid: cfg.AccountSID,
		token: cfg.AuthToken, from: cfg.From, client: httpClient(cfg.Client),
	}, nil
}

// Send posts To, From and Body as a form, with HTTP basic auth.
func (g *Twilio) Send(ctx context.Context, to, text string) error {
	to, err := NormalizePhone(to)
	if err != nil {
		return err
	}
	form := url.Values{"To": {to}, "From": {g.from}, "Body": {text}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.endpoint,
		strings.NewReader(form.Encode()))
	if err != nil {
		return requestError("twilio", g.host, err)
	}
	req.SetBasicAuth(g.sid, g.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	_, err = do(g.client, req, "twilio", g.host)
	var se *StatusError
	if errors.As(err, &se) {
		se.Detail = twilioCode(se.body)
	}
	return err
}

// twilioCode picks Twilio's numeric error code out of an error response;
// the message beside it is left out, since it may quote the request.
func twilioCode(body []byte) string {
	var r struct {
		Code json.Number `json:"code"`
	}
	if json.Unmarshal(body, &r) != nil || r.Code == "" {
		return ""
	}
	if _, err := strconv.Atoi(string(r.Code)); err != nil {
		return ""
	}
	return "twilio error " + string(r.Code)
}

// userAgent is sent with every HTTP request.
const userAgent = "mfad"

// do sends req and turns anything but a 2xx answer into an error.
func do(client *http.Client, req *http.Request, service, host string) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, requestError(service, host, err)
	}
	body := drain(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Service: service, Host: host, Status: resp.StatusCode, body: body}
		return resp.StatusCode, se
	}
	return resp.StatusCode, nil
}

// String names the gateway without its header values, which may be
// credentials, so that printing it shows no secret.
func (g *WebhookSMS) String() string {
	names := make([]string, 0, len(g.headers))
	for k := range g.headers {
		names = append(names, k)
	}
	slices.Sort(names)
	return fmt.Sprintf("sms webhook %s (headers %s)", g.host, strings.Join(names, ", "))
}

// String names the gateway and account without the auth token.
func (g *Twilio) String() string {
	return fmt.Sprintf("twilio %s (account %s, from %s, token [redacted])", g.host, g.sid, g.from)
}

// GoString is String, so that %#v shows no secret either.
func (g *WebhookSMS) GoString() string { return g.String() }

// GoString is String, so that %#v shows no secret either.
func (g *Twilio) GoString() string { return g.String() }
