package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// TLSPolicy says how an smtp:// connection uses STARTTLS (RFC 3207).
type TLSPolicy string

// The TLS policies. An smtps:// URL always uses implicit TLS (RFC 8314 §3.3)
// and accepts only TLSMandatory.
const (
	// TLSMandatory requires STARTTLS with a verified certificate; a server
	// that does not offer it gets no message.
	TLSMandatory TLSPolicy = "mandatory"
	// TLSOpportunistic uses STARTTLS when the server offers it and sends in
	// clear otherwise. Credentials are still never sent in clear to a host
	// that is not loopback.
	TLSOpportunistic TLSPolicy = "opportunistic"
	// TLSNone never uses STARTTLS. It is accepted only for a loopback host.
	TLSNone TLSPolicy = "none"
)

// DefaultSMTPTimeout bounds each step of an SMTP exchange (connecting, and
// each command after that) when SMTPConfig.Timeout is zero.
const DefaultSMTPTimeout = 30 * time.Second

// ParseTLSPolicy returns the TLSPolicy named by s ("mandatory",
// "opportunistic" or "none", in any case).
func ParseTLSPolicy(s string) (TLSPolicy, error) {
	p := TLSPolicy(strings.ToLower(strings.TrimSpace(s)))
	switch p {
	case TLSMandatory, TLSOpportunistic, TLSNone:
		return p, nil
	}
	return "", fmt.Errorf("notify: unknown TLS policy %q (want mandatory, opportunistic or none)", s)
}

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// URL is smtp://[user:pass@]host[:port] (STARTTLS per TLS, port 587 by
	// default) or smtps://[user:pass@]host[:port] (implicit TLS, port 465 by
	// default). The password may be percent-encoded. Without user info no
	// authentication is attempted.
	URL string
	// From is the sender address, "addr@example.com" or
	// "Name <addr@example.com>". It is both the header From and the
	// envelope sender.
	From string
	// TLS is the STARTTLS policy. Empty means TLSMandatory, except for a
	// loopback host over smtp://, where it means TLSOpportunistic.
	TLS TLSPolicy
	// TLSConfig, when set, is used (cloned) for STARTTLS and implicit TLS:
	// for example to trust a private CA through RootCAs. ServerName
	// defaults to the URL's host and MinVersion to TLS 1.2.
	TLSConfig *tls.Config
	// Timeout bounds each step of the exchange; zero means
	// DefaultSMTPTimeout.
	Timeout time.Duration
	// LocalName is the name sent in EHLO; empty means the machine's host
	// name.
	LocalName string
}

// SMTP sends Messages through one SMTP server. It opens a new connection for
// every Send and is safe for concurrent use.
type SMTP struct {
	host        string
	port        int
	implicitTLS bool
	policy      TLSPolicy
	loopback    bool
	user        string
	pass        string
	from        *mail.Address
	tlsConfig   *tls.Config
	timeout     time.Duration
	localName   string
	redacted    string
}

