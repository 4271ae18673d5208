// Package policy holds mfad's policy document: its defaults, its JSON form,
// and the bounds every value must keep. It is pure; the service loads the
// stored document and applies it.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Hard limits that no policy may exceed.
const (
	// MaxFailuresLimit is the most consecutive failures an account may ever
	// have before it stays locked until staff unlock it (NIST SP 800-63B
	// §5.2.2 allows no more than 100).
	MaxFailuresLimit = 100

	minLockDuration = time.Second
	maxLockDuration = 30 * 24 * time.Hour

	minBackupCount     = 5
	maxBackupCount     = 20
	minBackupLength    = 10 // 49.5 bits from 31 symbols
	maxBackupLength    = 20
	minBackupLifetime  = 24 * time.Hour
	maxBackupLifetime  = 3650 * 24 * time.Hour
	minPassLifetime    = 10 * time.Minute
	maxPassLifetime    = 30 * 24 * time.Hour
	minPassLength      = 8
	maxPassLength      = 48
	maxBypassDuration  = time.Hour
	minFreshness       = time.Minute
	maxFreshness       = 24 * time.Hour
	minSessionLifetime = time.Minute
	maxSessionLifetime = 12 * time.Hour
	maxRequestsPerHour = 1000
	minRequestLifetime = 10 * time.Minute
	maxRequestLifetime = 7 * 24 * time.Hour
	maxCodeLifetime    = 10 * time.Minute
)

// Bounds of access passes that service code needs too.
const (
	// MinPassLifetime and MaxPassLifetime bound every pass's lifetime.
	MinPassLifetime = minPassLifetime
	MaxPassLifetime = maxPassLifetime
)

// Policy is the whole policy document.
type Policy struct {
	Lockout     Lockout     `json:"lockout"`
	TOTP        TOTP        `json:"totp"`
	BackupCodes BackupCodes `json:"backup_codes"`
	Sessions    Sessions    `json:"sessions"`
	AccessPass  AccessPass  `json:"access_pass"`
	Bypass      Bypass      `json:"bypass"`
	FraudReport FraudReport `json:"fraud_report"`
	OutOfBand   OutOfBand   `json:"out_of_band"`
	Notices     Notices     `json:"notices"`
}

// OutOfBand governs one-time codes sent by email or SMS. Both are off by
// default: NIST SP 800-63B does not count email as out of band at all and
// restricts SMS, so an organisation turns either on knowingly. Neither ever
// qualifies a session to issue itself an access pass.
type OutOfBand struct {
	Email bool `json:"email"`
	SMS   bool `json:"sms"`
	// Digits is the length of a code, Lifetime how long it works.
	Digits   int      `json:"digits"`
	Lifetime Duration `json:"lifetime"`
	// PerUser, PerDestination and Global bound the codes sent per hour for
	// one user name, to one address or number, and in all. PerUser and
	// Global are read from the global policy alone, since they are counted
	// before the user is known.
	PerUser        int `json:"per_user"`
	PerDestination int `json:"per_destination"`
	Global         int `json:"global"`
}

// Notices says which events are told to whom by email. Webhooks choose
// their own events.
type Notices struct {
	// User lists the event types the user is told of at their address.
	User []string `json:"user"`
	// SecurityContact lists those the configured security contact is told
	// of as well.
	SecurityContact []string `json:"security_contact"`
	// PerHour bounds the notices one user is sent an hour, so that a storm
	// of events (say, someone replaying a code) cannot flood their inbox.
	PerHour int `json:"per_hour"`
}

// NoticeTypes lists every event type a notice can be sent for, in the order
// a person would read them.
var NoticeTypes = []string{
	"totp.added", "totp.removed", "webauthn.added", "webauthn.removed",
	"email.changed", "phone.changed",
	"backup_codes.generated", "backup_codes.deleted", "backup_code.used",
	"backup_codes.low", "backup_codes.exhausted",
	"access_pass.issued", "access_pass.used", "access_pass.revoked",
	"access_pass.requested", "access_pass.approval_pending", "access_pass.request_denied",
	"bypass.granted", "bypass.used", "bypass.revoked",
	"user.locked", "user.unlocked", "code.replayed",
	"fraud.reported", "fraud.cleared",
}

