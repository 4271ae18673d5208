package mfa

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// An address or number receives codes only once its owner has proved it:
// binding sends a code to the new destination, and confirming with that
// code makes it the user's, in one transaction that also tells the old
// address. Binding is adding a factor, so a session needs to have proved
// an everyday factor recently (policy sessions.freshness), and staff need
// the right to manage the user's factors.

// BindDestination starts binding address (channel "email") or number
// ("sms") to user: it sends a code there and returns the challenge to
// confirm with.
func (s *Service) BindDestination(ctx context.Context, req Request, user, factor,
	address string) (Challenge, error) {
	channel, ok := channelOf(factor)
	if !ok {
		return Challenge{}, invalid("factor must be email or sms")
	}
	dest, err := normalizeDestination(channel, address)
	if err != nil {
		return Challenge{}, err
	}
	u, pol, err := s.bindSubject(ctx, req, user, channel, ActDestBind)
	if err != nil {
		return Challenge{}, err
	}
	// The per-user and global bounds and the lifetime are the global
	// policy's, as for every code; the per-destination bound and the
	// length are the user's.
	global, err := s.policy(ctx, s.store)
	if err != nil {
		return Challenge{}, err
	}
	if err := s.limitCodes(ctx, req, u.Name, global.OutOfBand); err != nil {
		return Challenge{}, err
	}
	now := s.now()
	var over bool
	if err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		over, err = destinationSpent(ctx, tx, dest, now, pol.OutOfBand.PerDestination)
		return err
	}); err != nil {
		return Challenge{}, fmt.Errorf("count codes: %w", err)
	}
	if over {
		return Challenge{}, &Error{Kind: ErrRateLimited,
			RetryAfter: now.Truncate(time.Hour).Add(time.Hour).Sub(now),
			Message:    "too many codes sent to that address; try again within the hour"}
	}
	ob := pol.OutOfBand
	id, err := s.newID()
	if err != nil {
		return Challenge{}, err
	}
	out := Challenge{ID: id, ExpiresAt: s.now().Add(global.OutOfBand.Lifetime.Std())}
	var job *codeJob
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		job, err = s.newChallenge(ctx, tx, u, id, purposeBind, channel, dest, ob.Digits,
			out.ExpiresAt)
		if err != nil {
			return err
		}
		ev := s.event(req, string(ActDestBind), audit.Success, "code_sent")
		ev.Subject, ev.Factor = u.Name, factor
		ev.Detail = map[string]string{"challenge": id, "destination": masked(dest)}
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return Challenge{}, fmt.Errorf("bind destination: %w", err)
	}
	s.enqueueCode(*job)
	return out, nil
}

