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
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// testRand returns a deterministic random source.
func testRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return mathrand.NewChaCha8(s)
}

// zeroReader yields zero bytes, for known-answer tests.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// failReader fails every read.
type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func newRing(t *testing.T) (*Ring, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "keyring.json")
	r, err := Create(path, testRand(1), testNow)
	if err != nil {
		t.Fatalf("Create(%s) error = %v", path, err)
	}
	return r, path
}

// dirNames lists the names in dir, to show that no temporary or lock file
// was left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func readKeyFile(t *testing.T, path string) keyFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatalf("key file %s does not parse: %v", path, err)
	}
	return kf
}

func TestCreateLoad(t *testing.T) {
	r, path := newRing(t)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode of %s = %04o, want 0600", path, got)
	}
	if got := dirNames(t, filepath.Dir(path)); !cmp.Equal(got, []string{"keyring.json"}) {
		t.Errorf("files after Create = %v, want only keyring.json", got)
	}

	kf := readKeyFile(t, path)
	if kf.Version != 1 || len(kf.Keys) != 1 || kf.Active != kf.Keys[0].ID ||
		kf.Keys[0].Created != "2025-03-04T05:06:07Z" {
		t.Errorf("key file = %+v, want version 1 with one active key created at testNow",
			readKeyFileRaw(t, path))
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(r.ActiveID()) {
		t.Errorf("ActiveID() = %q, want 8 lower-case hex characters", r.ActiveID())
	}

	loaded, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s) error = %v", path, err)
	}
	if loaded.ActiveID() != r.ActiveID() || !cmp.Equal(loaded.IDs(), r.IDs()) {
		t.Errorf("Load: ActiveID, IDs = %s, %v, want %s, %v",
			loaded.ActiveID(), loaded.IDs(), r.ActiveID(), r.IDs())
	}

	// Same key after a round trip through the file.
	sealed, id, err := r.Seal([]byte("seed"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := loaded.Open(id, sealed, []byte("aad")); err != nil || string(got) != "seed" {
		t.Errorf("Open(sealed by the creating ring) = %q, %v, want %q, nil", got, err, "seed")
	}

	if _, err := Create(path, testRand(2), testNow); !errors.Is(err, ErrExists) {
		t.Errorf("Create(existing) error = %v, want %v", err, ErrExists)
	}
	if got := readKeyFile(t, path); got.Active != kf.Active {
		t.Errorf("Create(existing) changed the active key to %s, want %s", got.Active, kf.Active)
	}
}

// readKeyFileRaw returns the file's text for failure messages; it is only
// ever a test key.
func readKeyFileRaw(t *testing.T, path string) string {
	t.Helper()
	data, _ := os.ReadFile(path)
	return string(data)
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.json")
	if _, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadRefusesMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o660, 0o700 | 0o007} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			_, path := newRing(t)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !errors.Is(err, ErrPermissions) {
				t.Fatalf("Load(mode %04o) error = %v, want %v", mode, err, ErrPermissions)
			}
			msg := err.Error()
			for _, want := range []string{path, fmt.Sprintf("%04o", mode), "chmod 600"} {
				if !strings.Contains(msg, want) {
					t.Errorf("Load(mode %04o) error = %q, want it to contain %q", mode, msg, want)
				}
			}
		})
	}
}

