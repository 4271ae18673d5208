// Package radius is mfad's RADIUS front door (RFC 2865): it answers PAP
// Access-Requests from configured clients over UDP, hardened against
// BlastRADIUS (CVE-2024-3596) with Message-Authenticator (RFC 3579 §3.2),
// and answers retransmissions from a cache (RFC 5080 §2.2.2). It
// translates packets into calls of the mfa service and decides nothing
// about a code itself.
package radius

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"layeh.com/radius"

	"github.com/mfad/mfad/internal/mfa"
)

// Service is the part of the mfa service the front door calls;
// *mfa.Service is one. Its methods are called concurrently. Each method returns an error only when it could
// not decide (the database is down, say), or as an *mfa.Error of kind
// mfa.ErrInvalid, mfa.ErrNotFound or mfa.ErrRateLimited for a request it
// refuses outright. The front door sends no Access-Accept on an error
// (SECURITY.md 4): it answers a refusal with Access-Reject and drops the
// request otherwise, so that the NAS retries or fails over.
type Service interface {
	// Verify checks code for user through the one verify path.
	Verify(ctx context.Context, req mfa.Request, user, code string) (mfa.VerifyResult, error)
	// OpenPrompt starts an Access-Challenge: it returns a random,
	// single-use State bound to the user and to this client, and the
	// message to show, of the same shape for unknown users.
	OpenPrompt(ctx context.Context, req mfa.Request, user string) (mfa.Prompt, error)
	// AnswerPrompt uses state once and checks code for user through the
	// verify path.
	AnswerPrompt(ctx context.Context, req mfa.Request, user, state, code string) (
		mfa.VerifyResult, error)
}

// Defaults of Config.
const (
	DefaultAddr      = ":1812"
	DefaultDupWindow = 30 * time.Second
)

// Bounds of the work in flight.
const (
	// maxInFlight bounds the requests being handled at once; past it the
	// server stops reading and the socket's buffer takes the excess.
	maxInFlight = 256
	// decideTimeout bounds one call of the service. A NAS retransmits
	// after a few seconds and gives up after a few tries.
	decideTimeout = 10 * time.Second
)

// Messages in Reply-Message. A refusal reads the same whatever its reason
// (SECURITY.md 9).
const (
	replyRefused = "Access denied"
)

// Config holds what a Server needs. Service and Clients are required.
type Config struct {
	Service Service
	Logger  *slog.Logger // default: discard
	Clients []Client
	Addr    string           // for ListenAndServe; default DefaultAddr
	Clock   func() time.Time // default: time.Now
	// DupWindow is how long an answer is kept for retransmissions;
	// 0 means DefaultDupWindow.
	DupWindow time.Duration
}

// Server is a RADIUS authentication server. Build one with New.
type Server struct {
	svc     Service
	log     *slog.Logger
	clients *clientTable
	addr    string
	clock   func() time.Time
	cache   *replayCache
	stats   counters
	quiet   quietLog
}

// New returns a server for cfg. It checks the clients as LoadClients
// does.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("radius: a service is required")
	}
	clients, err := newClientTable(cfg.Clients)
	if err != nil {
		return nil, err
	}
	s := &Server{svc: cfg.Service, log: cfg.Logger, clients: clients, addr: cfg.Addr,
		clock: cfg.Clock}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.addr == "" {
		s.addr = DefaultAddr
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	window := cfg.DupWindow
	if window <= 0 {
		window = DefaultDupWindow
	}
	s.cache = newReplayCache(window)
	for _, c := range clients.clients {
		if c.mode() == ModePasswordCode {
			s.log.Warn("radius client refuses every request: "+msgNoUpstream,
				"client", c.Name)
		}
		if c.AllowMissingMessageAuthenticator {
			s.log.Warn("radius client may send requests without Message-Authenticator",
				"client", c.Name)
		}
	}
	return s, nil
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ListenAndServe listens on the configured UDP address and serves until
// ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	conn, err := net.ListenPacket("udp", s.addr)
	if err != nil {
		return fmt.Errorf("radius: %w", err)
	}
	s.log.Info("radius listening", "addr", conn.LocalAddr().String(),
		"clients", len(s.clients.clients))
	return s.Serve(ctx, conn)
}

