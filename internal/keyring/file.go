package keyring

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// The key file format. Only this package reads or writes it.
const (
	fileVersion = 1
	keySize     = 32      // AES-256 and HMAC-SHA256 master keys
	maxFileSize = 1 << 20 // far more than any real ring; guards against reading a wrong file
)

// idPattern is the form of a key ID: 8 lower-case hex characters.
var idPattern = regexp.MustCompile(`^[0-9a-f]{8}$`)

// keyFile is the JSON document kept at the ring's path.
type keyFile struct {
	Version int       `json:"version"`
	Active  string    `json:"active"`
	Keys    []fileKey `json:"keys"`
}

// fileKey is one master key as stored: base64 in Key.
type fileKey struct {
	ID      string `json:"id"`
	Created string `json:"created"`
	Key     string `json:"key"`
}

// String describes the file without its keys.
func (f keyFile) String() string {
	return fmt.Sprintf("keyring file (version %d, active %s, %d keys)", f.Version, f.Active,
		len(f.Keys))
}

// GoString is String, so %#v shows no key either.
func (f keyFile) GoString() string { return f.String() }

// Format writes String for every verb, so no verb prints the keys.
func (f keyFile) Format(s fmt.State, _ rune) { io.WriteString(s, f.String()) }

// LogValue logs the file as String does; without it a JSON log handler
// would marshal the keys.
func (f keyFile) LogValue() slog.Value { return slog.StringValue(f.String()) }

// String describes the key without its bytes.
func (k fileKey) String() string { return "keyring key " + k.ID + " [redacted]" }

// GoString is String, so %#v shows no key either.
func (k fileKey) GoString() string { return k.String() }

// Format writes String for every verb, so no verb prints the key.
func (k fileKey) Format(s fmt.State, _ rune) { io.WriteString(s, k.String()) }

// LogValue logs the key as String does.
func (k fileKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// readFile reads and checks the key file at path: it must be a regular file
// that group and others cannot access, hold valid JSON in the current
// version, and every key must be 32 bytes under a well-formed, unique ID.
// Errors name the path and the problem, never key material.
func readFile(path string) (keyFile, []masterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return keyFile{}, nil, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()

	// Check the mode of the file we opened, not of whatever the path names
	// a moment later.
	info, err := f.Stat()
	if err != nil {
		return keyFile{}, nil, fmt.Errorf("keyring: %w", err)
	}
	if !info.Mode().IsRegular() {
		return keyFile{}, nil, fmt.Errorf("keyring: %s is not a regular file: %w",
			path, ErrMalformed)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return keyFile{}, nil, fmt.Errorf(
			"keyring: %s has mode %04o, so group or others can reach the keys; "+
				"run chmod 600 %s: %w", path, perm, path, ErrPermissions)
	}

	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return keyFile{}, nil, fmt.Errorf("keyring: reading %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return keyFile{}, nil, fmt.Errorf("keyring: %s is larger than %d bytes: %w",
			path, maxFileSize, ErrMalformed)
	}
	kf, keys, err := parseFile(data)
	if err != nil {
		return keyFile{}, nil, fmt.Errorf("keyring: %s: %w", path, err)
	}
	return kf, keys, nil
}

// masterKey is a decoded master key.
type masterKey struct {
	id      string
	created time.Time
	key     []byte
}

// String describes the key without its bytes.
func (k masterKey) String() string { return "keyring key " + k.id + " [redacted]" }

// GoString is String, so %#v shows no key either.
func (k masterKey) GoString() string { return k.String() }

// Format writes String for every verb, so no verb prints the key.
func (k masterKey) Format(s fmt.State, _ rune) { io.WriteString(s, k.String()) }

// LogValue logs the key as String does.
func (k masterKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// parseFile decodes and validates a key file's contents.
func parseFile(data []byte) (keyFile, []masterKey, error) {
	var kf keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return keyFile{}, nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return keyFile{}, nil, fmt.Errorf("data after the JSON document: %w", ErrMalformed)
	}

	if kf.Version != fileVersion {
		return keyFile{}, nil, fmt.Errorf("version %d, want %d: %w",
			kf.Version, fileVersion, ErrMalformed)
	}
	if len(kf.Keys) == 0 {
		return keyFile{}, nil, fmt.Errorf("no keys: %w", ErrMalformed)
	}

	keys := make([]masterKey, 0, len(kf.Keys))
	seen := make(map[string]bool, len(kf.Keys))
	for i, fk := range kf.Keys {
		mk, err := decodeKey(fk)
		if err != nil {
			return keyFile{}, nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if seen[mk.id] {
			return keyFile{}, nil, fmt.Errorf("key %d: id %s appears twice: %w",
				i+1, mk.id, ErrMalformed)
		}
		seen[mk.id] = true
		keys = append(keys, mk)
	}
	if !seen[kf.Active] {
		return keyFile{}, nil, fmt.Errorf("active key %q is not in the file: %w",
			kf.Active, ErrMalformed)
	}
	return kf, keys, nil
}

// decodeKey checks one stored key and decodes it.
func decodeKey(fk fileKey) (masterKey, error) {
	if !idPattern.MatchString(fk.ID) {
		// A malformed ID might be a pasted key: do not echo it.
		return masterKey{}, fmt.Errorf("id is not 8 lower-case hex characters: %w", ErrMalformed)
	}
	created, err := time.Parse(time.RFC3339, fk.Created)
	if err != nil {
		return masterKey{}, fmt.Errorf("id %s: created is not an RFC 3339 time: %w",
			fk.ID, ErrMalformed)
	}
	// base64's own errors give only an offset, but say nothing of the
	// contents either way.
	key, err := base64.StdEncoding.Strict().DecodeString(fk.Key)
	if err != nil {
		return masterKey{}, fmt.Errorf("id %s: key is not valid base64: %w", fk.ID, ErrMalformed)
	}
	if len(key) != keySize {
		clear(key)
		return masterKey{}, fmt.Errorf("id %s: key is %d bytes, want %d: %w",
			fk.ID, len(key), keySize, ErrMalformed)
	}
	return masterKey{id: fk.ID, created: created, key: key}, nil
}

// jsonError turns a decoding error into one that cannot quote the file:
// encoding/json's messages may include a character or a number from it.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON (at byte %d): %w", syn.Offset, ErrMalformed)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q has the wrong type: %w", typ.Field, ErrMalformed)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("empty or cut short: %w", ErrMalformed)
	}
	return fmt.Errorf("not a key file (unknown field or bad structure): %w", ErrMalformed)
}

