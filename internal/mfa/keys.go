package mfa

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"

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
