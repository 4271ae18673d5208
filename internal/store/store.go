// Package store defines what mfad keeps and the contract every storage
// backend honours. The service in package mfa is the only caller; it decides,
// and the store keeps state and makes single-use changes atomic.
//
// # Contract
//
// Every implementation is safe for concurrent use by many goroutines and by
// many processes sharing one database. In particular:
//
//   - Reads that return one item return ErrNotFound when there is none.
//     Creates return ErrConflict when a unique name or ID is taken and change
//     nothing. Callers test both with errors.Is.
//   - Update runs fn in one transaction: either every write fn made, and every
//     audit event it appended, is committed, or none is. Once Update returns
//     nil, the writes are durable (synced to stable storage).
//   - Single-use state changes are each one conditional statement in the
//     database, never a read followed by a write: ReserveAttempt,
//     Tx.UseTOTPStep, Tx.ConfirmTOTP, Tx.UseBackupCode, Tx.UseAccessPass,
//     Tx.UseBypass, Tx.DecidePassRequest, Tx.UseChallenge,
//     Tx.UsePromptState, Tx.UseCeremony, Tx.UseWebAuthnCredential,
//     Tx.RevokeToken
//     and Tx.RevokeSession. Of any number of concurrent callers, on any
//     number of processes, at most one sees a given step, confirmation, use,
//     decision or revocation succeed. Tx.ClaimOutbox and
//     Tx.ClaimDeliveries hand each event and each due delivery to one
//     caller at a time in the same way. Tx.Hit counts in one statement too, so no two
//     callers see the same count.
//   - Times are kept with millisecond precision; the zero time.Time means
//     "never" and is stored as such.
//   - Lists are returned in a stable order that each method documents.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/mfad/mfad/internal/audit"
)

// Errors the store returns. Implementations wrap them with context; callers
// use errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: already exists")
)

// Store is a handle on mfad's database.
type Store interface {
	Reader

	// Update runs fn in a transaction and commits it if fn returns nil. If fn
	// returns an error, or the commit fails, nothing fn wrote is kept and the
	// error is returned. fn must not keep tx after it returns. Update may
	// serialise writers (SQLite has one writer at a time); fn should be short
	// and do no network I/O of its own.
	Update(ctx context.Context, fn func(tx Tx) error) error

	// ReserveAttempt counts one failure against userID before a code is
	// checked, in one conditional statement, so that parallel guesses cannot
	// overshoot the lockout threshold. A later successful verification clears
	// the count (Tx.ClearFailures), which releases the reservation.
	//
	// The attempt is reserved, and ok is true, only when the account is not
	// locked at now: LockedUntil is not after now and Failures is below
	// rule.MaxFailures. When the new count is a multiple of rule.Threshold,
	// the same statement locks the account until now plus the current lock
	// duration, and doubles the next lock duration up to rule.MaxDuration.
	// The returned state is the one after the reservation, or the current one
	// when ok is false. ReserveAttempt returns ErrNotFound if there is no such
	// user.
	ReserveAttempt(ctx context.Context, userID string, now time.Time, rule LockRule) (
		state LockState, ok bool, err error)

	// SealAudit chains up to limit events that are not yet sealed, in the
	// order of their Seq, after the current head of the chain. link computes
	// each new Link from the previous one (the zero Link before the first
	// event). Only one sealer runs at a time across all processes; others
	// wait. It returns how many events it sealed.
	SealAudit(ctx context.Context, limit int,
		link func(prev audit.Link, ev audit.Event) (audit.Link, error)) (int, error)

	// AnchorKey records a as the database's key anchor if none is recorded
	// yet, in one statement, and returns the anchor in force (a, or the one
	// an earlier caller recorded). Of callers racing on a new database,
	// exactly one anchor wins and all of them see it.
	AnchorKey(ctx context.Context, a KeyAnchor) (KeyAnchor, error)

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error

	// Close releases the database.
	Close() error
}