// AccessPass governs temporary access passes: time-limited passcodes that
// stand in when a user's everyday factor is out of reach.
type AccessPass struct {
	Enabled bool `json:"enabled"`
	// Lifetimes staff may give a pass, and the one it gets when they name
	// none.
	MinLifetime     Duration `json:"min_lifetime"`
	MaxLifetime     Duration `json:"max_lifetime"`
	DefaultLifetime Duration `json:"default_lifetime"`
	// AllowMultiUse lets staff issue passes that work more than once within
	// their lifetime; a pass is one-time unless its request asks otherwise.
	AllowMultiUse bool `json:"allow_multi_use"`
	Length        int  `json:"length"` // symbols in a pass
	// Groups lists the groups whose members may be issued passes and use
	// them; empty means every user.
	Groups      []string        `json:"groups"`
	SelfService PassSelfService `json:"self_service"`
	// SecondApproverForRoles holds passes for users who hold a staff role
	// until a second admin, not the one who issued it, approves.
	SecondApproverForRoles bool         `json:"second_approver_for_roles"`
	Requests               PassRequests `json:"requests"`
}

// PassRequests governs the requests for a pass that locked-out users make
// without signing in, for the helpdesk to approve or deny.
type PassRequests struct {
	Enabled bool `json:"enabled"`
	// PerUser and PerSource bound the requests per hour for one user name
	// and from one address. Both are read from the global policy alone:
	// they are counted before the user is known, and a bound that differed
	// by group would tell who exists.
	PerUser   int `json:"per_user"`
	PerSource int `json:"per_source"`
	// Lifetime is how long a request waits in the queue.
	Lifetime Duration `json:"lifetime"`
}

// FraudReport governs what a "this was not me" report does.
type FraudReport struct {
	// Block blocks the user's sign-ins and ends their passes, bypass and
	// sessions until staff clear the report.
	Block bool `json:"block"`
}

// PassSelfService governs passes users issue themselves, just in time, for
// a device that has none of their factors. Such passes are always one-time.
type PassSelfService struct {
	Enabled bool `json:"enabled"`
	// Groups lists the groups whose members may; empty means every user
	// who may use passes at all.
	Groups      []string `json:"groups"`
	MaxLifetime Duration `json:"max_lifetime"`
	// Factors are the factor classes a user must have signed in with, at
	// most Freshness ago.
	Factors   []string `json:"factors"`
	Freshness Duration `json:"freshness"`
}

// Factor classes self-service passes may require. A backup code, another
// pass or an out-of-band code never qualifies: each is what a thief of a
// sheet, a pass or a mailbox would hold.
const (
	ClassPossession        = "possession"         // an authenticator app
	ClassPhishingResistant = "phishing_resistant" // a security key or passkey
)

// Bypass governs one-time bypasses: staff let one verification of a user
// through without a code, for a few minutes.
type Bypass struct {
	Enabled     bool     `json:"enabled"`
	MaxDuration Duration `json:"max_duration"`
}

// BackupCodes shapes the sets of single-use backup codes made from now on.
// A set already made keeps the count, length and expiry it was made with.
type BackupCodes struct {
	Count  int `json:"count"`  // codes in a set
	Length int `json:"length"` // symbols in a code
	// WarnAt is the number of remaining codes at which the user is warned
	// (the backup_codes.low event); 0 warns only when none are left.
	WarnAt int `json:"warn_at"`
	// Lifetime is how long a set works after it is made; 0 means for ever.
	Lifetime Duration `json:"lifetime"`
}

// Sessions governs the short-lived self-service sessions a user opens with
// a code.
type Sessions struct {
	Lifetime Duration `json:"lifetime"`
	// Freshness is how recently a session must have proved its factor to
	// bind an address or number for codes, or to remove a user's last
	// authenticator or security key.
	Freshness Duration `json:"freshness"`
	// Idle ends a session that has not been used for this long, before its
	// lifetime is up.
	Idle Duration `json:"idle"`
}

// Lockout governs how failed verifications lock an account. Every Threshold
// consecutive failures lock it for a while; each lock lasts twice as long as
// the one before, up to MaxDuration; at MaxFailures it stays locked until a
// member of staff unlocks it. A success resets all of it.
type Lockout struct {
	Threshold   int      `json:"threshold"`
	Duration    Duration `json:"duration"`
	MaxDuration Duration `json:"max_duration"`
	MaxFailures int      `json:"max_failures"`
}

