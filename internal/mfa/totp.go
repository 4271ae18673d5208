package mfa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/codes"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/totp"
)

// totpSkew is how many time steps either side of now a code may come from
// (RFC 6238 §5.2 recommends at most one step of network delay).
const totpSkew = 1

// TOTP is an authenticator app as the service shows it; never its secret.
type TOTP struct {
	ID          string
	Name        string
	Algorithm   string
	Digits      int
	Period      int
	Confirmed   bool
	CreatedAt   time.Time
	ConfirmedAt time.Time
	LastUsedAt  time.Time
}

func totpView(c store.TOTPCredential) TOTP {
	return TOTP{
		ID: c.ID, Name: c.Name, Algorithm: c.Algorithm, Digits: c.Digits, Period: c.Period,
		Confirmed: c.Confirmed, CreatedAt: c.CreatedAt, ConfirmedAt: c.ConfirmedAt,
		LastUsedAt: c.LastUsedAt,
	}
}

// TOTPEnrollment is a new, unconfirmed authenticator with the secret to give
// to the app. The secret is shown this once.
type TOTPEnrollment struct {
	TOTP
	Secret string // base32, for typing into an app
	URI    string // otpauth:// URI, for a QR code
}

// NewTOTP is the input to EnrollTOTP. Zero fields take the policy's values.
type NewTOTP struct {
	Name      string
	Algorithm string
	Digits    int
	Period    int
}

// sealAAD binds a sealed secret to its row: moving it to another credential
// or user makes it fail to open.
func sealAAD(userID, credID string) []byte {
	return []byte("mfad/totp/" + userID + "/" + credID)
}

// EnrollTOTP starts enrolling an authenticator app for a user. It counts
// only after ConfirmTOTP with a first code from the app.
func (s *Service) EnrollTOTP(ctx context.Context, req Request, user string, in NewTOTP) (TOTPEnrollment, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		in.Name = "Authenticator"
	}
	if len(in.Name) > 64 || !printable(in.Name) {
		return TOTPEnrollment{}, invalid("name must be printable text of up to 64 characters")
	}
	u, err := s.subject(ctx, req, ActTOTPEnroll, user)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	params := totp.Params{
		Algorithm: totp.Algorithm(pol.TOTP.Algorithm),
		Digits:    pol.TOTP.Digits,
		Period:    pol.TOTP.Period,
	}
	if in.Algorithm != "" {
		params.Algorithm = totp.Algorithm(strings.ToUpper(in.Algorithm))
	}
	if in.Digits != 0 {
		params.Digits = in.Digits
	}
	if in.Period != 0 {
		params.Period = in.Period
	}
	if err := params.Validate(); err != nil {
		return TOTPEnrollment{}, invalid(err.Error())
	}

	id, err := s.newID()
	if err != nil {
		return TOTPEnrollment{}, err
	}
	secret, err := totp.NewSecret(s.rand, params.Algorithm)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("new secret: %w", err)
	}
	uri, err := totp.URI(s.issuer, u.Name, secret, params)
	if err != nil {
		return TOTPEnrollment{}, invalid(fmt.Sprintf("cannot enrol user %q in an app: %v", u.Name, err))
	}
	sealed, keyID, err := s.keys.Seal(secret, sealAAD(u.ID, id))
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("seal secret: %w", err)
	}
	c := store.TOTPCredential{
		ID: id, UserID: u.ID, Name: in.Name,
		Algorithm: string(params.Algorithm), Digits: params.Digits, Period: params.Period,
		Secret: sealed, KeyID: keyID, CreatedAt: s.now(),
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateTOTP(ctx, c); err != nil {
			return err
		}
		ev := s.event(req, "totp.enroll", audit.Success, "")
		ev.Subject, ev.Factor = u.Name, "totp"
		ev.Detail = map[string]string{"credential": id, "name": in.Name}
		return s.appendAudit(ctx, tx, ev)
	})
	if errors.Is(err, store.ErrConflict) {
		return TOTPEnrollment{}, conflict("user %q already has an authenticator named %q", u.Name, in.Name)
	}
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("enroll totp: %w", err)
	}
	s.log.Info("totp enrolled", "user", u.Name, "credential", id, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return TOTPEnrollment{
		TOTP:   totpView(c),
		Secret: totp.EncodeSecret(secret),
		URI:    uri,
	}, nil
}

