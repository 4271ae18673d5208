// Package sqlstore implements store.Store over database/sql for two engines:
// SQLite (modernc.org/sqlite, the embedded default) and PostgreSQL (pgx
// through its database/sql driver, for several replicas sharing one
// database).
//
// Both engines run the same SQL text with $N placeholders. What differs is
// kept small and explicit in a dialect value: the migration files, the lock
// the sealer takes on the chain head, the migration lock and how constraint
// errors are recognised.
//
// On SQLite every write goes through a pool of exactly one connection whose
// transactions begin IMMEDIATE, so writers in one process queue in Go rather
// than fail with SQLITE_BUSY, and reads go through a separate pool of
// query-only connections that WAL mode lets run beside the writer. Other
// processes on the same file wait for the write lock under busy_timeout.
// Every commit is synced (synchronous FULL): an acknowledged change is
// durable.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/mfad/mfad/internal/store"
)

var _ store.Store = (*DB)(nil)

// ErrUnsupportedURL is returned by Open for a database URL it cannot serve.
var ErrUnsupportedURL = errors.New("sqlstore: unsupported database url")

// DB is a store.Store on SQLite or PostgreSQL. It is safe for concurrent use.
type DB struct {
	reader // reads outside a transaction, on rd

	d     *dialect
	wr    *sql.DB // the pool that writes; on SQLite it has one connection
	rd    *sql.DB // the pool that reads; the same as wr on PostgreSQL
	clock func() time.Time
}

type config struct {
	maxOpenConns int
	busyTimeout  time.Duration
	clock        func() time.Time
}

// Option changes how Open sets up the database.
type Option func(*config)

// WithMaxOpenConns sets the size of the connection pool: all connections on
// PostgreSQL (default 20), the reading connections on SQLite (default the
// number of CPUs, at least 4). SQLite always has exactly one writing
// connection.
func WithMaxOpenConns(n int) Option {
	return func(c *config) { c.maxOpenConns = n }
}

// WithBusyTimeout sets how long a SQLite connection waits for a lock held by
// another process before it gives up (default 10s). PostgreSQL ignores it.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithClock sets the clock used to stamp applied migrations (default
// time.Now). Nothing else in the store reads a clock: callers pass times.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// Open opens the database at dbURL and applies any pending migrations.
//
// dbURL is a postgres:// or postgresql:// URL for PostgreSQL, or for SQLite
// a file path, optionally prefixed by "sqlite:" or "file:". A SQLite file
// that does not exist is created with mode 0600, since it holds hashes and
// sealed secrets; its directory must exist.
func Open(ctx context.Context, dbURL string, opts ...Option) (*DB, error) {
	cfg := config{busyTimeout: 10 * time.Second, clock: time.Now}
	for _, o := range opts {
		o(&cfg)
	}

	var db *DB
	var err error
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		db, err = openPostgres(ctx, dbURL, cfg)
	default:
		path, perr := sqlitePath(dbURL)
		if perr != nil {
			return nil, perr
		}
		db, err = openSQLite(ctx, path, cfg)
	}
	if err != nil {
		return nil, err
	}

	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// sqlitePath extracts a file path from a SQLite URL.
func sqlitePath(dbURL string) (string, error) {
	path := dbURL
	for _, prefix := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if p, ok := strings.CutPrefix(dbURL, prefix); ok {
			path = p
			break
		}
	}
	switch {
	case path == "":
		return "", fmt.Errorf("empty sqlite path: %w", ErrUnsupportedURL)
	case strings.Contains(path, "://"):
		return "", fmt.Errorf("scheme of %q: %w", redact(dbURL), ErrUnsupportedURL)
	case strings.ContainsAny(path, "?#"):
		// The driver would read anything after '?' as its own parameters.
		return "", fmt.Errorf("sqlite path %q has a query: %w", path, ErrUnsupportedURL)
	case path == ":memory:":
		// Two pools would each see a different empty database.
		return "", fmt.Errorf("in-memory sqlite: %w", ErrUnsupportedURL)
	}
	return path, nil
}

// redact drops any password from a URL for use in an error message.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

func openPostgres(ctx context.Context, dbURL string, cfg config) (*DB, error) {
	conn, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redact(dbURL), err)
	}
	// Acknowledged means durable: every commit waits for its WAL flush,
	// whatever the server's default. A stronger setting in the URL (such as
	// remote_apply for synchronous replicas) is kept; "off" is refused.
	switch conn.RuntimeParams["synchronous_commit"] {
	case "":
		conn.RuntimeParams["synchronous_commit"] = "on"
	case "off", "false", "0", "no":
		return nil, fmt.Errorf("open %s: synchronous_commit=off would acknowledge "+
			"verifications before they are durable", redact(dbURL))
	}
	pool := stdlib.OpenDB(*conn)
	n := cfg.maxOpenConns
	if n <= 0 {
		n = 20
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)

	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect %s: %w", redact(dbURL), err)
	}
	return newDB(postgresDialect, pool, pool, cfg), nil
}

