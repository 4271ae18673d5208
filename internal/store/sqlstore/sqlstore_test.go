package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
	"github.com/mfad/mfad/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return sqltest.SQLite(t) })
}

func TestPostgres(t *testing.T) {
	sqltest.PostgresURL(t) // skip at once, not in every subtest, if there is no server
	storetest.Run(t, func(t *testing.T) store.Store { return sqltest.Postgres(t) })
}

// engine is a database engine as the tests below reach it.
type engine struct {
	name   string // as DB.Dialect reports it
	driver string // database/sql driver, for raw access
	url    func(t *testing.T) string
}

var engines = []engine{
	{"sqlite", "sqlite", func(t *testing.T) string {
		return filepath.Join(t.TempDir(), "mfad.db")
	}},
	{"postgres", "pgx", func(t *testing.T) string { return sqltest.PostgresURL(t) }},
}

func open(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawDB opens the engine's database without the store, for checks the
// store's API does not offer.
func rawDB(t *testing.T, e engine, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open(e.driver, url)
	if err != nil {
		t.Fatalf("sql.Open(%s) = %v", e.driver, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrate(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			versions, err := sqlstore.MigrationVersions(e.name)
			if err != nil || len(versions) == 0 {
				t.Fatalf("MigrationVersions(%s) = %v, %v", e.name, versions, err)
			}
			latest := versions[len(versions)-1]

			t.Run("idempotent", func(t *testing.T) {
				url := e.url(t)
				db := open(t, url)
				if db.Dialect() != e.name {
					t.Errorf("Dialect() = %q, want %q", db.Dialect(), e.name)
				}
				applied, err := db.Migrate(ctx)
				if err != nil || applied != nil {
					t.Errorf("Migrate() after Open = %v, %v, want nothing applied", applied, err)
				}
				err = db.Update(ctx, func(tx store.Tx) error {
					return tx.CreateUser(ctx, store.User{ID: "u1", Name: "alice"})
				})
				if err != nil {
					t.Fatalf("CreateUser() = %v", err)
				}
				db.Close()

				again := open(t, url)
				applied, err = again.Migrate(ctx)
				if err != nil || applied != nil {
					t.Errorf("Migrate() after reopening = %v, %v, want nothing applied", applied, err)
				}
				if v, err := again.SchemaVersion(ctx); err != nil || v != latest {
					t.Errorf("SchemaVersion() = %d, %v, want %d", v, err, latest)
				}
				if _, err := again.User(ctx, "alice"); err != nil {
					t.Errorf("User(alice) after reopening = %v, want nil", err)
				}
			})

			t.Run("concurrent", func(t *testing.T) {
				url := e.url(t)
				const n = 6
				var wg sync.WaitGroup
				var mu sync.Mutex
				var dbs []*sqlstore.DB
				for range n {
					wg.Go(func() {
						db, err := sqlstore.Open(ctx, url)
						if err != nil {
							t.Errorf("Open() = %v", err)
							return
						}
						mu.Lock()
						dbs = append(dbs, db)
						mu.Unlock()
						if applied, err := db.Migrate(ctx); err != nil || applied != nil {
							t.Errorf("Migrate() = %v, %v, want nothing left to apply", applied, err)
						}
					})
				}
				wg.Wait()
				for _, db := range dbs {
					db.Close()
				}

				rows, err := rawDB(t, e, url).QueryContext(ctx,
					`SELECT version FROM schema_migrations ORDER BY version`)
				if err != nil {
					t.Fatalf("query schema_migrations: %v", err)
				}
				defer rows.Close()
				var got []int
				for rows.Next() {
					var v int
					if err := rows.Scan(&v); err != nil {
						t.Fatal(err)
					}
					got = append(got, v)
				}
				if !slices.Equal(got, versions) {
					t.Errorf("schema_migrations = %v, want %v", got, versions)
				}
			})
		})
	}
}

// TestMigrateNotifications checks that migration 4 marks the events written
// before it as claimed, so that no notification goes out for them, and that
// existing users read back with nothing verified.
func TestMigrateNotifications(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			url := e.url(t)
			old, err := sqlstore.OpenAt(ctx, url, 3)
			if err != nil {
				t.Fatalf("OpenAt(3) = %v", err)
			}
			if v, err := old.SchemaVersion(ctx); err != nil || v != 3 {
				t.Fatalf("SchemaVersion() = %d, %v, want 3", v, err)
			}
			err = old.Update(ctx, func(tx store.Tx) error {
				_, err := tx.AppendOutbox(ctx, store.OutboxEvent{ID: "old1", Type: "user.locked",
					Time: time.UnixMilli(1_700_000_000_000)})
				if err != nil {
					return err
				}
				// An event without a time is claimed too.
				_, err = tx.AppendOutbox(ctx, store.OutboxEvent{ID: "old2", Type: "user.locked"})
				return err
			})
			if err != nil {
				t.Fatalf("AppendOutbox() at version 3 = %v", err)
			}
			raw := rawDB(t, e, url)
			if _, err := raw.ExecContext(ctx, `INSERT INTO users (id, name, email, phone,
					created_at, updated_at)
				VALUES ('u1', 'alice', 'alice@example.org', '+1 555 0100', 1, 1)`); err != nil {
				t.Fatalf("insert user at version 3: %v", err)
			}
			old.Close()

			db := open(t, url)
			claimAt := time.UnixMilli(1_800_000_000_000)
			err = db.Update(ctx, func(tx store.Tx) error {
				evs, err := tx.ClaimOutbox(ctx, claimAt, 10)
				if err == nil && len(evs) != 0 {
					t.Errorf("ClaimOutbox() after migrating = %d events, want none", len(evs))
				}
				return err
			})
			if err != nil {
				t.Fatalf("ClaimOutbox() = %v", err)
			}
			err = db.Update(ctx, func(tx store.Tx) error {
				_, err := tx.AppendOutbox(ctx, store.OutboxEvent{ID: "new1", Type: "user.locked",
					Time: claimAt})
				if err != nil {
					return err
				}
				evs, err := tx.ClaimOutbox(ctx, claimAt, 10)
				if err == nil && (len(evs) != 1 || evs[0].ID != "new1") {
					t.Errorf("ClaimOutbox() of a new event = %+v, want new1", evs)
				}
				return err
			})
			if err != nil {
				t.Fatalf("AppendOutbox, ClaimOutbox() = %v", err)
			}

			rows, err := raw.QueryContext(ctx, `SELECT id, claimed_at FROM outbox ORDER BY seq`)
			if err != nil {
				t.Fatalf("query outbox: %v", err)
			}
			defer rows.Close()
			got := make(map[string]int64)
			for rows.Next() {
				var id string
				var claimed int64
				if err := rows.Scan(&id, &claimed); err != nil {
					t.Fatal(err)
				}
				got[id] = claimed
			}
			want := map[string]int64{"old1": 1_700_000_000_000, "old2": 1,
				"new1": 1_800_000_000_000}
			if !maps.Equal(got, want) {
				t.Errorf("outbox claimed_at = %v, want %v", got, want)
			}

			u, err := db.UserByID(ctx, "u1")
			if err != nil || u.Email != "alice@example.org" || !u.EmailVerifiedAt.IsZero() ||
				!u.PhoneVerifiedAt.IsZero() {
				t.Errorf("UserByID(u1) after migrating = %+v, %v; want alice, unverified", u, err)
			}
		})
	}
}

