-- mfad schema, version 1, PostgreSQL dialect.
-- Times are Unix milliseconds, 0 for "never". IDs are chosen by the caller.
-- Names and IDs that lists are ordered or paged by use COLLATE "C", so they
-- compare bytewise as in SQLite, whatever the database's default collation.

CREATE TABLE users (
	id           TEXT COLLATE "C" PRIMARY KEY,
	name         TEXT COLLATE "C" NOT NULL UNIQUE,
	display_name TEXT NOT NULL DEFAULT '',
	email        TEXT NOT NULL DEFAULT '',
	phone        TEXT NOT NULL DEFAULT '',
	disabled     BOOLEAN NOT NULL DEFAULT FALSE,
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	next_lock_ms BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL
);

CREATE TABLE user_roles (
	user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role    TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (user_id, role)
);

CREATE TABLE groups (
	id          TEXT COLLATE "C" PRIMARY KEY,
	name        TEXT COLLATE "C" NOT NULL UNIQUE,
	description TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL
);

CREATE TABLE group_members (
	group_id TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id  TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	added_at BIGINT NOT NULL,
	PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE totp_credentials (
	id           TEXT COLLATE "C" PRIMARY KEY,
	user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	algorithm    TEXT NOT NULL,
	digits       INTEGER NOT NULL,
	period       INTEGER NOT NULL,
	secret       BYTEA NOT NULL,
	key_id       TEXT NOT NULL,
	confirmed    BOOLEAN NOT NULL DEFAULT FALSE,
	last_step    BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL,
	confirmed_at BIGINT NOT NULL DEFAULT 0,
	last_used_at BIGINT NOT NULL DEFAULT 0,
	UNIQUE (user_id, name)
);

CREATE INDEX totp_credentials_key ON totp_credentials (key_id);

CREATE TABLE api_tokens (
	id         TEXT COLLATE "C" PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	user_id    TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE, -- NULL for a service token
	hash       BYTEA NOT NULL,
	key_id     TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);
CREATE INDEX api_tokens_created ON api_tokens (created_at, id);

CREATE TABLE policies (
	scope      TEXT COLLATE "C" PRIMARY KEY,
	doc        BYTEA NOT NULL,
	updated_at BIGINT NOT NULL,
	updated_by TEXT NOT NULL
);

-- seq comes from an identity column. Under concurrent writers a lower seq
-- can commit after a higher one; the sealer copes (chain order is sealing
-- order, kept in link_seq).
CREATE TABLE audit_events (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id          TEXT COLLATE "C" NOT NULL UNIQUE,
	time_ms     BIGINT NOT NULL,
	action      TEXT COLLATE "C" NOT NULL,
	outcome     TEXT NOT NULL,
	reason      TEXT NOT NULL,
	actor       TEXT NOT NULL,
	subject     TEXT COLLATE "C" NOT NULL,
	source      TEXT NOT NULL,
	front_door  TEXT NOT NULL,
	request_id  TEXT NOT NULL,
	factor      TEXT NOT NULL,
	detail      TEXT, -- JSON object, NULL for none
	key_id      TEXT NOT NULL,
	mac         BYTEA NOT NULL,
	link_seq    BIGINT UNIQUE, -- NULL until sealed
	link_mac    BYTEA,
	link_key_id TEXT,
	CHECK ((link_seq IS NULL) = (link_mac IS NULL)),
	CHECK ((link_seq IS NULL) = (link_key_id IS NULL))
);

CREATE INDEX audit_events_unsealed ON audit_events (seq) WHERE link_seq IS NULL;
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_time ON audit_events (time_ms);

-- The head of the audit chain: the last link the sealer wrote. One row; the
-- sealer locks it FOR UPDATE, so one sealer runs at a time.
CREATE TABLE audit_chain (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	seq    BIGINT NOT NULL,
	mac    BYTEA NOT NULL,
	key_id TEXT NOT NULL
);

INSERT INTO audit_chain (id, seq, mac, key_id) VALUES (1, 0, '\x', '');

-- The key anchor: the first key ring key this database was used with, and a
-- MAC under it that proves a key file holds the same key. A server whose key
-- file lacks it refuses to start rather than seal data no other replica can
-- open. One row, written once.
CREATE TABLE key_anchor (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	key_id     TEXT NOT NULL,
	check_mac  BYTEA NOT NULL,
	created_at BIGINT NOT NULL
);
