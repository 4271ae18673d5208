// Package notifytest runs a real SMTP server in the test's process, on
// loopback, and keeps what it is sent, decoded, so tests of notices and
// email codes can read what a person would, and tests of the SMTP client
// can see how it was sent (TLS, login).
package notifytest

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message the server received.
type Mail struct {
	From    string
	To      []string
	Subject string
	Text    string // the plain-text part, decoded
	HTML    string // the HTML part, decoded, if any
	Header  mail.Header
	Raw     []byte
	TLS     bool   // whether the session was under TLS when DATA came
	User    string // who authenticated, if anyone did
}

// Options shape a server for tests of the client's side of SMTP: TLS,
// authentication and a server that hangs.
type Options struct {
	STARTTLS    *tls.Config // offer STARTTLS with this config
	ImplicitTLS *tls.Config // speak TLS from the first byte
	// User and Pass, when User is set, are the one AUTH PLAIN login the
	// server takes, and it refuses mail without it.
	User, Pass   string
	InsecureAuth bool          // allow AUTH outside TLS
	Stall        chan struct{} // when set, DATA waits for it to close, then fails
}

// Server is an SMTP server on 127.0.0.1 that accepts every message.
type Server struct {
	Addr string

	opts   Options
	mu     sync.Mutex
	mails  []Mail
	notify chan struct{}
}

// Start starts a plain server, with no TLS and no login, that stops when
// the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith starts a server shaped by o that stops when the test ends.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{opts: o, notify: make(chan struct{}, 1)}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.TLSConfig = o.STARTTLS
	srv.AllowInsecureAuth = o.InsecureAuth
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.ImplicitTLS != nil {
		l = tls.NewListener(l, o.ImplicitTLS)
	}
	s.Addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// URL is the server's address as an smtp:// URL.
func (s *Server) URL() string { return "smtp://" + s.Addr }

// Mails returns what arrived so far, oldest first.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// To returns the mails that arrived for address.
func (s *Server) To(address string) []Mail {
	var out []Mail
	for _, m := range s.Mails() {
		for _, to := range m.To {
			if strings.EqualFold(to, address) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Wait waits until at least n mails have arrived, or fails the test after
// timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Mails(); len(m) >= n {
			return m
		}
		select {
		case <-s.notify:
		case <-deadline:
			t.Fatalf("%d mails arrived in %s, want %d", len(s.Mails()), timeout, n)
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (x *session) AuthMechanisms() []string {
	if x.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.opts.User || pass != x.s.opts.Pass {
			return smtp.ErrAuthFailed
		}
		x.user = user
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.User != "" && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error { x.to = append(x.to, to); return nil }
func (x *session) Reset()                                    { x.from, x.to = "", nil }
func (x *session) Logout() error                             { return nil }

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.opts.Stall != nil {
		<-x.s.opts.Stall
		return errors.New("stalled")
	}
	_, underTLS := x.conn.TLSConnectionState()
	m := Mail{From: x.from, To: x.to, Raw: raw, TLS: underTLS, User: x.user}
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Header = msg.Header
		dec := new(mime.WordDecoder)
		if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
			m.Subject = subj
		}
		m.Text, m.HTML = parts(msg.Header.Get("Content-Type"),
			msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	}
	x.s.mu.Lock()
	x.s.mails = append(x.s.mails, m)
	x.s.mu.Unlock()
	select {
	case x.s.notify <- struct{}{}:
	default:
	}
	return nil
}

// parts returns the decoded text and HTML of a body, walking multiparts.
func parts(contentType, encoding string, body io.Reader) (text, html string) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return text, html
			}
			t, h := parts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if text == "" {
				text = t
			}
			if html == "" {
				html = h
			}
		}
	}
	b, _ := io.ReadAll(decoder(encoding, body))
	if mt == "text/html" {
		return "", string(b)
	}
	return string(b), ""
}

func decoder(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r
}
