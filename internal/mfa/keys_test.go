package mfa

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mfad/mfad/internal/keyring"
)

func TestCheckKeys(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		if err := f.svc.CheckKeys(ctx); err != nil {
			t.Fatalf("CheckKeys on a new database = %v", err)
		}
		if err := f.svc.CheckKeys(ctx); err != nil {
			t.Fatalf("CheckKeys again = %v", err)
		}

		// Another key file on the same database: refused.
		other, err := keyring.Create(filepath.Join(t.TempDir(), "other.json"), rand.Reader, t0)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := New(Config{Store: f.st, Keys: other, Clock: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.CheckKeys(ctx); !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("CheckKeys with another key file = %v, want ErrKeyMismatch", err)
		}

		// A key file with the anchor's ID but other key bytes: refused.
		forged := forgeKeyFile(t, f.keyFile)
		ring, err := keyring.Load(forged)
		if err != nil {
			t.Fatal(err)
		}
		svc, _ = New(Config{Store: f.st, Keys: ring, Clock: f.clock.Now})
		if err := svc.CheckKeys(ctx); !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("CheckKeys with a forged key of the same ID = %v, want ErrKeyMismatch", err)
		}

		// After a rotation the anchor is an old key, still in the file.
		if _, err := keyring.Rotate(f.keyFile, rand.Reader, t0); err != nil {
			t.Fatal(err)
		}
		if err := f.ring.Reload(); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.CheckKeys(ctx); err != nil {
			t.Errorf("CheckKeys after rotation = %v", err)
		}
	})
}

// forgeKeyFile copies a key file with every key's bytes replaced.
func forgeKeyFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc["keys"].([]any) {
		k.(map[string]any)["key"] = base64.StdEncoding.EncodeToString(make([]byte, 32))
	}
	out, _ := json.Marshal(doc)
	forged := filepath.Join(t.TempDir(), "forged.json")
	if err := os.WriteFile(forged, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return forged
}
