package mfa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// Group is a named set of users that policy can address.
type Group struct {
	ID          string
	Name        string
	Description string
	Members     []string // user names; filled in by GetGroup only
	CreatedAt   time.Time
}

func groupView(g store.Group) Group {
	return Group{ID: g.ID, Name: g.Name, Description: g.Description, CreatedAt: g.CreatedAt}
}

// CreateGroup adds a group.
func (s *Service) CreateGroup(ctx context.Context, req Request, name, description string) (Group, error) {
	name = CanonicalName(name)
	var p problems
	if msg := checkName("name", name); msg != "" {
		p.add("%s", msg)
	}
	if len(description) > 500 || !printable(description) {
		p.add("description must be printable text of up to 500 characters")
	}
	if err := p.err(); err != nil {
		return Group{}, err
	}
	if err := s.authorize(ctx, req, ActGroupManage, nil); err != nil {
		return Group{}, err
	}
	id, err := s.newID()
	if err != nil {
		return Group{}, err
	}
	g := store.Group{ID: id, Name: name, Description: description, CreatedAt: s.now()}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateGroup(ctx, g); err != nil {
			return err
		}
		ev := s.event(req, "group.create", audit.Success, "")
		ev.Detail = map[string]string{"group": name}
		return s.appendAudit(ctx, tx, ev)
	})
	if errors.Is(err, store.ErrConflict) {
		return Group{}, conflict("group %q already exists", name)
	}
	if err != nil {
		return Group{}, fmt.Errorf("create group: %w", err)
	}
	return groupView(g), nil
}

func (s *Service) lookupGroup(ctx context.Context, r store.Reader, name string) (store.Group, error) {
	g, err := r.Group(ctx, CanonicalName(name))
	if errors.Is(err, store.ErrNotFound) {
		return store.Group{}, notFound("group %q not found", CanonicalName(name))
	}
	if err != nil {
		return store.Group{}, fmt.Errorf("load group: %w", err)
	}
	return g, nil
}

// GetGroup returns a group with its members.
func (s *Service) GetGroup(ctx context.Context, req Request, name string) (Group, error) {
	if err := s.authorize(ctx, req, ActGroupRead, nil); err != nil {
		return Group{}, err
	}
	g, err := s.lookupGroup(ctx, s.store, name)
	if err != nil {
		return Group{}, err
	}
	members, err := s.store.GroupMembers(ctx, g.ID)
	if err != nil {
		return Group{}, fmt.Errorf("load members: %w", err)
	}
	v := groupView(g)
	v.Members = make([]string, len(members))
	for i, m := range members {
		v.Members[i] = m.Name
	}
	return v, nil
}

// ListGroups returns every group ordered by name.
func (s *Service) ListGroups(ctx context.Context, req Request) ([]Group, error) {
	if err := s.authorize(ctx, req, ActGroupRead, nil); err != nil {
		return nil, err
	}
	groups, err := s.store.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	out := make([]Group, len(groups))
	for i, g := range groups {
		out[i] = groupView(g)
	}
	return out, nil
}

// DeleteGroup removes a group; its members stay.
func (s *Service) DeleteGroup(ctx context.Context, req Request, name string) error {
	if err := s.authorize(ctx, req, ActGroupManage, nil); err != nil {
		return err
	}
	g, err := s.lookupGroup(ctx, s.store, name)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.checkUnnamed(ctx, tx, g); err != nil {
			return err
		}
		// The group's own policy document goes with it.
		err := tx.DeletePolicy(ctx, groupScope+g.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.DeleteGroup(ctx, g.ID); err != nil {
			return err
		}
		ev := s.event(req, "group.delete", audit.Success, "")
		ev.Detail = map[string]string{"group": g.Name}
		return s.appendAudit(ctx, tx, ev)
	})
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return notFound("group %q not found", g.Name)
	case err != nil:
		return fmt.Errorf("delete group: %w", err)
	}
	return nil
}

// checkUnnamed refuses to delete a group that a policy's group list names:
// the list would be left naming nothing, and what it grants would change
// without anyone changing the policy.
func (s *Service) checkUnnamed(ctx context.Context, tx store.Tx, g store.Group) error {
	ps, err := s.loadPolicies(ctx, tx)
	if err != nil {
		return err
	}
	all := []policy.Policy{ps.global}
	for _, p := range ps.groups {
		all = append(all, p)
	}
	for _, p := range all {
		a := p.AccessPass
		if slices.Contains(a.Groups, g.Name) || slices.Contains(a.SelfService.Groups, g.Name) {
			return conflict("group %q is named in the access-pass group lists of a policy; "+
				"take it out of the policy first", g.Name)
		}
	}
	return nil
}

// AddMember puts a user in a group.
func (s *Service) AddMember(ctx context.Context, req Request, group, user string) error {
	return s.membership(ctx, req, group, user, true)
}

// RemoveMember takes a user out of a group.
func (s *Service) RemoveMember(ctx context.Context, req Request, group, user string) error {
	return s.membership(ctx, req, group, user, false)
}

func (s *Service) membership(ctx context.Context, req Request, group, user string, add bool) error {
	if err := s.authorize(ctx, req, ActGroupManage, nil); err != nil {
		return err
	}
	g, err := s.lookupGroup(ctx, s.store, group)
	if err != nil {
		return err
	}
	u, err := s.lookup(ctx, s.store, user)
	if err != nil {
		return err
	}
	action := "group.remove_member"
	if add {
		action = "group.add_member"
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if add {
			err = tx.AddMember(ctx, g.ID, u.ID, s.now())
		} else {
			err = tx.RemoveMember(ctx, g.ID, u.ID)
		}
		if err != nil {
			return err
		}
		ev := s.event(req, action, audit.Success, "")
		ev.Subject = u.Name
		ev.Detail = map[string]string{"group": g.Name}
		return s.appendAudit(ctx, tx, ev)
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return conflict("user %q is already in group %q", u.Name, g.Name)
	case errors.Is(err, store.ErrNotFound) && !add:
		return notFound("user %q is not in group %q", u.Name, g.Name)
	case err != nil:
		return fmt.Errorf("%s: %w", action, err)
	}
	return nil
}
