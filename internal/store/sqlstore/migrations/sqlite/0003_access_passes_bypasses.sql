-- mfad schema, version 3, SQLite dialect: temporary access passes,
-- one-time bypasses, requests for passes, fraud reports with the block they
-- put on a user, and rate-limit counters. A user has at most one pass and
-- one bypass; issuing a new one replaces the old in the same transaction.

CREATE TABLE access_passes (
	user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	id           TEXT NOT NULL UNIQUE,
	hash         BLOB NOT NULL, -- keyed hash of the user's ID and the pass
	key_id       TEXT NOT NULL,
	one_time     INTEGER NOT NULL CHECK (one_time IN (0, 1)),
	self_issued  INTEGER NOT NULL CHECK (self_issued IN (0, 1)),
	starts_at    INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	created_by   TEXT NOT NULL,
	reason       TEXT NOT NULL,
	uses         INTEGER NOT NULL DEFAULT 0,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	revoked_at   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE bypasses (
	user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	id         TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	reason     TEXT NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0,
	revoked_at INTEGER NOT NULL DEFAULT 0
);

-- When a fraud report blocked the user's sign-ins; 0 when not blocked.
ALTER TABLE users ADD COLUMN blocked_at INTEGER NOT NULL DEFAULT 0;

-- Requests for an access pass that wait for staff: a user's own request,
-- or a pass one member of staff issued that waits for a second approver.
-- A decision is one conditional UPDATE of a pending row, so one decider
-- wins.
CREATE TABLE pass_requests (
	id              TEXT PRIMARY KEY,
	user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind            TEXT NOT NULL,
	message         TEXT NOT NULL,
	source          TEXT NOT NULL,
	requested_by    TEXT NOT NULL,
	requester_key   TEXT NOT NULL,
	lifetime_ms     INTEGER NOT NULL,
	starts_at       INTEGER NOT NULL, -- 0: when approved
	one_time        INTEGER NOT NULL CHECK (one_time IN (0, 1)),
	reason          TEXT NOT NULL,
	origin          TEXT NOT NULL, -- the user request a staff request came from, or ''
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	status          TEXT NOT NULL,
	decided_by      TEXT NOT NULL DEFAULT '',
	decided_at      INTEGER NOT NULL DEFAULT 0,
	decision_reason TEXT NOT NULL DEFAULT ''
);

-- Both serve ListPassRequests, newest first: the queue of pending
-- requests, and one user's requests.
CREATE INDEX pass_requests_status ON pass_requests (status, created_at, id);
CREATE INDEX pass_requests_user ON pass_requests (user_id, created_at, id);

-- Reports of "this was not me". A signed link works once: link_id is
-- unique, and NULL for a report made from a session, so that those never
-- collide.
CREATE TABLE fraud_reports (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	link_id    TEXT UNIQUE, -- NULL for a report from a session
	source     TEXT NOT NULL,
	message    TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE INDEX fraud_reports_user ON fraud_reports (user_id, created_at, id);

-- Fixed-window hit counters, shared by every replica. A row holds the
-- latest window its key counted in; an upsert counts a hit in one
-- statement.
CREATE TABLE hit_counters (
	key          TEXT PRIMARY KEY,
	window_start INTEGER NOT NULL,
	count        INTEGER NOT NULL
);

CREATE INDEX hit_counters_window ON hit_counters (window_start);
