package mfa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// Session tokens look like "mfads_<id>_<secret>", API tokens "mfad_...": the
// prefix tells them apart, and lets secret scanners recognise both.
const sessionPrefix = "mfads_"

// Session is a self-service session as the service hands it out. Token is
// shown this once; only its keyed hash is kept.
type Session struct {
	Token     string
	User      string
	Factor    string // the factor the user signed in with
	ExpiresAt time.Time
}

// sessionTouchEvery is how often a session in use records that it is: the
// precision of the idle timeout.
const sessionTouchEvery = time.Minute

// selfRule says which sessions may take an action on their own account.
type selfRule int

const (
	// anySession: a session opened with any factor, a backup code or an
	// email code included.
	anySession selfRule = iota + 1
	// recoveryToo: a session opened with an everyday factor or a recovery
	// factor (a backup code, an access pass), not with an email or SMS
	// code. Recovery adds a new authenticator; whoever holds a mailbox must
	// not be able to.
	recoveryToo
	// notRecovery: a session opened with an everyday factor alone. A stolen
	// printed sheet must not let its holder take away the owner's own
	// factors.
	notRecovery
)

// recoveryFactors are the factors that stand in when the everyday ones are
// lost.
var recoveryFactors = []string{"backup_code", "access_pass"}

// limitedSession reports whether a session opened with factor is one of
// recovery or out-of-band codes: what a thief of a sheet, a pass or a
// mailbox would hold. Such a session may add, not take away.
func limitedSession(factor string) bool {
	switch FactorClass(factor) {
	case "recovery", "out_of_band":
		return true
	}
	return false
}

// FactorClass returns the class of a factor, as self-service policy names
// them: possession (an authenticator app), phishing_resistant (a security
// key or passkey), recovery (a backup code or an access pass), or
// out_of_band (a code sent by email or SMS). A bypass is no factor at all.
func FactorClass(factor string) string {
	switch factor {
	case "totp":
		return policy.ClassPossession
	case "webauthn":
		return policy.ClassPhishingResistant
	case "email", "sms":
		return "out_of_band"
	}
	if slices.Contains(recoveryFactors, factor) {
		return "recovery"
	}
	return "none"
}

// selfService is what a session may do, on its own account only. It is the
// one place this is decided; docs/sessions.md shows the same table and a
// test keeps the two in step. Recovery is what backup codes and access
// passes are for, so a session opened with one may enrol a new
// authenticator and make a new set of codes. Issuing oneself an access pass
// also needs what the policy asks (see passSelfRefusal): a session of a
// qualifying class, opened recently enough.
var selfService = map[Action]selfRule{
	ActUserRead:     anySession,
	ActTOTPRead:     anySession,
	ActTOTPEnroll:   recoveryToo,
	ActTOTPDelete:   notRecovery,
	ActKeyRead:      anySession,
	ActKeyEnroll:    recoveryToo,
	ActKeyDelete:    notRecovery,
	ActActivityRead: anySession,
	ActCodesRead:    anySession,
	ActCodesMake:    recoveryToo,
	ActCodesDelete:  notRecovery,
	ActPassRead:     anySession,
	ActPassRevoke:   anySession,
	ActPassIssue:    notRecovery,
	ActFraudReport:  anySession,
	ActDestBind:     notRecovery,
	ActDestRemove:   notRecovery,
}

// SelfService reports whether a session may take act on its own account at
// all, whether a recovery session (one opened with a backup code or an
// access pass) may, and whether one opened with an email or SMS code may.
func SelfService(act Action) (allowed, recovery, outOfBand bool) {
	rule := selfService[act]
	return rule != 0, rule == anySession || rule == recoveryToo, rule == anySession
}

// sessionRefusal returns why a session may not take act on subject, or "".
func sessionRefusal(a Actor, act Action, subject *store.User) string {
	rule := selfService[act]
	switch {
	case rule == 0:
		return "not_self_service"
	case subject == nil || subject.ID != a.UserID:
		return "own_account_only"
	case rule == notRecovery && limitedSession(a.Factor),
		rule == recoveryToo && FactorClass(a.Factor) == "out_of_band":
		return "recovery_session"
	}
	return ""
}

