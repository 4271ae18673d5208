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
	minSessionLifetime = time.Minute
	maxSessionLifetime = 12 * time.Hour
)

// Policy is the whole policy document.
type Policy struct {
	Lockout     Lockout     `json:"lockout"`
	TOTP        TOTP        `json:"totp"`
	BackupCodes BackupCodes `json:"backup_codes"`
	Sessions    Sessions    `json:"sessions"`
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
		Sessions:    Sessions{Lifetime: Duration(15 * time.Minute)},
	}
}

// Parse reads a policy document. Fields the document leaves out keep their
// defaults; unknown fields are refused so that a typo cannot silently leave
// a default in force. The result is validated.
func Parse(doc []byte) (Policy, error) {
	p := Default()
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

	if d := p.Sessions.Lifetime.Std(); d < minSessionLifetime || d > maxSessionLifetime {
		bad("sessions.lifetime is %s; it must be between %s and %s", p.Sessions.Lifetime,
			Duration(minSessionLifetime), Duration(maxSessionLifetime))
	}
	return errors.Join(errs...)
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
