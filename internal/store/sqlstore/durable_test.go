package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mfad/mfad/internal/store/sqlstore"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// TestPostgresCommitsAreDurable checks that every connection waits for its
// WAL flush on commit, whatever the server's default, and that a URL asking
// for less is refused.
func TestPostgresCommitsAreDurable(t *testing.T) {
	ctx := context.Background()
	url := sqltest.PostgresURL(t)
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Setting(ctx, "synchronous_commit"); err != nil || v != "on" {
		t.Errorf("synchronous_commit = %q, %v, want on", v, err)
	}

	sep := "&"
	if !strings.Contains(url, "?") {
		sep = "?"
	}
	if db, err := sqlstore.Open(ctx, url+sep+"synchronous_commit=off"); err == nil {
		db.Close()
		t.Error("Open with synchronous_commit=off succeeded, want refusal")
	} else if !strings.Contains(err.Error(), "durable") {
		t.Errorf("Open with synchronous_commit=off = %v, want it to say why", err)
	}

	strict, err := sqlstore.Open(ctx, url+sep+"synchronous_commit=remote_apply")
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	if v, _ := strict.Setting(ctx, "synchronous_commit"); v != "remote_apply" {
		t.Errorf("synchronous_commit = %q, want remote_apply kept from the URL", v)
	}
}
