package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/mfad/mfad/internal/notify/notifytest"
)

// testCert makes a self-signed certificate for 127.0.0.1 and localhost and
// returns the server's config and a pool that trusts it.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mfad test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return srv, pool
}

func newTestSMTP(t *testing.T, cfg SMTPConfig) *SMTP {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "MFA <mfa@example.com>"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	cfg.LocalName = "mfad.test"
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP(%+v) = %v", cfg, err)
	}
	return s
}

var testMessage = Message{
	To:      []string{"alice@example.org"},
	Subject: "Example Corp MFA: a backup code was used on your account",
	Text:    "A backup code on your account was used.\n",
	HTML:    "<p>A backup code on your account was used.</p>\n",
	Headers: map[string]string{"X-Mfad-Event": "backup_code.used"},
}

func TestSMTPSend(t *testing.T) {
	srvTLS, pool := testCert(t)
	clientTLS := &tls.Config{RootCAs: pool}

	tests := []struct {
		name     string
		server   notifytest.Options
		scheme   string
		userinfo string
		policy   TLSPolicy
		wantTLS  bool
		wantUser string
	}{
		{name: "opportunistic without STARTTLS", policy: TLSOpportunistic},
		{name: "loopback default is opportunistic"},
		{name: "none", policy: TLSNone},
		{
			name: "mandatory with STARTTLS", policy: TLSMandatory,
			server: notifytest.Options{STARTTLS: srvTLS}, wantTLS: true,
		},
		{
			name: "opportunistic with STARTTLS", policy: TLSOpportunistic,
			server: notifytest.Options{STARTTLS: srvTLS}, wantTLS: true,
		},
		{
			name: "mandatory with AUTH PLAIN", policy: TLSMandatory,
			server:   notifytest.Options{STARTTLS: srvTLS, User: "mfad", Pass: "s3cr3t p@ss"},
			userinfo: "mfad:s3cr3t%20p%40ss@", wantTLS: true, wantUser: "mfad",
		},
		{
			name: "AUTH PLAIN on loopback without TLS", policy: TLSNone,
			server:   notifytest.Options{User: "mfad", Pass: "pw", InsecureAuth: true},
			userinfo: "mfad:pw@", wantUser: "mfad",
		},
		{
			name: "implicit TLS", scheme: "smtps",
			server:   notifytest.Options{ImplicitTLS: srvTLS, User: "mfad", Pass: "pw"},
			userinfo: "mfad:pw@", wantTLS: true, wantUser: "mfad",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := notifytest.StartWith(t, tt.server)
			scheme := tt.scheme
			if scheme == "" {
				scheme = "smtp"
			}
			s := newTestSMTP(t, SMTPConfig{
				URL:       scheme + "://" + tt.userinfo + ms.Addr,
				TLS:       tt.policy,
				TLSConfig: clientTLS,
			})
			if err := s.Send(context.Background(), testMessage); err != nil {
				t.Fatalf("Send() = %v, want nil", err)
			}

			got := ms.Mails()
			if len(got) != 1 {
				t.Fatalf("server got %d messages, want 1", len(got))
			}
			m := got[0]
			if m.From != "mfa@example.com" || !cmp.Equal(m.To, []string{"alice@example.org"}) {
				t.Errorf("envelope = %q -> %q, want mfa@example.com -> [alice@example.org]", m.From, m.To)
			}
			if m.TLS != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", m.TLS, tt.wantTLS)
			}
			if m.User != tt.wantUser {
				t.Errorf("authenticated user = %q, want %q", m.User, tt.wantUser)
			}
			checkData(t, m.Raw)
		})
	}
}

// checkData parses a message as net/mail and mime/multipart would and
// checks what Send must put in it.
func checkData(t *testing.T, data []byte) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v", err)
	}
	h := msg.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"Subject", subject, testMessage.Subject},
		{"From", h.Get("From"), `"MFA" <mfa@example.com>`},
		{"To", h.Get("To"), "<alice@example.org>"},
		{"Auto-Submitted", h.Get("Auto-Submitted"), "auto-generated"},
		{"X-Mfad-Event", h.Get("X-Mfad-Event"), "backup_code.used"},
	} {
		if c.got != c.want {
			t.Errorf("header %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q, want <...@example.com>", id)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}

	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative", h.Get("Content-Type"))
	}
	parts := map[string]string{}
	var order []string
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		var r io.Reader = p // quoted-printable is decoded by NextPart
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		parts[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
		order = append(order, ct)
	}
	if diff := cmp.Diff([]string{"text/plain", "text/html"}, order); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	if got := strings.TrimSpace(parts["text/plain"]); got != strings.TrimSpace(testMessage.Text) {
		t.Errorf("text part = %q, want %q", got, testMessage.Text)
	}
	if got := strings.TrimSpace(parts["text/html"]); got != strings.TrimSpace(testMessage.HTML) {
		t.Errorf("HTML part = %q, want %q", got, testMessage.HTML)
	}
}