// TestMigrateWebAuthn checks that migration 6 gives the sessions opened
// before it a last use at their creation.
func TestMigrateWebAuthn(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			url := e.url(t)
			old, err := sqlstore.OpenAt(ctx, url, 5)
			if err != nil {
				t.Fatalf("OpenAt(5) = %v", err)
			}
			if v, err := old.SchemaVersion(ctx); err != nil || v != 5 {
				t.Fatalf("SchemaVersion() = %d, %v, want 5", v, err)
			}
			err = old.Update(ctx, func(tx store.Tx) error {
				return tx.CreateUser(ctx, store.User{ID: "u1", Name: "alice"})
			})
			if err != nil {
				t.Fatalf("CreateUser() at version 5 = %v", err)
			}
			raw := rawDB(t, e, url)
			created := map[string]int64{"x1": 1_700_000_000_000, "x2": 1_700_000_060_000}
			for id, at := range created {
				_, err := raw.ExecContext(ctx, `INSERT INTO sessions (id, user_id, hash, key_id,
						factor, source, verified_at, created_at, expires_at)
					VALUES ($1, 'u1', $2, 'k1', 'totp', '192.0.2.7', $3, $3, $4)`,
					id, []byte("h"), at, at+15*60_000)
				if err != nil {
					t.Fatalf("insert session %s at version 5: %v", id, err)
				}
			}
			old.Close()

			db := open(t, url)
			for id, at := range created {
				s, err := db.Session(ctx, id)
				want := time.UnixMilli(at).UTC()
				if err != nil || !s.CreatedAt.Equal(want) || !s.LastSeenAt.Equal(want) {
					t.Errorf("Session(%s) after migrating = %+v, %v; want created and last "+
						"seen at %v", id, s, err, want)
				}
			}
		})
	}
}