func openSQLite(ctx context.Context, path string, cfg config) (*DB, error) {
	if err := createPrivate(path); err != nil {
		return nil, err
	}

	busy := strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)
	// The driver runs busy_timeout first, so that the other pragmas wait
	// for locks too. synchronous and foreign_keys are per connection. FULL
	// syncs the WAL on every commit: acknowledged means durable.
	common := "?_pragma=busy_timeout(" + busy + ")&_pragma=foreign_keys(1)"
	wr, err := sql.Open("sqlite", path+common+"&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One writing connection: Go queues writers instead of SQLite refusing
	// them, and BEGIN IMMEDIATE takes the write lock before the first read,
	// so a transaction never fails to upgrade its lock.
	wr.SetMaxOpenConns(1)
	wr.SetMaxIdleConns(1)
	wr.SetConnMaxLifetime(0)
	wr.SetConnMaxIdleTime(0)
	if err := enableWAL(ctx, wr, cfg.busyTimeout); err != nil {
		wr.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}

	rd, err := sql.Open("sqlite", path+common+"&_pragma=query_only(1)")
	if err != nil {
		wr.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	n := cfg.maxOpenConns
	if n <= 0 {
		n = max(4, runtime.NumCPU())
	}
	rd.SetMaxOpenConns(n)
	rd.SetMaxIdleConns(n)
	if err := rd.PingContext(ctx); err != nil {
		wr.Close()
		rd.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return newDB(sqliteDialect, wr, rd, cfg), nil
}

// enableWAL puts the database in WAL mode, which then stays with the file,
// so that readers and the writer do not block each other.
//
// Changing the mode needs an exclusive lock, and SQLite reports SQLITE_BUSY
// at once, without waiting under busy_timeout, when another connection gets
// in the way, as when several processes first open a new file together. So
// retry, for about as long as busy_timeout would have waited.
func enableWAL(ctx context.Context, db *sql.DB, wait time.Duration) error {
	const pause = 20 * time.Millisecond
	for tries := wait / pause; ; tries-- {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("journal mode is %q, not wal", mode)
			}
			return nil
		}
		if !sqliteBusy(err) || tries <= 0 {
			return fmt.Errorf("enable wal: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// createPrivate creates an empty file at path with mode 0600 unless a file
// is already there, so that SQLite opens a file only its owner can read. The
// -wal and -shm files SQLite creates beside it take the same mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return nil
}

func newDB(d *dialect, wr, rd *sql.DB, cfg config) *DB {
	return &DB{reader: reader{q: rd, d: d}, d: d, wr: wr, rd: rd, clock: cfg.clock}
}

// Dialect names the engine: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.wr.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if db.rd != db.wr {
		if err := db.rd.PingContext(ctx); err != nil {
			return fmt.Errorf("ping readers: %w", err)
		}
	}
	return nil
}

// Close releases the database.
func (db *DB) Close() error {
	err := db.wr.Close()
	if db.rd != db.wr {
		err = errors.Join(err, db.rd.Close())
	}
	return err
}

// Update runs fn in a transaction on the writing pool and commits it if fn
// returns nil. If fn fails or panics, the transaction is rolled back (and
// the panic goes on). On SQLite Update holds the only writing connection
// while fn runs: fn must use tx, not db, for writes.
func (db *DB) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	sqlTx, err := db.wr.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		// Runs on error and on panic alike; the panic then unwinds further.
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()

	if err := fn(&txn{reader: reader{q: sqlTx, d: db.d}}); err != nil {
		return err
	}
	committed = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// querier is what reads and writes need from a pool or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements store.Reader on a pool or a transaction.
type reader struct {
	q querier
	d *dialect
}

// txn implements store.Tx.
type txn struct {
	reader
}

var _ store.Tx = (*txn)(nil)

// toMS converts a time to Unix milliseconds, the zero time to 0.
func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts Unix milliseconds to a UTC time, 0 to the zero time.
func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// blob returns b, or an empty slice for nil: byte columns are NOT NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// noEmpty returns nil for an empty slice, so that what was stored as nil
// reads back as nil.
func noEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullString maps "" to NULL.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// defaultLimit returns n, or 100 when n is not positive.
func defaultLimit(n int) int {
	if n <= 0 {
		return 100
	}
	return n
}

// affected returns the rows a statement changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}