// ConfirmTOTP confirms a new authenticator with a code from it, proving the
// app holds the secret. The confirming code's time step is recorded as used,
// so it cannot then be replayed to verify.
func (s *Service) ConfirmTOTP(ctx context.Context, req Request, user, id, code string) (TOTP, error) {
	u, err := s.subject(ctx, req, ActTOTPEnroll, user)
	if err != nil {
		return TOTP{}, err
	}
	code, ok := codes.Clean(code)
	if !ok || codes.Classify(code) != codes.Numeric {
		return TOTP{}, invalid("code must be the 6 or 8 digits the authenticator shows")
	}

	var view TOTP
	var wrong bool
	err = s.store.Update(ctx, func(tx store.Tx) error {
		c, err := findTOTP(ctx, tx, u, id)
		if err != nil {
			return err
		}
		if c.Confirmed {
			return conflict("authenticator %q is already confirmed", id)
		}
		now := s.now()
		step, matched, err := s.matchTOTP(u.ID, c, code, now)
		if err != nil {
			return err
		}
		ev := s.event(req, "totp.confirm", audit.Success, "")
		ev.Subject, ev.Factor = u.Name, "totp"
		ev.Detail = map[string]string{"credential": c.ID}
		if matched {
			if matched, err = tx.ConfirmTOTP(ctx, u.ID, c.ID, step, now); err != nil {
				return err
			}
		}
		if !matched {
			wrong = true
			ev.Outcome, ev.Reason = audit.Failure, "wrong_code"
			return s.appendAudit(ctx, tx, ev)
		}
		c.Confirmed, c.ConfirmedAt, c.LastStep = true, now, step
		view = totpView(c)
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventTOTPAdded, u, map[string]any{
			"credential": c.Name, "by_user": isSelf(req, u)})
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return TOTP{}, e
		}
		return TOTP{}, fmt.Errorf("confirm totp: %w", err)
	}
	if wrong {
		return TOTP{}, invalid("the code does not match: check the device's clock and enter the code it shows now")
	}
	s.log.Info("totp confirmed", "user", u.Name, "credential", id, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return view, nil
}

func findTOTP(ctx context.Context, r store.Reader, u store.User, id string) (store.TOTPCredential, error) {
	creds, err := r.TOTPCredentials(ctx, u.ID)
	if err != nil {
		return store.TOTPCredential{}, fmt.Errorf("load authenticators: %w", err)
	}
	for _, c := range creds {
		if c.ID == id {
			return c, nil
		}
	}
	return store.TOTPCredential{}, notFound("user %q has no authenticator %q", u.Name, id)
}

// matchTOTP opens a credential's secret and checks code against the window
// around now. It returns the matching time step.
func (s *Service) matchTOTP(userID string, c store.TOTPCredential, code string, now time.Time) (int64, bool, error) {
	secret, err := s.keys.Open(c.KeyID, c.Secret, sealAAD(userID, c.ID))
	if err != nil {
		// Fail closed: a secret that does not open never matches, and the
		// operator must know (wrong key file, or tampered row).
		s.log.Error("cannot open authenticator secret", "credential", c.ID, "key_id", c.KeyID, "err", err)
		return 0, false, fmt.Errorf("open secret of %s: %w", c.ID, err)
	}
	p := totp.Params{Algorithm: totp.Algorithm(c.Algorithm), Digits: c.Digits, Period: c.Period}
	step, ok := totp.Match(secret, code, now, p, totpSkew)
	clear(secret)
	return step, ok, nil
}

// ListTOTP returns a user's authenticators, without secrets.
func (s *Service) ListTOTP(ctx context.Context, req Request, user string) ([]TOTP, error) {
	u, err := s.subject(ctx, req, ActTOTPRead, user)
	if err != nil {
		return nil, err
	}
	creds, err := s.store.TOTPCredentials(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("list authenticators: %w", err)
	}
	out := make([]TOTP, len(creds))
	for i, c := range creds {
		out[i] = totpView(c)
	}
	return out, nil
}

// DeleteTOTP removes one of a user's authenticators.
func (s *Service) DeleteTOTP(ctx context.Context, req Request, user, id string) error {
	return s.deleteTOTP(ctx, req, user, id, "")
}

// deleteTOTP removes an authenticator, with the reason staff gave, if any,
// in its audit event.
func (s *Service) deleteTOTP(ctx context.Context, req Request, user, id, reason string) error {
	u, err := s.subject(ctx, req, ActTOTPDelete, user)
	if err != nil {
		return err
	}
	if c, err := findTOTP(ctx, s.store, u, id); err == nil && c.Confirmed {
		if err := s.checkLastStrong(ctx, req, u, "totp", id); err != nil {
			return err
		}
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		c, err := findTOTP(ctx, tx, u, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteTOTP(ctx, u.ID, id); err != nil {
			return err
		}
		ev := s.event(req, "totp.delete", audit.Success, "")
		ev.Subject, ev.Factor = u.Name, "totp"
		ev.Detail = map[string]string{"credential": id}
		if reason != "" {
			ev.Detail["reason"] = reason
		}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventTOTPRemoved, u, map[string]any{
			"credential": c.Name, "by_user": isSelf(req, u), "reason": reason})
	})
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user %q has no authenticator %q", u.Name, id)
	}
	if err != nil {
		return fmt.Errorf("delete totp: %w", err)
	}
	s.log.Info("totp deleted", "user", u.Name, "credential", id, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return nil
}
