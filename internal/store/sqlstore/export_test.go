package sqlstore

import (
	"context"
	"strings"
	"time"
)

// MigrationVersions returns the versions of the migrations for dialect.
func MigrationVersions(dialect string) ([]int, error) {
	d := sqliteDialect
	if dialect == postgresDialect.name {
		d = postgresDialect
	}
	ms, err := loadMigrations(d)
	if err != nil {
		return nil, err
	}
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.version)
	}
	return vs, nil
}

// Pragma returns the value of a SQLite pragma on the writing or on a
// reading connection.
func (db *DB) Pragma(ctx context.Context, writer bool, name string) (string, error) {
	pool := db.rd
	if writer {
		pool = db.wr
	}
	var v string
	err := pool.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// Violation names the constraint err broke: "unique", "foreign key" or "".
func (db *DB) Violation(err error) string {
	switch db.d.violation(err) {
	case uniqueViolation:
		return "unique"
	case foreignKeyViolation:
		return "foreign key"
	}
	return ""
}

// Setting returns the value of a PostgreSQL run-time setting on a pooled
// connection.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := db.wr.QueryRowContext(ctx, "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}

// OpenAt opens the database at dbURL, as Open does, but applies the
// migrations only up to version, so that tests can write data in an older
// schema and then let Open migrate it.
func OpenAt(ctx context.Context, dbURL string, version int) (*DB, error) {
	cfg := config{busyTimeout: 10 * time.Second, clock: time.Now}
	var db *DB
	var err error
	if strings.HasPrefix(dbURL, "postgres://") {
		db, err = openPostgres(ctx, dbURL, cfg)
	} else {
		db, err = openSQLite(ctx, dbURL, cfg)
	}
	if err != nil {
		return nil, err
	}
	ms, err := loadMigrations(db.d)
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, m := range ms {
		if m.version > version {
			break
		}
		if _, err := db.apply(ctx, m); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}
