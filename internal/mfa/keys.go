package mfa

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/store"
)

// ErrKeyMismatch means the key file does not hold the key the database was
// first used with. Nothing sealed or hashed under that key could be checked,
// so the server must not start.
var ErrKeyMismatch = errors.New("key file does not match the database")

var anchorMessage = []byte("mfad key anchor v1")

// CheckKeys makes sure the key ring holds the key this database was first
// used with, recording the active key as that anchor on a new database.
// Every server sharing a database needs the same key file; a replica started
// with a new or a wrong one would otherwise seal secrets and hash tokens
// that no other replica can open or check.
func (s *Service) CheckKeys(ctx context.Context) error {
	active := s.keys.ActiveID()
	check, err := s.keys.MACWith(keyring.Audit, active, anchorMessage)
	if err != nil {
		return fmt.Errorf("key anchor: %w", err)
	}
	anchor, err := s.store.AnchorKey(ctx, store.KeyAnchor{KeyID: active, Check: check, CreatedAt: s.now()})
	if err != nil {
		return err
	}
	mine, err := s.keys.MACWith(keyring.Audit, anchor.KeyID, anchorMessage)
	if errors.Is(err, keyring.ErrUnknownKey) {
		return fmt.Errorf("%w: the database was first used with key %s, which the key file lacks; "+
			"every server sharing a database needs the same key file", ErrKeyMismatch, anchor.KeyID)
	}
	if err != nil {
		return fmt.Errorf("key anchor: %w", err)
	}
	if !hmac.Equal(mine, anchor.Check) {
		return fmt.Errorf("%w: the key file's key %s is not the key of that ID the database was "+
			"first used with", ErrKeyMismatch, anchor.KeyID)
	}
	return nil
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
	hooks, err := s.resealWebhooks(ctx)
	total += hooks
	if err != nil {
		return total, err
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

// resealWebhooks re-seals the signing secrets of webhooks not sealed under
// the active key, as ResealSecrets does for authenticators.
func (s *Service) resealWebhooks(ctx context.Context) (int, error) {
	hooks, err := s.store.ListWebhooks(ctx)
	if err != nil {
		return 0, fmt.Errorf("find webhook secrets to re-seal: %w", err)
	}
	n := 0
	for _, h := range hooks {
		if h.KeyID == s.keys.ActiveID() {
			continue
		}
		secret, err := s.keys.Open(h.KeyID, h.Secret, webhookAAD(h.ID))
		if err != nil {
			return n, fmt.Errorf("open secret of webhook %s under key %s: %w", h.ID, h.KeyID, err)
		}
		sealed, keyID, err := s.keys.Seal(secret, webhookAAD(h.ID))
		clear(secret)
		if err != nil {
			return n, fmt.Errorf("seal: %w", err)
		}
		var ok bool
		if err := s.store.Update(ctx, func(tx store.Tx) error {
			ok, err = tx.ResealWebhook(ctx, h.ID, h.KeyID, sealed, keyID)
			return err
		}); err != nil {
			return n, fmt.Errorf("reseal webhook %s: %w", h.ID, err)
		}
		if ok {
			n++
		}
	}
	return n, nil
}
