// Package sqltest gives tests of any package a fresh, migrated sqlstore.DB
// on SQLite or on PostgreSQL, removed again when the test ends.
//
// PostgreSQL tests use the server named by the environment variable
// MFAD_TEST_POSTGRES (default DefaultPostgresURL). Each test gets its own
// schema, so tests may run in parallel against one database. When no server
// answers, the test is skipped, unless CI is "true": CI always has one.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/store/sqlstore"
)

// DefaultPostgresURL is the server PostgresURL uses when MFAD_TEST_POSTGRES
// is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// connectTimeout bounds how long PostgresURL waits for a server to answer.
const connectTimeout = 3 * time.Second

// SQLite opens a new database file in a temporary directory and closes it
// when the test ends.
func SQLite(t testing.TB, opts ...sqlstore.Option) *sqlstore.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mfad.db")
	db, err := sqlstore.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("sqlstore.Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Postgres opens a database in a new PostgreSQL schema (see PostgresURL)
// and closes it when the test ends.
func Postgres(t testing.TB, opts ...sqlstore.Option) *sqlstore.DB {
	t.Helper()
	dbURL := PostgresURL(t)
	db, err := sqlstore.Open(context.Background(), dbURL, opts...)
	if err != nil {
		t.Fatalf("sqlstore.Open(postgres) = %v", err)
	}
	// Registered after PostgresURL's cleanup, so it runs before the schema
	// is dropped.
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL creates an empty schema with a random name on the test server
// and returns a URL whose connections all use it (through the search_path
// run-time parameter, which pgx passes to the server). The schema is
// dropped, with everything in it, when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("MFAD_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("MFAD_TEST_POSTGRES must be a postgres:// URL")
	}

	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", u.Redacted(), err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		unreachable(t, u.Redacted(), err)
		return ""
	}

	schema := "mfadtest_" + randomHex(t, 8)
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		_, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// unreachable skips the test, or fails it on CI.
func unreachable(t testing.TB, where string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL not reachable at %s: %v", where, err)
	}
	t.Skipf("PostgreSQL not reachable at %s: set MFAD_TEST_POSTGRES (%v)", where, err)
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("rand.Read: %v", err)
	}
	return hex.EncodeToString(b)
}