// TestDeleteUserCascades checks that a user's security keys and ceremonies
// go with the user, and that a ceremony of no user stays.
func TestDeleteUserCascades(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			url := e.url(t)
			db := open(t, url)
			at := time.UnixMilli(1_700_000_000_000)
			err := db.Update(ctx, func(tx store.Tx) error {
				for _, u := range []store.User{{ID: "u1", Name: "alice"}, {ID: "u2", Name: "bob"}} {
					if err := tx.CreateUser(ctx, u); err != nil {
						return err
					}
				}
				for _, c := range []store.WebAuthnCredential{
					{ID: "k1", UserID: "u1", CredentialID: []byte{1}, Name: "key", CreatedAt: at},
					{ID: "k2", UserID: "u2", CredentialID: []byte{2}, Name: "key", CreatedAt: at},
				} {
					if err := tx.CreateWebAuthnCredential(ctx, c); err != nil {
						return err
					}
				}
				for _, c := range []store.Ceremony{{ID: "c1", UserID: "u1"}, {ID: "c2"},
					{ID: "c3", UserID: "u2"}} {
					c.Kind, c.CreatedAt, c.ExpiresAt = "login", at, at.Add(time.Hour)
					if err := tx.CreateCeremony(ctx, c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Update(create) = %v", err)
			}

			raw := rawDB(t, e, url)
			if e.name == "sqlite" {
				raw.SetMaxOpenConns(1) // keep the pragma's connection
				if _, err := raw.ExecContext(ctx, `PRAGMA foreign_keys = ON`); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := raw.ExecContext(ctx, `DELETE FROM users WHERE id = 'u1'`); err != nil {
				t.Fatalf("delete user: %v", err)
			}

			if cs, err := db.WebAuthnCredentials(ctx, "u1"); err != nil || len(cs) != 0 {
				t.Errorf("WebAuthnCredentials(u1) after deleting u1 = %v, %v, want none", cs, err)
			}
			if _, err := db.WebAuthnCredentialByCredentialID(ctx, []byte{2}); err != nil {
				t.Errorf("WebAuthnCredentialByCredentialID(u2's) = %v, want it kept", err)
			}
			wantUsed := map[string]bool{"c1": false, "c2": true, "c3": true}
			for id, want := range wantUsed {
				var ok bool
				err := db.Update(ctx, func(tx store.Tx) error {
					var err error
					_, ok, err = tx.UseCeremony(ctx, id, at.Add(time.Minute))
					return err
				})
				if err != nil || ok != want {
					t.Errorf("UseCeremony(%s) after deleting u1 = %v, %v, want %v",
						id, ok, err, want)
				}
			}
		})
	}
}

// TestSignCountOutOfRange checks that a signature counter outside 32 bits,
// which the schema refuses and only damage could store, fails the read
// rather than being compared as a counter.
func TestSignCountOutOfRange(t *testing.T) {
	ctx := t.Context()
	e := engines[0] // SQLite, which can be told to skip CHECK constraints
	url := e.url(t)
	db := open(t, url)
	err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
			return err
		}
		return tx.CreateWebAuthnCredential(ctx, store.WebAuthnCredential{ID: "k1", UserID: "u1",
			CredentialID: []byte{1}, Name: "key", CreatedAt: time.UnixMilli(1)})
	})
	if err != nil {
		t.Fatalf("Update(create) = %v", err)
	}
	raw := rawDB(t, e, url)
	raw.SetMaxOpenConns(1) // keep the pragma's connection
	if _, err := raw.ExecContext(ctx, `PRAGMA ignore_check_constraints = ON`); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{-1, 1 << 32} {
		if _, err := raw.ExecContext(ctx, `UPDATE webauthn_credentials SET sign_count = $1`,
			n); err != nil {
			t.Fatalf("set sign_count to %d: %v", n, err)
		}
		if cs, err := db.WebAuthnCredentials(ctx, "u1"); err == nil {
			t.Errorf("WebAuthnCredentials(u1) with sign_count %d = %+v, want an error", n, cs)
		}
		if c, err := db.WebAuthnCredentialByCredentialID(ctx, []byte{1}); err == nil {
			t.Errorf("WebAuthnCredentialByCredentialID() with sign_count %d = %+v, want an error",
				n, c)
		}
	}
}

func TestSQLiteFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "mfad.db")
	db := open(t, path)
	err := db.Update(ctx, func(tx store.Tx) error {
		return tx.CreateUser(ctx, store.User{ID: "u1", Name: "alice"})
	})
	if err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}

	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Errorf("Stat(%s) = %v", filepath.Base(name), err)
			continue
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("mode of %s = %v, want 0600", filepath.Base(name), mode)
		}
	}

	tests := []struct {
		name   string
		writer bool
		pragma string
		want   string
	}{
		{"WAL", true, "journal_mode", "wal"},
		{"every commit synced", true, "synchronous", "2"}, // FULL
		{"foreign keys", true, "foreign_keys", "1"},
		{"busy timeout", true, "busy_timeout", "10000"},
		{"writer writes", true, "query_only", "0"},
		{"readers see WAL", false, "journal_mode", "wal"},
		{"readers only read", false, "query_only", "1"},
		{"readers wait", false, "busy_timeout", "10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Pragma(ctx, tt.writer, tt.pragma)
			if err != nil || got != tt.want {
				t.Errorf("PRAGMA %s (writer %v) = %q, %v, want %q",
					tt.pragma, tt.writer, got, err, tt.want)
			}
		})
	}
}

func TestSQLiteExistingFileKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mfad.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	open(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o640 {
		t.Errorf("mode of an existing file = %v, want it unchanged (0640)", mode)
	}
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		url  string
		want error // nil: opens
	}{
		{"path", filepath.Join(dir, "a.db"), nil},
		{"sqlite: prefix", "sqlite:" + filepath.Join(dir, "b.db"), nil},
		{"file: prefix", "file:" + filepath.Join(dir, "c.db"), nil},
		{"sqlite:// prefix", "sqlite://" + filepath.Join(dir, "d.db"), nil},
		{"empty", "", sqlstore.ErrUnsupportedURL},
		{"empty path", "sqlite:", sqlstore.ErrUnsupportedURL},
		{"other scheme", "mysql://root@localhost/mfad", sqlstore.ErrUnsupportedURL},
		{"in memory", ":memory:", sqlstore.ErrUnsupportedURL},
		{"query", filepath.Join(dir, "e.db") + "?mode=ro", sqlstore.ErrUnsupportedURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlstore.Open(t.Context(), tt.url)
			if err == nil {
				db.Close()
			}
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Open(%q) = %v, want %v", tt.url, err, tt.want)
			}
		})
	}

	t.Run("missing directory", func(t *testing.T) {
		url := filepath.Join(dir, "missing", "f.db")
		if db, err := sqlstore.Open(t.Context(), url); err == nil {
			db.Close()
			t.Errorf("Open(%q) = nil, want an error", url)
		}
	})
}