func TestSMTPSendTextOnly(t *testing.T) {
	ms := notifytest.Start(t)
	s := newTestSMTP(t, SMTPConfig{URL: "smtp://" + ms.Addr})
	msg := Message{To: []string{"a@example.org", "b@example.org"}, Subject: "s", Text: "only text"}
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send() = %v, want nil", err)
	}
	got := ms.Mails()
	if len(got) != 1 || len(got[0].To) != 2 {
		t.Fatalf("server got %+v, want one message to two recipients", got)
	}
	m, err := mail.ReadMessage(bytes.NewReader(got[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if ct, _, _ := mime.ParseMediaType(m.Header.Get("Content-Type")); ct != "text/plain" {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
}

func TestSMTPSendFails(t *testing.T) {
	srvTLS, pool := testCert(t)
	const password = "hunter2-very-secret"

	tests := []struct {
		name      string
		server    notifytest.Options
		userinfo  string
		policy    TLSPolicy
		trust     bool
		wantStage string
		wantCode  int
	}{
		{
			name: "mandatory without STARTTLS", policy: TLSMandatory,
			wantStage: "starttls",
		},
		{
			name: "mandatory with untrusted certificate", policy: TLSMandatory,
			server: notifytest.Options{STARTTLS: srvTLS}, wantStage: "starttls",
		},
		{
			name: "wrong password", policy: TLSMandatory, trust: true,
			server:   notifytest.Options{STARTTLS: srvTLS, User: "mfad", Pass: "right"},
			userinfo: "mfad:" + password + "@", wantStage: "auth", wantCode: 535,
		},
		{
			name: "server offers no AUTH", policy: TLSMandatory, trust: true,
			server:   notifytest.Options{STARTTLS: srvTLS},
			userinfo: "mfad:" + password + "@", wantStage: "auth",
		},
		{
			name: "no AUTH where the server wants it", policy: TLSMandatory, trust: true,
			server:    notifytest.Options{STARTTLS: srvTLS, User: "mfad", Pass: "right"},
			wantStage: "MAIL FROM", wantCode: 502,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := notifytest.StartWith(t, tt.server)
			cfg := SMTPConfig{URL: "smtp://" + tt.userinfo + ms.Addr, TLS: tt.policy}
			if tt.trust {
				cfg.TLSConfig = &tls.Config{RootCAs: pool}
			}
			err := newTestSMTP(t, cfg).Send(context.Background(), testMessage)
			var se *SMTPError
			if !errors.As(err, &se) {
				t.Fatalf("Send() = %v, want an *SMTPError", err)
			}
			if se.Stage != tt.wantStage || se.Code != tt.wantCode || se.Host != ms.Addr {
				t.Errorf("Send() = stage %q code %d host %q, want %q %d %q",
					se.Stage, se.Code, se.Host, tt.wantStage, tt.wantCode, ms.Addr)
			}
			for _, secret := range []string{password, testMessage.Text, testMessage.HTML} {
				if strings.Contains(err.Error(), strings.TrimSpace(secret)) {
					t.Errorf("Send() error %q holds %q", err, secret)
				}
			}
			if n := len(ms.Mails()); n != 0 {
				t.Errorf("server got %d messages, want 0", n)
			}
		})
	}
}

func TestSMTPSendConnectFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	s := newTestSMTP(t, SMTPConfig{URL: "smtp://" + addr})
	err = s.Send(context.Background(), testMessage)
	var se *SMTPError
	if !errors.As(err, &se) || se.Stage != "connect" {
		t.Errorf("Send() = %v, want an *SMTPError at connect", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ms := notifytest.Start(t)
	err = newTestSMTP(t, SMTPConfig{URL: "smtp://" + ms.Addr}).Send(ctx, testMessage)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send(cancelled context) = %v, want context.Canceled", err)
	}
}

func TestSMTPSendCancelled(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall)
	ms := notifytest.StartWith(t, notifytest.Options{Stall: stall})
	s := newTestSMTP(t, SMTPConfig{URL: "smtp://" + ms.Addr, Timeout: 30 * time.Second})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, testMessage)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send(server stalls in DATA) = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send returned after %v, want soon after the context ended", d)
	}
}