func TestLoadRefusesMalformed(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 16))
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 48))
	key := func(id, k string) string {
		return `{"id":"` + id + `","created":"2025-01-01T00:00:00Z","key":"` + k + `"}`
	}
	doc := func(active string, keys ...string) string {
		return `{"version":1,"active":"` + active + `","keys":[` + strings.Join(keys, ",") + `]}`
	}
	tests := []struct {
		name    string
		content string
		want    string // part of the error message
	}{
		{"empty file", "", "empty"},
		{"not JSON", "keyring", "not valid JSON"},
		{"cut short", doc("ab12cd34", key("ab12cd34", secret))[:40], "cut short"},
		{"trailing data", doc("ab12cd34", key("ab12cd34", secret)) + "{}", "after the JSON"},
		{"array", "[]", "wrong type"},
		{"unknown field", `{"version":1,"keyz":[]}`, "unknown field"},
		{"wrong version", strings.Replace(doc("ab12cd34", key("ab12cd34", secret)),
			`"version":1`, `"version":2`, 1), "version 2"},
		{"no keys", doc("ab12cd34"), "no keys"},
		{"short key", doc("ab12cd34", key("ab12cd34", short)), "16 bytes, want 32"},
		{"long key", doc("ab12cd34", key("ab12cd34", long)), "48 bytes, want 32"},
		{"key not base64", doc("ab12cd34", key("ab12cd34", "!!"+secret)), "not valid base64"},
		{"key as a number", `{"version":1,"active":"ab12cd34","keys":[{"id":"ab12cd34",` +
			`"created":"2025-01-01T00:00:00Z","key":12345678901234567890}]}`, "wrong type"},
		{"bad id", doc(secret, key(secret, secret)), "id is not"},
		{"duplicate id", doc("ab12cd34", key("ab12cd34", secret), key("ab12cd34", secret)),
			"appears twice"},
		{"active missing", doc("00000000", key("ab12cd34", secret)), "not in the file"},
		{"bad created", strings.Replace(doc("ab12cd34", key("ab12cd34", secret)),
			"2025-01-01T00:00:00Z", "yesterday", 1), "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Load(%s) error = %v, want %v", tt.name, err, ErrMalformed)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, path) {
				t.Errorf("Load(%s) error = %q, want it to name the path and contain %q",
					tt.name, msg, tt.want)
			}
			for _, k := range []string{secret, short, long, secret[:8], "Wlpa", "1234567890"} {
				if strings.Contains(msg, k) {
					t.Errorf("Load(%s) error = %q, want no key material (%q)", tt.name, msg, k)
				}
			}
		})
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	r1, created, err := LoadOrCreate(path, testRand(1), testNow)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate(new) = _, %t, %v, want true, nil", created, err)
	}
	r2, created, err := LoadOrCreate(path, testRand(2), testNow)
	if err != nil || created {
		t.Fatalf("LoadOrCreate(existing) = _, %t, %v, want false, nil", created, err)
	}
	if r1.ActiveID() != r2.ActiveID() {
		t.Errorf("LoadOrCreate(existing).ActiveID() = %s, want %s", r2.ActiveID(), r1.ActiveID())
	}

	// A broken key file is reported, never replaced with new keys.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(path, testRand(3), testNow); !errors.Is(err, ErrMalformed) {
		t.Errorf("LoadOrCreate(malformed) error = %v, want %v", err, ErrMalformed)
	}
	if got := readKeyFileRaw(t, path); got != "{" {
		t.Errorf("LoadOrCreate(malformed) rewrote the file to %q", got)
	}
}

func TestCreateFailingRand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	if _, err := Create(path, failReader{}, testNow); err == nil {
		t.Fatalf("Create(failing reader) error = nil, want an error")
	}
	if got := dirNames(t, filepath.Dir(path)); len(got) != 0 {
		t.Errorf("files after a failed Create = %v, want none", got)
	}
}

