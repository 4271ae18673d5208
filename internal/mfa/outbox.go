package mfa

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mfad/mfad/internal/store"
)

// Types of outbox event. Later delivery (email, webhooks) reads them; each
// says what happened to whom, never a code or secret.
const (
	EventCodesGenerated = "backup_codes.generated"
	EventCodesDeleted   = "backup_codes.deleted"
	EventCodeUsed       = "backup_code.used"
	EventCodesLow       = "backup_codes.low"
	EventCodesExhausted = "backup_codes.exhausted"

	EventPassIssued          = "access_pass.issued"
	EventPassUsed            = "access_pass.used"
	EventPassRevoked         = "access_pass.revoked"
	EventPassRequested       = "access_pass.requested"
	EventPassApprovalPending = "access_pass.approval_pending"
	EventPassRequestDenied   = "access_pass.request_denied"
	EventBypassGranted       = "bypass.granted"
	EventBypassUsed          = "bypass.used"
	EventBypassRevoked       = "bypass.revoked"
	EventFraudReported       = "fraud.reported"
	EventFraudCleared        = "fraud.cleared"

	EventTOTPAdded    = "totp.added"
	EventTOTPRemoved  = "totp.removed"
	EventKeyAdded     = "webauthn.added"
	EventKeyRemoved   = "webauthn.removed"
	EventEmailChanged = "email.changed"
	EventPhoneChanged = "phone.changed"
	EventLocked       = "user.locked"
	EventUnlocked     = "user.unlocked"
	EventCodeReplayed = "code.replayed"
)

// EventTypes lists every type of outbox event, for webhook filters.
var EventTypes = []string{
	EventTOTPAdded, EventTOTPRemoved, EventKeyAdded, EventKeyRemoved,
	EventEmailChanged, EventPhoneChanged,
	EventCodesGenerated, EventCodesDeleted, EventCodeUsed, EventCodesLow, EventCodesExhausted,
	EventPassIssued, EventPassUsed, EventPassRevoked, EventPassRequested,
	EventPassApprovalPending, EventPassRequestDenied,
	EventBypassGranted, EventBypassUsed, EventBypassRevoked,
	EventLocked, EventUnlocked, EventCodeReplayed,
	EventFraudReported, EventFraudCleared,
}

// emit writes an event for delivery in tx, so it is kept if and only if the
// change it reports is. data must hold no code, secret or token.
func (s *Service) emit(ctx context.Context, tx store.Tx, req Request, typ string, u store.User,
	data map[string]any) error {
	id, err := s.newID()
	if err != nil {
		return err
	}
	// The actor's kind and names, apart, so that a notice can say who in
	// words rather than parse the audit form.
	body := map[string]any{
		"actor":      req.Actor.String(),
		"actor_kind": string(req.Actor.Kind),
		"source":     req.Source,
		"front_door": req.FrontDoor,
		"request_id": req.RequestID,
	}
	if req.Actor.UserName != "" {
		body["actor_user"] = req.Actor.UserName
	}
	if req.Actor.Kind == ActorToken {
		body["actor_token"] = req.Actor.Name
	}
	if req.Actor.Kind == ActorOperator {
		body["actor_login"] = req.Actor.ID
	}
	if req.Actor.Kind == ActorNAS {
		body["actor_nas"] = req.Actor.ID
	}
	for k, v := range data {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, err = tx.AppendOutbox(ctx, store.OutboxEvent{ID: id, Type: typ, UserID: u.ID,
		Subject: u.Name, Time: s.now(), Data: b})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}
