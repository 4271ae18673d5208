-- mfad schema, version 6, PostgreSQL dialect: WebAuthn security keys and
-- passkeys, the ceremonies that register them and sign in with them, and
-- when each self-service session was last used.

-- A user's security keys and passkeys. data is the WebAuthn library's view
-- of the credential (public key, flags, transports) as JSON; the store
-- reads nothing in it. A sign-in is one conditional UPDATE that accepts a
-- signature counter only if it grew, or if it stays at 0 for an
-- authenticator that keeps none (WebAuthn §6.1.1): a counter that did not
-- grow is the mark of a cloned authenticator. The counter is unsigned 32
-- bits, hence BIGINT.
CREATE TABLE webauthn_credentials (
	id            TEXT COLLATE "C" PRIMARY KEY,
	user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	credential_id BYTEA NOT NULL UNIQUE, -- the authenticator's, of any user
	name          TEXT NOT NULL,
	data          BYTEA NOT NULL,
	sign_count    BIGINT NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
	discoverable  BOOLEAN NOT NULL DEFAULT FALSE,
	created_at    BIGINT NOT NULL,
	last_used_at  BIGINT NOT NULL DEFAULT 0,
	UNIQUE (user_id, name)
);

-- The server side of one registration or sign-in: the challenge sent and
-- the library's session data, as JSON. Each answers once, until it
-- expires; using it is one conditional UPDATE. user_id is NULL for a
-- sign-in with a passkey, where the user is not known yet.
CREATE TABLE ceremonies (
	id         TEXT COLLATE "C" PRIMARY KEY,
	user_id    TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL, -- 'register' or 'login'
	data       BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX ceremonies_expires ON ceremonies (expires_at);

-- When the session was last used; written at most once per interval by
-- one conditional UPDATE. Sessions opened before this migration count as
-- last seen when they were opened.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