func TestSealOpen(t *testing.T) {
	r, path := newRing(t)
	aad := []byte("totp/u-1/c-1")
	plain := []byte("JBSWY3DPEHPK3PXP")

	sealed, id, err := r.Seal(plain, aad)
	if err != nil {
		t.Fatalf("Seal error = %v", err)
	}
	if id != r.ActiveID() || len(sealed) != 12+len(plain)+16 {
		t.Errorf("Seal = %d bytes under %s, want %d under %s",
			len(sealed), id, 12+len(plain)+16, r.ActiveID())
	}
	if bytes.Contains(sealed, plain) {
		t.Errorf("Seal output contains the plaintext")
	}
	again, _, _ := r.Seal(plain, aad)
	if bytes.Equal(again[:12], sealed[:12]) {
		t.Errorf("two Seals used the same nonce %x", sealed[:12])
	}
	got, err := r.Open(id, sealed, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open(Seal(p)) = %q, %v, want %q, nil", got, err, plain)
	}

	// A second key in the ring, to open under the wrong one.
	otherID, err := Rotate(path, testRand(9), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}

	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		id     string
		sealed []byte
		aad    []byte
	}{
		{"wrong aad", id, sealed, []byte("totp/u-2/c-1")},
		{"no aad", id, sealed, nil},
		{"wrong key", otherID, sealed, aad},
		{"flipped nonce bit", id, flip(0), aad},
		{"flipped ciphertext bit", id, flip(14), aad},
		{"flipped tag bit", id, flip(len(sealed) - 1), aad},
		{"truncated", id, sealed[:len(sealed)-1], aad},
		{"too short", id, sealed[:20], aad},
		{"empty", id, nil, aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Open(tt.id, tt.sealed, tt.aad)
			if err != ErrOpen || got != nil {
				t.Errorf("Open(%s) = %q, %v, want nil, %v", tt.name, got, err, ErrOpen)
			}
		})
	}

	got, err = r.Open("0badc0de", sealed, aad)
	if !errors.Is(err, ErrOpen) || !errors.Is(err, ErrUnknownKey) || got != nil {
		t.Errorf("Open(unknown key) = %q, %v, want nil, %v and %v",
			got, err, ErrOpen, ErrUnknownKey)
	}
	got, err = r.Open("not-an-id", sealed, aad)
	if !errors.Is(err, ErrUnknownKey) || got != nil {
		t.Errorf("Open(malformed key ID) = %q, %v, want nil, %v", got, err, ErrUnknownKey)
	}
}

