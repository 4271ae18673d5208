package mfa

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// Out-of-band codes go by email or SMS: one code per challenge, made with
// crypto/rand, kept only as a keyed hash bound to the user and the
// challenge, sent from memory, used once, voided by a resend, and expired
// after the policy's lifetime (10 minutes at most).

// Purposes of a challenge.
const (
	purposeVerify = "verify" // a sign-in or an application's question
	purposeBind   = "bind"   // proving a new address or number
)

// codeQueue bounds the codes waiting to be sent; codeSenders send them.
const (
	codeQueue   = 1000
	codeSenders = 4
)

// Challenge is a code on its way: answer it with its ID and the code.
type Challenge struct {
	ID        string
	ExpiresAt time.Time
}

type codeJob struct {
	channel, to, subject, text string
}

// challengeMessage is what a code's keyed hash is made of: the code is
// bound to its user and to its challenge.
func challengeMessage(userID, id, code string) []byte {
	return []byte("mfad/challenge/" + userID + "/" + id + "/" + code)
}

// channelOf returns the channel of an out-of-band factor's name.
func channelOf(factor string) (string, bool) {
	switch factor {
	case "email":
		return store.ChannelEmail, true
	case "sms":
		return store.ChannelSMS, true
	}
	return "", false
}

// SendChallenge sends user a one-time code by email or SMS ("email" or
// "sms"), to the address or number they have proved, where their policy
// allows that factor. The answer is the same whether or not the user
// exists, has such a factor or may use it: a challenge ID that, for them,
// no code answers. Only the audit log says which. Codes are limited per
// user name and in all (an ErrRateLimited, the same for every name), and
// per destination (silently: nothing is sent).
func (s *Service) SendChallenge(ctx context.Context, req Request, user, factor string) (
	Challenge, error) {
	switch req.Actor.Kind {
	case "", ActorAnonymous:
		req.Actor = Actor{Kind: ActorAnonymous}
	default:
		if err := s.authorize(ctx, req, ActChallenge, nil); err != nil {
			return Challenge{}, err
		}
	}
	name := CanonicalName(user)
	channel, ok := channelOf(factor)
	var bad problems
	if !ok {
		bad.add("factor must be email or sms")
	}
	if p := checkName("user", name); p != "" {
		bad.add("%s", p)
	}
	if err := bad.err(); err != nil {
		return Challenge{}, err
	}
	global, err := s.policy(ctx, s.store)
	if err != nil {
		return Challenge{}, err
	}
	ob := global.OutOfBand
	if err := s.limitCodes(ctx, req, name, ob); err != nil {
		return Challenge{}, err
	}
	id, err := s.newID()
	if err != nil {
		return Challenge{}, err
	}
	now := s.now()
	start := time.Now()
	// One lifetime for everyone, from the global policy, so the answer
	// tells nothing about the user's groups.
	out := Challenge{ID: id, ExpiresAt: now.Add(ob.Lifetime.Std())}
	var job *codeJob
	err = s.store.Update(ctx, func(tx store.Tx) error {
		job = nil
		ev := s.event(req, "challenge.send", audit.Failure, "")
		ev.Subject, ev.Factor = name, factor
		ev.Detail = map[string]string{"challenge": id}
		u, dest, reason, err := s.challengeTarget(ctx, tx, name, channel)
		if err != nil {
			return err
		}
		if reason == "" {
			pol, err := s.userPolicy(ctx, tx, u)
			if err != nil {
				return err
			}
			spent, err := destinationSpent(ctx, tx, dest, now, pol.OutOfBand.PerDestination)
			if err != nil {
				return err
			}
			if spent {
				reason = "rate_limited"
			}
			if reason == "" {
				job, err = s.newChallenge(ctx, tx, u, id, purposeVerify, channel, dest,
					pol.OutOfBand.Digits, out.ExpiresAt)
				if err != nil {
					return err
				}
				ev.Outcome = audit.Success
			}
		}
		ev.Reason = reason
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return Challenge{}, fmt.Errorf("send challenge: %w", err)
	}
	s.sendPaced(ctx, job, start)
	return out, nil
}

// sendPaced hands job's code, if there is one, to the senders. Making a
// code does more work than refusing to, so an answer that sends none is
// held back to the time the full path takes, begun at start: its timing
// tells nothing either (SECURITY.md 9).
func (s *Service) sendPaced(ctx context.Context, job *codeJob, start time.Time) {
	if job != nil {
		s.enqueueCode(*job)
		s.challengePace.observe(time.Since(start))
	} else {
		s.sleep(ctx, s.challengePace.pause(time.Since(start)))
	}
}

// destinationSpent counts one more code to dest in the hour of now and
// reports whether that goes beyond perHour. The count is in the database,
// so every replica sees it.
func destinationSpent(ctx context.Context, tx store.Tx, dest string, now time.Time,
	perHour int) (bool, error) {
	n, err := tx.Hit(ctx, "challenge/destination/"+dest, now.Truncate(time.Hour))
	return n > perHour, err
}

// challengeTarget finds where a code for name by channel would go, or why
// none goes anywhere.
func (s *Service) challengeTarget(ctx context.Context, tx store.Tx, name, channel string) (
	u store.User, dest, reason string, err error) {
	u, err = tx.User(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return u, "", reasonUnknownUser, nil
	case err != nil:
		return u, "", "", fmt.Errorf("load user: %w", err)
	case u.Disabled:
		return u, "", reasonDisabled, nil
	case !u.BlockedAt.IsZero():
		return u, "", reasonBlocked, nil
	}
	pol, err := s.userPolicy(ctx, tx, u)
	if err != nil {
		return u, "", "", err
	}
	dest, proved := destination(u, channel)
	switch {
	case !channelAllowed(pol.OutOfBand, channel):
		return u, "", reasonPolicy, nil
	case s.senderFor(channel) == nil:
		return u, "", "no_sender", nil
	case dest == "" || !proved:
		return u, "", reasonNoFactor, nil
	}
	return u, dest, "", nil
}

func destination(u store.User, channel string) (string, bool) {
	if channel == store.ChannelEmail {
		return u.Email, !u.EmailVerifiedAt.IsZero()
	}
	return u.Phone, !u.PhoneVerifiedAt.IsZero()
}

func channelAllowed(ob policy.OutOfBand, channel string) bool {
	if channel == store.ChannelEmail {
		return ob.Email
	}
	return ob.SMS
}

// senderFor returns what sends codes by channel, or nil if nothing does.
func (s *Service) senderFor(channel string) any {
	if channel == store.ChannelEmail && s.mailer != nil {
		return s.mailer
	}
	if channel == store.ChannelSMS && s.sms != nil {
		return s.sms
	}
	return nil
}

// limitCodes counts a code against the user name and against the whole
// server, each in an hourly window, and refuses it over the global
// policy's bounds. It is counted by name, whether or not the user exists.
func (s *Service) limitCodes(ctx context.Context, req Request, name string,
	ob policy.OutOfBand) error {
	window := s.now().Truncate(time.Hour)
	var over bool
	err := s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.Hit(ctx, "challenge/user/"+name, window)
		if err != nil {
			return err
		}
		all, err := tx.Hit(ctx, "challenge/all", window)
		over = n > ob.PerUser || all > ob.Global
		return err
	})
	if err != nil {
		return fmt.Errorf("count codes: %w", err)
	}
	if over {
		s.log.Warn("codes limited", "user", name, "client_ip", req.Source,
			"request_id", req.RequestID)
		return &Error{Kind: ErrRateLimited, RetryAfter: window.Add(time.Hour).Sub(s.now()),
			Message: "too many codes asked for; try again within the hour"}
	}
	return nil
}

