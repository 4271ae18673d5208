package mfa

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/codes"
	"github.com/mfad/mfad/internal/store"
)

// A prompt is the two-step sign-in that RADIUS calls Access-Challenge: the
// client sends the user name alone, mfad answers with a State and a
// message asking for a code (and, where the user has a proved phone or
// address and the policy allows, sends one), and the client sends the code
// back with that State. The State is random, works once, for that user and
// that client, for a few minutes; using it is one conditional update in the
// database, so it works once across replicas too.

// promptLifetime is how long a person has to answer a prompt.
const promptLifetime = 5 * time.Minute

// promptMessage is what every prompt says, whoever asks: a prompt that
// said "a code was sent to your phone" to some users only would tell who
// they are.
const promptMessage = "Enter your code: from your authenticator app, a backup code, " +
	"an access pass, or the code sent to you."

// Prompt is the answer to OpenPrompt: the State to send back with the code,
// and what to show the person.
type Prompt struct {
	State     string // URL-safe text, 22 characters
	Message   string
	ExpiresAt time.Time
}

// OpenPrompt starts a prompt for user on behalf of a RADIUS client (or
// another front door that speaks challenge and response). The answer has
// the same shape, message and timing whether or not the user exists; only
// the audit log says. Where the user's policy allows codes by SMS or email
// and they have proved a number or address, a code is sent (SMS first),
// and either it or any other factor answers the prompt.
func (s *Service) OpenPrompt(ctx context.Context, req Request, user string) (Prompt, error) {
	if err := s.authorize(ctx, req, ActVerify, nil); err != nil {
		return Prompt{}, err
	}
	name := CanonicalName(user)
	if p := checkName("user", name); p != "" {
		return Prompt{}, invalid(p)
	}
	start := time.Now()
	state, err := randomToken(s.rand)
	if err != nil {
		return Prompt{}, err
	}
	now := s.now()
	out := Prompt{State: state, Message: promptMessage, ExpiresAt: now.Add(promptLifetime)}
	global, err := s.policy(ctx, s.store)
	if err != nil {
		return Prompt{}, err
	}
	var job *codeJob
	err = s.store.Update(ctx, func(tx store.Tx) error {
		job = nil
		ev := s.event(req, "prompt.open", audit.Failure, "")
		ev.Subject = name
		u, err := tx.User(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			ev.Reason = reasonUnknownUser
			return s.appendAudit(ctx, tx, ev)
		case err != nil:
			return fmt.Errorf("load user: %w", err)
		case u.Disabled:
			ev.Reason = reasonDisabled
			return s.appendAudit(ctx, tx, ev)
		}
		ps := store.PromptState{ID: state, UserID: u.ID, Client: req.Actor.ID, CreatedAt: now,
			ExpiresAt: out.ExpiresAt}
		ps.Challenge, job, err = s.promptCode(ctx, tx, u, now, global.OutOfBand.Lifetime.Std())
		if err != nil {
			return err
		}
		if err := tx.CreatePromptState(ctx, ps); err != nil {
			return err
		}
		ev.Outcome = audit.Success
		ev.Detail = map[string]string{"code_sent": fmt.Sprint(job != nil)}
		if job != nil {
			ev.Factor = factorOfChannel(job.channel)
			ev.Detail["challenge"] = ps.Challenge
		}
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return Prompt{}, fmt.Errorf("open prompt: %w", err)
	}
	s.sendPaced(ctx, job, start)
	return out, nil
}

// promptCode sends u a code for a prompt where policy and a proved
// destination allow, SMS first, and returns the challenge it answers.
func (s *Service) promptCode(ctx context.Context, tx store.Tx, u store.User, now time.Time,
	lifetime time.Duration) (string, *codeJob, error) {
	if !u.BlockedAt.IsZero() {
		return "", nil, nil
	}
	pol, err := s.userPolicy(ctx, tx, u)
	if err != nil {
		return "", nil, err
	}
	for _, ch := range []string{store.ChannelSMS, store.ChannelEmail} {
		dest, proved := destination(u, ch)
		if !proved || dest == "" || !channelAllowed(pol.OutOfBand, ch) || s.senderFor(ch) == nil {
			continue
		}
		spent, err := destinationSpent(ctx, tx, dest, now, pol.OutOfBand.PerDestination)
		if err != nil || spent {
			return "", nil, err
		}
		id, err := s.newID()
		if err != nil {
			return "", nil, err
		}
		job, err := s.newChallenge(ctx, tx, u, id, purposeVerify, ch, dest,
			pol.OutOfBand.Digits, now.Add(lifetime))
		return id, job, err
	}
	return "", nil, nil
}

// AnswerPrompt checks the code a person typed at a prompt. The State is
// used up first, once, for that user and client; then the code goes
// through the one decision path: the code sent for the prompt, or any
// other factor the user holds, with the same lockout and audit as Verify.
// A State that does not work is refused like a wrong code.
func (s *Service) AnswerPrompt(ctx context.Context, req Request, user, state, code string) (
	VerifyResult, error) {
	if err := s.authorize(ctx, req, ActVerify, nil); err != nil {
		return VerifyResult{}, err
	}
	name := CanonicalName(user)
	var known bool
	var ps store.PromptState
	var ok bool
	if checkName("user", name) == "" && len(state) <= 64 {
		err := s.store.Update(ctx, func(tx store.Tx) error {
			u, err := tx.User(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			known = true
			ps, ok, err = tx.UsePromptState(ctx, state, u.ID, req.Actor.ID, s.now())
			return err
		})
		if err != nil {
			return VerifyResult{}, fmt.Errorf("answer prompt: %w", err)
		}
	}
	if known && !ok {
		return VerifyResult{}, s.refusePrompt(ctx, req, name)
	}
	// An unknown user goes down the decision path all the same, to be
	// refused there in the time a known one takes.
	cleaned, _ := codes.Clean(code)
	if ps.Challenge != "" && len(cleaned) >= 6 && len(cleaned) <= 8 && allDigits(cleaned) {
		v, _, err := s.decideProof(ctx, req, user, proof{code: cleaned, shape: codes.Numeric,
			challenge: ps.Challenge, orTOTP: true}, nil)
		return v.VerifyResult, err
	}
	v, _, err := s.decide(ctx, req, user, code, verifyCode, nil)
	return v.VerifyResult, err
}

// refusePrompt audits an answer whose State does not work (unknown, used,
// expired, another user's or another client's) and holds it back to the
// time of a verification.
func (s *Service) refusePrompt(ctx context.Context, req Request, name string) error {
	start := time.Now()
	ev := s.event(req, "verify", audit.Failure, "bad_state")
	ev.Subject = name
	if err := s.store.Update(ctx, func(tx store.Tx) error {
		return s.appendAudit(ctx, tx, ev)
	}); err != nil {
		return err
	}
	s.log.Warn("verification refused", "outcome", "reject", "reason", "bad_state", "user", name,
		"client_ip", req.Source, "front_door", req.FrontDoor, "request_id", req.RequestID)
	s.sleep(ctx, s.pace.pause(time.Since(start)))
	return nil
}

// PurgePromptStates deletes prompt states that expired more than a day ago.
func (s *Service) PurgePromptStates(ctx context.Context) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeletePromptStatesExpiredBefore(ctx, s.now().Add(-24*time.Hour))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge prompt states: %w", err)
	}
	return n, nil
}

// randomToken returns 128 random bits as URL-safe text.
func randomToken(r io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