// TestTwoHandlesOneFile stands in for the server and the CLI writing to one
// SQLite file at once: each handle has its own writing connection, so they
// meet in SQLite's lock, under busy_timeout.
func TestTwoHandlesOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "mfad.db")
	handles := []*sqlstore.DB{open(t, path), open(t, path)}
	const perGoroutine = 15
	var wg sync.WaitGroup
	for h, db := range handles {
		for g := range 3 {
			wg.Go(func() {
				for i := range perGoroutine {
					id := fmt.Sprintf("h%dg%di%d", h, g, i)
					err := db.Update(ctx, func(tx store.Tx) error {
						if err := tx.CreateUser(ctx, store.User{ID: id, Name: id}); err != nil {
							return err
						}
						_, err := tx.AppendAudit(ctx, audit.Event{ID: id, Action: "user.create"})
						return err
					})
					if err != nil {
						t.Errorf("Update(create %s) = %v", id, err)
					}
				}
			})
		}
	}
	wg.Wait()

	users, err := handles[0].ListUsers(ctx, store.UserQuery{Limit: 1000})
	if err != nil || len(users) != 2*3*perGoroutine {
		t.Errorf("ListUsers() = %d users, %v, want %d", len(users), err, 2*3*perGoroutine)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := t.Context()
	db := sqltest.SQLite(t)
	err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
			return err
		}
		return tx.CreateToken(ctx, store.Token{ID: "t1", Name: "x", Role: "admin"})
	})
	if err != nil {
		t.Fatalf("Update() = %v", err)
	}

	good := store.LockRule{Threshold: 5, Duration: time.Minute, MaxDuration: time.Hour,
		MaxFailures: 100}
	rules := []struct {
		name string
		edit func(r *store.LockRule)
	}{
		{"zero threshold", func(r *store.LockRule) { r.Threshold = 0 }},
		{"zero duration", func(r *store.LockRule) { r.Duration = 0 }},
		{"max below duration", func(r *store.LockRule) { r.MaxDuration = time.Second }},
		{"zero max failures", func(r *store.LockRule) { r.MaxFailures = 0 }},
	}
	for _, tt := range rules {
		t.Run(tt.name, func(t *testing.T) {
			rule := good
			tt.edit(&rule)
			_, ok, err := db.ReserveAttempt(ctx, "u1", time.UnixMilli(1), rule)
			if ok || !errors.Is(err, sqlstore.ErrInvalidLockRule) {
				t.Errorf("ReserveAttempt(%+v) = %v, %v, want ErrInvalidLockRule", rule, ok, err)
			}
		})
	}
	if u, err := db.User(ctx, "alice"); err != nil || u.Lock.Failures != 0 {
		t.Errorf("failures after invalid rules = %d, %v, want 0", u.Lock.Failures, err)
	}

	t.Run("revoke at the zero time", func(t *testing.T) {
		err := db.Update(ctx, func(tx store.Tx) error {
			return tx.RevokeToken(ctx, "t1", time.Time{})
		})
		if !errors.Is(err, sqlstore.ErrZeroTime) {
			t.Errorf("RevokeToken(t1, zero) = %v, want ErrZeroTime", err)
		}
	})

	calls := []struct {
		name string
		call func(ctx context.Context, tx store.Tx) error
		want error
	}{
		{"pass request without expiry", func(ctx context.Context, tx store.Tx) error {
			return tx.CreatePassRequest(ctx, store.PassRequest{ID: "r0", UserID: "u1",
				Status: store.PassRequestPending})
		}, sqlstore.ErrZeroTime},
		{"decision to stay pending", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.DecidePassRequest(ctx, "r1", store.PassDecision{
				Status: store.PassRequestPending, At: time.UnixMilli(1)})
			return err
		}, sqlstore.ErrInvalidDecision},
		{"decision at the zero time", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.DecidePassRequest(ctx, "r1", store.PassDecision{
				Status: store.PassRequestApproved})
			return err
		}, sqlstore.ErrZeroTime},
		{"hit in the zero window", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Hit(ctx, "k1", time.Time{})
			return err
		}, sqlstore.ErrZeroTime},
		{"revoke sessions at the zero time", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.RevokeUserSessions(ctx, "u1", time.Time{})
			return err
		}, sqlstore.ErrZeroTime},
		{"claim outbox at the zero time", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.ClaimOutbox(ctx, time.Time{}, 10)
			return err
		}, sqlstore.ErrZeroTime},
		{"claim deliveries at the zero time", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.ClaimDeliveries(ctx, "w1", time.Time{}, time.UnixMilli(2), 10)
			return err
		}, sqlstore.ErrZeroTime},
		{"claim deliveries without a lease", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.ClaimDeliveries(ctx, "w1", time.UnixMilli(1), time.Time{}, 10)
			return err
		}, sqlstore.ErrZeroTime},
		{"claim deliveries without an owner", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.ClaimDeliveries(ctx, "", time.UnixMilli(1), time.UnixMilli(2), 10)
			return err
		}, sqlstore.ErrInvalidLease},
		{"claim deliveries for no time", func(ctx context.Context, tx store.Tx) error {
			now := time.UnixMilli(2)
			_, err := tx.ClaimDeliveries(ctx, "w1", now, now.Add(time.Microsecond), 10)
			return err
		}, sqlstore.ErrInvalidLease},
		{"challenge without expiry", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateChallenge(ctx, store.Challenge{ID: "c1", UserID: "u1"})
		}, sqlstore.ErrZeroTime},
		{"void challenges at the zero time", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.VoidChallenges(ctx, "u1", store.ChannelEmail, "verify", time.Time{})
			return err
		}, sqlstore.ErrZeroTime},
		{"use a challenge at the zero time", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.UseChallenge(ctx, "c1", time.Time{})
			return err
		}, sqlstore.ErrZeroTime},
		{"ceremony without expiry", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateCeremony(ctx, store.Ceremony{ID: "cer1", UserID: "u1",
				Kind: "login"})
		}, sqlstore.ErrZeroTime},
		{"use a ceremony at the zero time", func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.UseCeremony(ctx, "cer1", time.Time{})
			return err
		}, sqlstore.ErrZeroTime},
		{"webauthn credential without credential ID", func(ctx context.Context,
			tx store.Tx) error {
			return tx.CreateWebAuthnCredential(ctx, store.WebAuthnCredential{ID: "k1",
				UserID: "u1", Name: "key"})
		}, sqlstore.ErrNoCredentialID},
		{"use a webauthn credential at the zero time", func(ctx context.Context,
			tx store.Tx) error {
			_, err := tx.UseWebAuthnCredential(ctx, "k1", 1, nil, time.Time{})
			return err
		}, sqlstore.ErrZeroTime},
		{"rename a factor of another kind", func(ctx context.Context, tx store.Tx) error {
			return tx.RenameFactor(ctx, "u1", "sms", "c1", "x")
		}, sqlstore.ErrInvalidFactor},
		{"touch a session at the zero time", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.TouchSession(ctx, "x1", time.Time{}, time.Minute)
			return err
		}, sqlstore.ErrZeroTime},
		{"touch a session every negative interval", func(ctx context.Context,
			tx store.Tx) error {
			_, err := tx.TouchSession(ctx, "x1", time.UnixMilli(1), -time.Minute)
			return err
		}, sqlstore.ErrNegativeInterval},
		{"destination of another channel", func(ctx context.Context, tx store.Tx) error {
			return tx.SetDestination(ctx, "u1", store.ChannelWebhook, "w1", time.UnixMilli(1))
		}, sqlstore.ErrInvalidChannel},
		{"webhook without events", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateWebhook(ctx, store.Webhook{ID: "w1", URL: "https://x.example"})
		}, sqlstore.ErrNoEvents},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(ctx, func(tx store.Tx) error { return tt.call(ctx, tx) })
			if !errors.Is(err, tt.want) {
				t.Errorf("Update(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}

	t.Run("link out of sequence", func(t *testing.T) {
		err := db.Update(ctx, func(tx store.Tx) error {
			_, err := tx.AppendAudit(ctx, audit.Event{ID: "e1", Action: "verify"})
			return err
		})
		if err != nil {
			t.Fatalf("AppendAudit() = %v", err)
		}
		skip := func(prev audit.Link, ev audit.Event) (audit.Link, error) {
			return audit.Link{Seq: prev.Seq + 2, MAC: []byte{1}, KeyID: "k"}, nil
		}
		n, err := db.SealAudit(ctx, 10, skip)
		if n != 0 || !errors.Is(err, sqlstore.ErrChainGap) {
			t.Errorf("SealAudit(skipping) = %d, %v, want 0, ErrChainGap", n, err)
		}
		evs, err := db.ListAudit(ctx, store.AuditQuery{})
		if err != nil || len(evs) != 1 || evs[0].Link != nil {
			t.Errorf("ListAudit() = %v, %v, want one unsealed event", evs, err)
		}
	})
}

// TestViolation checks that each engine's constraint errors are recognised,
// for the statements that can still raise them.
func TestViolation(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			url := e.url(t)
			db := open(t, url)
			raw := rawDB(t, e, url)
			if e.name == "sqlite" {
				if _, err := raw.ExecContext(ctx, `PRAGMA foreign_keys = ON`); err != nil {
					t.Fatal(err)
				}
				raw.SetMaxOpenConns(1) // keep the pragma's connection
			}
			insert := `INSERT INTO users (id, name, created_at, updated_at) VALUES ($1, $2, 0, 0)`
			if _, err := raw.ExecContext(ctx, insert, "u1", "alice"); err != nil {
				t.Fatal(err)
			}

			tests := []struct {
				name  string
				query string
				args  []any
				want  string
			}{
				{"duplicate primary key", insert, []any{"u1", "bob"}, "unique"},
				{"duplicate unique", insert, []any{"u2", "alice"}, "unique"},
				{"missing parent", `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`,
					[]any{"u9", "admin"}, "foreign key"},
				{"not a constraint", `SELECT * FROM no_such_table`, nil, ""},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					_, err := raw.ExecContext(ctx, tt.query, tt.args...)
					if err == nil {
						t.Fatalf("Exec(%s) = nil, want an error", tt.query)
					}
					if got := db.Violation(err); got != tt.want {
						t.Errorf("Violation(%v) = %q, want %q", err, got, tt.want)
					}
				})
			}
		})
	}
}

func TestPing(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			db := open(t, e.url(t))
			if err := db.Ping(t.Context()); err != nil {
				t.Errorf("Ping() = %v, want nil", err)
			}
			db.Close()
			if err := db.Ping(context.Background()); err == nil {
				t.Errorf("Ping() after Close = nil, want an error")
			}
		})
	}
}