// NewSMTP checks cfg and returns a sender for it. Every problem found is
// reported at once, joined with errors.Join. No error mentions the password.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	s := &SMTP{timeout: cfg.Timeout, localName: cfg.LocalName}
	errs := s.parseURL(cfg.URL)

	switch {
	case strings.TrimSpace(cfg.From) == "":
		errs = append(errs, errors.New("notify: smtp From address is missing"))
	default:
		from, err := mail.ParseAddress(cfg.From)
		if err != nil {
			errs = append(errs, fmt.Errorf("notify: smtp From address %q is invalid", cfg.From))
		}
		s.from = from
	}

	errs = append(errs, s.choosePolicy(cfg.TLS)...)

	if s.timeout < 0 {
		errs = append(errs, errors.New("notify: smtp timeout is negative"))
	}
	if s.timeout == 0 {
		s.timeout = DefaultSMTPTimeout
	}
	if strings.ContainsAny(s.localName, " \t\r\n") {
		errs = append(errs, errors.New("notify: smtp local name contains white space"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	s.tlsConfig = clientTLSConfig(cfg.TLSConfig, s.host)
	return s, nil
}

// parseURL fills in the connection fields from raw. The url package's own
// errors quote the whole URL, password included, so they are never passed on.
func (s *SMTP) parseURL(raw string) []error {
	if strings.TrimSpace(raw) == "" {
		return []error{errors.New("notify: smtp URL is missing")}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return []error{errors.New("notify: smtp URL cannot be parsed " +
			"(check the scheme, host, port and percent-encoding)")}
	}

	var errs []error
	switch u.Scheme {
	case "smtp":
		s.port = gomail.DefaultPortTLS
	case "smtps":
		s.port, s.implicitTLS = gomail.DefaultPortSSL, true
	default:
		errs = append(errs, fmt.Errorf("notify: smtp URL scheme %q is not smtp or smtps", u.Scheme))
	}

	s.host = u.Hostname()
	if s.host == "" {
		errs = append(errs, errors.New("notify: smtp URL has no host"))
	}
	s.loopback = isLoopbackHost(s.host)
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("notify: smtp URL port %q is invalid", p))
		}
		s.port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		errs = append(errs, errors.New("notify: smtp URL must not have a path, query or fragment"))
	}

	if u.User != nil {
		s.user = u.User.Username()
		pass, ok := u.User.Password()
		s.pass = pass
		if s.user == "" || !ok || pass == "" {
			errs = append(errs, errors.New("notify: smtp URL user info needs both a user and a password"))
		}
	}
	s.redacted = (&url.URL{Scheme: u.Scheme, Host: u.Host, User: redactedUser(s.user)}).String()
	return errs
}

// choosePolicy settles the TLS policy once the URL is known.
func (s *SMTP) choosePolicy(p TLSPolicy) []error {
	var errs []error
	switch {
	case p != "":
		parsed, err := ParseTLSPolicy(string(p))
		if err != nil {
			return []error{err}
		}
		s.policy = parsed
	case s.loopback && !s.implicitTLS:
		s.policy = TLSOpportunistic
	default:
		s.policy = TLSMandatory
	}

	if s.implicitTLS && s.policy != TLSMandatory {
		errs = append(errs, fmt.Errorf("notify: smtps uses implicit TLS, so the TLS policy must be %s, not %s",
			TLSMandatory, s.policy))
	}
	if s.policy == TLSNone && s.host != "" && !s.loopback {
		errs = append(errs, fmt.Errorf("notify: smtp TLS policy %s is allowed only for a loopback host, not %s",
			TLSNone, s.host))
	}
	return errs
}