// errSignIn is the one answer to every refused sign-in, whatever the reason.
var errSignIn = &Error{Kind: ErrUnauthenticated, Message: "sign-in refused"}

// SignIn opens a self-service session for a user who proves a factor. The
// code goes through the same decision path as Verify, with the same lockout
// and audit; the session is created in the transaction that uses the code
// up. A session from an access pass ends when the pass does, if that is
// sooner. A bypass never opens a session: it lets one sign-in of an
// application through, and proves nothing. Every refusal is the same
// ErrUnauthenticated error.
func (s *Service) SignIn(ctx context.Context, req Request, user, code string) (Session, error) {
	req.Actor = Actor{Kind: ActorAnonymous}
	var out Session
	v, _, err := s.decide(ctx, req, user, code, signInCode, s.openSession(ctx, req, &out))
	if err != nil {
		return Session{}, err
	}
	if !v.Accepted {
		return Session{}, errSignIn
	}
	return out, nil
}

// openSession returns what an accepted sign-in does in its transaction:
// create the session, audit it, and fill in out.
func (s *Service) openSession(ctx context.Context, req Request, out *Session) acceptFunc {
	return func(tx store.Tx, u store.User, v verdict) error {
		pol, err := s.userPolicy(ctx, tx, u)
		if err != nil {
			return err
		}
		id, plain, hash, keyID, err := s.newBearer(sessionPrefix)
		if err != nil {
			return err
		}
		now := s.now()
		sess := store.Session{ID: id, UserID: u.ID, Hash: hash, KeyID: keyID, Factor: v.Factor,
			Source: req.Source, VerifiedAt: now, CreatedAt: now, LastSeenAt: now,
			ExpiresAt: now.Add(pol.Sessions.Lifetime.Std())}
		if !v.notAfter.IsZero() && v.notAfter.Before(sess.ExpiresAt) {
			sess.ExpiresAt = v.notAfter
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		ev := s.event(req, "session.create", audit.Success, "")
		ev.Subject = u.Name
		ev.Factor = v.Factor
		ev.Detail = map[string]string{"session": id,
			"expires_at": sess.ExpiresAt.Format(time.RFC3339)}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		*out = Session{Token: plain, User: u.Name, Factor: v.Factor, ExpiresAt: sess.ExpiresAt}
		return nil
	}
}

// authenticateSession returns the actor a session token stands for. Like
// API tokens, it is read from the database on every call, so signing out
// takes effect at once on every replica.
func (s *Service) authenticateSession(ctx context.Context, token string) (Actor, error) {
	fail := &Error{Kind: ErrUnauthenticated,
		Message: "missing, unknown, expired or ended session"}
	rest, _ := strings.CutPrefix(token, sessionPrefix)
	id, _, ok := strings.Cut(rest, "_")
	if !ok || len(token) > 100 || checkName("id", id) != "" {
		return Actor{}, fail
	}
	sess, err := s.store.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, fail
	}
	if err != nil {
		return Actor{}, fmt.Errorf("load session: %w", err)
	}
	if !sess.RevokedAt.IsZero() || !s.now().Before(sess.ExpiresAt) ||
		!s.keys.Equal(keyring.TokenHash, sess.KeyID, []byte(token), sess.Hash) {
		return Actor{}, fail
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, fail
	}
	if err != nil {
		return Actor{}, fmt.Errorf("load session user: %w", err)
	}
	if u.Disabled || !u.BlockedAt.IsZero() {
		return Actor{}, fail
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return Actor{}, err
	}
	now := s.now()
	if !now.Before(sess.LastSeenAt.Add(pol.Sessions.Idle.Std())) {
		return Actor{}, fail
	}
	// Note the use, at most once a minute, so a busy session costs few
	// writes and an idle one ends on time. The row just read says whether
	// a minute has passed; only then is a write transaction opened (the
	// statement itself still decides, should another replica touch first).
	if !sess.LastSeenAt.After(now.Add(-sessionTouchEvery)) {
		if err := s.store.Update(ctx, func(tx store.Tx) error {
			_, err := tx.TouchSession(ctx, sess.ID, now, sessionTouchEvery)
			return err
		}); err != nil {
			return Actor{}, fmt.Errorf("touch session: %w", err)
		}
	}
	return Actor{Kind: ActorSession, ID: sess.ID, UserID: u.ID, UserName: u.Name,
		Factor: sess.Factor, VerifiedAt: sess.VerifiedAt}, nil
}