// Reader holds the reads. Outside a transaction they see committed data;
// on a Tx they also see the transaction's own writes.
type Reader interface {
	// User returns the user with the given name.
	User(ctx context.Context, name string) (User, error)
	// UserByID returns the user with the given ID.
	UserByID(ctx context.Context, id string) (User, error)
	// ListUsers returns users whose name, display name or email contains
	// q.Search, ordered by name, starting after q.After, at most q.Limit.
	ListUsers(ctx context.Context, q UserQuery) ([]User, error)

	// Group returns the group with the given name.
	Group(ctx context.Context, name string) (Group, error)
	// ListGroups returns all groups ordered by name.
	ListGroups(ctx context.Context) ([]Group, error)
	// GroupMembers returns the members of a group ordered by name.
	GroupMembers(ctx context.Context, groupID string) ([]User, error)
	// UserGroups returns the groups a user belongs to ordered by name.
	UserGroups(ctx context.Context, userID string) ([]Group, error)

	// TOTPCredentials returns a user's authenticators, confirmed or not,
	// ordered by creation time.
	TOTPCredentials(ctx context.Context, userID string) ([]TOTPCredential, error)
	// TOTPCredentialsNotSealedWith returns up to limit authenticators of any
	// user whose secret is sealed under a key other than keyID, ordered by ID.
	TOTPCredentialsNotSealedWith(ctx context.Context, keyID string, limit int) (
		[]TOTPCredential, error)

	// Token returns the API token with the given ID, revoked or not.
	Token(ctx context.Context, id string) (Token, error)
	// ListTokens returns all API tokens, newest first.
	ListTokens(ctx context.Context) ([]Token, error)

	// BackupCodeSet returns a user's set of backup codes, with the number of
	// codes not yet used.
	BackupCodeSet(ctx context.Context, userID string) (BackupCodeSet, error)
	// BackupCodes returns the codes of a user's set ordered by position;
	// none when the user has no set.
	BackupCodes(ctx context.Context, userID string) ([]BackupCode, error)

	// AccessPass returns a user's access pass, whatever its state.
	AccessPass(ctx context.Context, userID string) (AccessPass, error)
	// Bypass returns a user's bypass, whatever its state.
	Bypass(ctx context.Context, userID string) (Bypass, error)

	// Session returns the self-service session with the given ID, expired
	// or revoked or not.
	Session(ctx context.Context, id string) (Session, error)

	// ListOutbox returns up to limit outbox events with Seq above afterSeq,
	// in Seq order.
	ListOutbox(ctx context.Context, afterSeq int64, limit int) ([]OutboxEvent, error)
	// OutboxEvent returns the outbox event with the given ID.
	OutboxEvent(ctx context.Context, id string) (OutboxEvent, error)
	// ListDeliveries returns deliveries matching q, newest first (by
	// CreatedAt, then ID).
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)

	// Webhook returns the webhook endpoint with the given ID.
	Webhook(ctx context.Context, id string) (Webhook, error)
	// ListWebhooks returns every webhook endpoint, oldest first.
	ListWebhooks(ctx context.Context) ([]Webhook, error)

	// Challenge returns the out-of-band challenge with the given ID,
	// whatever its state.
	Challenge(ctx context.Context, id string) (Challenge, error)

	// WebAuthnCredentials returns a user's security keys and passkeys,
	// ordered by creation time.
	WebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// WebAuthnCredentialByCredentialID returns the credential with the
	// given WebAuthn credential ID, of any user.
	WebAuthnCredentialByCredentialID(ctx context.Context, credentialID []byte) (
		WebAuthnCredential, error)

	// Policy returns the policy document stored for scope.
	Policy(ctx context.Context, scope string) (PolicyDoc, error)
	// ListPolicies returns every stored policy document ordered by scope.
	ListPolicies(ctx context.Context) ([]PolicyDoc, error)

	// PassRequest returns the access-pass request with the given ID.
	PassRequest(ctx context.Context, id string) (PassRequest, error)
	// ListPassRequests returns requests matching q, newest first.
	ListPassRequests(ctx context.Context, q PassRequestQuery) ([]PassRequest, error)

	// FraudReports returns a user's fraud reports, newest first.
	FraudReports(ctx context.Context, userID string) ([]FraudReport, error)

	// ListAudit returns audit events matching q, newest (highest Seq) first.
	ListAudit(ctx context.Context, q AuditQuery) ([]audit.Event, error)
	// ScanAudit calls fn for every audit event: first the sealed ones in
	// chain order, then the unsealed ones in Seq order. It stops at the first
	// error fn returns and returns it.
	ScanAudit(ctx context.Context, fn func(audit.Event) error) error
}

