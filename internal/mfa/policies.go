package mfa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// GetPolicy returns the policy in force.
func (s *Service) GetPolicy(ctx context.Context, req Request) (policy.Policy, error) {
	if err := s.authorize(ctx, req, ActPolicyRead, nil); err != nil {
		return policy.Policy{}, err
	}
	return s.policy(ctx, s.store)
}

// SetPolicy validates a policy document and puts it in force at once on
// every replica. Fields the document leaves out take their defaults. Every
// problem is reported at once and nothing changes.
func (s *Service) SetPolicy(ctx context.Context, req Request, doc []byte) (policy.Policy, error) {
	p, err := policy.Parse(doc)
	if err != nil {
		var problems []string
		for _, e := range unjoin(err) {
			problems = append(problems, e.Error())
		}
		return policy.Policy{}, invalid(problems...)
	}
	if err := s.authorize(ctx, req, ActPolicyWrite, nil); err != nil {
		return policy.Policy{}, err
	}
	canonical := p.Marshal()
	sum := sha256.Sum256(canonical)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutPolicy(ctx, store.PolicyDoc{
			Scope: globalScope, Doc: canonical, UpdatedAt: s.now(), UpdatedBy: req.Actor.String(),
		}); err != nil {
			return err
		}
		ev := s.event(req, "policy.update", audit.Success, "")
		ev.Detail = map[string]string{"scope": globalScope, "sha256": hex.EncodeToString(sum[:])}
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return policy.Policy{}, fmt.Errorf("set policy: %w", err)
	}
	s.log.Info("policy updated", "scope", globalScope, "actor", req.Actor.String(),
		"request_id", req.RequestID)
	return p, nil
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ResealSecrets re-seals every authenticator secret that is not sealed under
// the key ring's active key, after `mfad keys rotate` added a new key. It is
// safe to run again after an interruption, and alongside running servers:
// each row is replaced only if it is still sealed under the key it was read
// with. It returns how many secrets it re-sealed.
func (s *Service) ResealSecrets(ctx context.Context, req Request) (int, error) {
	if err := s.authorize(ctx, req, ActKeysRotate, nil); err != nil {
		return 0, err
	}
	total := 0
	active := s.keys.ActiveID()
	for {
		// Re-read the active key each round: another rotation may have
		// happened meanwhile, and secrets sealed under it are done.
		active = s.keys.ActiveID()
		creds, err := s.store.TOTPCredentialsNotSealedWith(ctx, active, 100)
		if err != nil {
			return total, fmt.Errorf("find secrets to re-seal: %w", err)
		}
		if len(creds) == 0 {
			break
		}
		n, err := s.resealBatch(ctx, creds)
		total += n
		if err != nil {
			return total, err
		}
	}
	ev := s.event(req, "keys.rotate", audit.Success, "")
	ev.Detail = map[string]string{"active_key": active, "resealed": fmt.Sprint(total)}
	if err := s.store.Update(ctx, func(tx store.Tx) error {
		return s.appendAudit(ctx, tx, ev)
	}); err != nil {
		return total, err
	}
	s.log.Info("secrets re-sealed", "active_key", active, "count", total,
		"actor", req.Actor.String())
	return total, nil
}

func (s *Service) resealBatch(ctx context.Context, creds []store.TOTPCredential) (int, error) {
	n := 0
	err := s.store.Update(ctx, func(tx store.Tx) error {
		n = 0
		for _, c := range creds {
			aad := sealAAD(c.UserID, c.ID)
			secret, err := s.keys.Open(c.KeyID, c.Secret, aad)
			if err != nil {
				return fmt.Errorf("open secret of %s under key %s: %w", c.ID, c.KeyID, err)
			}
			sealed, keyID, err := s.keys.Seal(secret, aad)
			clear(secret)
			if err != nil {
				return fmt.Errorf("seal: %w", err)
			}
			ok, err := tx.ResealTOTP(ctx, c.ID, c.KeyID, sealed, keyID)
			if err != nil {
				return fmt.Errorf("reseal %s: %w", c.ID, err)
			}
			if ok {
				n++
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("re-sealing failed", "err", err)
	}
	return n, err
}