// TOTP sets the parameters new authenticators get unless an enrolment asks
// for others. SHA1, 6 digits and 30 seconds is the only profile every
// authenticator app honours.
type TOTP struct {
	Algorithm string `json:"algorithm"`
	Digits    int    `json:"digits"`
	Period    int    `json:"period"`
}

// Default returns the policy in force when none is stored.
func Default() Policy {
	return Policy{
		Lockout: Lockout{
			Threshold:   10,
			Duration:    Duration(time.Minute),
			MaxDuration: Duration(time.Hour),
			MaxFailures: MaxFailuresLimit,
		},
		TOTP:        TOTP{Algorithm: "SHA1", Digits: 6, Period: 30},
		BackupCodes: BackupCodes{Count: 10, Length: 10, WarnAt: 3},
		Sessions: Sessions{Lifetime: Duration(15 * time.Minute), Freshness: Duration(10 * time.Minute),
			Idle: Duration(15 * time.Minute)},
		AccessPass: AccessPass{
			Enabled:         true,
			MinLifetime:     Duration(time.Hour),
			MaxLifetime:     Duration(8 * time.Hour),
			DefaultLifetime: Duration(time.Hour),
			AllowMultiUse:   true,
			Length:          12,
			Groups:          []string{},
			SelfService: PassSelfService{
				Enabled:     true,
				Groups:      []string{},
				MaxLifetime: Duration(time.Hour),
				Factors:     []string{ClassPossession, ClassPhishingResistant},
				Freshness:   Duration(10 * time.Minute),
			},
			Requests: PassRequests{Enabled: true, PerUser: 3, PerSource: 10,
				Lifetime: Duration(24 * time.Hour)},
		},
		Bypass:      Bypass{Enabled: true, MaxDuration: Duration(5 * time.Minute)},
		FraudReport: FraudReport{Block: true},
		OutOfBand: OutOfBand{Digits: 6, Lifetime: Duration(10 * time.Minute), PerUser: 5,
			PerDestination: 5, Global: 1000},
		Notices: Notices{
			User:            slices.Clone(NoticeTypes),
			SecurityContact: []string{"bypass.granted", "user.locked", "fraud.reported"},
			PerHour:         20,
		},
	}
}

// Parse reads a policy document. Fields the document leaves out keep their
// defaults; unknown fields are refused so that a typo cannot silently leave
// a default in force. The result is validated.
func Parse(doc []byte) (Policy, error) {
	return ParseOver(Default(), doc)
}

// ParseOver reads a policy document as Parse does, but fields it leaves out
// keep their value in base. A group's document is read over the global
// policy this way, so that it says only what it changes.
func ParseOver(base Policy, doc []byte) (Policy, error) {
	p := base.clone()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return Policy{}, fmt.Errorf("%s must be %s, not %s",
				typeErr.Field, kindName(typeErr.Type.Kind()), typeErr.Value)
		}
		return Policy{}, fmt.Errorf("policy: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Policy{}, errors.New("policy: trailing data after the document")
	}
	// A list given as null reads as an empty one, so the document's JSON
	// form always shows lists as lists.
	for _, l := range []*[]string{&p.AccessPass.Groups, &p.AccessPass.SelfService.Groups,
		&p.AccessPass.SelfService.Factors, &p.Notices.User, &p.Notices.SecurityContact} {
		if *l == nil {
			*l = []string{}
		}
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Struct:
		return "an object"
	}
	return "a whole number"
}

