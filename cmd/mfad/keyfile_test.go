package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLostKeyFile checks that a data folder whose key file is gone is not
// silently given a new key: the command fails, says what to do, and leaves
// no new key file behind.
func TestLostKeyFile(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")
	keyFile := filepath.Join(f.data, "keyring.json")
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}

	r := f.run(nil, "user", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "key file does not match the database") ||
		!strings.Contains(r.stderr, "copy the key file of this database") {
		t.Fatalf("user list without the key file = exit %d, stderr %q; want 1 and advice", r.code, r.stderr)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("a new key file was left at %s (stat error %v)", keyFile, err)
	}
}
