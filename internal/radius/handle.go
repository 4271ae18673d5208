package radius

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/mfa"
)

const proxyStateType = rfc2865.ProxyState_Type

// msgNoUpstream is why a password+code client refuses every request.
const msgNoUpstream = "password+code mode needs a password upstream, which is not configured"

// defaultPrompt is shown when the service gives no message of its own.
const defaultPrompt = "Enter your code"

// maxText is the longest text one attribute holds (RFC 2865 §5).
const maxText = 253

// answer decides an authenticated Access-Request from c through the
// service and returns the response, and whether it may answer
// retransmissions. It returns nil when the request is to be dropped.
func (s *Server) answer(ctx context.Context, c *Client, w *wirePacket, src netip.AddrPort) (
	[]byte, bool) {
	start := time.Now()
	password, err := w.password(c.Secret)
	if err != nil {
		s.drop(DropMalformed, c, src)
		return nil, false
	}
	user := string(w.Get(rfc2865.UserName_Type))
	req := mfa.Request{
		Actor:     mfa.NAS(c.Name, w.nasAddress(src.Addr())),
		Source:    src.Addr().String(),
		FrontDoor: audit.DoorRADIUS,
		RequestID: newRequestID(),
	}
	log := s.log.With("client", c.Name, "client_ip", req.Source, "request_id", req.RequestID,
		"user", user)

	o := s.decide(ctx, log, c, w, req, user, password)
	if o.err != nil {
		if !refused(o.err) {
			s.stats.drop(DropServiceError)
			log.Error("radius request dropped: the service could not decide", "err", o.err)
			return nil, false
		}
		log.Warn("radius request refused by the service", "err", o.err)
		o = outcome{code: radius.CodeAccessReject}
	}
	resp, err := s.encode(c, w, o)
	if err != nil {
		s.drop(DropMalformed, c, src, "err", err)
		return nil, false
	}
	log.Info("radius request", "outcome", outcomeName(o.code), "mode", string(c.mode()),
		"duration_ms", time.Since(start).Milliseconds())
	return resp, true
}

// outcome is what the service decided of a request.
type outcome struct {
	code   radius.Code
	prompt mfa.Prompt // for an Access-Challenge
	err    error
}

// decide asks the service what the client's mode says to ask.
func (s *Server) decide(ctx context.Context, log *slog.Logger, c *Client, w *wirePacket,
	req mfa.Request, user, password string) outcome {
	if m := w.nonPAP(); m != "" {
		log.Warn("radius request refused: only PAP is supported; set the NAS to PAP",
			"auth_method", m)
		return outcome{code: radius.CodeAccessReject}
	}
	ctx, cancel := context.WithTimeout(ctx, decideTimeout)
	defer cancel()
	var res mfa.VerifyResult
	var err error
	switch c.mode() {
	case ModePasswordCode:
		// TODO: check the password part against a configured upstream
		// (LDAP, another RADIUS server). None exists yet, so nothing checks
		// the password and every request in this mode is refused; a NAS
		// that sends password and code together must use code or
		// challenge mode until then.
		log.Error("radius request refused: " + msgNoUpstream)
		return outcome{code: radius.CodeAccessReject}
	case ModeChallenge:
		state, hasState := w.Lookup(rfc2865.State_Type)
		switch {
		case hasState:
			res, err = s.svc.AnswerPrompt(ctx, req, user, string(state), password)
		case asksForPrompt(password):
			p, err := s.svc.OpenPrompt(ctx, req, user)
			if err == nil && (p.State == "" || len(p.State) > maxText) {
				err = errors.New("the prompt's state is empty or too long")
			}
			return outcome{code: radius.CodeAccessChallenge, prompt: p, err: err}
		default:
			// A code typed at once, without waiting for the prompt.
			res, err = s.svc.Verify(ctx, req, user, password)
		}
	default:
		res, err = s.svc.Verify(ctx, req, user, password)
	}
	if err != nil {
		return outcome{err: err}
	}
	if res.Accepted {
		return outcome{code: radius.CodeAccessAccept}
	}
	return outcome{code: radius.CodeAccessReject}
}

// asksForPrompt reports whether a password in challenge mode asks for
// the prompt rather than being a code: empty, blank, or "push".
func asksForPrompt(password string) bool {
	p := strings.TrimSpace(password)
	return p == "" || strings.EqualFold(p, "push")
}

// refused reports whether err is the service refusing the request rather
// than failing to decide it.
func refused(err error) bool {
	return errors.Is(err, mfa.ErrInvalid) || errors.Is(err, mfa.ErrNotFound) ||
		errors.Is(err, mfa.ErrRateLimited)
}

// encode builds the response of outcome o and counts it.
func (s *Server) encode(c *Client, w *wirePacket, o outcome) ([]byte, error) {
	var p radius.Packet
	switch o.code {
	case radius.CodeAccessReject:
		rfc2865.ReplyMessage_AddString(&p, replyRefused)
	case radius.CodeAccessChallenge:
		rfc2865.State_Set(&p, []byte(o.prompt.State))
		msg := o.prompt.Message
		if msg == "" {
			msg = defaultPrompt
		}
		// A long message spans several Reply-Messages, which the NAS
		// joins (RFC 2865 §5.18).
		for len(msg) > 0 {
			n := min(len(msg), maxText)
			rfc2865.ReplyMessage_AddString(&p, msg[:n])
			msg = msg[n:]
		}
		// RFC 2869 §5.10: the NAS should not echo what the user types.
		rfc2869.Prompt_Set(&p, rfc2869.Prompt_Value_NoEcho)
		// RFC 2865 §5.27: how long the NAS should wait for the answer.
		if left := o.prompt.ExpiresAt.Sub(s.clock()); left >= time.Second {
			rfc2865.SessionTimeout_Set(&p, rfc2865.SessionTimeout(left/time.Second))
		}
	}
	b, err := encodeResponse(o.code, w, c.Secret, p.Attributes)
	if err != nil {
		return nil, err
	}
	switch o.code {
	case radius.CodeAccessAccept:
		s.stats.accepted.Add(1)
	case radius.CodeAccessReject:
		s.stats.rejected.Add(1)
	case radius.CodeAccessChallenge:
		s.stats.challenged.Add(1)
	}
	return b, nil
}

func outcomeName(c radius.Code) string {
	switch c {
	case radius.CodeAccessAccept:
		return "accept"
	case radius.CodeAccessChallenge:
		return "challenge"
	}
	return "reject"
}

// drop counts a discarded packet and logs it, at most once a second for
// each reason, so that a flood of forgeries cannot flood the log.
func (s *Server) drop(reason string, c *Client, src netip.AddrPort, extra ...any) {
	s.stats.drop(reason)
	ok, suppressed := s.quiet.allow(reason, time.Now())
	if !ok {
		return
	}
	attrs := append([]any{"reason", reason, "client_ip", src.Addr().String()}, extra...)
	if c != nil {
		attrs = append(attrs, "client", c.Name)
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	s.log.Warn("radius packet dropped", attrs...)
}

// quietLog lets one log line a second through for each key, and counts
// the others.
type quietLog struct {
	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

// allow reports whether a line for key may be logged at now, and how many
// were held back since the last one.
func (q *quietLog) allow(key string, now time.Time) (bool, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil {
		q.last, q.suppressed = map[string]time.Time{}, map[string]int{}
	}
	if last, ok := q.last[key]; ok && now.Sub(last) < time.Second {
		q.suppressed[key]++
		return false, 0
	}
	n := q.suppressed[key]
	q.last[key], q.suppressed[key] = now, 0
	return true, n
}
