package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/mfad/mfad/internal/audit"
)

// nonceSize is GCM's standard 96-bit nonce (NIST SP 800-38D §5.2.1.1).
const nonceSize = 12

// Seal encrypts plaintext with AES-256-GCM under the active key and returns
// nonce||ciphertext and the key's ID, which the caller stores beside it.
// aad binds the result to where it is stored (for example
// "totp/" + userID + "/" + credentialID): Open with any other aad fails, so
// a sealed value copied to another row does not open there.
//
// Nonces are random: at 2^32 seals per key the chance of a repeat stays
// below 2^-32 (SP 800-38D §8.3); rotating keys keeps counts far below that.
func (r *Ring) Seal(plaintext, aad []byte) (sealed []byte, keyID string, err error) {
	d := r.activeKey()
	if d == nil {
		return nil, "", fmt.Errorf("%w: ring not loaded", ErrUnknownKey)
	}

	nonce := make([]byte, nonceSize, nonceSize+len(plaintext)+d.aead.Overhead())
	r.randMu.Lock()
	_, err = io.ReadFull(r.rand, nonce)
	r.randMu.Unlock()
	if err != nil {
		return nil, "", fmt.Errorf("keyring: reading randomness: %w", err)
	}
	return d.aead.Seal(nonce, nonce, plaintext, aad), d.id, nil
}

// Open decrypts sealed, made by Seal under key keyID with the same aad. If
// the ring does not hold keyID it reloads its file once (see lookup) and
// fails with an error matching both ErrOpen and ErrUnknownKey if the key is
// still missing. A wrong key, wrong aad or any change to sealed all give
// ErrOpen alone, and never any plaintext.
func (r *Ring) Open(keyID string, sealed, aad []byte) ([]byte, error) {
	d, err := r.lookup(keyID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	if len(sealed) < nonceSize+d.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := d.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// MAC returns HMAC-SHA256 of msg under the active key's key for purpose p,
// and the key's ID, which the caller stores beside the sum. If p is not a
// hashing purpose (Seal is not) it returns nil and "", which no stored sum
// ever equals.
func (r *Ring) MAC(p Purpose, msg []byte) (sum []byte, keyID string) {
	if !p.isMAC() {
		return nil, ""
	}
	d := r.activeKey()
	if d == nil {
		return nil, ""
	}
	return mac(d.mac[p], msg), d.id
}

// MACWith returns HMAC-SHA256 of msg under key keyID's key for purpose p.
// If the ring does not hold keyID it reloads its file once (see lookup)
// and returns ErrUnknownKey if the key is still missing.
func (r *Ring) MACWith(p Purpose, keyID string, msg []byte) ([]byte, error) {
	if !p.isMAC() {
		return nil, fmt.Errorf("%w: %s", ErrPurpose, p)
	}
	d, err := r.lookup(keyID)
	if err != nil {
		return nil, err
	}
	return mac(d.mac[p], msg), nil
}

// Equal reports whether sum is the MAC of msg under key keyID for purpose
// p, comparing in constant time. It is false for an unknown key or any
// other failure.
func (r *Ring) Equal(p Purpose, keyID string, msg, sum []byte) bool {
	want, err := r.MACWith(p, keyID, msg)
	if err != nil {
		return false
	}
	return hmac.Equal(want, sum)
}

func mac(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// lookup returns the keys for id. When the ring does not hold id, another
// process may have rotated the shared key file, so lookup reloads the file
// and looks again, but at most once per reloadInterval across all callers,
// and only for IDs of the right form. Any failure means ErrUnknownKey.
func (r *Ring) lookup(id string) (*derived, error) {
	if d := r.get(id); d != nil {
		return d, nil
	}
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}

	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	// A caller that held reloadMu before us may have loaded the key.
	if d := r.get(id); d != nil {
		return d, nil
	}
	now := r.now()
	if !r.lastReload.IsZero() && now.Sub(r.lastReload) < reloadInterval {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	r.lastReload = now

	if err := r.Reload(); err != nil {
		return nil, fmt.Errorf("%w %q (reloading the key file: %w)", ErrUnknownKey, id, err)
	}
	if d := r.get(id); d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
}

// activeKey returns the active key's derived keys, or nil for a Ring that
// was never loaded.
func (r *Ring) activeKey() *derived {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[r.active]
}

func (r *Ring) get(id string) *derived {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[id]
}

// AuditMAC returns the ring as the audit package's MACer, using the Audit
// purpose keys.
func (r *Ring) AuditMAC() audit.MACer {
	return auditMACer{r}
}

// auditMACer adapts a Ring to audit.MACer.
type auditMACer struct{ r *Ring }

func (a auditMACer) MAC(msg []byte) ([]byte, string) { return a.r.MAC(Audit, msg) }

func (a auditMACer) MACWith(keyID string, msg []byte) ([]byte, error) {
	return a.r.MACWith(Audit, keyID, msg)
}