// Validate reports every value outside its bounds at once. Each problem
// names the field and the allowed range.
func (p Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	l := p.Lockout
	if l.Threshold < 1 || l.Threshold > MaxFailuresLimit {
		bad("lockout.threshold is %d; it must be between 1 and %d", l.Threshold, MaxFailuresLimit)
	}
	if d := l.Duration.Std(); d < minLockDuration || d > maxLockDuration {
		bad("lockout.duration is %s; it must be between %s and %s",
			l.Duration, Duration(minLockDuration), Duration(maxLockDuration))
	}
	if d := l.MaxDuration.Std(); d < l.Duration.Std() || d > maxLockDuration {
		bad("lockout.max_duration is %s; it must be between lockout.duration (%s) and %s",
			l.MaxDuration, l.Duration, Duration(maxLockDuration))
	}
	if l.MaxFailures < l.Threshold || l.MaxFailures > MaxFailuresLimit {
		bad("lockout.max_failures is %d; it must be between lockout.threshold (%d) and %d",
			l.MaxFailures, l.Threshold, MaxFailuresLimit)
	}

	t := p.TOTP
	switch t.Algorithm {
	case "SHA1", "SHA256", "SHA512":
	default:
		bad("totp.algorithm is %q; it must be SHA1, SHA256 or SHA512", t.Algorithm)
	}
	if t.Digits != 6 && t.Digits != 8 {
		bad("totp.digits is %d; it must be 6 or 8", t.Digits)
	}
	if t.Period != 30 && t.Period != 60 {
		bad("totp.period is %d; it must be 30 or 60", t.Period)
	}

	b := p.BackupCodes
	if b.Count < minBackupCount || b.Count > maxBackupCount {
		bad("backup_codes.count is %d; it must be between %d and %d", b.Count,
			minBackupCount, maxBackupCount)
	}
	if b.Length < minBackupLength || b.Length > maxBackupLength {
		bad("backup_codes.length is %d; it must be between %d and %d", b.Length,
			minBackupLength, maxBackupLength)
	}
	if b.WarnAt < 0 || b.WarnAt >= b.Count {
		bad("backup_codes.warn_at is %d; it must be between 0 and backup_codes.count - 1 (%d)",
			b.WarnAt, b.Count-1)
	}
	if d := b.Lifetime.Std(); d != 0 && (d < minBackupLifetime || d > maxBackupLifetime) {
		bad("backup_codes.lifetime is %s; it must be 0 (never expire) or between %s and %s",
			b.Lifetime, Duration(minBackupLifetime), Duration(maxBackupLifetime))
	}

	p.validatePass(bad)
	p.validateNotices(bad)
	o := p.OutOfBand
	if o.Digits < 6 || o.Digits > 8 {
		bad("out_of_band.digits is %d; it must be between 6 and 8", o.Digits)
	}
	if d := o.Lifetime.Std(); d < time.Minute || d > maxCodeLifetime {
		bad("out_of_band.lifetime is %s; it must be between 1m and %s", o.Lifetime,
			Duration(maxCodeLifetime))
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"per_user", o.PerUser}, {"per_destination", o.PerDestination}, {"global", o.Global}} {
		if f.n < 1 || f.n > 100_000 {
			bad("out_of_band.%s is %d; it must be between 1 and 100000", f.name, f.n)
		}
	}
	if d := p.Bypass.MaxDuration.Std(); d < time.Minute || d > maxBypassDuration {
		bad("bypass.max_duration is %s; it must be between 1m and %s", p.Bypass.MaxDuration,
			Duration(maxBypassDuration))
	}

	if d := p.Sessions.Lifetime.Std(); d < minSessionLifetime || d > maxSessionLifetime {
		bad("sessions.lifetime is %s; it must be between %s and %s", p.Sessions.Lifetime,
			Duration(minSessionLifetime), Duration(maxSessionLifetime))
	}
	if d := p.Sessions.Idle.Std(); d < minSessionLifetime || d > maxSessionLifetime {
		bad("sessions.idle is %s; it must be between %s and %s", p.Sessions.Idle,
			Duration(minSessionLifetime), Duration(maxSessionLifetime))
	}
	if d := p.Sessions.Freshness.Std(); d < minFreshness || d > maxFreshness {
		bad("sessions.freshness is %s; it must be between %s and %s", p.Sessions.Freshness,
			Duration(minFreshness), Duration(maxFreshness))
	}
	return errors.Join(errs...)
}