// Tx is a transaction opened by Store.Update.
type Tx interface {
	Reader

	// CreateUser adds a user with its roles. ErrConflict if the name or ID is
	// taken.
	CreateUser(ctx context.Context, u User) error
	// UpdateUser stores u's display name, email, phone, their verified
	// times, disabled flag and UpdatedAt for the user with u.ID. ErrNotFound
	// if there is none.
	UpdateUser(ctx context.Context, u User) error
	// SetRoles replaces a user's roles. ErrNotFound if there is no such user.
	SetRoles(ctx context.Context, userID string, roles []string) error
	// ReserveAttempt is Store.ReserveAttempt inside the transaction. The
	// reservation commits or rolls back with the transaction, and the row
	// stays locked until then, so concurrent attempts on the same user wait
	// for this one's outcome and still cannot overshoot the threshold.
	ReserveAttempt(ctx context.Context, userID string, now time.Time, rule LockRule) (
		state LockState, ok bool, err error)
	// ClearFailures sets a user's failure count to zero and lifts any lock.
	// ErrNotFound if there is no such user.
	ClearFailures(ctx context.Context, userID string) error

	// CreateGroup adds a group. ErrConflict if the name or ID is taken.
	CreateGroup(ctx context.Context, g Group) error
	// DeleteGroup removes a group and its memberships. ErrNotFound if there
	// is none.
	DeleteGroup(ctx context.Context, groupID string) error
	// AddMember adds a user to a group. ErrConflict if already a member,
	// ErrNotFound if the group or the user does not exist.
	AddMember(ctx context.Context, groupID, userID string, at time.Time) error
	// RemoveMember removes a user from a group. ErrNotFound if not a member.
	RemoveMember(ctx context.Context, groupID, userID string) error

	// CreateTOTP adds an unconfirmed authenticator. ErrConflict if the user
	// already has one with that name, or the ID is taken.
	CreateTOTP(ctx context.Context, c TOTPCredential) error
	// ConfirmTOTP marks an unconfirmed authenticator confirmed and records
	// step as its last accepted step, in one conditional statement. It
	// reports false if there is no such unconfirmed authenticator of that
	// user.
	ConfirmTOTP(ctx context.Context, userID, id string, step int64, at time.Time) (bool, error)
	// UseTOTPStep records step as the authenticator's last accepted step if,
	// and only if, it is confirmed and step is strictly greater than the last
	// accepted step, in one conditional statement. It reports whether it did.
	UseTOTPStep(ctx context.Context, id string, step int64, at time.Time) (bool, error)
	// ResealTOTP replaces an authenticator's sealed secret if it is still
	// sealed under oldKeyID, and reports whether it did.
	ResealTOTP(ctx context.Context, id, oldKeyID string, secret []byte, keyID string) (bool, error)
	// DeleteTOTP removes one of a user's authenticators. ErrNotFound if the
	// user has none with that ID.
	DeleteTOTP(ctx context.Context, userID, id string) error

	// ReplaceBackupCodes makes set, with codes, the user's set of backup
	// codes, deleting any set the user had, codes and all. Once the
	// transaction commits, no code of the old set can be used.
	// ErrNotFound if there is no such user.
	ReplaceBackupCodes(ctx context.Context, set BackupCodeSet, codes []BackupCode) error
	// DeleteBackupCodes removes a user's set. ErrNotFound if there is none.
	DeleteBackupCodes(ctx context.Context, userID string) error
	// UseBackupCode marks the code at position of set setID used at the
	// given time if, and only if, it is still unused and its set is not
	// replaced, in one conditional statement. It reports whether it did.
	UseBackupCode(ctx context.Context, setID string, position int, at time.Time) (bool, error)

	// PutAccessPass makes p the user's access pass, replacing any pass the
	// user had. ErrNotFound if there is no such user.
	PutAccessPass(ctx context.Context, p AccessPass) error
	// UseAccessPass records a use of pass id at the given time if, and only
	// if, it is not revoked, at is within [StartsAt, ExpiresAt), and, for a
	// one-time pass, it has not been used, in one conditional statement.
	// It reports whether it did.
	UseAccessPass(ctx context.Context, id string, at time.Time) (bool, error)
	// RevokeAccessPass revokes a user's pass at the given time. ErrNotFound
	// if the user has none, or it is already revoked.
	RevokeAccessPass(ctx context.Context, userID string, at time.Time) error

	// PutBypass makes b the user's bypass, replacing any. ErrNotFound if
	// there is no such user.
	PutBypass(ctx context.Context, b Bypass) error
	// UseBypass records the use of bypass id if, and only if, it is unused,
	// not revoked and not expired at the given time, in one conditional
	// statement. It reports whether it did.
	UseBypass(ctx context.Context, id string, at time.Time) (bool, error)
	// RevokeBypass revokes a user's unused bypass. ErrNotFound if the user
	// has none that is unused and not revoked.
	RevokeBypass(ctx context.Context, userID string, at time.Time) error

	// CreateSession adds a self-service session; a zero LastSeenAt is
	// stored as CreatedAt. ErrConflict if the ID is taken, ErrNotFound if
	// there is no such user.
	CreateSession(ctx context.Context, s Session) error
	// RevokeSession marks a session revoked at the given time, in one
	// conditional statement. ErrNotFound if there is no such session or it
	// is already revoked.
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// TouchSession records that a session was used at the given time, if
	// it was last seen at or before at minus every, in one statement, so that a
	// busy session is written at most once per every. It reports whether it
	// wrote.
	TouchSession(ctx context.Context, id string, at time.Time, every time.Duration) (bool, error)
	// DeleteSessionsExpiredBefore removes sessions that expired before t and
	// returns how many it removed.
	DeleteSessionsExpiredBefore(ctx context.Context, t time.Time) (int, error)

	// AppendOutbox writes an event for delivery and returns the Seq the
	// store gave it.
	AppendOutbox(ctx context.Context, ev OutboxEvent) (int64, error)
	// ClaimOutbox marks up to limit events that no one has claimed yet as
	// claimed at the given time, oldest (lowest Seq) first, and returns
	// them, in one conditional statement: of concurrent claimers on any
	// number of processes, each event goes to one. The claimer creates the
	// event's deliveries in the same transaction, so that a claim rolled
	// back leaves the event to be claimed again.
	ClaimOutbox(ctx context.Context, at time.Time, limit int) ([]OutboxEvent, error)

	// CreateDelivery adds a delivery. ErrConflict if the ID is taken or the
	// event already has a delivery to that channel and target.
	CreateDelivery(ctx context.Context, d Delivery) error
	// ClaimDeliveries leases up to limit deliveries that are due at now (not
	// delivered, not given up, NextAt and LeaseUntil not after now) to
	// owner until leaseUntil, adds one to their Attempts, and returns them
	// as changed, earliest NextAt first, in one conditional statement: of
	// concurrent claimers, each delivery goes to one until its lease ends.
	ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) (
		[]Delivery, error)
	// FinishDelivery records the outcome of an attempt on delivery id if,
	// and only if, owner still holds its lease and it is not delivered, in
	// one conditional statement, and ends the lease. It reports whether it
	// did.
	FinishDelivery(ctx context.Context, id, owner string, o DeliveryOutcome) (bool, error)

	// CreateWebhook adds a webhook endpoint. ErrConflict if the ID is
	// taken.
	CreateWebhook(ctx context.Context, w Webhook) error
	// DeleteWebhook removes an endpoint; its deliveries stay, for the log.
	// ErrNotFound if there is none.
	DeleteWebhook(ctx context.Context, id string) error
	// ResealWebhook replaces an endpoint's sealed secret if it is still
	// sealed under oldKeyID, and reports whether it did.
	ResealWebhook(ctx context.Context, id, oldKeyID string, secret []byte, keyID string) (bool, error)

	// CreateChallenge adds an out-of-band challenge. ErrConflict if the ID
	// is taken, ErrNotFound if there is no such user.
	CreateChallenge(ctx context.Context, c Challenge) error
	// VoidChallenges voids a user's challenges of the given channel and
	// purpose that are neither used nor voided, so that a resend leaves one
	// code that works, and returns how many it voided.
	VoidChallenges(ctx context.Context, userID, channel, purpose string, at time.Time) (int, error)
	// UseChallenge marks challenge id used at the given time if, and only
	// if, it is not used, not voided and not expired at that time, in one
	// conditional statement. It reports whether it did.
	UseChallenge(ctx context.Context, id string, at time.Time) (bool, error)
	// DeleteChallengesExpiredBefore removes challenges that expired before t
	// and returns how many it removed.
	DeleteChallengesExpiredBefore(ctx context.Context, t time.Time) (int, error)

	// CreateWebAuthnCredential adds a credential. ErrConflict if the ID or
	// the credential ID is taken, or the user already has one with that
	// name; ErrNotFound if there is no such user.
	CreateWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error
	// UseWebAuthnCredential records a sign-in with credential id: its new
	// signature counter, its data and the time, if, and only if, the
	// counter grew, or both the old and the new counter are zero (an
	// authenticator that keeps none), in one conditional statement. It
	// reports whether it did; false means a counter that did not grow,
	// the mark of a cloned authenticator.
	UseWebAuthnCredential(ctx context.Context, id string, signCount uint32, data []byte,
		at time.Time) (bool, error)
	// RenameFactor renames a user's authenticator (kind "totp") or
	// security key ("webauthn"). ErrNotFound if the user has none with that
	// ID, ErrConflict if the name is taken among the user's factors of that
	// kind.
	RenameFactor(ctx context.Context, userID, kind, id, name string) error
	// DeleteWebAuthnCredential removes one of a user's credentials.
	// ErrNotFound if the user has none with that ID.
	DeleteWebAuthnCredential(ctx context.Context, userID, id string) error

	// CreateCeremony stores the server side of a WebAuthn registration or
	// sign-in. ErrConflict if the ID is taken, ErrNotFound if UserID is set
	// and there is no such user.
	CreateCeremony(ctx context.Context, c Ceremony) error
	// UseCeremony marks ceremony id used at the given time if, and only if,
	// it is unused and not expired, in one conditional statement, and
	// returns it. ok is false when it did not: a challenge answers once.
	UseCeremony(ctx context.Context, id string, at time.Time) (c Ceremony, ok bool, err error)
	// DeleteCeremoniesExpiredBefore removes ceremonies that expired before t
	// and returns how many it removed.
	DeleteCeremoniesExpiredBefore(ctx context.Context, t time.Time) (int, error)

	// CreatePromptState adds the State of an Access-Challenge. ErrConflict
	// if the ID is taken, ErrNotFound if there is no such user.
	CreatePromptState(ctx context.Context, p PromptState) error
	// UsePromptState marks state id used at the given time if, and only if,
	// it belongs to userID and client, is unused and has not expired, in one
	// conditional statement, and returns it, used. ok is false when it did
	// not.
	UsePromptState(ctx context.Context, id, userID, client string, at time.Time) (
		p PromptState, ok bool, err error)
	// DeletePromptStatesExpiredBefore removes states that expired before t
	// and returns how many it removed.
	DeletePromptStatesExpiredBefore(ctx context.Context, t time.Time) (int, error)

	// SetDestination sets a user's email address (channel "email") or phone
	// number ("sms") and when it was verified (zero: not verified).
	// ErrNotFound if there is no such user.
	SetDestination(ctx context.Context, userID, channel, address string, verifiedAt time.Time) error

	// CreateToken adds an API token. ErrConflict if the ID is taken.
	CreateToken(ctx context.Context, t Token) error
	// RevokeToken marks a token revoked at the given time, in one conditional
	// statement. ErrNotFound if there is no such token or it is already
	// revoked.
	RevokeToken(ctx context.Context, id string, at time.Time) error

	// PutPolicy stores the policy document for its scope, replacing any.
	PutPolicy(ctx context.Context, p PolicyDoc) error
	// DeletePolicy removes the document stored for scope. ErrNotFound if
	// there is none.
	DeletePolicy(ctx context.Context, scope string) error

	// SetBlocked blocks a user's sign-ins from at, after a fraud report, or
	// lifts the block when at is zero. ErrNotFound if there is no such user.
	SetBlocked(ctx context.Context, userID string, at time.Time) error
	// RevokeUserSessions revokes every session of a user that is not yet
	// revoked and returns how many it revoked.
	RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error)

	// CreatePassRequest adds an access-pass request with the Status given
	// (callers set PassRequestPending) and a non-zero ExpiresAt. ErrConflict
	// if the ID is taken, ErrNotFound if there is no such user.
	CreatePassRequest(ctx context.Context, r PassRequest) error
	// DecidePassRequest records d on request id if, and only if, the request
	// is pending and has not expired at d.At, in one conditional statement.
	// d.Status is PassRequestApproved, PassRequestDenied or
	// PassRequestForwarded. It reports whether it did; of concurrent
	// deciders, one at most wins.
	DecidePassRequest(ctx context.Context, id string, d PassDecision) (bool, error)

	// CreateFraudReport records a report. ErrConflict if the ID is taken or,
	// when r.LinkID is set, a report was already made with that link, so
	// that each signed link works once. ErrNotFound if there is no such
	// user.
	CreateFraudReport(ctx context.Context, r FraudReport) error

	// Hit counts one hit against key in the fixed window that began at
	// windowStart and returns the hits in that window, this one included,
	// in one statement. Only a strictly later windowStart than the key's
	// starts the count again at one; an earlier one (a replica's clock
	// behind) counts in the newer window. Hits survive restarts and are
	// shared by every process. A hit rolls back with its transaction, so
	// callers that refuse on the count make the hit in an Update of its own.
	Hit(ctx context.Context, key string, windowStart time.Time) (int, error)
	// DeleteHitsBefore forgets keys whose window began before t and returns
	// how many it forgot.
	DeleteHitsBefore(ctx context.Context, t time.Time) (int, error)

	// AppendAudit writes an event and returns the Seq the store gave it.
	// ev.Link must be nil; events are sealed later by Store.SealAudit.
	AppendAudit(ctx context.Context, ev audit.Event) (int64, error)
}