func TestSMTPAuthNeedsTLSOffLoopback(t *testing.T) {
	s, err := NewSMTP(SMTPConfig{
		URL: "smtp://mfad:pw@mail.example.com", From: "mfa@example.com", TLS: TLSOpportunistic,
	})
	if err != nil {
		t.Fatal(err)
	}
	// A server that did not offer STARTTLS: the credentials stay home.
	a := &authChooser{tr: &tracker{s: s}}
	_, resp, err := a.Start(&gosmtp.ServerInfo{Name: "mail.example.com", Auth: []string{"PLAIN", "LOGIN"}})
	if err == nil || resp != nil {
		t.Errorf("Start(no TLS, remote host) = %q, %v; want no response and an error", resp, err)
	}
	_, resp, err = a.Start(&gosmtp.ServerInfo{Name: "mail.example.com", TLS: true, Auth: []string{"LOGIN"}})
	if err != nil {
		t.Errorf("Start(TLS, LOGIN only) = %q, %v; want LOGIN to begin", resp, err)
	}
}

func TestSMTPMessageChecks(t *testing.T) {
	s := newTestSMTP(t, SMTPConfig{URL: "smtp://127.0.0.1:1"})
	tests := []struct {
		name string
		msg  Message
	}{
		{"no recipient", Message{Subject: "s", Text: "t"}},
		{"bad recipient", Message{To: []string{"not an address"}, Subject: "s", Text: "t"}},
		{"no text", Message{To: []string{"a@example.org"}, Subject: "s"}},
		{"subject with a line break", Message{To: []string{"a@example.org"}, Subject: "s\r\nBcc: x@evil.example", Text: "t"}},
		{"header injection", Message{To: []string{"a@example.org"}, Text: "t", Headers: map[string]string{"X-A": "v\r\nBcc: x@evil.example"}}},
		{"reserved header", Message{To: []string{"a@example.org"}, Text: "t", Headers: map[string]string{"bcc": "x@evil.example"}}},
		{"content header", Message{To: []string{"a@example.org"}, Text: "t", Headers: map[string]string{"Content-Type": "text/html"}}},
		{"bad header name", Message{To: []string{"a@example.org"}, Text: "t", Headers: map[string]string{"X A:": "v"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Send(context.Background(), tt.msg)
			var se *SMTPError
			if err == nil || errors.As(err, &se) {
				t.Errorf("Send() = %v, want a message error before any connection", err)
			}
		})
	}
}

func TestNewSMTP(t *testing.T) {
	const password = "pa55-w0rd"
	tests := []struct {
		name       string
		cfg        SMTPConfig
		wantErrs   int // number of joined errors; 0 means success
		wantHost   string
		wantPort   int
		wantPolicy TLSPolicy
		wantUser   string
		wantPass   string
	}{
		{
			name:     "STARTTLS default port and policy",
			cfg:      SMTPConfig{URL: "smtp://mfad:" + password + "@mail.example.com", From: "mfa@example.com"},
			wantHost: "mail.example.com", wantPort: 587, wantPolicy: TLSMandatory,
			wantUser: "mfad", wantPass: password,
		},
		{
			name:     "implicit TLS default port",
			cfg:      SMTPConfig{URL: "smtps://mail.example.com", From: "mfa@example.com"},
			wantHost: "mail.example.com", wantPort: 465, wantPolicy: TLSMandatory,
		},
		{
			name:     "loopback defaults to opportunistic",
			cfg:      SMTPConfig{URL: "smtp://127.0.0.1:25", From: "mfa@example.com"},
			wantHost: "127.0.0.1", wantPort: 25, wantPolicy: TLSOpportunistic,
		},
		{
			name:     "loopback over smtps stays mandatory",
			cfg:      SMTPConfig{URL: "smtps://localhost", From: "mfa@example.com"},
			wantHost: "localhost", wantPort: 465, wantPolicy: TLSMandatory,
		},
		{
			name:     "none on IPv6 loopback with AUTH",
			cfg:      SMTPConfig{URL: "smtp://u:pw-v6@[::1]:2525", From: "mfa@example.com", TLS: TLSNone},
			wantHost: "::1", wantPort: 2525, wantPolicy: TLSNone, wantUser: "u", wantPass: "pw-v6",
		},
		{
			name:     "none on 127.1.2.3",
			cfg:      SMTPConfig{URL: "smtp://127.1.2.3:25", From: "mfa@example.com", TLS: "NONE"},
			wantHost: "127.1.2.3", wantPort: 25, wantPolicy: TLSNone,
		},
		{
			name:     "percent-encoded password",
			cfg:      SMTPConfig{URL: "smtp://mfad%40example.com:p%3Aa%2Fss%25@mail.example.com:2587", From: "Example MFA <mfa@example.com>"},
			wantHost: "mail.example.com", wantPort: 2587, wantPolicy: TLSMandatory,
			wantUser: "mfad@example.com", wantPass: "p:a/ss%",
		},
		{
			name:     "none for a remote host",
			cfg:      SMTPConfig{URL: "smtp://mfad:" + password + "@mail.example.com", From: "mfa@example.com", TLS: TLSNone},
			wantErrs: 1,
		},
		{
			name:     "smtps with opportunistic",
			cfg:      SMTPConfig{URL: "smtps://mail.example.com", From: "mfa@example.com", TLS: TLSOpportunistic},
			wantErrs: 1,
		},
		{
			name:     "unknown policy",
			cfg:      SMTPConfig{URL: "smtp://mail.example.com", From: "mfa@example.com", TLS: "sometimes"},
			wantErrs: 1,
		},
		{
			name:     "bad scheme",
			cfg:      SMTPConfig{URL: "http://mail.example.com", From: "mfa@example.com"},
			wantErrs: 1,
		},
		{
			name:     "missing URL",
			cfg:      SMTPConfig{From: "mfa@example.com"},
			wantErrs: 1,
		},
		{
			name:     "unparsable URL with the password in it",
			cfg:      SMTPConfig{URL: "smtp://mfad:" + password + "%zz@mail.example.com", From: "mfa@example.com"},
			wantErrs: 1,
		},
		{
			name:     "bad port",
			cfg:      SMTPConfig{URL: "smtp://mail.example.com:99999", From: "mfa@example.com"},
			wantErrs: 1,
		},
		{
			name:     "path and query",
			cfg:      SMTPConfig{URL: "smtp://mail.example.com/x?tls=no", From: "mfa@example.com"},
			wantErrs: 1,
		},
		{
			name:     "user without password",
			cfg:      SMTPConfig{URL: "smtp://mfad@mail.example.com", From: "mfa@example.com"},
			wantErrs: 1,
		},
		{
			name:     "missing From",
			cfg:      SMTPConfig{URL: "smtp://mail.example.com"},
			wantErrs: 1,
		},
		{
			name:     "bad From",
			cfg:      SMTPConfig{URL: "smtp://mail.example.com", From: "mfa at example.com"},
			wantErrs: 1,
		},
		{
			name:     "negative timeout",
			cfg:      SMTPConfig{URL: "smtp://mail.example.com", From: "mfa@example.com", Timeout: -time.Second},
			wantErrs: 1,
		},
		{
			name: "every problem at once",
			cfg: SMTPConfig{
				URL: "smtps://mfad:" + password + "@mail.example.com:0/x", From: "nobody",
				TLS: TLSNone, Timeout: -1, LocalName: "two words",
			},
			wantErrs: 7, // port, path, From, smtps policy, none remote, timeout, local name
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSMTP(tt.cfg)
			if err != nil && strings.Contains(err.Error(), password) {
				t.Errorf("NewSMTP() error %q holds the password", err)
			}
			if tt.wantErrs > 0 {
				var joined interface{ Unwrap() []error }
				if !errors.As(err, &joined) || len(joined.Unwrap()) != tt.wantErrs {
					t.Fatalf("NewSMTP() = %v, want %d joined errors", err, tt.wantErrs)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSMTP() = %v, want nil", err)
			}
			got := []any{s.host, s.port, s.policy, s.user, s.pass}
			want := []any{tt.wantHost, tt.wantPort, tt.wantPolicy, tt.wantUser, tt.wantPass}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("NewSMTP() host, port, policy, user, pass (-want +got):\n%s", diff)
			}
			if tt.wantPass != "" && strings.Contains(s.String(), tt.wantPass) {
				t.Errorf("String() = %q, holds the password", s.String())
			}
			if s.tlsConfig.ServerName != tt.wantHost || s.tlsConfig.MinVersion < tls.VersionTLS12 {
				t.Errorf("TLS config ServerName %q MinVersion %x, want %q and at least TLS 1.2",
					s.tlsConfig.ServerName, s.tlsConfig.MinVersion, tt.wantHost)
			}
		})
	}
}

func TestSMTPString(t *testing.T) {
	s, err := NewSMTP(SMTPConfig{URL: "smtp://mfad:topsecret@mail.example.com", From: "mfa@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	const want = "smtp://mfad:xxxxx@mail.example.com (tls mandatory, from mfa@example.com)"
	if got := s.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseTLSPolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want TLSPolicy
		ok   bool
	}{
		{"mandatory", TLSMandatory, true},
		{" Opportunistic ", TLSOpportunistic, true},
		{"none", TLSNone, true},
		{"", "", false},
		{"starttls", "", false},
	} {
		got, err := ParseTLSPolicy(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseTLSPolicy(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