// clientTLSConfig clones base (or starts empty) and fills in the host and a
// floor of TLS 1.2.
func clientTLSConfig(base *tls.Config, host string) *tls.Config {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

func redactedUser(user string) *url.Userinfo {
	if user == "" {
		return nil
	}
	return url.UserPassword(user, "xxxxx")
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP
// address (127.0.0.0/8, ::1).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes the sender with the password masked, for logs and
// configuration dumps.
func (s *SMTP) String() string {
	return fmt.Sprintf("%s (tls %s, from %s)", s.redacted, s.policy, s.from.Address)
}

// Message is one email. Text is required; with HTML set as well, the email
// is multipart/alternative with the text part first.
type Message struct {
	To      []string
	Subject string
	Text    string
	HTML    string
	// Headers are extra header fields. They cannot replace the fields that
	// Send sets itself (From, To, Subject, Date, Message-ID, MIME and
	// Content-* fields, Auto-Submitted).
	Headers map[string]string
}

// reservedHeaders are set by Send and may not come from Message.Headers.
var reservedHeaders = []string{
	"From", "Sender", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date",
	"Message-Id", "Mime-Version", "Auto-Submitted", "Return-Path",
}

// SMTPError is the error from a failed Send. It names the server and the
// step that failed, and carries the SMTP reply code when the server gave
// one: a 5xx code is permanent, a 4xx code or none may succeed later. It
// never holds the password or the message.
type SMTPError struct {
	Host  string // host:port
	Stage string // connect, tls, starttls, ehlo, auth, MAIL FROM, RCPT TO, DATA, ...
	Code  int    // SMTP reply code, 0 when there was none
	Err   error
}

func (e *SMTPError) Error() string {
	return fmt.Sprintf("notify: smtp %s: %s: %v", e.Host, e.Stage, e.Err)
}

func (e *SMTPError) Unwrap() error { return e.Err }

// Send delivers msg. It returns nil once the server has accepted the
// message, even if closing the session afterwards fails. Cancelling ctx
// aborts the exchange.
func (s *SMTP) Send(ctx context.Context, msg Message) error {
	m, err := s.build(msg)
	if err != nil {
		return err
	}

	tr := &tracker{s: s, ctx: ctx}
	defer tr.release()
	client, err := s.client(tr)
	if err != nil {
		return s.fail("setup", err)
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return withContext(ctx, s.fail(tr.dialStage(err), err))
	}

	if err := client.SendWithSMTPClient(conn, m); err != nil {
		return withContext(ctx, s.sendFail(err))
	}
	// The message is accepted; a failed QUIT does not undo that.
	_ = client.CloseWithSMTPClient(conn)
	return nil
}

// withContext adds ctx's error to an SMTPError when the context ended, so
// that errors.Is(err, context.Canceled) holds rather than only a closed
// connection showing.
func withContext(ctx context.Context, err error) error {
	var se *SMTPError
	if ctx.Err() != nil && errors.As(err, &se) && !errors.Is(se.Err, ctx.Err()) {
		se.Err = fmt.Errorf("%w: %w", context.Cause(ctx), se.Err)
	}
	return err
}

// build turns msg into a go-mail message.
func (s *SMTP) build(msg Message) (*gomail.Msg, error) {
	if len(msg.To) == 0 {
		return nil, errors.New("notify: email has no recipient")
	}
	if msg.Text == "" {
		return nil, errors.New("notify: email has no text body")
	}
	if strings.ContainsAny(msg.Subject, "\r\n") {
		return nil, errors.New("notify: email subject contains a line break")
	}

	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(s.from)
	for _, to := range msg.To {
		if err := m.AddTo(to); err != nil {
			return nil, fmt.Errorf("notify: email recipient %q is invalid", to)
		}
	}
	m.Subject(msg.Subject)
	m.SetDate()
	m.SetMessageIDWithValue(newMessageID(s.from.Address))
	// RFC 3834 §5: mark the message as automatic so auto-responders stay
	// quiet; X-Auto-Response-Suppress does the same for Exchange.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")

	if err := setHeaders(m, msg.Headers); err != nil {
		return nil, err
	}
	m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	return m, nil
}

// setHeaders adds extra header fields in name order, refusing reserved
// names and anything that could break the header block.
func setHeaders(m *gomail.Msg, headers map[string]string) error {
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	slices.Sort(names)

	for _, name := range names {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		switch {
		case !validHeaderName(name):
			return fmt.Errorf("notify: email header name %q is invalid", name)
		case slices.Contains(reservedHeaders, canon) || strings.HasPrefix(canon, "Content-"):
			return fmt.Errorf("notify: email header %s is set by the sender and cannot be overridden", canon)
		case strings.ContainsAny(headers[name], "\r\n"):
			return fmt.Errorf("notify: email header %s contains a line break", canon)
		}
		m.SetGenHeader(gomail.Header(canon), headers[name])
	}
	return nil
}

// validHeaderName reports whether name is a field name as RFC 5322 §3.6.8
// allows: printable ASCII except the colon.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// newMessageID returns a random Message-ID (RFC 5322 §3.6.4) in the
// sender's domain, so it carries nothing about the host mfad runs on.
func newMessageID(from string) string {
	domain := "mfad.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails.
	return hex.EncodeToString(b[:]) + "@" + domain
}

// client makes a go-mail client for one Send, wired to tr so failures can
// be put down to a stage.
func (s *SMTP) client(tr *tracker) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tlsConfig),
		gomail.WithDialContextFunc(tr.dial),
	}
	switch {
	case s.implicitTLS:
		opts = append(opts, gomail.WithSSL())
	case s.policy == TLSMandatory:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case s.policy == TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.localName != "" {
		opts = append(opts, gomail.WithHELO(s.localName))
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&authChooser{tr: tr}))
	}
	return gomail.NewClient(s.host, opts...)
}

// fail wraps err in an SMTPError for stage.
func (s *SMTP) fail(stage string, err error) error {
	var code int
	var tp *textproto.Error
	if errors.As(err, &tp) {
		code = tp.Code
	}
	return &SMTPError{Host: s.address(), Stage: stage, Code: code, Err: err}
}

