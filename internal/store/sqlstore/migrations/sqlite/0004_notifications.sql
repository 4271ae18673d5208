-- mfad schema, version 4, SQLite dialect: notifications. A notifier
-- claims each outbox event once and fans it out into deliveries (email,
-- webhooks), each retried under a lease until it succeeds or is given up;
-- webhook endpoints; one-time codes sent by email or SMS; and when a user
-- proved they receive codes at their email address and phone number.

-- When a notifier claimed the event; 0 while no one has. Claiming is one
-- conditional UPDATE of unclaimed rows, so each event goes to one claimer,
-- and an event whose lower seq commits after a higher one is still found.
-- Events written before notifications existed are marked claimed (at their
-- own time, or 1 when they have none), so that they are never sent.
ALTER TABLE outbox ADD COLUMN claimed_at INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET claimed_at = CASE WHEN time_ms <> 0 THEN time_ms ELSE 1 END;

CREATE INDEX outbox_claim ON outbox (claimed_at, seq);

-- One event sent by one channel to one target. A claimer leases due rows
-- (lease_until, lease_owner) and counts an attempt in one conditional
-- UPDATE; only the lease holder records the outcome. Rows stay after
-- delivery, as the delivery log; event_id is not a foreign key, so that
-- the log outlives what it reports on.
CREATE TABLE deliveries (
	id           TEXT PRIMARY KEY,
	event_id     TEXT NOT NULL,
	event_type   TEXT NOT NULL,
	user_id      TEXT NOT NULL, -- '' when the event concerns no user
	channel      TEXT NOT NULL, -- 'email' or 'webhook'
	target       TEXT NOT NULL, -- an email address, or a webhook's ID
	role         TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      INTEGER NOT NULL DEFAULT 0,
	lease_until  INTEGER NOT NULL DEFAULT 0,
	lease_owner  TEXT NOT NULL DEFAULT '', -- kept after the lease, for the log
	delivered_at INTEGER NOT NULL DEFAULT 0,
	gave_up_at   INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	last_status  INTEGER NOT NULL DEFAULT 0, -- a webhook receiver's HTTP status
	-- An event reaches each target once, however often it is fanned out.
	-- The index also serves the lookup of an event's deliveries.
	UNIQUE (event_id, channel, target)
);

-- Claiming looks only at rows still to be sent, earliest first.
CREATE INDEX deliveries_due ON deliveries (next_at, id)
	WHERE delivered_at = 0 AND gave_up_at = 0;
-- ListDeliveries of one address or webhook, newest first.
CREATE INDEX deliveries_target ON deliveries (channel, target, created_at, id);

-- Endpoints that receive outbox events as signed JSON. Deleting one leaves
-- its deliveries, for the log.
CREATE TABLE webhooks (
	id         TEXT PRIMARY KEY,
	url        TEXT NOT NULL,
	events     TEXT NOT NULL, -- JSON array of event types, sorted
	secret     BLOB NOT NULL, -- signing secret, sealed by the key ring
	key_id     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL
);

-- One-time codes sent by email or SMS, kept only as a keyed hash. A use is
-- one conditional UPDATE of an unused, unvoided, unexpired row; a resend
-- voids the user's earlier codes of the same channel and purpose.
CREATE TABLE challenges (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose     TEXT NOT NULL, -- 'verify' or 'bind'
	channel     TEXT NOT NULL, -- 'email' or 'sms'
	destination TEXT NOT NULL,
	hash        BLOB NOT NULL,
	key_id      TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER NOT NULL DEFAULT 0,
	voided_at   INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX challenges_user ON challenges (user_id, channel, purpose);
CREATE INDEX challenges_expires ON challenges (expires_at);

-- When the user proved they receive codes at email and at phone; 0 when
-- they have not.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN phone_verified_at INTEGER NOT NULL DEFAULT 0;