// newChallenge makes a code, voids the user's earlier codes of the same
// channel and purpose, stores the new one's keyed hash, and returns the
// message to send.
func (s *Service) newChallenge(ctx context.Context, tx store.Tx, u store.User, id, purpose,
	channel, dest string, digits int, expires time.Time) (*codeJob, error) {
	code, err := randomDigits(s.rand, digits)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if _, err := tx.VoidChallenges(ctx, u.ID, channel, purpose, now); err != nil {
		return nil, err
	}
	hash, keyID := s.keys.MAC(keyring.CodeHash, challengeMessage(u.ID, id, code))
	if err := tx.CreateChallenge(ctx, store.Challenge{ID: id, UserID: u.ID, Purpose: purpose,
		Channel: channel, Destination: dest, Hash: hash, KeyID: keyID, CreatedAt: now,
		ExpiresAt: expires}); err != nil {
		return nil, err
	}
	mins := int(expires.Sub(now).Round(time.Minute) / time.Minute)
	text := fmt.Sprintf("%s code: %s\nIt works once, for %d minutes. Nobody will ever ask you "+
		"for it; if you did not ask for it, ignore it.", s.issuer, code, mins)
	if purpose == purposeBind {
		text = fmt.Sprintf("%s code: %s\nEnter it to receive %s codes here. It works once, "+
			"for %d minutes; if you did not ask for it, ignore it.", s.issuer, code, s.issuer,
			mins)
	}
	return &codeJob{channel: channel, to: dest, subject: "Your " + s.issuer + " code",
		text: text}, nil
}

