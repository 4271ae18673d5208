package mfa

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/codes"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/totp"
)

// VerifyResult is the answer to "is this code right for this user?". A
// refusal carries no reason: unknown user, disabled user, no such factor,
// wrong code, replayed code and locked account all look the same to the
// caller (SECURITY.md 9). Only the audit log says which.
type VerifyResult struct {
	Accepted   bool
	Factor     string // the factor that accepted the code, such as "totp"
	Credential string // the name of the credential that accepted it
}

// Reasons a verification ends, as written to the audit log.
const (
	reasonAccepted    = "accepted"
	reasonMalformed   = "malformed"
	reasonUnknownUser = "unknown_user"
	reasonDisabled    = "disabled"
	reasonLocked      = "locked"
	reasonNoFactor    = "no_factor"
	reasonWrongCode   = "wrong_code"
	reasonReplay      = "replay"
	reasonExpired     = "expired"
	reasonNotYet      = "not_yet_valid"
	reasonRevoked     = "revoked"
	reasonPolicy      = "policy"
	reasonBlocked     = "blocked"
	reasonNoBypass    = "no_bypass"
)

// verdict is what the verify transaction decided.
type verdict struct {
	VerifyResult
	reason string
	lock   *lockInfo // set when this failure locked the account

	position  int // the backup code's position in its set, when one matched
	remaining int // backup codes left after an accepted one

	// tried names the factor a refused code was aimed at, when it is known
	// better than by the code's shape (a pass that matched but expired).
	tried string
	// detail is added to the verification's audit event.
	detail map[string]string
	// notAfter bounds what the accepted factor may open: a session from a
	// pass ends when the pass does.
	notAfter time.Time
}

// purpose says what a code is asked for.
type purpose int

const (
	// verifyCode is an application's question: a code, or an empty one
	// that a bypass may let through.
	verifyCode purpose = iota + 1
	// signInCode opens a session, which only a factor can do.
	signInCode
)

// lockInfo describes a lock that a failure just caused.
type lockInfo struct {
	failures int
	until    string // an RFC 3339 time, or "unlocked by staff"
}

// Verify checks a code for a user through the one decision path every front
// door uses. It returns an error only when it could not decide (the database
// or the key ring failed); then nothing is accepted (SECURITY.md 4).
func (s *Service) Verify(ctx context.Context, req Request, user, code string) (VerifyResult, error) {
	if err := s.authorize(ctx, req, ActVerify, nil); err != nil {
		return VerifyResult{}, err
	}
	v, _, err := s.decide(ctx, req, user, code, verifyCode, nil)
	return v.VerifyResult, err
}

// acceptFunc runs in the transaction of an accepted verification, so that
// what it writes (a session, say) exists if and only if the code was used.
type acceptFunc func(tx store.Tx, u store.User, v verdict) error

// proof is what was typed, cleaned: a code and its shape, and the
// challenge it answers when it is an out-of-band code.
type proof struct {
	code      string
	shape     codes.Shape
	challenge string
	// orTOTP lets a code that does not answer the challenge be checked as
	// an authenticator code instead, in the same attempt: at a prompt a
	// person may type either.
	orTOTP bool
}

// decide is the decision path behind Verify and SignIn: the code's shape
// picks the factor, and the one lockout, the single-use guard and the audit
// event are all in one transaction. An empty code asks for a bypass, when
// the purpose allows one. It returns the user's ID when the code was
// accepted.
func (s *Service) decide(ctx context.Context, req Request, user, code string, why purpose,
	onAccept acceptFunc) (verdict, string, error) {
	cleaned, ok := codes.Clean(code)
	p := proof{code: cleaned, shape: codes.Classify(cleaned)}
	switch {
	case why == verifyCode && strings.TrimSpace(code) == "":
		p = proof{} // an empty code: the bypass
	case !ok || p.shape == codes.Unknown:
		p = proof{shape: codes.Unknown, code: "-"} // malformed
	}
	return s.decideProof(ctx, req, user, p, onAccept)
}

