// Package storetest is the conformance suite for store.Store. Every backend
// runs Run from its own tests; a backend passes when every subtest does, on
// every engine it supports.
//
// The suite checks the contract written in package store: round trips of
// every field, not-found and conflict errors, ordering and paging, the
// atomicity of Update, the exact lockout arithmetic of ReserveAttempt, and,
// with many goroutines at once, that single-use changes succeed once, that
// claims hand each event and delivery to one claimer, and that counters
// lose no hit. The concurrency tests are meant to catch a read-then-write
// implementation; they do so reliably only on an engine that runs
// transactions in parallel (PostgreSQL), since SQLite serialises writers.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/store"
)

// Run runs the conformance suite. open must return a fresh, empty store for
// each subtest and close it when that subtest ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Users", testUsers},
		{"ListUsers", testListUsers},
		{"Groups", testGroups},
		{"GroupMembers", testGroupMembers},
		{"TOTP", testTOTP},
		{"Tokens", testTokens},
		{"Policy", testPolicy},
		{"Audit", testAudit},
		{"ListAudit", testListAudit},
		{"SealAudit", testSealAudit},
		{"Update", testUpdate},
		{"Lockout", func(t *testing.T, s store.Store) { testLockout(t, s, reserveOnStore) }},
		{"LockoutInTx", func(t *testing.T, s store.Store) { testLockout(t, s, reserveInTx) }},
		{"ReserveInTx", testReserveInTx},
		{"Concurrency", testConcurrency},
		{"AnchorKey", testAnchorKey},
		{"BackupCodes", testBackupCodes},
		{"BackupCodesTogether", testBackupCodesTogether},
		{"Sessions", testSessions},
		{"Outbox", testOutbox},
		{"AccessPasses", testAccessPasses},
		{"Bypasses", testBypasses},
		{"PassRequests", testPassRequests},
		{"ListPassRequests", testListPassRequests},
		{"PassRequestsTogether", testPassRequestsTogether},
		{"Blocked", testBlocked},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"FraudReports", testFraudReports},
		{"FraudReportsTogether", testFraudReportsTogether},
		{"Hits", testHits},
		{"HitsTogether", testHitsTogether},
		{"ClaimOutbox", testClaimOutbox},
		{"ClaimOutboxTogether", testClaimOutboxTogether},
		{"Deliveries", testDeliveries},
		{"ListDeliveries", testListDeliveries},
		{"ClaimDeliveries", testClaimDeliveries},
		{"ClaimDeliveriesOrder", testClaimDeliveriesOrder},
		{"ClaimDeliveriesTogether", testClaimDeliveriesTogether},
		{"Webhooks", testWebhooks},
		{"Challenges", testChallenges},
		{"PromptStates", testPromptStates},
		{"VoidChallenges", testVoidChallenges},
		{"ChallengesTogether", testChallengesTogether},
		{"Destinations", testDestinations},
		{"WebAuthn", testWebAuthn},
		{"WebAuthnCounter", testWebAuthnCounter},
		{"WebAuthnTogether", testWebAuthnTogether},
		{"RenameFactor", testRenameFactor},
		{"Ceremonies", testCeremonies},
		{"CeremoniesTogether", testCeremoniesTogether},
		{"TouchSession", testTouchSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// t0 is the suite's fixed clock reading. It has nanoseconds, which the
// store must drop: times are kept to the millisecond.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// ms truncates t to the precision the store keeps.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// update runs fn in a transaction and fails the test if it fails.
func update(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Update() = %v, want nil", err)
	}
}

// updated runs fn in one transaction, as update does, and returns what fn
// reports: whether a conditional write took effect.
func updated(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) (bool, error)) bool {
	t.Helper()
	var ok bool
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		ok, err = fn(ctx, tx)
		return err
	})
	return ok
}

// createAll creates items in one transaction with create, a method of the
// transaction such as store.Tx.CreateChallenge.
func createAll[T any](t *testing.T, s store.Store, create func(store.Tx, context.Context, T) error,
	items ...T) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, it := range items {
			if err := create(tx, ctx, it); err != nil {
				return err
			}
		}
		return nil
	})
}

// wantErr fails the test unless err is want (nil for no error).
func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s = %v, want nil", call, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s = %v, want %v", call, err, want)
	}
}

// txErr runs fn in its own transaction and returns its error, so that a
// failing call can be checked without dooming other calls' transactions.
func txErr(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) error {
	t.Helper()
	ctx := t.Context()
	return s.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) })
}

// newUser returns a user with every field set.
func newUser(id, name string) store.User {
	return store.User{
		ID:          id,
		Name:        name,
		DisplayName: "The " + name,
		Email:       name + "@example.org",
		Phone:       "+1 555 0100 ext " + id,
		CreatedAt:   at(time.Minute),
		UpdatedAt:   at(2 * time.Minute),
	}
}

// createUsers adds users in one transaction.
func createUsers(t *testing.T, s store.Store, users ...store.User) {
	t.Helper()
	createAll(t, s, store.Tx.CreateUser, users...)
}

// stored returns u as the store gives it back: times to the millisecond.
func stored(u store.User) store.User {
	u.CreatedAt = ms(u.CreatedAt)
	u.UpdatedAt = ms(u.UpdatedAt)
	u.Lock.LockedUntil = ms(u.Lock.LockedUntil)
	u.BlockedAt = ms(u.BlockedAt)
	u.EmailVerifiedAt = ms(u.EmailVerifiedAt)
	u.PhoneVerifiedAt = ms(u.PhoneVerifiedAt)
	return u
}
