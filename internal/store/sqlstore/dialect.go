package sqlstore

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds everything that differs between the engines. The rest of
// the package runs the same SQL on both.
type dialect struct {
	name string

	// migrations is the directory of migrationsFS holding this engine's
	// numbered schema files.
	migrations string

	// migrationLock runs first in every migration transaction so that
	// replicas starting together apply each migration once. Empty where the
	// transaction itself is already exclusive (SQLite's BEGIN IMMEDIATE).
	migrationLock string

	// selectHead reads the audit chain head in SealAudit. On PostgreSQL it
	// locks the row, which keeps one sealer at a time across processes; on
	// SQLite the IMMEDIATE transaction already does.
	selectHead string

	// skipLocked ends the inner SELECT of the claim statements. On
	// PostgreSQL it makes a claimer pass over rows another claimer holds,
	// rather than wait for them and, locking in another order, deadlock; on
	// SQLite there is one writer, and nothing to skip.
	skipLocked string

	// violation classifies a constraint error from the driver.
	violation func(err error) violation
}

// violation is the kind of constraint a statement broke.
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
)

var sqliteDialect = &dialect{
	name:       "sqlite",
	migrations: "migrations/sqlite",
	selectHead: `SELECT seq, mac, key_id FROM audit_chain WHERE id = 1`,
	violation:  sqliteViolation,
}

var postgresDialect = &dialect{
	name:       "postgres",
	migrations: "migrations/postgres",
	// The key is an arbitrary constant that names "mfad migrations"; the
	// lock is released when the transaction ends.
	migrationLock: `SELECT pg_advisory_xact_lock(7301208457716311119)`,
	selectHead:    `SELECT seq, mac, key_id FROM audit_chain WHERE id = 1 FOR UPDATE`,
	skipLocked:    ` FOR UPDATE SKIP LOCKED`,
	violation:     postgresViolation,
}

func sqliteViolation(err error) violation {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return noViolation
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return uniqueViolation
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return foreignKeyViolation
	}
	return noViolation
}

// sqliteBusy reports whether err is SQLITE_BUSY, in any of its extended
// forms.
func sqliteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func postgresViolation(err error) violation {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return noViolation
	}
	switch pe.Code {
	case "23505": // unique_violation
		return uniqueViolation
	case "23503": // foreign_key_violation
		return foreignKeyViolation
	}
	return noViolation
}