// bindSubject authorizes binding (act ActDestBind) or removing
// (ActDestRemove) a destination on user: a session must have proved its
// factor recently, since either changes the user's factors. For binding it
// also checks that the policy allows the channel and something can send by
// it.
func (s *Service) bindSubject(ctx context.Context, req Request, user, channel string,
	act Action) (store.User, policy.Policy, error) {
	u, err := s.subject(ctx, req, act, user)
	if err != nil {
		return store.User{}, policy.Policy{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return store.User{}, policy.Policy{}, err
	}
	name := factorNames[factorOfChannel(channel)] + "s"
	if req.Actor.Kind == ActorSession &&
		s.now().Sub(req.Actor.VerifiedAt) > pol.Sessions.Freshness.Std() {
		return store.User{}, policy.Policy{}, s.refusePolicy(ctx, req, act, u, "not_fresh",
			fmt.Sprintf("changing your factors needs a factor proved within the last %s; "+
				"sign in again", pol.Sessions.Freshness))
	}
	if act == ActDestRemove {
		return u, pol, nil
	}
	if !channelAllowed(pol.OutOfBand, channel) {
		return store.User{}, policy.Policy{}, s.refusePolicy(ctx, req, ActDestBind, u, "policy",
			fmt.Sprintf("the policy in force for %s does not allow %s", u.Name, name))
	}
	if s.senderFor(channel) == nil {
		return store.User{}, policy.Policy{}, conflict("this server sends no %s: it has no "+
			"%s configured", name, map[string]string{store.ChannelEmail: "mail server",
			store.ChannelSMS: "SMS gateway"}[channel])
	}
	return u, pol, nil
}

// normalizeDestination checks and normalizes an email address or phone
// number.
func normalizeDestination(channel, address string) (string, error) {
	address = strings.TrimSpace(address)
	if channel == store.ChannelSMS {
		n, err := notify.NormalizePhone(address)
		if err != nil {
			return "", invalid("phone: " + err.Error())
		}
		return n, nil
	}
	if address == "" {
		return "", invalid("email must be an email address")
	}
	if msg := checkEmail(address); msg != "" {
		return "", invalid(msg)
	}
	return address, nil
}

// ConfirmDestination finishes a binding with the code that was sent: the
// address or number becomes the user's, proved. A wrong code counts toward
// the one lockout.
func (s *Service) ConfirmDestination(ctx context.Context, req Request, user, factor, challenge,
	code string) (User, error) {
	channel, ok := channelOf(factor)
	if !ok {
		return User{}, invalid("factor must be email or sms")
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) < 6 || len(code) > 8 || !allDigits(code) || checkName("id", challenge) != "" {
		return User{}, invalid("give the challenge and the 6 to 8 digits that were sent")
	}
	u, pol, err := s.bindSubject(ctx, req, user, channel, ActDestBind)
	if err != nil {
		return User{}, err
	}
	var wrong, locked bool
	var after store.User
	err = s.store.Update(ctx, func(tx store.Tx) error {
		wrong, locked = false, false
		now := s.now()
		ev := s.event(req, "destination.confirm", audit.Failure, reasonWrongCode)
		ev.Subject, ev.Factor = u.Name, factor
		ev.Detail = map[string]string{"challenge": challenge}
		state, reserved, err := tx.ReserveAttempt(ctx, u.ID, now, lockRule(pol.Lockout))
		if err != nil {
			return err
		}
		if !reserved {
			locked = true
			ev.Reason = reasonLocked
			return s.appendAudit(ctx, tx, ev)
		}
		c, err := tx.Challenge(ctx, challenge)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		ok := err == nil && c.UserID == u.ID && c.Purpose == purposeBind && c.Channel == channel
		if ok {
			sum, err := s.keys.MACWith(keyring.CodeHash, c.KeyID, challengeMessage(u.ID, c.ID, code))
			if err != nil {
				return err
			}
			ok = hmac.Equal(sum, c.Hash)
		}
		if ok {
			ok, err = tx.UseChallenge(ctx, c.ID, now)
			if err != nil {
				return err
			}
		}
		if !ok {
			wrong = true
			if err := s.appendAudit(ctx, tx, ev); err != nil {
				return err
			}
			// A wrong code here is a failure like any other: if it locked the
			// account, say so as verify does.
			var l *lockInfo
			switch {
			case state.Failures >= pol.Lockout.MaxFailures:
				l = &lockInfo{failures: state.Failures, until: "unlocked by staff"}
			case state.LockedUntil.After(now):
				l = &lockInfo{failures: state.Failures,
					until: state.LockedUntil.UTC().Format(time.RFC3339)}
			}
			if l == nil {
				return nil
			}
			s.obs.Lockout()
			if err := s.auditLock(ctx, tx, req, u.Name, now, l); err != nil {
				return err
			}
			return s.emit(ctx, tx, req, EventLocked, u, map[string]any{
				"failures": l.failures, "until": l.until})
		}
		before, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if err := tx.SetDestination(ctx, u.ID, channel, c.Destination, now); err != nil {
			return err
		}
		if err := tx.ClearFailures(ctx, u.ID); err != nil {
			return err
		}
		if after, err = tx.UserByID(ctx, u.ID); err != nil {
			return err
		}
		ev.Outcome, ev.Reason = audit.Success, ""
		ev.Detail["destination"] = masked(c.Destination)
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emitDestinationChanges(ctx, tx, req, before, after)
	})
	switch {
	case err != nil:
		return User{}, fmt.Errorf("confirm destination: %w", err)
	case locked:
		return User{}, forbidden("%s is locked after too many wrong codes", u.Name)
	case wrong:
		return User{}, invalid("the code does not match, has been used, or has expired; " +
			"ask for a new one")
	}
	s.log.Info("destination bound", "user", u.Name, "factor", factor,
		"actor", req.Actor.String(), "request_id", req.RequestID)
	return s.userView(after, s.now(), pol.Lockout), nil
}

// RemoveDestination stops sending codes to a user's address or number. The
// address stays, for notices; it is no longer proved.
func (s *Service) RemoveDestination(ctx context.Context, req Request, user, factor string) (
	User, error) {
	channel, ok := channelOf(factor)
	if !ok {
		return User{}, invalid("factor must be email or sms")
	}
	u, pol, err := s.bindSubject(ctx, req, user, channel, ActDestRemove)
	if err != nil {
		return User{}, err
	}
	var after store.User
	err = s.store.Update(ctx, func(tx store.Tx) error {
		before, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		dest, proved := destination(before, channel)
		if !proved {
			return notFound("user %q receives no %s codes", u.Name, factor)
		}
		if err := tx.SetDestination(ctx, u.ID, channel, dest, time.Time{}); err != nil {
			return err
		}
		if after, err = tx.UserByID(ctx, u.ID); err != nil {
			return err
		}
		ev := s.event(req, string(ActDestRemove), audit.Success, "")
		ev.Subject, ev.Factor = u.Name, factor
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emitDestinationChanges(ctx, tx, req, before, after)
	})
	var e *Error
	if errors.As(err, &e) {
		return User{}, e
	}
	if err != nil {
		return User{}, fmt.Errorf("remove destination: %w", err)
	}
	return s.userView(after, s.now(), pol.Lockout), nil
}