// Serve answers the requests that arrive on conn until ctx ends, then
// lets the requests in flight finish, closes conn and returns nil. It
// returns an error when conn fails.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		conn.Close()
	}()
	// A deadline in the past wakes the read below when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	// Requests in flight finish when ctx ends, so that they are answered;
	// decideTimeout bounds them.
	work := context.WithoutCancel(ctx)
	slots := make(chan struct{}, maxInFlight)
	for {
		buf := make([]byte, radius.MaxPacketLength)
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("radius: read: %w", err)
		}
		src, ok := addrPort(from)
		if !ok {
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer s.survive(src)
			if resp := s.handle(work, buf[:n], src); resp != nil {
				if _, err := conn.WriteTo(resp, from); err != nil {
					s.log.Warn("radius answer not sent", "client_ip", src.Addr().String(),
						"err", err)
				}
			}
		}()
	}
}

// survive logs a panic in the handling of a packet from src, so that one
// bad packet costs no more than its answer. The fuzz test holds the
// handling to never panicking.
func (s *Server) survive(src netip.AddrPort) {
	if p := recover(); p != nil {
		s.log.Error("panic handling radius packet", "client_ip", src.Addr().String(),
			"panic", p, "stack", string(debug.Stack()))
	}
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), err == nil
}

// handle answers one datagram from src: it returns the response to send,
// or nil to send nothing.
func (s *Server) handle(ctx context.Context, b []byte, src netip.AddrPort) (resp []byte) {
	s.stats.received.Add(1)
	c := s.clients.match(src.Addr())
	if c == nil {
		s.drop(DropUnknownClient, nil, src)
		return nil
	}
	w, err := parseWire(b, c.Secret)
	if err != nil {
		s.drop(DropMalformed, c, src)
		return nil
	}
	if w.Code != radius.CodeAccessRequest {
		s.drop(DropUnsupportedCode, c, src, "code", int(w.Code))
		return nil
	}
	if reason := authenticity(c, w); reason != "" {
		s.drop(reason, c, src)
		return nil
	}
	// Only now, with the packet authenticated, may it take a place in
	// the cache: a forgery cannot displace a real request's answer.
	key := cacheKey{src: src, id: w.Identifier, auth: w.Authenticator}
	e, dup, clash := s.cache.begin(key, w.raw, s.clock())
	switch {
	case clash:
		s.drop(DropDuplicateClash, c, src)
		return nil
	case dup:
		return s.retransmitted(ctx, e, c, src)
	}
	keep := false
	// Deferred, so that a panic leaves no retransmission waiting.
	defer func() { s.cache.finish(e, resp, keep) }()
	resp, keep = s.answer(ctx, c, w, src)
	return resp
}

// authenticity returns why a request from c is to be discarded unread, or
// "". RFC 3579 §3.2 and the BlastRADIUS guidance: a Message-Authenticator,
// when present, must be right; it must be present unless the client is
// allowed to omit it, and then a Proxy-State without it is the forgery's
// shape, for a client with LimitProxyState.
func authenticity(c *Client, w *wirePacket) string {
	switch {
	case w.maOffset >= 0:
		if !w.validMessageAuthenticator(c.Secret) {
			return DropInvalidAuthenticator
		}
	case !c.AllowMissingMessageAuthenticator:
		return DropMissingAuthenticator
	case c.LimitProxyState && w.has(proxyStateType):
		return DropProxyStateWithoutAuthenticator
	}
	return ""
}

// retransmitted answers a retransmission with the first request's
// answer, waiting for it when the first is still being decided.
func (s *Server) retransmitted(ctx context.Context, e *cacheEntry, c *Client,
	src netip.AddrPort) []byte {
	s.stats.duplicates.Add(1)
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil
	}
	s.log.Debug("radius retransmission answered from cache", "client", c.Name,
		"client_ip", src.Addr().String(), "answered", e.resp != nil)
	return e.resp
}

// newRequestID returns a random ID for the logs and the audit event.
func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// *mfa.Service is the Service the front door is wired to.
var _ Service = (*mfa.Service)(nil)
