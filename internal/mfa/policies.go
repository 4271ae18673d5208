package mfa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// Policy documents are kept per scope: one global document, and for each
// group that has one, a document that says only what the group changes.
const (
	globalScope = "global"
	groupScope  = "group:" // followed by the group's ID
)

// policies is every stored policy document, read at once.
type policies struct {
	global policy.Policy
	groups map[string]policy.Policy // by group ID: the global overlaid with the group's
}

// loadPolicies reads and parses every policy document. A stored document
// was validated when it was written; if one no longer parses, fail closed
// rather than fall back to defaults.
func (s *Service) loadPolicies(ctx context.Context, r store.Reader) (policies, error) {
	docs, err := r.ListPolicies(ctx)
	if err != nil {
		return policies{}, fmt.Errorf("policy: %w", err)
	}
	ps := policies{global: policy.Default(), groups: map[string]policy.Policy{}}
	for _, d := range docs {
		if d.Scope == globalScope {
			if ps.global, err = policy.Parse(d.Doc); err != nil {
				return policies{}, fmt.Errorf("stored policy: %w", err)
			}
		}
	}
	for _, d := range docs {
		id, ok := strings.CutPrefix(d.Scope, groupScope)
		if !ok {
			continue
		}
		p, err := policy.ParseOver(ps.global, d.Doc)
		if err != nil {
			return policies{}, fmt.Errorf("stored policy of group %s: %w", id, err)
		}
		ps.groups[id] = p
	}
	return ps, nil
}

// policy returns the global policy, or the default when none is stored.
func (s *Service) policy(ctx context.Context, r store.Reader) (policy.Policy, error) {
	ps, err := s.loadPolicies(ctx, r)
	return ps.global, err
}

// userPolicy returns the policy in force for u: the global one, or that of
// the groups u belongs to (policy.ForUser says how several combine).
func (s *Service) userPolicy(ctx context.Context, r store.Reader, u store.User) (
	policy.Policy, error) {
	ps, err := s.loadPolicies(ctx, r)
	if err != nil {
		return policy.Policy{}, err
	}
	return s.policyFrom(ctx, r, ps, u)
}

// GetPolicy returns the global policy.
func (s *Service) GetPolicy(ctx context.Context, req Request) (policy.Policy, error) {
	if err := s.authorize(ctx, req, ActPolicyRead, nil); err != nil {
		return policy.Policy{}, err
	}
	return s.policy(ctx, s.store)
}

// SetPolicy validates a global policy document and puts it in force at once
// on every replica. Fields the document leaves out take their defaults.
// Every problem is reported at once and nothing changes, including a
// problem that the new global policy would cause in a group's document.
func (s *Service) SetPolicy(ctx context.Context, req Request, doc []byte) (policy.Policy, error) {
	if err := s.authorize(ctx, req, ActPolicyWrite, nil); err != nil {
		return policy.Policy{}, err
	}
	p, err := policy.Parse(doc)
	if err != nil {
		return policy.Policy{}, invalid(problemsOf(err)...)
	}
	canonical := p.Marshal()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := s.checkGroupNames(ctx, tx, p); err != nil {
			return err
		}
		if err := s.checkGroupDocs(ctx, tx, p); err != nil {
			return err
		}
		return s.putPolicy(ctx, tx, req, globalScope, "", canonical)
	})
	if err != nil {
		return policy.Policy{}, policyErr(err)
	}
	s.log.Info("policy updated", "scope", globalScope, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return p, nil
}

// GroupPolicy is a group's own policy document and the policy it puts in
// force for the group's members (before combining with other groups').
type GroupPolicy struct {
	Group     string
	Overrides json.RawMessage // the group's document: only what it changes; "{}" for none
	Policy    policy.Policy
}

// GetGroupPolicy returns a group's policy document and what it amounts to.
func (s *Service) GetGroupPolicy(ctx context.Context, req Request, group string) (GroupPolicy, error) {
	if err := s.authorize(ctx, req, ActPolicyRead, nil); err != nil {
		return GroupPolicy{}, err
	}
	g, err := s.lookupGroup(ctx, s.store, group)
	if err != nil {
		return GroupPolicy{}, err
	}
	ps, err := s.loadPolicies(ctx, s.store)
	if err != nil {
		return GroupPolicy{}, err
	}
	doc, err := s.store.Policy(ctx, groupScope+g.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return GroupPolicy{Group: g.Name, Overrides: json.RawMessage("{}"), Policy: ps.global}, nil
	case err != nil:
		return GroupPolicy{}, fmt.Errorf("policy of group: %w", err)
	}
	return GroupPolicy{Group: g.Name, Overrides: doc.Doc, Policy: ps.groups[g.ID]}, nil
}