func TestSealFailingRand(t *testing.T) {
	_, path := newRing(t)
	r, err := load(path, failReader{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := r.Seal([]byte("x"), nil); err == nil || got != nil {
		t.Errorf("Seal(failing reader) = %x, %v, want nil and an error", got, err)
	}
}

// writeKnownRing writes a key file holding the master key 00 01 02 ... 1f.
func writeKnownRing(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyring.json")
	doc := `{"version":1,"active":"0a0b0c0d","keys":[{"id":"0a0b0c0d",` +
		`"created":"2025-01-01T00:00:00Z","key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKnownAnswers pins the key derivation (HKDF-SHA256, the info strings)
// and the sealed format. The expected values were computed with Python's
// hmac module and the cryptography package, independently of this code. If
// this fails, existing hashes and sealed seeds would stop working.
func TestKnownAnswers(t *testing.T) {
	r, err := load(writeKnownRing(t), zeroReader{})
	if err != nil {
		t.Fatal(err)
	}
	macs := []struct {
		p    Purpose
		want string
	}{
		{TokenHash, "2746e161d2f04284c6617f2873a1f365a4c6542e0eef69288e633b1d2406b4dd"},
		{CodeHash, "d934f6f88b876ec239ada4a58f058e34708ab6686b3b7a7ccbaf2f5ba8ffa34e"},
		{Audit, "a42ad0e985205e5b45bec2f49af04461d9097008143cea12a1a923dcd3a1732a"},
	}
	for _, tt := range macs {
		sum, id := r.MAC(tt.p, []byte("abc"))
		if got := hex.EncodeToString(sum); got != tt.want || id != "0a0b0c0d" {
			t.Errorf("MAC(%s, abc) = %s, %s, want %s, 0a0b0c0d", tt.p, got, id, tt.want)
		}
	}

	const wantSealed = "000000000000000000000000" + "7d4f407b44f5b311c200cd6707c873bf4a18e56f7d2b"
	sealed, _, err := r.Seal([]byte("secret"), []byte("totp/u1/c1"))
	if got := hex.EncodeToString(sealed); err != nil || got != wantSealed {
		t.Errorf("Seal(secret) = %s, %v, want %s, nil", got, err, wantSealed)
	}
}

func TestMAC(t *testing.T) {
	r, path := newRing(t)
	msg := []byte("backup code 1234-5678")

	a1, id := r.MAC(CodeHash, msg)
	a2, _ := r.MAC(CodeHash, msg)
	if !bytes.Equal(a1, a2) || len(a1) != 32 || id != r.ActiveID() {
		t.Errorf("MAC(CodeHash, msg) twice = %x, %x under %s, want equal 32 bytes under %s",
			a1, a2, id, r.ActiveID())
	}
	with, err := r.MACWith(CodeHash, id, msg)
	if err != nil || !bytes.Equal(with, a1) {
		t.Errorf("MACWith(CodeHash, %s, msg) = %x, %v, want %x, nil", id, with, err, a1)
	}

	sums := map[string]Purpose{}
	for _, p := range []Purpose{TokenHash, CodeHash, Audit} {
		sum, _ := r.MAC(p, msg)
		if other, dup := sums[string(sum)]; dup {
			t.Errorf("MAC(%s, msg) = MAC(%s, msg), want different sums per purpose", p, other)
		}
		sums[string(sum)] = p
	}

	if sum, id := r.MAC(Seal, msg); sum != nil || id != "" {
		t.Errorf("MAC(Seal, msg) = %x, %q, want nil, \"\"", sum, id)
	}
	if _, err := r.MACWith(Seal, id, msg); !errors.Is(err, ErrPurpose) {
		t.Errorf("MACWith(Seal) error = %v, want %v", err, ErrPurpose)
	}
	if sum, _ := r.MAC(Purpose(0), msg); sum != nil {
		t.Errorf("MAC(Purpose(0), msg) = %x, want nil", sum)
	}

	newID, err := Rotate(path, testRand(5), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	b1, id2 := r.MAC(CodeHash, msg)
	if id2 != newID || bytes.Equal(b1, a1) {
		t.Errorf("MAC after rotation = %x under %s, want a new sum under %s", b1, id2, newID)
	}

	tests := []struct {
		name string
		p    Purpose
		id   string
		msg  []byte
		sum  []byte
		want bool
	}{
		{"right", CodeHash, id, msg, a1, true},
		{"right under the new key", CodeHash, newID, msg, b1, true},
		{"old sum under the new key", CodeHash, newID, msg, a1, false},
		{"other message", CodeHash, id, []byte("backup code 1234-5679"), a1, false},
		{"other purpose", TokenHash, id, msg, a1, false},
		{"seal purpose", Seal, id, msg, a1, false},
		{"truncated sum", CodeHash, id, msg, a1[:16], false},
		{"empty sum", CodeHash, id, msg, nil, false},
		{"unknown key", CodeHash, "0badc0de", msg, a1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Equal(tt.p, tt.id, tt.msg, tt.sum); got != tt.want {
				t.Errorf("Equal(%s, %s, msg, sum) = %t, want %t", tt.p, tt.id, got, tt.want)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	r, path := newRing(t)
	oldID := r.ActiveID()
	aad := []byte("totp/u-1/c-1")
	oldSealed, _, err := r.Seal([]byte("old seed"), aad)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	newID, err := Rotate(path, testRand(7), testNow.Add(time.Hour))
	if err != nil {
		t.Fatalf("Rotate error = %v", err)
	}
	if newID == oldID {
		t.Fatalf("Rotate() = %s, the old ID, want a new one", newID)
	}

	// The file was replaced by a rename of a complete new file (a new inode),
	// not rewritten in place, and nothing was left beside it.
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Errorf("Rotate rewrote %s in place, want a new file renamed over it", path)
	}
	if got := after.Mode().Perm(); got != 0o600 {
		t.Errorf("mode after Rotate = %04o, want 0600", got)
	}
	if got := dirNames(t, filepath.Dir(path)); !cmp.Equal(got, []string{"keyring.json"}) {
		t.Errorf("files after Rotate = %v, want only keyring.json", got)
	}
	kf := readKeyFile(t, path)
	if kf.Active != newID || len(kf.Keys) != 2 || kf.Keys[0].ID != oldID ||
		kf.Keys[1].Created != "2025-03-04T06:06:07Z" {
		t.Errorf("key file after Rotate: active %s, %d keys, want active %s, 2 keys, old first",
			kf.Active, len(kf.Keys), newID)
	}

	// The running ring still seals under the old key until it reloads.
	if r.ActiveID() != oldID {
		t.Errorf("ActiveID() before Reload = %s, want %s", r.ActiveID(), oldID)
	}
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload error = %v", err)
	}
	if r.ActiveID() != newID || !cmp.Equal(r.IDs(), []string{oldID, newID}) {
		t.Errorf("after Reload: ActiveID, IDs = %s, %v, want %s, %v",
			r.ActiveID(), r.IDs(), newID, []string{oldID, newID})
	}
	if got, err := r.Open(oldID, oldSealed, aad); err != nil || string(got) != "old seed" {
		t.Errorf("Open(old data) after rotation = %q, %v, want %q, nil", got, err, "old seed")
	}
	sealed, id, err := r.Seal([]byte("new seed"), aad)
	if err != nil || id != newID {
		t.Errorf("Seal after rotation = key %s, %v, want key %s", id, err, newID)
	}
	if got, err := r.Open(newID, sealed, aad); err != nil || string(got) != "new seed" {
		t.Errorf("Open(new data) = %q, %v, want %q, nil", got, err, "new seed")
	}
}

func TestRotateRefuses(t *testing.T) {
	t.Run("locked", func(t *testing.T) {
		_, path := newRing(t)
		if err := os.WriteFile(path+".lock", nil, 0o600); err != nil {
			t.Fatal(err)
		}
		before := readKeyFileRaw(t, path)
		_, err := Rotate(path, testRand(2), testNow)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path+".lock") {
			t.Errorf("Rotate(locked) error = %v, want %v naming the lock file", err, ErrLocked)
		}
		if readKeyFileRaw(t, path) != before {
			t.Errorf("Rotate(locked) changed the key file")
		}
	})
	t.Run("open to others", func(t *testing.T) {
		_, path := newRing(t)
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Rotate(path, testRand(2), testNow); !errors.Is(err, ErrPermissions) {
			t.Errorf("Rotate(mode 0644) error = %v, want %v", err, ErrPermissions)
		}
		if _, err := os.Stat(path + ".lock"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Rotate left its lock file behind: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keyring.json")
		if _, err := Rotate(path, testRand(2), testNow); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Rotate(missing) error = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("failing reader", func(t *testing.T) {
		_, path := newRing(t)
		before := readKeyFileRaw(t, path)
		if _, err := Rotate(path, failReader{}, testNow); err == nil {
			t.Errorf("Rotate(failing reader) error = nil, want an error")
		}
		if readKeyFileRaw(t, path) != before {
			t.Errorf("Rotate(failing reader) changed the key file")
		}
	})
}

// TestCrashLeftovers checks that what a crash in the middle of a write can
// leave behind (a partial temporary file) does not stop the ring loading or
// rotating.
func TestCrashLeftovers(t *testing.T) {
	r, path := newRing(t)
	partial := filepath.Join(filepath.Dir(path), ".keyring.json.123.tmp")
	if err := os.WriteFile(partial, []byte(`{"version":1,"act`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load beside a partial temp file error = %v, want nil", err)
	}
	if _, err := Rotate(path, testRand(3), testNow); err != nil {
		t.Errorf("Rotate beside a partial temp file error = %v, want nil", err)
	}
	if err := r.Reload(); err != nil || len(r.IDs()) != 2 {
		t.Errorf("Reload = %v with %d keys, want nil with 2", err, len(r.IDs()))
	}
}

func TestReloadOnUnknownID(t *testing.T) {
	writer, path := newRing(t)
	reader, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := testNow
	reader.now = func() time.Time { return clock }

	// Another process (mfad keys rotate) adds a key; a server on it seals.
	newID, err := Rotate(path, testRand(4), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Reload(); err != nil {
		t.Fatal(err)
	}
	aad := []byte("totp/u/c")
	sealed, id, err := writer.Seal([]byte("seed"), aad)
	if err != nil || id != newID {
		t.Fatalf("Seal = key %s, %v, want key %s", id, err, newID)
	}

	// The reader has never heard of newID, and picks it up by itself.
	if got, err := reader.Open(id, sealed, aad); err != nil || string(got) != "seed" {
		t.Fatalf("Open(data under a key added after Load) = %q, %v, want %q, nil",
			got, err, "seed")
	}
	if reader.ActiveID() != newID {
		t.Errorf("ActiveID() after reload on unknown ID = %s, want %s", reader.ActiveID(), newID)
	}

	// A second rotation within the same second is not picked up until the
	// rate limit allows another read of the file.
	thirdID, err := Rotate(path, testRand(5), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Reload(); err != nil {
		t.Fatal(err)
	}
	sum, _ := writer.MAC(TokenHash, []byte("token"))
	clock = clock.Add(500 * time.Millisecond)
	if reader.Equal(TokenHash, thirdID, []byte("token"), sum) {
		t.Errorf("Equal(key added 0.5 s after the last reload) = true, want false (rate limit)")
	}
	clock = clock.Add(600 * time.Millisecond)
	if !reader.Equal(TokenHash, thirdID, []byte("token"), sum) {
		t.Errorf("Equal(key added 1.1 s after the last reload) = false, want true")
	}
	if _, err := reader.MACWith(TokenHash, thirdID, []byte("token")); err != nil {
		t.Errorf("MACWith(%s) error = %v, want nil", thirdID, err)
	}
}

func TestReloadKeepsKeysOnFailure(t *testing.T) {
	r, path := newRing(t)
	id := r.ActiveID()
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Reload(garbage) error = %v, want %v", err, ErrMalformed)
	}
	if r.ActiveID() != id {
		t.Errorf("ActiveID() after a failed Reload = %s, want %s", r.ActiveID(), id)
	}
	if _, _, err := r.Seal([]byte("x"), nil); err != nil {
		t.Errorf("Seal after a failed Reload error = %v, want nil", err)
	}
	// An unknown ID now triggers a reload that fails: still just unknown.
	if _, err := r.MACWith(Audit, "0badc0de", nil); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("MACWith(unknown) with a broken file error = %v, want %v", err, ErrUnknownKey)
	}
}

func TestNoKeysInOutput(t *testing.T) {
	r, path := newRing(t)
	kf := readKeyFile(t, path)
	keyB64 := kf.Keys[0].Key
	raw, _ := base64.StdEncoding.DecodeString(keyB64)
	_, masters, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := r.activeKey()
	values := map[string]any{
		"ring":       r,
		"derived":    d,
		"master key": masters[0],
		"file":       kf,
		"file key":   kf.Keys[0],
	}
	// Every form a key could leak in.
	var leaks []string
	for _, b := range append([][]byte{raw}, d.mac[TokenHash], d.mac[CodeHash], d.mac[Audit]) {
		leaks = append(leaks, hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b),
			string(b), fmt.Sprint(b[:4])[1:8])
	}
	leaks = append(leaks, keyB64)

	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			out := fmt.Sprintf(verb, v)
			for _, leak := range leaks {
				if strings.Contains(out, leak) {
					t.Errorf("Sprintf(%q, %s) = %q, contains key material", verb, name, out)
				}
			}
		}
	}

	var buf bytes.Buffer
	handlers := []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)}
	for _, h := range handlers {
		slog.New(h).Info("loaded", "ring", r, "key", d, "master", masters[0], "file", kf,
			"file_key", kf.Keys[0])
	}
	js, _ := json.Marshal(r)
	buf.Write(js)
	for _, leak := range leaks {
		if strings.Contains(buf.String(), leak) {
			t.Errorf("log or JSON output %q contains key material", buf.String())
		}
	}
	if !strings.Contains(r.String(), r.ActiveID()) {
		t.Errorf("Ring.String() = %q, want it to name the active key", r.String())
	}
}
