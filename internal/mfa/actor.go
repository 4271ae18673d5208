package mfa

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store"
)

// ActorKind says how an actor proved who it is.
type ActorKind string

// Kinds of actor.
const (
	// ActorToken is a caller holding an API token.
	ActorToken ActorKind = "token"
	// ActorOperator is a person at the server's command line. Whoever can
	// read the data folder and key file can do anything, so the operator is
	// not limited by roles; every action is still audited under their name.
	ActorOperator ActorKind = "operator"
	// ActorSystem is mfad itself, for housekeeping.
	ActorSystem ActorKind = "system"
	// ActorSession is a user signed in to a self-service session. It acts
	// only on its own account, and only as selfService allows.
	ActorSession ActorKind = "session"
	// ActorAnonymous is a caller who has not proved anything yet, such as
	// someone signing in.
	ActorAnonymous ActorKind = "anonymous"
	// ActorStaff is a member of staff signed in to the web console: a
	// session of a user who holds roles, opened with an everyday factor.
	// It acts with the user's roles, tiered as a token bound to the user
	// would be.
	ActorStaff ActorKind = "staff"
	// ActorNAS is a RADIUS client (a VPN concentrator, a Wi-Fi controller,
	// pam_radius_auth) that proved its shared secret. It may ask verify
	// questions and have codes sent, nothing else.
	ActorNAS ActorKind = "nas"
)

// NAS returns the actor for the RADIUS client named name, at address.
func NAS(name, address string) Actor {
	return Actor{Kind: ActorNAS, ID: name, Name: address}
}

// Actor is who asks the service to do something.
type Actor struct {
	Kind ActorKind
	ID   string // token ID, or the operator's login name
	Name string // token name
	Role Role   // token role

	// UserID and UserName are set when a token is bound to a user (it acts
	// as that user, only while the user holds Role) and for a session.
	UserID   string
	UserName string

	// Factor is the factor that opened a session, such as "totp" or
	// "backup_code", and VerifiedAt when it was proved.
	Factor     string
	VerifiedAt time.Time

	// Roles are a staff actor's roles.
	Roles []Role
}

// holds reports whether the actor acts with role r.
func (a Actor) holds(r Role) bool {
	if a.Kind == ActorStaff {
		return slices.Contains(a.Roles, r)
	}
	return a.Kind == ActorToken && a.Role == r
}

// key identifies the person behind an actor, so that a second approver can
// be told apart from the first: the user a token or session is bound to,
// else the token, else the operator's login.
func (a Actor) key() string {
	switch {
	case a.UserID != "":
		return "user:" + a.UserID
	case a.Kind == ActorToken:
		return "token:" + a.ID
	}
	return string(a.Kind) + ":" + a.ID
}

// Operator returns the actor for a person at the server's command line.
func Operator(login string) Actor {
	if login == "" {
		login = "unknown"
	}
	return Actor{Kind: ActorOperator, ID: login}
}

// String names the actor in the audit log.
func (a Actor) String() string {
	switch a.Kind {
	case ActorToken:
		if a.UserName != "" {
			return fmt.Sprintf("token:%s (%s, user %s)", a.ID, a.Name, a.UserName)
		}
		return fmt.Sprintf("token:%s (%s)", a.ID, a.Name)
	case ActorOperator:
		return "operator:" + a.ID
	case ActorSystem:
		return "system"
	case ActorSession:
		return fmt.Sprintf("session:%s (user %s, %s)", a.ID, a.UserName, a.Factor)
	case ActorAnonymous:
		return "anonymous"
	case ActorNAS:
		return fmt.Sprintf("nas:%s (%s)", a.ID, a.Name)
	case ActorStaff:
		names := make([]string, len(a.Roles))
		for i, r := range a.Roles {
			names[i] = string(r)
		}
		return fmt.Sprintf("staff:%s (session %s, %s)", a.UserName, a.ID,
			strings.Join(names, ","))
	}
	return "unknown"
}

