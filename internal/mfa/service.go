// Package mfa is mfad's service: users, groups, tokens, factors, policy and
// the one verify path every front door uses. It decides; the store keeps
// state and makes single-use changes atomic; front doors translate
// protocols. Every change it makes is audited in the same transaction.
package mfa

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// Observer is told about verifications and lockouts, for metrics. Its methods
// must be fast and safe for concurrent use.
type Observer interface {
	Verification(factor string, accepted bool, elapsed time.Duration)
	Lockout()
}

// Config holds what a Service needs. Store and Keys are required.
type Config struct {
	Store    store.Store
	Keys     *keyring.Ring
	Logger   *slog.Logger     // default: discard
	Clock    func() time.Time // default: time.Now
	Rand     io.Reader        // default: crypto/rand.Reader
	Issuer   string           // shown in authenticator apps; default "mfad"
	Observer Observer         // default: none
	// PublicURL is where people reach mfad, such as "https://mfa.example.com",
	// for links in notices; never taken from a request (SECURITY.md 10).
	// Default: http://127.0.0.1:8080.
	PublicURL string

	// Mailer sends notices and email codes; nil sends no email.
	Mailer Mailer
	// Templates make notices; nil: the built-in ones.
	Templates *notify.Templates
	// SMS sends SMS codes; nil sends none.
	SMS notify.SMS
	// WebhookClient posts to webhooks; default: 10 s timeout, no redirects.
	WebhookClient *http.Client
	// SecurityContact is an address told of the events the policy names.
	SecurityContact string
	// WebAuthn names the relying party for security keys and passkeys;
	// nil leaves them off.
	WebAuthn *WebAuthnConfig
}

// Mailer sends an email. *notify.SMTP is one.
type Mailer interface {
	Send(ctx context.Context, m notify.Message) error
}

// Service is mfad's service. It is safe for concurrent use.
type Service struct {
	store  store.Store
	keys   *keyring.Ring
	log    *slog.Logger
	clock  func() time.Time
	rand   io.Reader
	issuer string
	obs    Observer
	// publicURL has no trailing slash.
	publicURL string

	webauthn        *webauthn.WebAuthn // nil: security keys are off
	mailer          Mailer
	templates       *notify.Templates
	sms             notify.SMS
	webhooks        *http.Client
	securityContact string
	// owner names this process in delivery leases.
	owner string
	// codes carries out-of-band codes to the senders, in memory only: a
	// code is never written anywhere in clear.
	codes      chan codeJob
	startCodes sync.Once

	// decoy is a sealed secret that verifications of users who have no
	// usable factor open and check, so that they take about as long as
	// those of users who do (SECURITY.md 9).
	decoy sealedDecoy

	// pace holds back short refusals to the time of the full path, and
	// sleep is how (replaced in tests).
	pace          pace
	bypassPace    pace // the same for requests with an empty code
	challengePace pace // and for codes asked for by email or SMS
	requestPace   pace // and for requests for an access pass
	sleep         func(context.Context, time.Duration)
}

type sealedDecoy struct {
	sealed []byte
	keyID  string
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("mfa: a store and a key ring are required")
	}
	s := &Service{
		store:  cfg.Store,
		keys:   cfg.Keys,
		log:    cfg.Logger,
		clock:  cfg.Clock,
		rand:   cfg.Rand,
		issuer: cfg.Issuer,
		obs:    cfg.Observer,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.issuer == "" {
		s.issuer = "mfad"
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	s.publicURL = strings.TrimRight(cfg.PublicURL, "/")
	if s.publicURL == "" {
		s.publicURL = "http://127.0.0.1:8080"
	}
	s.mailer, s.sms, s.securityContact = cfg.Mailer, cfg.SMS, cfg.SecurityContact
	s.templates = cfg.Templates
	if s.templates == nil {
		t, err := notify.LoadTemplates("")
		if err != nil {
			return nil, fmt.Errorf("mfa: notice templates: %w", err)
		}
		s.templates = t
	}
	s.webhooks = cfg.WebhookClient
	if s.webhooks == nil {
		s.webhooks = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}}
	}
	s.codes = make(chan codeJob, codeQueue)
	rp, err := newRelyingParty(cfg.WebAuthn, s.issuer)
	if err != nil {
		return nil, err
	}
	s.webauthn = rp
	s.sleep = sleepCtx
	owner, err := s.newID()
	if err != nil {
		return nil, fmt.Errorf("mfa: %w", err)
	}
	s.owner = owner
	secret := make([]byte, 20)
	if _, err := io.ReadFull(s.rand, secret); err != nil {
		return nil, fmt.Errorf("mfa: random: %w", err)
	}
	sealed, keyID, err := s.keys.Seal(secret, []byte(decoyAAD))
	if err != nil {
		return nil, fmt.Errorf("mfa: %w", err)
	}
	s.decoy = sealedDecoy{sealed: sealed, keyID: keyID}
	return s, nil
}

const decoyAAD = "mfad/decoy"

type nopObserver struct{}

func (nopObserver) Verification(string, bool, time.Duration) {}
func (nopObserver) Lockout()                                 {}

// now returns the current time at the store's millisecond precision, in UTC.
func (s *Service) now() time.Time {
	return time.UnixMilli(s.clock().UnixMilli()).UTC()
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns a random identifier of 80 bits: 16 lower-case characters.
func (s *Service) newID() (string, error) {
	b := make([]byte, 10)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return strings.ToLower(idEncoding.EncodeToString(b)), nil
}

// event starts an audit event for req. The ID is filled in by appendAudit.
func (s *Service) event(req Request, action string, outcome audit.Outcome, reason string) audit.Event {
	return audit.Event{
		Time:      s.now(),
		Action:    action,
		Outcome:   outcome,
		Reason:    reason,
		Actor:     req.Actor.String(),
		Source:    req.Source,
		FrontDoor: req.FrontDoor,
		RequestID: req.RequestID,
	}
}

// appendAudit signs ev and writes it in tx, so it commits or rolls back with
// the change it records.
func (s *Service) appendAudit(ctx context.Context, tx store.Tx, ev audit.Event) error {
	id, err := s.newID()
	if err != nil {
		return err
	}
	ev.ID = id
	audit.Sign(s.keys.AuditMAC(), &ev)
	if _, err := tx.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// lockRule turns the lockout policy into the store's terms.
func lockRule(l policy.Lockout) store.LockRule {
	return store.LockRule{
		Threshold:   l.Threshold,
		Duration:    l.Duration.Std(),
		MaxDuration: l.MaxDuration.Std(),
		MaxFailures: l.MaxFailures,
	}
}

// Ping reports whether the database answers, for readiness checks.
func (s *Service) Ping(ctx context.Context) error {
	return s.store.Ping(ctx)
}