// randomDigits returns n decimal digits from r, without modulo bias.
func randomDigits(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		for _, b := range buf {
			if b < 250 && len(out) < n { // 250 is the largest multiple of 10 in a byte
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out), nil
}

// enqueueCode hands a code to the senders, starting them the first time.
// The code stays in memory: if the process stops first, the person asks
// again.
func (s *Service) enqueueCode(j codeJob) {
	s.startCodes.Do(func() {
		for range codeSenders {
			go s.sendCodes()
		}
	})
	select {
	case s.codes <- j:
	default:
		s.log.Error("code not sent: too many codes waiting", "channel", j.channel)
	}
}

func (s *Service) sendCodes() {
	for j := range s.codes {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var err error
		switch j.channel {
		case store.ChannelEmail:
			err = s.mailer.Send(ctx, notify.Message{To: []string{j.to}, Subject: j.subject,
				Text: j.text})
		case store.ChannelSMS:
			err = s.sms.Send(ctx, j.to, j.text)
		}
		cancel()
		// Never the code nor the message; the destination only masked.
		if err != nil {
			s.log.Error("code not sent", "channel", j.channel, "to", masked(j.to), "err", err)
		} else {
			s.log.Info("code sent", "channel", j.channel, "to", masked(j.to))
		}
	}
}

// checkChallenge checks code against challenge id of u and, on a match,
// uses the challenge up with one conditional update.
func (s *Service) checkChallenge(ctx context.Context, tx store.Tx, u store.User, id, code string,
	now time.Time, pol policy.Policy, v *verdict) error {
	c, err := tx.Challenge(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.UserID != u.ID) {
		// Hash as for a real challenge, so the refusal takes as long.
		s.keys.MAC(keyring.CodeHash, challengeMessage(u.ID, id, code))
		v.reason = reasonNoFactor
		return nil
	}
	if err != nil {
		return fmt.Errorf("load challenge: %w", err)
	}
	v.tried = factorOfChannel(c.Channel)
	v.detail = map[string]string{"challenge": c.ID}
	sum, err := s.keys.MACWith(keyring.CodeHash, c.KeyID, challengeMessage(u.ID, c.ID, code))
	if err != nil {
		return fmt.Errorf("hash code: %w", err)
	}
	dest, proved := destination(u, c.Channel)
	switch {
	case !hmac.Equal(sum, c.Hash):
		v.reason = reasonWrongCode
	case c.Purpose != purposeVerify:
		v.reason = reasonWrongCode
	case !c.UsedAt.IsZero():
		v.reason = reasonReplay
	case !c.VoidedAt.IsZero():
		v.reason = reasonRevoked
	case !now.Before(c.ExpiresAt):
		v.reason = reasonExpired
	case !channelAllowed(pol.OutOfBand, c.Channel):
		v.reason = reasonPolicy
	case !proved || dest != c.Destination:
		// The address changed since the code was sent.
		v.reason = reasonRevoked
	}
	if v.reason != "" {
		return nil
	}
	used, err := tx.UseChallenge(ctx, c.ID, now)
	if err != nil {
		return fmt.Errorf("use challenge: %w", err)
	}
	if !used {
		v.reason = reasonReplay
		return nil
	}
	v.Accepted, v.Factor, v.reason = true, v.tried, reasonAccepted
	v.Credential = masked(c.Destination)
	return nil
}

func factorOfChannel(channel string) string {
	if channel == store.ChannelSMS {
		return "sms"
	}
	return "email"
}

// VerifyChallenge checks the code a user received for a challenge, through
// the same decision path, lockout and audit as Verify.
func (s *Service) VerifyChallenge(ctx context.Context, req Request, user, challenge, code string) (
	VerifyResult, error) {
	if err := s.authorize(ctx, req, ActVerify, nil); err != nil {
		return VerifyResult{}, err
	}
	v, _, err := s.decideChallenge(ctx, req, user, challenge, code, nil)
	return v.VerifyResult, err
}

// SignInChallenge opens a self-service session with a code received for a
// challenge. A session from an email or SMS code may look, revoke its pass
// and report fraud; it may neither add nor remove factors, nor issue itself
// a pass (see selfService).
func (s *Service) SignInChallenge(ctx context.Context, req Request, user, challenge,
	code string) (Session, error) {
	req.Actor = Actor{Kind: ActorAnonymous}
	var out Session
	v, _, err := s.decideChallenge(ctx, req, user, challenge, code, s.openSession(ctx, req, &out))
	if err != nil {
		return Session{}, err
	}
	if !v.Accepted {
		return Session{}, errSignIn
	}
	return out, nil
}

// decideChallenge is decide for a challenge's code: 6 to 8 digits.
func (s *Service) decideChallenge(ctx context.Context, req Request, user, challenge, code string,
	onAccept acceptFunc) (verdict, string, error) {
	cleaned := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	if len(cleaned) < 6 || len(cleaned) > 8 || !allDigits(cleaned) ||
		checkName("id", challenge) != "" {
		cleaned = "" // malformed
	}
	return s.decideWith(ctx, req, user, cleaned, challenge, onAccept)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// PurgeChallenges deletes challenges that expired more than a day ago; the
// day keeps them for anyone reading the audit log alongside.
func (s *Service) PurgeChallenges(ctx context.Context) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteChallengesExpiredBefore(ctx, s.now().Add(-24*time.Hour))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge challenges: %w", err)
	}
	return n, nil
}
