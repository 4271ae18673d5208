package mfa

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/store"
)

// API tokens look like "mfad_<id>_<secret>": the ID finds the row, and the
// 256-bit secret is checked against a keyed hash of the whole token. The
// prefix lets secret scanners recognise a leaked token.
const (
	tokenPrefix      = "mfad_"
	tokenSecretBytes = 32
)

// Token is an API token as the service shows it; the secret is never kept.
type Token struct {
	ID        string
	Name      string
	Role      Role
	User      string // name of the user the token acts as; empty for a service token
	CreatedBy string
	CreatedAt time.Time
	RevokedAt time.Time
}

// NewToken is the input to CreateToken.
type NewToken struct {
	Name string
	Role string
	User string // optional: bind the token to this user
}

// CreateToken makes an API token and returns it with its secret form, which
// is shown this once and never again.
func (s *Service) CreateToken(ctx context.Context, req Request, in NewToken) (Token, string, error) {
	var p problems
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 || !printable(in.Name) {
		p.add("name is required: printable text of up to 100 characters")
	}
	role, err := ParseRole(in.Role)
	if err != nil {
		p.add("%s", err.Error())
	}
	if err := p.err(); err != nil {
		return Token{}, "", err
	}
	if err := s.authorize(ctx, req, ActTokenManage, nil); err != nil {
		return Token{}, "", err
	}

	var bound store.User
	if in.User != "" {
		if bound, err = s.lookup(ctx, s.store, in.User); err != nil {
			return Token{}, "", err
		}
		// A bound token acts as its user and never beyond the user's roles.
		if !slices.Contains(bound.Roles, string(role)) {
			return Token{}, "", invalid(fmt.Sprintf(
				"user %q does not hold role %s; grant it first or create a service token",
				bound.Name, role))
		}
	}

	id, plain, hash, keyID, err := s.newBearer(tokenPrefix)
	if err != nil {
		return Token{}, "", err
	}
	t := store.Token{
		ID: id, Name: in.Name, Role: string(role), UserID: bound.ID,
		Hash: hash, KeyID: keyID, CreatedBy: req.Actor.String(), CreatedAt: s.now(),
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateToken(ctx, t); err != nil {
			return err
		}
		ev := s.event(req, "token.create", audit.Success, "")
		ev.Subject = bound.Name
		ev.Detail = map[string]string{"token": id, "name": in.Name, "role": string(role)}
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	s.log.Info("token created", "token", id, "role", role, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return tokenView(t, bound.Name), plain, nil
}

// newBearer makes a bearer credential "<prefix><id>_<secret>" with a
// 256-bit secret, and the keyed hash that is all that is kept of it.
func (s *Service) newBearer(prefix string) (id, plain string, hash []byte, keyID string,
	err error) {
	if id, err = s.newID(); err != nil {
		return "", "", nil, "", err
	}
	secret := make([]byte, tokenSecretBytes)
	if _, err := io.ReadFull(s.rand, secret); err != nil {
		return "", "", nil, "", fmt.Errorf("random: %w", err)
	}
	plain = prefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret)
	hash, keyID = s.keys.MAC(keyring.TokenHash, []byte(plain))
	return id, plain, hash, keyID, nil
}

func tokenView(t store.Token, user string) Token {
	return Token{
		ID: t.ID, Name: t.Name, Role: Role(t.Role), User: user,
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt,
	}
}

// Authenticate returns the actor an API token stands for. It reads the token
// from the database on every call, so a revocation takes effect at once on
// every replica. Any problem gives the same ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (Actor, error) {
	if strings.HasPrefix(token, sessionPrefix) {
		return s.authenticateSession(ctx, token)
	}
	fail := &Error{Kind: ErrUnauthenticated, Message: "missing, unknown or revoked token"}
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(token) > 100 {
		return Actor{}, fail
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || checkName("id", id) != "" {
		return Actor{}, fail
	}
	t, err := s.store.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, fail
	}
	if err != nil {
		return Actor{}, fmt.Errorf("load token: %w", err)
	}
	if !t.RevokedAt.IsZero() || !s.keys.Equal(keyring.TokenHash, t.KeyID, []byte(token), t.Hash) {
		return Actor{}, fail
	}
	a := Actor{Kind: ActorToken, ID: t.ID, Name: t.Name, Role: Role(t.Role)}
	if t.UserID != "" {
		u, err := s.store.UserByID(ctx, t.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return Actor{}, fail
		}
		if err != nil {
			return Actor{}, fmt.Errorf("load token user: %w", err)
		}
		// The user's current roles bound the token: losing the role or
		// being disabled takes the token's power away at once.
		if u.Disabled || !slices.Contains(u.Roles, t.Role) {
			return Actor{}, fail
		}
		a.UserID, a.UserName = u.ID, u.Name
	}
	return a, nil
}

// ListTokens returns every token, newest first.
func (s *Service) ListTokens(ctx context.Context, req Request) ([]Token, error) {
	if err := s.authorize(ctx, req, ActTokenManage, nil); err != nil {
		return nil, err
	}
	tokens, err := s.store.ListTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	names := map[string]string{}
	out := make([]Token, len(tokens))
	for i, t := range tokens {
		if t.UserID != "" && names[t.UserID] == "" {
			u, err := s.store.UserByID(ctx, t.UserID)
			if err != nil {
				return nil, fmt.Errorf("load token user: %w", err)
			}
			names[t.UserID] = u.Name
		}
		out[i] = tokenView(t, names[t.UserID])
	}
	return out, nil
}

// RevokeToken revokes a token at once.
func (s *Service) RevokeToken(ctx context.Context, req Request, id string) error {
	if err := s.authorize(ctx, req, ActTokenManage, nil); err != nil {
		return err
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.RevokeToken(ctx, id, s.now()); err != nil {
			return err
		}
		ev := s.event(req, "token.revoke", audit.Success, "")
		ev.Detail = map[string]string{"token": id}
		return s.appendAudit(ctx, tx, ev)
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no active token with ID %q", id)
	}
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	s.log.Info("token revoked", "token", id, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return nil
}