// Request is the context of one call into the service: who asks, and from
// where. It is passed explicitly rather than through context.Context.
type Request struct {
	Actor     Actor
	Source    string // client address, or "local"
	FrontDoor string // audit.DoorAPI, audit.DoorCLI, ...
	RequestID string
}

// authorize decides whether req's actor may take act, on subject when the
// action concerns a user (nil otherwise). A refusal is audited and returned
// as an ErrForbidden Error.
func (s *Service) authorize(ctx context.Context, req Request, act Action, subject *store.User) error {
	if reason := refusal(req.Actor, act, subject); reason != "" {
		ev := s.event(req, string(act), audit.Denied, reason)
		if subject != nil {
			ev.Subject = subject.Name
		}
		if err := s.store.Update(ctx, func(tx store.Tx) error {
			return s.appendAudit(ctx, tx, ev)
		}); err != nil {
			return err
		}
		s.log.Warn("action denied", "action", act, "actor", req.Actor.String(),
			"reason", reason, "client_ip", req.Source, "request_id", req.RequestID)
		return forbidden("%s may not %s", describe(req.Actor), describeAction(act, subject))
	}
	return nil
}

// subject authorizes a tiered or per-user action on the named user and
// returns the user. The role is checked before the user is looked up, so a
// caller whose role may not take the action cannot learn which users exist
// from a 404 versus a 403.
//
// A session acts only on its own account, so it learns nothing from the
// lookup; it is refused before the lookup when it names another user.
func (s *Service) subject(ctx context.Context, req Request, act Action, name string) (store.User, error) {
	own := req.Actor.Kind == ActorSession && CanonicalName(name) == req.Actor.UserName
	if !own {
		if err := s.authorize(ctx, req, act, nil); err != nil {
			return store.User{}, err
		}
	}
	u, err := s.lookup(ctx, s.store, name)
	if err != nil {
		return store.User{}, err
	}
	if err := s.authorize(ctx, req, act, &u); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// refusal returns why the actor may not take act, or "" if it may.
func refusal(a Actor, act Action, subject *store.User) string {
	switch a.Kind {
	case ActorOperator:
		return ""
	case ActorSession:
		return sessionRefusal(a, act, subject)
	case ActorNAS:
		if act == ActVerify || act == ActChallenge {
			return ""
		}
		return "role"
	case ActorStaff:
		return staffRefusal(a, act, subject)
	case ActorToken:
	default:
		return "unknown_actor"
	}
	if !Allowed(a.Role, act) {
		return "role"
	}
	if subject != nil && Tiered(act) && !mayActOn(a.Role, a.UserID, *subject) {
		if a.UserID == subject.ID {
			return "own_account"
		}
		return "tier"
	}
	return ""
}

// staffRefusal decides for a staff actor: allowed when one of its roles
// allows the action and, for a tiered action, lets it act on subject.
func staffRefusal(a Actor, act Action, subject *store.User) string {
	reason := "role"
	for _, r := range a.Roles {
		if !Allowed(r, act) {
			continue
		}
		if subject == nil || !Tiered(act) || mayActOn(r, a.UserID, *subject) {
			return ""
		}
		reason = "tier"
		if a.UserID == subject.ID {
			reason = "own_account"
		}
	}
	return reason
}

func describe(a Actor) string {
	switch a.Kind {
	case ActorToken:
		return fmt.Sprintf("a token with role %s", a.Role)
	case ActorSession:
		return fmt.Sprintf("a session opened with %s", a.Factor)
	case ActorNAS:
		return "a RADIUS client"
	case ActorStaff:
		return "staff signed in to the console"
	}
	return string(a.Kind)
}

func describeAction(act Action, subject *store.User) string {
	s := string(act)
	if subject != nil {
		s += " on user " + subject.Name
		if len(subject.Roles) > 0 {
			s += " (who holds a role)"
		}
	}
	return s
}
