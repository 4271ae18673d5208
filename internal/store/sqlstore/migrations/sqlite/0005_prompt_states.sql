-- mfad schema, version 5, SQLite dialect: the State of a RADIUS
-- Access-Challenge. Each is random, works once, for its user and the client
-- it was sent to, until it expires; using it is one conditional UPDATE.
-- challenge_id names the out-of-band challenge whose code answers it, or is
-- '' when none was sent.

CREATE TABLE prompt_states (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	client       TEXT NOT NULL,
	challenge_id TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	used_at      INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX prompt_states_expires ON prompt_states (expires_at);