// User is a person (or a service account) who holds factors.
type User struct {
	ID          string
	Name        string // unique, as typed at sign-in
	DisplayName string
	Email       string
	Phone       string
	Disabled    bool
	Roles       []string // staff roles, sorted; empty for ordinary users
	Lock        LockState
	// BlockedAt is when a fraud report blocked the user's sign-ins; zero
	// when not blocked. Written only by Tx.SetBlocked.
	BlockedAt time.Time
	// EmailVerifiedAt and PhoneVerifiedAt are when the user proved they
	// receive codes at Email and Phone; zero when they have not.
	EmailVerifiedAt time.Time
	PhoneVerifiedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// LockState is a user's consecutive-failure count and lock.
type LockState struct {
	Failures    int       // consecutive failures (and reserved attempts) since the last success
	LockedUntil time.Time // zero, or when the current temporary lock ends
}

// LockRule is the lockout policy ReserveAttempt applies.
type LockRule struct {
	Threshold   int           // every Threshold consecutive failures lock the account
	Duration    time.Duration // length of the first lock
	MaxDuration time.Duration // locks double in length up to this
	MaxFailures int           // at this many failures the account stays locked until unlocked
}

// Group is a named set of users that policy can address.
type Group struct {
	ID          string
	Name        string
	Description string
	CreatedAt   time.Time
}

// TOTPCredential is one authenticator app of a user. The secret is sealed by
// the key ring; the store never sees it in clear.
type TOTPCredential struct {
	ID          string
	UserID      string
	Name        string // unique per user
	Algorithm   string // SHA1, SHA256 or SHA512
	Digits      int
	Period      int    // seconds
	Secret      []byte // sealed secret
	KeyID       string // key ring key that sealed Secret
	Confirmed   bool
	LastStep    int64 // last accepted time step; 0 before any
	CreatedAt   time.Time
	ConfirmedAt time.Time
	LastUsedAt  time.Time
}

// Token is an API token. Only a keyed hash of its secret is kept.
type Token struct {
	ID        string
	Name      string
	Role      string
	UserID    string // empty for a service token
	Hash      []byte // keyed hash of the secret
	KeyID     string // key ring key that made Hash
	CreatedBy string
	CreatedAt time.Time
	RevokedAt time.Time
}

// BackupCodeSet is one user's set of single-use backup codes.
type BackupCodeSet struct {
	ID        string
	UserID    string
	Total     int // codes in the set
	Remaining int // codes not yet used; set by reads, ignored on writes
	CreatedAt time.Time
	ExpiresAt time.Time // zero when the set does not expire
	CreatedBy string    // the actor that made the set
}

// BackupCode is one code of a set. Only a keyed hash of the code is kept.
type BackupCode struct {
	SetID     string
	Position  int    // 1 to the set's Total, as printed on the sheet
	Hash      []byte // keyed hash of the user's ID and the code
	KeyID     string // key ring key that made Hash
	CreatedAt time.Time
	UsedAt    time.Time // zero while unused
}

// AccessPass is a user's temporary access pass. Only a keyed hash of the
// pass is kept.
type AccessPass struct {
	ID         string
	UserID     string
	Hash       []byte // keyed hash of the user's ID and the pass
	KeyID      string
	OneTime    bool
	SelfIssued bool // issued by the user, not by staff
	StartsAt   time.Time
	ExpiresAt  time.Time
	CreatedAt  time.Time
	CreatedBy  string // the actor that issued it
	Reason     string
	Uses       int
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Bypass lets one verification of a user through without a code until it
// expires.
type Bypass struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	CreatedBy string
	Reason    string
	UsedAt    time.Time
	RevokedAt time.Time
}

// Kinds and states of access-pass requests.
const (
	// PassRequestUser is a request a user made without signing in, for
	// staff to approve.
	PassRequestUser = "user"
	// PassRequestStaff is a pass a member of staff issued that waits for a
	// second approver.
	PassRequestStaff = "staff"

	PassRequestPending   = "pending"
	PassRequestApproved  = "approved"
	PassRequestDenied    = "denied"
	PassRequestForwarded = "forwarded" // approved once; a staff request now waits
)

// PassRequest is a request for an access pass waiting for staff.
type PassRequest struct {
	ID      string
	UserID  string
	Kind    string // PassRequestUser or PassRequestStaff
	Message string // what the user wrote (user requests)
	Source  string // the address the request came from
	// RequestedBy names the actor that made a staff request, and
	// RequesterKey identifies the person behind it, so that a second
	// approver can be told apart from the first.
	RequestedBy  string
	RequesterKey string
	// The pass a staff request asks for.
	Lifetime time.Duration
	StartsAt time.Time // zero: when approved
	OneTime  bool
	Reason   string
	Origin   string // the user request a staff request came from, or ""

	CreatedAt time.Time
	ExpiresAt time.Time // a pending request no longer counts after this; never zero
	Status    string
	DecidedBy string
	DecidedAt time.Time
	// DecisionReason is what the decider gave as their reason.
	DecisionReason string
}

// PassDecision is what DecidePassRequest records.
type PassDecision struct {
	Status string // PassRequestApproved, PassRequestDenied or PassRequestForwarded
	By     string
	At     time.Time
	Reason string
}

// PassRequestQuery selects requests for ListPassRequests. Zero fields match
// all.
type PassRequestQuery struct {
	Status string
	UserID string
	// PendingAt, when set with Status PassRequestPending, keeps only those
	// not expired at that time.
	PendingAt time.Time
	Limit     int // at most this many; 0 means 100
}

// FraudReport is a user's "this was not me".
type FraudReport struct {
	ID        string
	UserID    string
	LinkID    string // the signed link's ID, or "" for a report from a session
	Source    string
	Message   string
	CreatedAt time.Time
}

// Session is a short-lived self-service session a user opened by proving a
// factor. Only a keyed hash of its token is kept.
type Session struct {
	ID         string
	UserID     string
	Hash       []byte
	KeyID      string
	Factor     string // the factor the user proved, such as "totp" or "backup_code"
	Source     string // the address the session was opened from
	VerifiedAt time.Time
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
	LastSeenAt time.Time // when it was last used (TouchSession); CreatedAt before
}

// WebAuthnCredential is a security key or passkey of a user. Data holds the
// library's view of it (public key, flags, counter, transports) as JSON;
// the store reads nothing in it.
type WebAuthnCredential struct {
	ID           string // mfad's ID
	UserID       string
	CredentialID []byte // the authenticator's credential ID, unique
	Name         string // unique per user
	Data         []byte
	SignCount    uint32
	Discoverable bool // a passkey (resident key), not only a second factor
	CreatedAt    time.Time
	LastUsedAt   time.Time
}

// Ceremony is the server side of one WebAuthn registration or sign-in: the
// challenge it sent, kept until it is answered once or expires.
type Ceremony struct {
	ID        string
	UserID    string // "" for a sign-in with a passkey, where the user is not known yet
	Kind      string // "register" or "login"
	Data      []byte // the library's session data, as JSON
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// OutboxEvent is an event waiting for delivery by email, webhook and the
// like. Data is a JSON object and never holds a code or secret.
type OutboxEvent struct {
	Seq     int64 // set by the store
	ID      string
	Type    string // such as "backup_code.used"
	UserID  string // "" when the event concerns no user
	Subject string // the user's name at the time
	Time    time.Time
	Data    []byte
}

// Channels a delivery or a challenge goes by.
const (
	ChannelEmail   = "email"
	ChannelSMS     = "sms"
	ChannelWebhook = "webhook"
)

// Delivery is the delivery of one outbox event by one channel to one
// target, retried until it succeeds or is given up.
type Delivery struct {
	ID          string
	EventID     string
	EventType   string // the event's type, for the delivery log
	UserID      string // the event's user, or ""
	Channel     string // ChannelEmail or ChannelWebhook
	Target      string // an email address, or a webhook's ID
	Role        string // why the target gets it: "user", "old_address", "security_contact", "webhook"
	CreatedAt   time.Time
	Attempts    int
	NextAt      time.Time // not tried again before this
	LeaseUntil  time.Time
	LeaseOwner  string
	DeliveredAt time.Time
	GaveUpAt    time.Time
	LastError   string // what went wrong last; never a secret
	LastStatus  int    // a webhook receiver's last HTTP status
}

// DeliveryOutcome is what FinishDelivery records: delivered (DeliveredAt
// set), to be tried again at NextAt, or given up (GaveUpAt set).
type DeliveryOutcome struct {
	DeliveredAt time.Time
	NextAt      time.Time
	GaveUpAt    time.Time
	LastError   string
	LastStatus  int
}

// DeliveryQuery selects deliveries for ListDeliveries. Zero fields match
// all.
type DeliveryQuery struct {
	Channel string
	Target  string
	EventID string
	Limit   int // at most this many; 0 means 100
}

// Webhook is an endpoint that receives outbox events as signed JSON.
type Webhook struct {
	ID        string
	URL       string
	Events    []string // the event types it receives, sorted; never empty
	Secret    []byte   // the signing secret, sealed by the key ring
	KeyID     string
	CreatedAt time.Time
	CreatedBy string
}

// Challenge is a one-time code sent out of band, by email or SMS. Only a
// keyed hash of the code is kept.
type Challenge struct {
	ID          string
	UserID      string
	Purpose     string // "verify" (a sign-in) or "bind" (proving a new destination)
	Channel     string // ChannelEmail or ChannelSMS
	Destination string // the address or number the code went to
	Hash        []byte
	KeyID       string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time
	VoidedAt    time.Time
}

// PromptState is the State of a RADIUS Access-Challenge: random, single
// use, bound to its user and the client it was sent to.
type PromptState struct {
	ID        string
	UserID    string
	Client    string // the RADIUS client's name
	Challenge string // the out-of-band challenge whose code answers it, or ""
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// PolicyDoc is a policy document as stored; package policy gives it meaning.
type PolicyDoc struct {
	Scope     string // "global", or "group:" followed by a group ID
	Doc       []byte // JSON
	UpdatedAt time.Time
	UpdatedBy string
}

// KeyAnchor names the first key ring key a database was used with, and a
// MAC under that key which only a key file holding the same key reproduces.
type KeyAnchor struct {
	KeyID     string
	Check     []byte
	CreatedAt time.Time
}

// UserQuery selects users for ListUsers.
type UserQuery struct {
	Search string // substring of name, display name or email; empty for all
	After  string // name to start after, for paging
	Limit  int    // at most this many; 0 means 100
}

// AuditQuery selects audit events for ListAudit. Zero fields match all.
type AuditQuery struct {
	Subject   string    // events about this user
	Action    string    // this action, or a prefix of actions when it ends in "."
	Since     time.Time // at or after
	Until     time.Time // before
	BeforeSeq int64     // Seq below this, for paging
	Limit     int       // at most this many; 0 means 100
}
