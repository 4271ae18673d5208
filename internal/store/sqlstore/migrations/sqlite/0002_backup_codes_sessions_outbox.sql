-- mfad schema, version 2, SQLite dialect: backup codes, self-service
-- sessions and the event outbox.

-- One set of backup codes per user. Replacing a set deletes the old row,
-- and its codes with it, in the transaction that inserts the new one.
CREATE TABLE backup_code_sets (
	user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	id         TEXT NOT NULL UNIQUE,
	total      INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL DEFAULT 0,
	created_by TEXT NOT NULL
);

-- Each code is kept only as a keyed hash, bound to its user.
CREATE TABLE backup_codes (
	set_id     TEXT NOT NULL REFERENCES backup_code_sets (id) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	hash       BLOB NOT NULL,
	key_id     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (set_id, position)
);

CREATE TABLE sessions (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash        BLOB NOT NULL,
	key_id      TEXT NOT NULL,
	factor      TEXT NOT NULL,
	source      TEXT NOT NULL,
	verified_at INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	revoked_at  INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Events for delivery (email, webhooks), written in the transaction of the
-- change they report. Readers keep their own position by seq.
CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	type       TEXT NOT NULL,
	user_id    TEXT NOT NULL, -- '' when the event concerns no user
	subject    TEXT NOT NULL, -- the user's name at the time
	time_ms    INTEGER NOT NULL,
	data       TEXT NOT NULL  -- JSON object
);

CREATE INDEX outbox_user ON outbox (user_id, seq);
