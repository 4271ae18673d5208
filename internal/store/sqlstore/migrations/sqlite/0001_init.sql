-- mfad schema, version 1, SQLite dialect.
-- Times are Unix milliseconds, 0 for "never". IDs are chosen by the caller.
-- Booleans are INTEGER 0 or 1. TEXT compares bytewise (BINARY), which the
-- PostgreSQL schema matches with COLLATE "C" so both engines order alike.

CREATE TABLE users (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL DEFAULT '',
	email        TEXT NOT NULL DEFAULT '',
	phone        TEXT NOT NULL DEFAULT '',
	disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0,
	next_lock_ms INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);

CREATE TABLE user_roles (
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role    TEXT NOT NULL,
	PRIMARY KEY (user_id, role)
);

CREATE TABLE groups (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
	group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	added_at INTEGER NOT NULL,
	PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE totp_credentials (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	algorithm    TEXT NOT NULL,
	digits       INTEGER NOT NULL,
	period       INTEGER NOT NULL,
	secret       BLOB NOT NULL,
	key_id       TEXT NOT NULL,
	confirmed    INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
	last_step    INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	confirmed_at INTEGER NOT NULL DEFAULT 0,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	UNIQUE (user_id, name)
);

CREATE INDEX totp_credentials_key ON totp_credentials (key_id);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	user_id    TEXT REFERENCES users (id) ON DELETE CASCADE, -- NULL for a service token
	hash       BLOB NOT NULL,
	key_id     TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);
CREATE INDEX api_tokens_created ON api_tokens (created_at, id);

CREATE TABLE policies (
	scope      TEXT PRIMARY KEY,
	doc        BLOB NOT NULL,
	updated_at INTEGER NOT NULL,
	updated_by TEXT NOT NULL
);

-- AUTOINCREMENT keeps seq from ever being reused, even after the newest
-- row is deleted, so a seq names one event forever.
CREATE TABLE audit_events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT NOT NULL UNIQUE,
	time_ms     INTEGER NOT NULL,
	action      TEXT NOT NULL,
	outcome     TEXT NOT NULL,
	reason      TEXT NOT NULL,
	actor       TEXT NOT NULL,
	subject     TEXT NOT NULL,
	source      TEXT NOT NULL,
	front_door  TEXT NOT NULL,
	request_id  TEXT NOT NULL,
	factor      TEXT NOT NULL,
	detail      TEXT, -- JSON object, NULL for none
	key_id      TEXT NOT NULL,
	mac         BLOB NOT NULL,
	link_seq    INTEGER UNIQUE, -- NULL until sealed
	link_mac    BLOB,
	link_key_id TEXT,
	CHECK ((link_seq IS NULL) = (link_mac IS NULL)),
	CHECK ((link_seq IS NULL) = (link_key_id IS NULL))
);

CREATE INDEX audit_events_unsealed ON audit_events (seq) WHERE link_seq IS NULL;
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_time ON audit_events (time_ms);

-- The head of the audit chain: the last link the sealer wrote. One row.
CREATE TABLE audit_chain (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	seq    INTEGER NOT NULL,
	mac    BLOB NOT NULL,
	key_id TEXT NOT NULL
);

INSERT INTO audit_chain (id, seq, mac, key_id) VALUES (1, 0, X'', '');

-- The key anchor: the first key ring key this database was used with, and a
-- MAC under it that proves a key file holds the same key. A server whose key
-- file lacks it refuses to start rather than seal data no other replica can
-- open. One row, written once.
CREATE TABLE key_anchor (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	key_id     TEXT NOT NULL,
	check_mac  BLOB NOT NULL,
	created_at INTEGER NOT NULL
);
