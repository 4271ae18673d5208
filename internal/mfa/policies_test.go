package mfa

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

func (f *fixture) group(t *testing.T, name string, members ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.svc.CreateGroup(ctx, f.operator, name, ""); err != nil {
		t.Fatalf("CreateGroup(%s) = %v", name, err)
	}
	for _, m := range members {
		if err := f.svc.AddMember(ctx, f.operator, name, m); err != nil {
			t.Fatalf("AddMember(%s, %s) = %v", name, m, err)
		}
	}
}

func TestGroupPolicy(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		f.user(t, "bob")
		f.user(t, "carol")
		f.group(t, "field", "alice", "carol")
		f.group(t, "contractors", "carol")

		gp, err := f.svc.SetGroupPolicy(ctx, f.operator, "field",
			[]byte(`{"access_pass": {"max_lifetime": "3d", "default_lifetime": "1d"}}`))
		if err != nil || gp.Policy.AccessPass.MaxLifetime.Std() != 72*time.Hour ||
			string(gp.Overrides) != `{"access_pass":{"max_lifetime":"3d","default_lifetime":"1d"}}` {
			t.Fatalf("SetGroupPolicy = %+v, %v", gp, err)
		}
		if _, err := f.svc.SetGroupPolicy(ctx, f.operator, "contractors",
			[]byte(`{"access_pass": {"enabled": false}}`)); err != nil {
			t.Fatal(err)
		}

		// alice's group lets passes last three days; bob has the global 8h;
		// carol is also a contractor, and the stricter rule wins.
		if p := f.issued(t, "alice", NewPass{OneTime: true}); p.ExpiresAt.Sub(p.StartsAt) != 24*time.Hour {
			t.Errorf("alice's default pass lasts %s, want the group's 1d", p.ExpiresAt.Sub(p.StartsAt))
		}
		if _, err := f.svc.IssuePass(ctx, f.operator, "alice", NewPass{Lifetime: 72 * time.Hour,
			Reason: "r", OneTime: true}); err != nil {
			t.Errorf("3d pass for alice = %v, want allowed by her group", err)
		}
		_, err = f.svc.IssuePass(ctx, f.operator, "bob", NewPass{Lifetime: 72 * time.Hour,
			Reason: "r", OneTime: true})
		if !isKind(err, ErrInvalid) || !strings.Contains(err.Error(), "between 1h and 8h") {
			t.Errorf("3d pass for bob = %v, want the global bounds", err)
		}
		if _, err := f.svc.IssuePass(ctx, f.operator, "carol", NewPass{Reason: "r", OneTime: true}); !isKind(err, ErrForbidden) {
			t.Errorf("pass for carol = %v, want refused by the contractors' policy", err)
		}
		p, err := f.svc.UserPolicy(ctx, f.operator, "carol")
		if err != nil || p.AccessPass.Enabled {
			t.Errorf("UserPolicy(carol) = passes %v, %v; want off", p.AccessPass.Enabled, err)
		}

		// A new global policy may not leave a group's document invalid.
		_, err = f.svc.SetPolicy(ctx, f.operator, []byte(`{"access_pass": {"min_lifetime": "2d",
			"max_lifetime": "5d", "default_lifetime": "2d"}}`))
		if !isKind(err, ErrInvalid) || !strings.Contains(err.Error(), `policy of group "field"`) {
			t.Errorf("SetPolicy breaking a group's document = %v, want ErrInvalid naming it", err)
		}
		// Nor name a group that does not exist.
		_, err = f.svc.SetPolicy(ctx, f.operator, []byte(`{"access_pass": {"groups": ["feild"]}}`))
		if !isKind(err, ErrInvalid) || !strings.Contains(err.Error(), `"feild", which does not exist`) {
			t.Errorf("SetPolicy naming an unknown group = %v, want ErrInvalid", err)
		}
		f.setPolicy(t, `{"access_pass": {"groups": ["field"]}}`)
		if _, err := f.svc.IssuePass(ctx, f.operator, "bob", NewPass{Reason: "r", OneTime: true}); !isKind(err, ErrForbidden) {
			t.Errorf("pass for bob outside the listed group = %v, want ErrForbidden", err)
		}
		if err := f.svc.DeleteGroup(ctx, f.operator, "field"); !isKind(err, ErrConflict) {
			t.Errorf("deleting a group the policy names = %v, want ErrConflict", err)
		}

		// Removing the contractors' document gives carol the field policy.
		if err := f.svc.DeleteGroupPolicy(ctx, f.operator, "contractors"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.IssuePass(ctx, f.operator, "carol", NewPass{Reason: "r", OneTime: true}); err != nil {
			t.Errorf("pass for carol after the contractors' document went = %v", err)
		}
		if err := f.svc.DeleteGroupPolicy(ctx, f.operator, "contractors"); !isKind(err, ErrNotFound) {
			t.Errorf("DeleteGroupPolicy twice = %v, want ErrNotFound", err)
		}
		got, err := f.svc.GetGroupPolicy(ctx, f.operator, "contractors")
		if err != nil || string(got.Overrides) != "{}" {
			t.Errorf("GetGroupPolicy without a document = %+v, %v; want {}", got, err)
		}
	})
}

func TestGroupPolicyValidation(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.group(t, "field")
	tests := []struct {
		doc  string
		want []string
	}{
		{`{"access_pass": {"max_lifetime": "31d", "length": 7}}`,
			[]string{"access_pass.max_lifetime is 31d", "access_pass.length is 7"}},
		{`{"bypass": {"max_duration": "2h"}}`, []string{"bypass.max_duration is 2h"}},
		{`{"acces_pass": {}}`, []string{"acces_pass"}},
		{`not json`, []string{"not JSON"}},
	}
	for _, tt := range tests {
		_, err := f.svc.SetGroupPolicy(ctx, f.operator, "field", []byte(tt.doc))
		if !isKind(err, ErrInvalid) {
			t.Errorf("SetGroupPolicy(%s) = %v, want ErrInvalid", tt.doc, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("SetGroupPolicy(%s) = %v, want it to say %q", tt.doc, err, w)
			}
		}
	}
	if _, err := f.svc.SetGroupPolicy(ctx, f.operator, "nosuch", []byte(`{}`)); !isKind(err, ErrNotFound) {
		t.Errorf("SetGroupPolicy of an unknown group = %v, want ErrNotFound", err)
	}
	desk, _ := f.token(t, "helpdesk", "")
	if _, err := f.svc.SetGroupPolicy(ctx, desk, "field", []byte(`{}`)); !isKind(err, ErrForbidden) {
		t.Errorf("SetGroupPolicy by helpdesk = %v, want ErrForbidden", err)
	}
}