// sendFail turns go-mail's send error into an SMTPError. go-mail's error
// keeps a pointer to the whole message, body included, so only its text is
// kept.
func (s *SMTP) sendFail(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return s.fail("send", err)
	}
	stage := "send"
	switch se.Reason {
	case gomail.ErrSMTPMailFrom:
		stage = "MAIL FROM"
	case gomail.ErrSMTPRcptTo:
		stage = "RCPT TO"
	case gomail.ErrSMTPData, gomail.ErrWriteContent, gomail.ErrSMTPDataClose:
		stage = "DATA"
	case gomail.ErrSMTPReset:
		stage = "RSET"
	case gomail.ErrConnCheck:
		stage = "NOOP"
	}
	return &SMTPError{
		Host: s.address(), Stage: stage, Code: se.ErrorCode(), Err: errors.New(se.Error()),
	}
}

func (s *SMTP) address() string {
	return net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// tracker follows one Send's connection: it dials (doing the implicit TLS
// handshake itself, so a failure there is told apart from a refused
// connection), notes whether authentication began, and closes the
// connection when the Send's context ends. go-mail calls it from the
// sending goroutine only.
type tracker struct {
	s         *SMTP
	ctx       context.Context // the caller's, not go-mail's dial context
	connected bool
	authBegun bool
	stop      func() bool
}

func (t *tracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	// go-mail bounds each command by a deadline but does not watch the
	// context after dialling; closing the socket makes a cancel take effect
	// at once.
	t.stop = context.AfterFunc(t.ctx, func() { conn.Close() })
	if !t.s.implicitTLS {
		t.connected = true
		return conn, nil
	}

	tc := tls.Client(conn, t.s.tlsConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, &tlsDialError{err}
	}
	t.connected = true
	// go-mail's smtp client recognises TLS by the *tls.Conn type, so the
	// connection is returned unwrapped.
	return tc, nil
}

func (t *tracker) release() {
	if t.stop != nil {
		t.stop()
	}
}

// dialStage names the step at which the connection set-up failed.
func (t *tracker) dialStage(err error) string {
	var te *tlsDialError
	switch {
	case errors.As(err, &te):
		return "tls"
	case !t.connected:
		return "connect"
	case t.authBegun:
		return "auth"
	case t.s.implicitTLS || t.s.policy == TLSNone:
		return "ehlo"
	case isTLSError(err):
		return "starttls"
	}
	return "ehlo"
}

// isTLSError reports whether err comes from STARTTLS: the server not
// offering it, or the handshake failing.
func isTLSError(err error) bool {
	var (
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
		tp  *textproto.Error
	)
	switch {
	case errors.As(err, &cve), errors.As(err, &rhe), errors.As(err, &ae):
		return true
	case strings.Contains(err.Error(), "STARTTLS"):
		return true
	case errors.As(err, &tp):
		return false // a refused EHLO
	}
	return true
}

type tlsDialError struct{ err error }

func (e *tlsDialError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *tlsDialError) Unwrap() error { return e.err }

// authChooser is an SMTP AUTH mechanism that picks PLAIN or, failing that,
// LOGIN from what the server offers. go-mail's own mechanisms refuse to send
// credentials over a connection without TLS unless the host is loopback;
// NewSMTP has already refused TLSNone for other hosts, so a loopback host is
// the only one allowed a clear-text AUTH.
type authChooser struct {
	tr    *tracker
	inner gosmtp.Auth
}

func (a *authChooser) Start(server *gosmtp.ServerInfo) (string, []byte, error) {
	a.tr.authBegun = true
	s := a.tr.s
	switch {
	case slices.Contains(server.Auth, "PLAIN"):
		a.inner = gosmtp.PlainAuth("", s.user, s.pass, server.Name, s.loopback)
	case slices.Contains(server.Auth, "LOGIN"):
		a.inner = gosmtp.LoginAuth(s.user, s.pass, server.Name, s.loopback)
	default:
		return "", nil, errors.New("server offers neither AUTH PLAIN nor AUTH LOGIN")
	}
	return a.inner.Start(server)
}

func (a *authChooser) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.inner.Next(fromServer, more)
}