// newKey makes a master key with a fresh ID not in taken, reading the ID
// and then the key from rand.
func newKey(rand io.Reader, now time.Time, taken map[string]bool) (fileKey, error) {
	for range 16 {
		var id [4]byte
		if _, err := io.ReadFull(rand, id[:]); err != nil {
			return fileKey{}, fmt.Errorf("keyring: reading randomness: %w", err)
		}
		if taken[hex.EncodeToString(id[:])] {
			continue
		}
		key := make([]byte, keySize)
		if _, err := io.ReadFull(rand, key); err != nil {
			return fileKey{}, fmt.Errorf("keyring: reading randomness: %w", err)
		}
		fk := fileKey{
			ID:      hex.EncodeToString(id[:]),
			Created: now.UTC().Format(time.RFC3339),
			Key:     base64.StdEncoding.EncodeToString(key),
		}
		clear(key)
		return fk, nil
	}
	return fileKey{}, errors.New(
		"keyring: no unused key id after 16 tries; is the random source broken?")
}

// writeFile replaces the file at path with kf so that the path always names
// either the old file or the complete new one: it writes a temporary file
// in the same directory, created with mode 0600, syncs it, renames it over
// path, and syncs the directory so the rename itself is durable.
func writeFile(path string, kf keyFile) (err error) {
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return fmt.Errorf("keyring: encoding key file: %w", err)
	}
	data = append(data, '\n')

	dir := filepath.Dir(path)
	// os.CreateTemp creates the file with mode 0600 (and O_EXCL), so the
	// keys are never readable by others, not even for a moment.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	defer clear(data)

	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("keyring: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyring: closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keyring: syncing directory %s: %w", dir, err)
	}
	return nil
}

// lockFile takes the write lock beside path: a file created with O_EXCL,
// so two processes that both read, change and rewrite the key file (two
// rotations at once) cannot lose each other's key. It returns a function
// that releases the lock.
func lockFile(path string) (func(), error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("keyring: %s exists, so another process is changing the key "+
			"file; if none is (a crash left it behind), remove it and try again: %w",
			name, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	f.Close()
	return func() { os.Remove(name) }, nil
}

// Create makes a new key file at path holding one fresh master key, active,
// and returns the ring. It fails with ErrExists if the file already exists.
// The directory is created (mode 0700) if missing. rand supplies the key
// and, later, the ring's sealing nonces; now is the key's creation time.
func Create(path string, rand io.Reader, now time.Time) (*Ring, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	unlock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	defer unlock()

	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("keyring: %s: %w", path, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keyring: %w", err)
	}

	fk, err := newKey(rand, now, nil)
	if err != nil {
		return nil, err
	}
	kf := keyFile{Version: fileVersion, Active: fk.ID, Keys: []fileKey{fk}}
	if err := writeFile(path, kf); err != nil {
		return nil, err
	}
	return load(path, rand)
}

// LoadOrCreate loads the key file at path, or creates it as Create does if
// there is none, and reports whether it did. Any other failure to load (bad
// mode, malformed file) is returned as is: a broken key file is never
// silently replaced.
func LoadOrCreate(path string, rand io.Reader, now time.Time) (
	ring *Ring, created bool, err error) {
	r, err := load(path, rand)
	if err == nil {
		return r, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	r, err = Create(path, rand, now)
	if errors.Is(err, ErrExists) {
		// Another process created it between our two looks.
		r, err = load(path, rand)
		return r, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// Rotate adds a fresh master key to the key file at path and makes it the
// active key, returning its ID. Older keys stay in the file: data sealed and
// hashes made under them must still open and check. The file is replaced
// atomically (see writeFile), so a crash leaves either the old ring or the
// new one. Running servers that share the file pick the new key up when
// they meet its ID or on Reload.
func Rotate(path string, rand io.Reader, now time.Time) (newID string, err error) {
	unlock, err := lockFile(path)
	if err != nil {
		return "", err
	}
	defer unlock()

	kf, keys, err := readFile(path)
	if err != nil {
		return "", err
	}
	taken := make(map[string]bool, len(keys))
	for _, k := range keys {
		taken[k.id] = true
		clear(k.key)
	}

	fk, err := newKey(rand, now, taken)
	if err != nil {
		return "", err
	}
	kf.Keys = append(kf.Keys, fk)
	kf.Active = fk.ID
	if err := writeFile(path, kf); err != nil {
		return "", err
	}
	return fk.ID, nil
}
