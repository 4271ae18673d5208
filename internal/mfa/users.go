package mfa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// User is a user as the service shows it to staff.
type User struct {
	ID          string
	Name        string
	DisplayName string
	Email       string
	Phone       string
	Disabled    bool
	Roles       []Role
	Groups      []string  // group names; filled in by GetUser only
	Failures    int       // consecutive failures since the last success
	LockedUntil time.Time // end of the current temporary lock, if any
	// Locked reports whether the account refuses verifications now, either
	// until LockedUntil or, after too many failures, until staff unlock it.
	Locked bool
	// BlockedAt is when a fraud report blocked the user's sign-ins, until
	// staff clear it; zero when not blocked.
	BlockedAt time.Time
	// EmailVerifiedAt and PhoneVerifiedAt are when the user proved, with a
	// code, that they receive codes at Email and Phone; zero until then.
	EmailVerifiedAt time.Time
	PhoneVerifiedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (s *Service) userView(u store.User, now time.Time, l policy.Lockout) User {
	roles := make([]Role, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = Role(r)
	}
	v := User{
		ID: u.ID, Name: u.Name, DisplayName: u.DisplayName, Email: u.Email, Phone: u.Phone,
		Disabled: u.Disabled, Roles: roles, Failures: u.Lock.Failures,
		BlockedAt: u.BlockedAt, EmailVerifiedAt: u.EmailVerifiedAt,
		PhoneVerifiedAt: u.PhoneVerifiedAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if u.Lock.LockedUntil.After(now) {
		v.LockedUntil = u.Lock.LockedUntil
		v.Locked = true
	}
	if u.Lock.Failures >= l.MaxFailures {
		v.Locked = true
	}
	return v
}

// NewUser is the input to CreateUser.
type NewUser struct {
	Name        string
	DisplayName string
	Email       string
	Phone       string
	Roles       []string
}

// CreateUser adds a user. Granting roles at the same time needs the right to
// grant roles.
func (s *Service) CreateUser(ctx context.Context, req Request, in NewUser) (User, error) {
	in.Name = CanonicalName(in.Name)
	roles, err := checkUserInput(in)
	if err != nil {
		return User{}, err
	}
	if err := s.authorize(ctx, req, ActUserCreate, nil); err != nil {
		return User{}, err
	}
	if len(roles) > 0 {
		if err := s.authorize(ctx, req, ActUserRoles, nil); err != nil {
			return User{}, err
		}
	}
	id, err := s.newID()
	if err != nil {
		return User{}, err
	}
	now := s.now()
	u := store.User{
		ID: id, Name: in.Name, DisplayName: in.DisplayName, Email: in.Email, Phone: in.Phone,
		Roles: roles, CreatedAt: now, UpdatedAt: now,
	}
	var pol policy.Policy
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if pol, err = s.policy(ctx, tx); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		ev := s.event(req, "user.create", audit.Success, "")
		ev.Subject = u.Name
		if len(roles) > 0 {
			ev.Detail = map[string]string{"roles": strings.Join(roles, ",")}
		}
		return s.appendAudit(ctx, tx, ev)
	})
	if errors.Is(err, store.ErrConflict) {
		return User{}, conflict("user %q already exists", in.Name)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	s.log.Info("user created", "user", u.Name, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return s.userView(u, now, pol.Lockout), nil
}

func checkUserInput(in NewUser) ([]string, error) {
	var p problems
	if msg := checkName("name", in.Name); msg != "" {
		p.add("%s", msg)
	}
	for _, msg := range []string{
		checkDisplayName(in.DisplayName), checkEmail(in.Email), checkPhone(in.Phone),
	} {
		if msg != "" {
			p.add("%s", msg)
		}
	}
	roles, err := checkRoles(in.Roles)
	if err != nil {
		p = append(p, err.(*Error).Problems...)
	}
	return roles, p.err()
}

// checkRoles validates role names and returns them sorted without repeats.
func checkRoles(names []string) ([]string, error) {
	var p problems
	roles := make([]string, 0, len(names))
	for _, n := range names {
		if _, err := ParseRole(n); err != nil {
			p.add("%s", err.Error())
			continue
		}
		roles = append(roles, n)
	}
	slices.Sort(roles)
	return slices.Compact(roles), p.err()
}

// lookup returns the named user for staff actions; ErrNotFound names the
// user, which is fine: only staff who may read users get this far.
func (s *Service) lookup(ctx context.Context, r store.Reader, name string) (store.User, error) {
	u, err := r.User(ctx, CanonicalName(name))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, notFound("user %q not found", CanonicalName(name))
	}
	if err != nil {
		return store.User{}, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

// GetUser returns a user with their groups.
func (s *Service) GetUser(ctx context.Context, req Request, name string) (User, error) {
	u, err := s.subject(ctx, req, ActUserRead, name)
	if err != nil {
		return User{}, err
	}
	pol, err := s.userPolicy(ctx, s.store, u)
	if err != nil {
		return User{}, err
	}
	groups, err := s.store.UserGroups(ctx, u.ID)
	if err != nil {
		return User{}, fmt.Errorf("load groups: %w", err)
	}
	v := s.userView(u, s.now(), pol.Lockout)
	v.Groups = make([]string, len(groups))
	for i, g := range groups {
		v.Groups[i] = g.Name
	}
	return v, nil
}

// UserQuery selects users for ListUsers.
type UserQuery struct {
	Search string // substring of name, display name or email
	After  string // name to start after, for paging
	Limit  int    // 1 to 500; 0 means 100
}

// ListUsers returns users ordered by name.
func (s *Service) ListUsers(ctx context.Context, req Request, q UserQuery) ([]User, error) {
	if q.Limit < 0 || q.Limit > 500 {
		return nil, invalid("limit must be between 1 and 500")
	}
	if err := s.authorize(ctx, req, ActUserRead, nil); err != nil {
		return nil, err
	}
	users, err := s.store.ListUsers(ctx, store.UserQuery{
		Search: q.Search, After: CanonicalName(q.After), Limit: q.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	pol, err := s.policy(ctx, s.store)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]User, len(users))
	for i, u := range users {
		out[i] = s.userView(u, now, pol.Lockout)
	}
	return out, nil
}

// UserUpdate changes the fields that are not nil.
type UserUpdate struct {
	DisplayName *string
	Email       *string
	Phone       *string
	Disabled    *bool
}

// UpdateUser changes a user's details or disables and enables them.
func (s *Service) UpdateUser(ctx context.Context, req Request, name string, in UserUpdate) (User, error) {
	var p problems
	var changed []string
	if in.DisplayName != nil {
		changed = append(changed, "display_name")
		if msg := checkDisplayName(*in.DisplayName); msg != "" {
			p.add("%s", msg)
		}
	}
	if in.Email != nil {
		changed = append(changed, "email")
		if msg := checkEmail(*in.Email); msg != "" {
			p.add("%s", msg)
		}
	}
	if in.Phone != nil {
		changed = append(changed, "phone")
		if msg := checkPhone(*in.Phone); msg != "" {
			p.add("%s", msg)
		}
	}
	if in.Disabled != nil {
		changed = append(changed, "disabled")
	}
	if len(changed) == 0 {
		p.add("nothing to change: give display_name, email, phone or disabled")
	}
	if err := p.err(); err != nil {
		return User{}, err
	}

	u, err := s.subject(ctx, req, ActUserUpdate, name)
	if err != nil {
		return User{}, err
	}
	var pol policy.Policy
	err = s.store.Update(ctx, func(tx store.Tx) error {
		// Re-read inside the transaction so a concurrent change to another
		// field is not overwritten with the value read above.
		cur, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if pol, err = s.policy(ctx, tx); err != nil {
			return err
		}
		before := cur
		applyUpdate(&cur, in)
		cur.UpdatedAt = s.now()
		// An address set by staff is not one the user has proved to read:
		// codes are not sent to it until they do.
		if cur.Email != before.Email {
			cur.EmailVerifiedAt = time.Time{}
		}
		if cur.Phone != before.Phone {
			cur.PhoneVerifiedAt = time.Time{}
		}
		if err := tx.UpdateUser(ctx, cur); err != nil {
			return err
		}
		if err := s.emitDestinationChanges(ctx, tx, req, before, cur); err != nil {
			return err
		}
		u = cur
		action := "user.update"
		if in.Disabled != nil && len(changed) == 1 {
			action = "user.enable"
			if *in.Disabled {
				action = "user.disable"
			}
		}
		ev := s.event(req, action, audit.Success, "")
		ev.Subject = u.Name
		ev.Detail = map[string]string{"fields": strings.Join(changed, ",")}
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return User{}, fmt.Errorf("update user: %w", err)
	}
	s.log.Info("user updated", "user", u.Name, "fields", strings.Join(changed, ","),
		"actor", req.Actor.String(), "request_id", req.RequestID)
	return s.userView(u, s.now(), pol.Lockout), nil
}

func applyUpdate(u *store.User, in UserUpdate) {
	if in.DisplayName != nil {
		u.DisplayName = *in.DisplayName
	}
	if in.Email != nil {
		u.Email = *in.Email
	}
	if in.Phone != nil {
		u.Phone = *in.Phone
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
}

// SetRoles replaces a user's roles.
func (s *Service) SetRoles(ctx context.Context, req Request, name string, roleNames []string) (User, error) {
	roles, err := checkRoles(roleNames)
	if err != nil {
		return User{}, err
	}
	u, err := s.subject(ctx, req, ActUserRoles, name)
	if err != nil {
		return User{}, err
	}
	before := strings.Join(u.Roles, ",")
	var pol policy.Policy
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if pol, err = s.policy(ctx, tx); err != nil {
			return err
		}
		if err := tx.SetRoles(ctx, u.ID, roles); err != nil {
			return err
		}
		ev := s.event(req, "user.roles", audit.Success, "")
		ev.Subject = u.Name
		ev.Detail = map[string]string{"before": before, "after": strings.Join(roles, ",")}
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return User{}, fmt.Errorf("set roles: %w", err)
	}
	u.Roles = roles
	s.log.Info("user roles changed", "user", u.Name, "before", before,
		"after", strings.Join(roles, ","), "actor", req.Actor.String(), "request_id", req.RequestID)
	return s.userView(u, s.now(), pol.Lockout), nil
}

// Unlock lifts a user's lock and clears their failure count. A reason is
// required; it goes into the audit log.
func (s *Service) Unlock(ctx context.Context, req Request, name, reason string) (User, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 500 || !printable(reason) {
		return User{}, invalid("a reason (up to 500 characters of text) is required to unlock a user")
	}
	u, err := s.subject(ctx, req, ActUnlock, name)
	if err != nil {
		return User{}, err
	}
	var pol policy.Policy
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if pol, err = s.policy(ctx, tx); err != nil {
			return err
		}
		if err := tx.ClearFailures(ctx, u.ID); err != nil {
			return err
		}
		ev := s.event(req, "user.unlock", audit.Success, "")
		ev.Subject = u.Name
		ev.Detail = map[string]string{
			"reason":          reason,
			"failures_before": fmt.Sprint(u.Lock.Failures),
		}
		if err := s.appendAudit(ctx, tx, ev); err != nil {
			return err
		}
		return s.emit(ctx, tx, req, EventUnlocked, u, map[string]any{
			"reason": reason, "failures_before": u.Lock.Failures})
	})
	if err != nil {
		return User{}, fmt.Errorf("unlock: %w", err)
	}
	u.Lock = store.LockState{}
	s.log.Info("user unlocked", "user", u.Name, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return s.userView(u, s.now(), pol.Lockout), nil
}

// emitDestinationChanges announces a changed email address or phone
// number, or a change in whether the user has proved it, with the old
// value, so that the old address hears of it too.
func (s *Service) emitDestinationChanges(ctx context.Context, tx store.Tx, req Request,
	before, after store.User) error {
	changes := []struct {
		typ               string
		old, new          string
		oldProved, proved bool
	}{
		{EventEmailChanged, before.Email, after.Email, !before.EmailVerifiedAt.IsZero(),
			!after.EmailVerifiedAt.IsZero()},
		{EventPhoneChanged, before.Phone, after.Phone, !before.PhoneVerifiedAt.IsZero(),
			!after.PhoneVerifiedAt.IsZero()},
	}
	for _, c := range changes {
		if c.old == c.new && c.oldProved == c.proved {
			continue
		}
		if err := s.emit(ctx, tx, req, c.typ, after, map[string]any{"old": c.old, "new": c.new,
			"verified": c.proved, "by_user": isSelf(req, after)}); err != nil {
			return err
		}
	}
	return nil
}