// decideWith is decide for the code of a challenge: cleaned is "" when what
// was typed is no such code.
func (s *Service) decideWith(ctx context.Context, req Request, user, cleaned, challenge string,
	onAccept acceptFunc) (verdict, string, error) {
	p := proof{code: cleaned, shape: codes.Numeric, challenge: challenge}
	if cleaned == "" {
		p = proof{shape: codes.Unknown, code: "-"}
	}
	return s.decideProof(ctx, req, user, p, onAccept)
}

func (s *Service) decideProof(ctx context.Context, req Request, user string, p proof,
	onAccept acceptFunc) (verdict, string, error) {
	start := time.Now()
	name := CanonicalName(user)
	bypass := p.code == ""

	var v verdict
	var userID string
	var err error
	switch {
	case checkName("user", name) != "" || p.shape == codes.Unknown && !bypass:
		v, err = s.refuseMalformed(ctx, req, name)
	default:
		v, userID, err = s.verify(ctx, req, name, p, onAccept)
	}
	shape := p.shape
	if err != nil {
		s.log.Error("verification failed", "user", name, "client_ip", req.Source,
			"front_door", req.FrontDoor, "request_id", req.RequestID, "err", err)
		return verdict{}, "", err
	}
	// The work is committed; only now is a short refusal held back, so no
	// lock is held while it waits. Asking for a bypass takes a path of its
	// own, shorter than checking a code, so it is paced on its own.
	elapsed := time.Since(start)
	pc := &s.pace
	if bypass {
		pc = &s.bypassPace
	}
	switch {
	case v.reason == reasonMalformed:
		// The caller sent no code of any factor and can see that itself.
	case shortRefusal(v.reason):
		s.sleep(ctx, pc.pause(elapsed))
	default:
		pc.observe(elapsed)
	}
	s.report(req, name, v, shape, time.Since(start))
	return v, userID, nil
}

// refuseMalformed records a refusal of input that is no code of any factor.
// It does not count as a failure: no code was guessed.
func (s *Service) refuseMalformed(ctx context.Context, req Request, name string) (verdict, error) {
	v := verdict{reason: reasonMalformed}
	ev := s.event(req, "verify", audit.Failure, v.reason)
	if checkName("user", name) == "" {
		ev.Subject = name
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		return s.appendAudit(ctx, tx, ev)
	})
	return v, err
}

// verify decides in one transaction: reserve an attempt against the
// lockout, check the code, consume its time step, clear the failures on
// success, and write the audit event. Every path writes in that one commit,
// so accepting, refusing and refusing an unknown user take similar time.
// An empty code asks for the user's bypass instead (useBypass).
func (s *Service) verify(ctx context.Context, req Request, name string, p proof,
	onAccept acceptFunc) (verdict, string, error) {
	code := p.code
	now := s.now()
	var v verdict
	var userID string
	err := s.store.Update(ctx, func(tx store.Tx) error {
		v, userID = verdict{}, ""
		u, err := tx.User(ctx, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("load user: %w", err)
		}
		// Read the policy for unknown users too, so they cost the same.
		pol, perr := s.userPolicy(ctx, tx, u)
		if perr != nil {
			return perr
		}
		switch {
		case err != nil:
			s.decoyCheck(code, now)
			v.reason = reasonUnknownUser
		case u.Disabled:
			s.decoyCheck(code, now)
			v.reason = reasonDisabled
		case !u.BlockedAt.IsZero():
			// A fraud report stopped every sign-in until staff clear it.
			s.decoyCheck(code, now)
			v.reason = reasonBlocked
		case code == "":
			if err := s.useBypass(ctx, tx, req, u, now, pol, &v); err != nil {
				return err
			}
		default:
			if err := s.attempt(ctx, tx, req, u, p, now, pol, &v); err != nil {
				return err
			}
		}
		if err := s.recordVerdict(ctx, tx, req, name, now, v); err != nil {
			return err
		}
		if err := s.verdictEvents(ctx, tx, req, u, p.shape, v); err != nil {
			return err
		}
		if v.Accepted {
			userID = u.ID
			if onAccept != nil {
				return onAccept(tx, u, v)
			}
		}
		return nil
	})
	return v, userID, err
}

