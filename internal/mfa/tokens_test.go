package mfa

import (
	"context"
	"strings"
	"testing"

	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

func TestTokenLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		tok, secret, err := f.svc.CreateToken(ctx, f.operator, NewToken{Name: "vpn", Role: "verifier"})
		if err != nil {
			t.Fatal(err)
		}
		// 256 bits of secret after the prefix and the ID.
		if !strings.HasPrefix(secret, "mfad_"+tok.ID+"_") || len(secret) != len("mfad_")+16+1+43 {
			t.Errorf("token %q does not have the documented form", secret)
		}
		if a, err := f.svc.Authenticate(ctx, secret); err != nil || a.ID != tok.ID || a.Role != RoleVerifier {
			t.Fatalf("Authenticate = %+v, %v", a, err)
		}
		list, err := f.svc.ListTokens(ctx, f.operator)
		if err != nil || len(list) != 1 || list[0].Name != "vpn" {
			t.Fatalf("ListTokens = %+v, %v", list, err)
		}

		bad := []string{
			"", "mfad_", "mfad_" + tok.ID, "mfad_" + tok.ID + "_",
			secret[:len(secret)-1] + otherChar(secret[len(secret)-1]), // wrong secret
			strings.Replace(secret, tok.ID, "aaaaaaaaaaaaaaaa", 1),
			"Bearer " + secret, secret + "x", strings.ToUpper(secret),
		}
		for _, s := range bad {
			if _, err := f.svc.Authenticate(ctx, s); !isKind(err, ErrUnauthenticated) {
				t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", s, err)
			}
		}

		if err := f.svc.RevokeToken(ctx, f.operator, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, secret); !isKind(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(revoked) = %v, want ErrUnauthenticated", err)
		}
		if err := f.svc.RevokeToken(ctx, f.operator, tok.ID); !isKind(err, ErrNotFound) {
			t.Errorf("RevokeToken twice = %v, want ErrNotFound", err)
		}
		if ev := f.lastEvent(t, "token.revoke"); ev.Detail["token"] != tok.ID {
			t.Errorf("token.revoke audit detail = %v", ev.Detail)
		}
	})
}

// TestBoundTokenFollowsUser checks that a token bound to a user never acts
// beyond the user's current roles.
func TestBoundTokenFollowsUser(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "agent", "helpdesk")
	f.user(t, "plain")

	if _, _, err := f.svc.CreateToken(ctx, f.operator, NewToken{Name: "x", Role: "admin", User: "agent"}); !isKind(err, ErrInvalid) {
		t.Errorf("CreateToken(role the user lacks) = %v, want ErrInvalid", err)
	}
	_, secret := f.token(t, "helpdesk", "agent")

	if _, err := f.svc.SetRoles(ctx, f.operator, "agent", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, secret); !isKind(err, ErrUnauthenticated) {
		t.Errorf("Authenticate after the user lost the role = %v, want ErrUnauthenticated", err)
	}
	if _, err := f.svc.SetRoles(ctx, f.operator, "agent", []string{"helpdesk"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, secret); err != nil {
		t.Errorf("Authenticate after the role came back = %v", err)
	}
	if _, err := f.svc.UpdateUser(ctx, f.operator, "agent", UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, secret); !isKind(err, ErrUnauthenticated) {
		t.Errorf("Authenticate for a disabled user = %v, want ErrUnauthenticated", err)
	}
}

func TestTokenNeverStoredInClear(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	tok, secret, err := f.svc.CreateToken(ctx, f.operator, NewToken{Name: "app", Role: "verifier"})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.st.Token(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Hash) != 32 || strings.Contains(string(stored.Hash), secret[len(secret)-20:]) {
		t.Errorf("stored token hash is %d bytes, want a 32-byte HMAC", len(stored.Hash))
	}
	events, _ := f.svc.ListAudit(ctx, f.operator, AuditQuery{})
	for _, ev := range events {
		for _, v := range ev.Detail {
			if strings.Contains(v, secret[len("mfad_")+17:]) {
				t.Errorf("audit event %s holds the token secret", ev.Action)
			}
		}
	}
}

// otherChar returns a base64url character other than c.
func otherChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