// SetGroupPolicy stores a group's policy document: fields it names override
// the global policy for the group's members; fields it leaves out follow
// the global policy, now and after it changes.
func (s *Service) SetGroupPolicy(ctx context.Context, req Request, group string, doc []byte) (
	GroupPolicy, error) {
	if err := s.authorize(ctx, req, ActPolicyWrite, nil); err != nil {
		return GroupPolicy{}, err
	}
	g, err := s.lookupGroup(ctx, s.store, group)
	if err != nil {
		return GroupPolicy{}, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return GroupPolicy{}, invalid("the policy document is not JSON: " + err.Error())
	}
	var out GroupPolicy
	err = s.store.Update(ctx, func(tx store.Tx) error {
		global, err := s.policy(ctx, tx)
		if err != nil {
			return err
		}
		p, err := policy.ParseOver(global, compact.Bytes())
		if err != nil {
			return invalid(problemsOf(err)...)
		}
		if err := s.checkGroupNames(ctx, tx, p); err != nil {
			return err
		}
		out = GroupPolicy{Group: g.Name, Overrides: compact.Bytes(), Policy: p}
		return s.putPolicy(ctx, tx, req, groupScope+g.ID, g.Name, compact.Bytes())
	})
	if err != nil {
		return GroupPolicy{}, policyErr(err)
	}
	s.log.Info("policy updated", "scope", groupScope+g.Name, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return out, nil
}

// DeleteGroupPolicy removes a group's policy document; its members follow
// the global policy again (or their other groups').
func (s *Service) DeleteGroupPolicy(ctx context.Context, req Request, group string) error {
	if err := s.authorize(ctx, req, ActPolicyWrite, nil); err != nil {
		return err
	}
	g, err := s.lookupGroup(ctx, s.store, group)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeletePolicy(ctx, groupScope+g.ID); err != nil {
			return err
		}
		ev := s.event(req, "policy.delete", audit.Success, "")
		ev.Detail = map[string]string{"scope": groupScope + g.ID, "group": g.Name}
		return s.appendAudit(ctx, tx, ev)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("group %q has no policy of its own", g.Name)
	}
	if err != nil {
		return fmt.Errorf("delete group policy: %w", err)
	}
	return nil
}

// putPolicy stores a document and audits it with a digest, so the log shows
// which document was in force when.
func (s *Service) putPolicy(ctx context.Context, tx store.Tx, req Request, scope, group string,
	doc []byte) error {
	if err := tx.PutPolicy(ctx, store.PolicyDoc{
		Scope: scope, Doc: doc, UpdatedAt: s.now(), UpdatedBy: req.Actor.String(),
	}); err != nil {
		return err
	}
	sum := sha256.Sum256(doc)
	ev := s.event(req, "policy.update", audit.Success, "")
	ev.Detail = map[string]string{"scope": scope, "sha256": hex.EncodeToString(sum[:])}
	if group != "" {
		ev.Detail["group"] = group
	}
	return s.appendAudit(ctx, tx, ev)
}

// checkGroupNames refuses group lists that name a group that does not
// exist: a typo there would quietly take passes away from everyone.
func (s *Service) checkGroupNames(ctx context.Context, r store.Reader, p policy.Policy) error {
	groups, err := r.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	known := make([]string, len(groups))
	for i, g := range groups {
		known[i] = g.Name
	}
	var bad problems
	for field, names := range map[string][]string{
		"access_pass.groups":              p.AccessPass.Groups,
		"access_pass.self_service.groups": p.AccessPass.SelfService.Groups,
	} {
		for _, n := range names {
			if !slices.Contains(known, n) {
				bad.add("%s names group %q, which does not exist", field, n)
			}
		}
	}
	slices.Sort(bad)
	return bad.err()
}

// checkGroupDocs refuses a global policy under which a group's document
// would no longer hold, such as a group's maximum below the new minimum.
func (s *Service) checkGroupDocs(ctx context.Context, tx store.Tx, global policy.Policy) error {
	docs, err := tx.ListPolicies(ctx)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	groups, err := tx.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	names := map[string]string{}
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	var bad problems
	for _, d := range docs {
		id, ok := strings.CutPrefix(d.Scope, groupScope)
		if !ok {
			continue
		}
		if _, err := policy.ParseOver(global, d.Doc); err != nil {
			name := names[id]
			for _, p := range problemsOf(err) {
				bad.add("with this policy, the policy of group %q would not hold: %s", name, p)
			}
		}
	}
	return bad.err()
}

// policyErr passes the service's own errors through and wraps the rest.
func policyErr(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return fmt.Errorf("set policy: %w", err)
}

// problemsOf splits an errors.Join result into its messages.
func problemsOf(err error) []string {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// UserPolicy returns the policy in force for one user, after their groups'
// documents are combined, so staff can see why a pass or bypass is or is
// not allowed.
func (s *Service) UserPolicy(ctx context.Context, req Request, user string) (policy.Policy, error) {
	if err := s.authorize(ctx, req, ActPolicyRead, nil); err != nil {
		return policy.Policy{}, err
	}
	u, err := s.lookup(ctx, s.store, user)
	if err != nil {
		return policy.Policy{}, err
	}
	return s.userPolicy(ctx, s.store, u)
}