// attempt reserves an attempt for u and checks code against the factor its
// shape names.
func (s *Service) attempt(ctx context.Context, tx store.Tx, req Request, u store.User, p proof,
	now time.Time, pol policy.Policy, v *verdict) error {
	code := p.code
	l := pol.Lockout
	state, reserved, err := tx.ReserveAttempt(ctx, u.ID, now, lockRule(l))
	if err != nil {
		return fmt.Errorf("reserve attempt: %w", err)
	}
	if !reserved {
		s.decoyCheck(code, now)
		v.reason = reasonLocked
		return nil
	}
	switch {
	case p.challenge != "":
		err = s.checkChallenge(ctx, tx, u, p.challenge, code, now, pol, v)
		if err == nil && p.orTOTP && !v.Accepted &&
			(v.reason == reasonWrongCode || v.reason == reasonNoFactor) {
			*v = verdict{}
			err = s.checkTOTP(ctx, tx, u, code, now, v)
		}
	case p.shape == codes.Passcode:
		err = s.checkPasscode(ctx, tx, req, u, code, now, pol, v)
	default:
		err = s.checkTOTP(ctx, tx, u, code, now, v)
	}
	if err != nil {
		return err
	}
	if v.Accepted {
		// A success releases the reservation and resets the count.
		return tx.ClearFailures(ctx, u.ID)
	}
	// The reservation stands as this failure. If it was the one that locked
	// the account, say so in the audit log.
	switch {
	case state.Failures >= l.MaxFailures:
		v.lock = &lockInfo{failures: state.Failures, until: "unlocked by staff"}
	case state.LockedUntil.After(now):
		v.lock = &lockInfo{failures: state.Failures,
			until: state.LockedUntil.UTC().Format(time.RFC3339)}
	}
	return nil
}

// checkTOTP checks code against every confirmed authenticator of u and, on a
// match, consumes its time step with one conditional update, so the same
// step is never accepted twice, nor an older step after a newer one
// (SECURITY.md 1 and 2).
func (s *Service) checkTOTP(ctx context.Context, tx store.Tx, u store.User, code string,
	now time.Time, v *verdict) error {
	creds, err := tx.TOTPCredentials(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("load authenticators: %w", err)
	}
	type match struct {
		cred store.TOTPCredential
		step int64
	}
	var matches []match
	for _, c := range creds {
		if !c.Confirmed {
			continue
		}
		step, ok, err := s.matchTOTP(u.ID, c, code, now)
		if err != nil {
			return err
		}
		if ok {
			matches = append(matches, match{c, step})
		}
	}
	if len(matches) == 0 {
		v.reason = reasonWrongCode
		if !hasConfirmed(creds) {
			s.decoyCheck(code, now)
			v.reason = reasonNoFactor
		}
		return nil
	}
	v.reason = reasonReplay
	for _, m := range matches {
		used, err := tx.UseTOTPStep(ctx, m.cred.ID, m.step, now)
		if err != nil {
			return fmt.Errorf("use step: %w", err)
		}
		if used {
			v.Accepted, v.Factor, v.Credential = true, "totp", m.cred.Name
			v.reason = reasonAccepted
			return nil
		}
	}
	return nil
}

func hasConfirmed(creds []store.TOTPCredential) bool {
	for _, c := range creds {
		if c.Confirmed {
			return true
		}
	}
	return false
}

// decoyCheck does the work of checking one authenticator for a user who has
// none to check, so that refusing them takes about as long.
func (s *Service) decoyCheck(code string, now time.Time) {
	secret, err := s.keys.Open(s.decoy.keyID, s.decoy.sealed, []byte(decoyAAD))
	if err != nil {
		return
	}
	totp.Match(secret, code, now, totp.DefaultParams(), totpSkew)
}