// StaffActor turns the session of a user who holds staff roles into the
// actor of the web console, with those roles. Only a session opened with
// an everyday factor (an authenticator app or a security key) qualifies: a
// backup code, a pass or an emailed code opens no staff powers, whoever
// holds it. The user's roles are read again each time, so losing a role
// takes effect at once.
func (s *Service) StaffActor(ctx context.Context, sess Actor) (Actor, error) {
	if sess.Kind != ActorSession {
		return Actor{}, forbidden("the console needs a signed-in session")
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return Actor{}, fmt.Errorf("load user: %w", err)
	}
	if len(u.Roles) == 0 {
		return Actor{}, forbidden("%s holds no staff role", u.Name)
	}
	if limitedSession(sess.Factor) {
		return Actor{}, forbidden("the console needs a sign-in with an authenticator app or "+
			"a security key, not with %s", strings.ReplaceAll(sess.Factor, "_", " "))
	}
	a := sess
	a.Kind = ActorStaff
	a.Roles = make([]Role, len(u.Roles))
	for i, r := range u.Roles {
		a.Roles[i] = Role(r)
	}
	return a, nil
}

// SessionUser returns the name of the user req's session belongs to. It
// refuses any actor but a session: the /v1/me routes are for people signed
// in as themselves.
func (s *Service) SessionUser(req Request) (string, error) {
	if req.Actor.Kind != ActorSession {
		return "", forbidden("these routes need a session; sign in with POST /v1/sessions")
	}
	return req.Actor.UserName, nil
}

// SignOut ends req's session at once.
func (s *Service) SignOut(ctx context.Context, req Request) error {
	if req.Actor.Kind != ActorSession {
		return forbidden("only a session can sign out")
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.RevokeSession(ctx, req.Actor.ID, s.now()); err != nil {
			return err
		}
		ev := s.event(req, "session.end", audit.Success, "")
		ev.Subject = req.Actor.UserName
		return s.appendAudit(ctx, tx, ev)
	})
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Kind: ErrUnauthenticated, Message: "the session has already ended"}
	}
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// PurgeSessions deletes sessions that expired more than a day ago; the day
// keeps them around for anyone reading the audit log alongside.
func (s *Service) PurgeSessions(ctx context.Context) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteSessionsExpiredBefore(ctx, s.now().Add(-24*time.Hour))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return n, nil
}

// SelfServiceLimits are the parts of a user's policy the self-service
// pages explain: how long a pass they issue themselves may last, whether
// they may issue one at all, how recent a sign-in changing factors needs,
// and when to warn about backup codes running out.
type SelfServiceLimits struct {
	PassAllowed     bool
	PassMaxLifetime time.Duration
	// PassFreshness is how recent the sign-in issuing oneself a pass needs;
	// Freshness that of one changing factors.
	PassFreshness time.Duration
	Freshness     time.Duration
	CodesWarnAt   int
}

// Limits returns the signed-in user's self-service limits.
func (s *Service) Limits(ctx context.Context, req Request) (SelfServiceLimits, error) {
	name, err := s.SessionUser(req)
	if err != nil {
		return SelfServiceLimits{}, err
	}
	u, err := s.subject(ctx, req, ActUserRead, name)
	if err != nil {
		return SelfServiceLimits{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return SelfServiceLimits{}, err
	}
	a := pol.AccessPass
	return SelfServiceLimits{PassAllowed: a.Enabled && a.SelfService.Enabled,
		PassMaxLifetime: a.SelfService.MaxLifetime.Std(), PassFreshness: a.SelfService.Freshness.Std(),
		Freshness:   pol.Sessions.Freshness.Std(),
		CodesWarnAt: pol.BackupCodes.WarnAt}, nil
}
