// Package keyring holds mfad's master keys, which live in a file outside the
// database, and does everything that needs them: sealing TOTP seeds with
// AES-256-GCM, keyed hashing (HMAC-SHA256) of codes, passes and API tokens,
// and the MACs of the audit chain. Each master key has a short ID that is
// stored beside whatever was made under it, so keys can rotate: new data
// uses the active key, and older keys stay to open and check older data.
//
// Keys never leave the package: errors, String output and logs name key IDs
// only.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Errors the key ring returns; callers test them with errors.Is.
var (
	ErrExists      = errors.New("keyring: key file already exists")
	ErrMalformed   = errors.New("keyring: malformed key file")
	ErrPermissions = errors.New("keyring: key file is accessible by group or others")
	ErrLocked      = errors.New("keyring: key file is locked")
	ErrUnknownKey  = errors.New("keyring: unknown key")
	ErrOpen        = errors.New("keyring: cannot open sealed data")
	ErrPurpose     = errors.New("keyring: key purpose not usable here")
)

// Purpose selects which key derived from a master key an operation uses, so
// that a key made for one job is never used for another.
type Purpose int

// Purposes of derived keys. Seal is for Seal and Open only; the others are
// for MAC, MACWith and Equal.
const (
	Seal      Purpose = iota + 1 // AES-256-GCM sealing of secrets at rest
	TokenHash                    // keyed hashes of API token secrets
	CodeHash                     // keyed hashes of backup codes and access passes
	Audit                        // MACs of audit events and chain links
	LinkMAC                      // MACs of signed links in notices
	numPurposes
)

// info is the HKDF info string for each purpose (RFC 5869 §3.2): distinct
// strings give independent keys from the same master key.
var info = [numPurposes]string{
	Seal:      "mfad v1 seal",
	TokenHash: "mfad v1 token hash",
	CodeHash:  "mfad v1 code hash",
	Audit:     "mfad v1 audit",
	LinkMAC:   "mfad v1 link",
}

// String names the purpose.
func (p Purpose) String() string {
	if p >= Seal && p < numPurposes {
		return info[p][len("mfad v1 "):]
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

func (p Purpose) isMAC() bool { return p > Seal && p < numPurposes }

// reloadInterval is the least time between reloads caused by unknown key
// IDs, so a flood of made-up IDs cannot make the ring read its file on
// every request.
const reloadInterval = time.Second

// Ring is a loaded key ring. It is safe for concurrent use.
type Ring struct {
	path string
	now  func() time.Time // for the reload rate limit only

	randMu sync.Mutex // the injected reader need not be safe for concurrent use
	rand   io.Reader

	mu     sync.RWMutex
	active string
	order  []string // IDs in file order, oldest first
	keys   map[string]*derived

	reloadMu   sync.Mutex // one reload on an unknown ID at a time
	lastReload time.Time
}

// derived holds the keys derived from one master key. The master key itself
// is not kept.
type derived struct {
	id   string
	mac  [numPurposes][]byte
	aead cipher.AEAD
}

// String describes the key without its bytes.
func (d *derived) String() string { return "keyring key " + d.id + " [redacted]" }

// GoString is String, so %#v shows no key either.
func (d *derived) GoString() string { return d.String() }

// Format writes String for every verb, so no verb prints the key.
func (d *derived) Format(s fmt.State, _ rune) { io.WriteString(s, d.String()) }

// LogValue logs the key as String does.
func (d *derived) LogValue() slog.Value { return slog.StringValue(d.String()) }

// derive computes the per-purpose keys of a master key with HKDF-SHA256.
// The master key is uniformly random, so no salt is needed (RFC 5869 §3.1).
func derive(mk masterKey) (*derived, error) {
	d := &derived{id: mk.id}
	for p := Seal; p < numPurposes; p++ {
		k, err := hkdf.Key(sha256.New, mk.key, nil, info[p], keySize)
		if err != nil {
			return nil, fmt.Errorf("keyring: deriving %s key for %s: %w", p, mk.id, err)
		}
		d.mac[p] = k
	}
	block, err := aes.NewCipher(d.mac[Seal])
	if err != nil {
		return nil, fmt.Errorf("keyring: key %s: %w", mk.id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: key %s: %w", mk.id, err)
	}
	d.aead = aead
	d.mac[Seal] = nil // only the AEAD uses it from here
	return d, nil
}

// Load reads the key file at path. It refuses a file that group or others
// can access (ErrPermissions) and a malformed one (ErrMalformed); a missing
// file gives an error matching fs.ErrNotExist. The ring draws its sealing
// nonces from crypto/rand.
func Load(path string) (*Ring, error) {
	return load(path, rand.Reader)
}

func load(path string, rand io.Reader) (*Ring, error) {
	r := &Ring{path: path, rand: rand, now: time.Now}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the key file again and replaces the ring's keys with the
// file's. If the file cannot be read or is not valid, the ring keeps the
// keys it had and Reload returns the error.
func (r *Ring) Reload() error {
	kf, keys, err := readFile(r.path)
	if err != nil {
		return err
	}

	m := make(map[string]*derived, len(keys))
	order := make([]string, 0, len(keys))
	for _, mk := range keys {
		d, err := derive(mk)
		clear(mk.key)
		if err != nil {
			return err
		}
		m[mk.id] = d
		order = append(order, mk.id)
	}

	r.mu.Lock()
	r.active, r.order, r.keys = kf.Active, order, m
	r.mu.Unlock()
	return nil
}

// String describes the ring without its keys.
func (r *Ring) String() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return fmt.Sprintf("keyring %s (active %s, %d keys)", r.path, r.active, len(r.order))
}

// GoString is String, so %#v shows no key either.
func (r *Ring) GoString() string { return r.String() }

// Format writes String for every verb, so no verb prints a key.
func (r *Ring) Format(s fmt.State, _ rune) { io.WriteString(s, r.String()) }

// LogValue logs the ring as String does.
func (r *Ring) LogValue() slog.Value { return slog.StringValue(r.String()) }

// ActiveID returns the ID of the key new data is sealed and hashed under.
func (r *Ring) ActiveID() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.active
}

// IDs returns the IDs of all keys in the ring, oldest first.
func (r *Ring) IDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.order)
}