func (p Policy) validatePass(bad func(string, ...any)) {
	a := p.AccessPass
	inRange := func(name string, d Duration) {
		if d.Std() < minPassLifetime || d.Std() > maxPassLifetime {
			bad("access_pass.%s is %s; it must be between %s and %s", name, d,
				Duration(minPassLifetime), Duration(maxPassLifetime))
		}
	}
	inRange("min_lifetime", a.MinLifetime)
	inRange("max_lifetime", a.MaxLifetime)
	inRange("default_lifetime", a.DefaultLifetime)
	if a.MaxLifetime < a.MinLifetime {
		bad("access_pass.max_lifetime (%s) is below access_pass.min_lifetime (%s)",
			a.MaxLifetime, a.MinLifetime)
	}
	if a.DefaultLifetime < a.MinLifetime || a.DefaultLifetime > a.MaxLifetime {
		bad("access_pass.default_lifetime is %s; it must be between access_pass.min_lifetime "+
			"(%s) and access_pass.max_lifetime (%s)", a.DefaultLifetime, a.MinLifetime,
			a.MaxLifetime)
	}
	if a.Length < minPassLength || a.Length > maxPassLength {
		bad("access_pass.length is %d; it must be between %d and %d", a.Length,
			minPassLength, maxPassLength)
	}
	checkNames(bad, "access_pass.groups", a.Groups)
	ss := a.SelfService
	checkNames(bad, "access_pass.self_service.groups", ss.Groups)
	if d := ss.MaxLifetime.Std(); d < minPassLifetime || d > maxPassLifetime {
		bad("access_pass.self_service.max_lifetime is %s; it must be between %s and %s",
			ss.MaxLifetime, Duration(minPassLifetime), Duration(maxPassLifetime))
	}
	if len(ss.Factors) == 0 {
		bad("access_pass.self_service.factors is empty; name %s, %s or both",
			ClassPossession, ClassPhishingResistant)
	}
	for _, f := range ss.Factors {
		if f != ClassPossession && f != ClassPhishingResistant {
			bad("access_pass.self_service.factors holds %q; only %s and %s qualify (never a "+
				"backup code, another pass or an out-of-band code)", f, ClassPossession,
				ClassPhishingResistant)
		}
	}
	if d := ss.Freshness.Std(); d < minFreshness || d > maxFreshness {
		bad("access_pass.self_service.freshness is %s; it must be between %s and %s",
			ss.Freshness, Duration(minFreshness), Duration(maxFreshness))
	}
	rq := a.Requests
	if rq.PerUser < 1 || rq.PerUser > maxRequestsPerHour {
		bad("access_pass.requests.per_user is %d; it must be between 1 and %d", rq.PerUser,
			maxRequestsPerHour)
	}
	if rq.PerSource < 1 || rq.PerSource > maxRequestsPerHour {
		bad("access_pass.requests.per_source is %d; it must be between 1 and %d",
			rq.PerSource, maxRequestsPerHour)
	}
	if d := rq.Lifetime.Std(); d < minRequestLifetime || d > maxRequestLifetime {
		bad("access_pass.requests.lifetime is %s; it must be between %s and %s", rq.Lifetime,
			Duration(minRequestLifetime), Duration(maxRequestLifetime))
	}
}

func (p Policy) validateNotices(bad func(string, ...any)) {
	n := p.Notices
	for field, types := range map[string][]string{"notices.user": n.User,
		"notices.security_contact": n.SecurityContact} {
		seen := map[string]bool{}
		for _, t := range types {
			if !slices.Contains(NoticeTypes, t) || seen[t] {
				bad("%s holds %q, which is no notice type or is repeated; the types are %s",
					field, t, strings.Join(NoticeTypes, ", "))
			}
			seen[t] = true
		}
	}
	if n.PerHour < 1 || n.PerHour > 1000 {
		bad("notices.per_hour is %d; it must be between 1 and 1000", n.PerHour)
	}
}

// clone returns a copy of p that shares no slice with it.
func (p Policy) clone() Policy {
	c := p
	c.AccessPass.Groups = slices.Clone(p.AccessPass.Groups)
	c.AccessPass.SelfService.Groups = slices.Clone(p.AccessPass.SelfService.Groups)
	c.AccessPass.SelfService.Factors = slices.Clone(p.AccessPass.SelfService.Factors)
	c.Notices.User = slices.Clone(p.Notices.User)
	c.Notices.SecurityContact = slices.Clone(p.Notices.SecurityContact)
	return c
}

// checkNames reports group names that are empty or repeated.
func checkNames(bad func(string, ...any), field string, names []string) {
	seen := map[string]bool{}
	for _, n := range names {
		if strings.TrimSpace(n) == "" || seen[n] {
			bad("%s holds an empty or repeated group name %q", field, n)
		}
		seen[n] = true
	}
}

// Marshal returns the document in its canonical, indented JSON form.
func (p Policy) Marshal() []byte {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		// Policy holds only numbers and strings; this cannot fail.
		panic(err)
	}
	return append(b, '\n')
}