// recordVerdict writes the audit events of a verification.
func (s *Service) recordVerdict(ctx context.Context, tx store.Tx, req Request, name string,
	now time.Time, v verdict) error {
	ev := s.event(req, "verify", audit.Failure, v.reason)
	ev.Subject = name
	ev.Time = now
	if v.Accepted {
		ev.Outcome = audit.Success
		ev.Factor = v.Factor
		ev.Detail = map[string]string{"credential": v.Credential}
	}
	if req.Actor.Kind == ActorAnonymous {
		// A sign-in, not an application's question: say so, so that
		// sign-in attempts can be picked out of the log.
		if ev.Detail == nil {
			ev.Detail = map[string]string{}
		}
		ev.Detail["purpose"] = "sign_in"
	}
	for k, val := range v.detail {
		if ev.Detail == nil {
			ev.Detail = map[string]string{}
		}
		ev.Detail[k] = val
	}
	if v.tried != "" && ev.Factor == "" {
		ev.Factor = v.tried
	}
	if v.position != 0 {
		// Which code of the set, so that a printed sheet can be matched to
		// its uses; never the code itself.
		ev.Factor = "backup_code"
		if ev.Detail == nil {
			ev.Detail = map[string]string{}
		}
		ev.Detail["position"] = strconv.Itoa(v.position)
		if v.Accepted {
			ev.Detail["remaining"] = strconv.Itoa(v.remaining)
		}
	}
	if err := s.appendAudit(ctx, tx, ev); err != nil {
		return err
	}
	if v.lock == nil {
		return nil
	}
	return s.auditLock(ctx, tx, req, name, now, v.lock)
}

// auditLock records that a failure locked the account, as mfad's own
// action.
func (s *Service) auditLock(ctx context.Context, tx store.Tx, req Request, name string,
	now time.Time, l *lockInfo) error {
	lock := s.event(Request{Actor: Actor{Kind: ActorSystem}, FrontDoor: req.FrontDoor,
		Source: req.Source, RequestID: req.RequestID}, "user.lock", audit.Success, "too_many_failures")
	lock.Subject = name
	lock.Time = now
	lock.Detail = map[string]string{"failures": strconv.Itoa(l.failures), "until": l.until}
	return s.appendAudit(ctx, tx, lock)
}

// verdictEvents announces what the user should hear of a refusal: that
// their account locked, or that a code of theirs was used again, which is
// what a phished or shoulder-surfed code looks like.
func (s *Service) verdictEvents(ctx context.Context, tx store.Tx, req Request, u store.User,
	shape codes.Shape, v verdict) error {
	if v.lock != nil {
		if err := s.emit(ctx, tx, req, EventLocked, u, map[string]any{
			"failures": v.lock.failures, "until": v.lock.until}); err != nil {
			return err
		}
	}
	if v.reason != reasonReplay || v.tried == "bypass" {
		return nil
	}
	factor := v.tried
	switch {
	case factor != "":
	case v.position != 0:
		factor = "backup_code"
	case shape == codes.Numeric:
		factor = "totp"
	}
	return s.emit(ctx, tx, req, EventCodeReplayed, u, map[string]any{"factor": factor})
}

// report logs a verification and tells the observer.
func (s *Service) report(req Request, name string, v verdict, shape codes.Shape, elapsed time.Duration) {
	attrs := []any{"outcome", "reject", "reason", v.reason, "user", name,
		"client_ip", req.Source, "front_door", req.FrontDoor, "request_id", req.RequestID}
	if v.Accepted {
		attrs[1] = "accept"
		attrs = append(attrs, "factor", v.Factor)
		s.log.Info("verification accepted", attrs...)
	} else {
		s.log.Warn("verification refused", attrs...)
	}
	// A refused code is counted under the factor it was aimed at, by shape.
	factor := v.Factor
	switch {
	case factor != "":
	case v.tried != "":
		factor = v.tried
	case shape == codes.Numeric:
		factor = "totp"
	case shape == codes.Passcode:
		factor = "backup_code"
	default:
		factor = "unknown"
	}
	s.obs.Verification(factor, v.Accepted, elapsed)
	if v.lock != nil {
		s.obs.Lockout()
		s.log.Warn("account locked", "user", name, "failures", v.lock.failures,
			"until", v.lock.until, "client_ip", req.Source, "request_id", req.RequestID)
	}
}
