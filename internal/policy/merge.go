package policy

import (
	"slices"
	"time"
)

// ForUser returns the policy in force for a user who belongs to the groups
// named in member. groups holds, by group name, the policy of each group
// that has a document of its own (the global policy overlaid with it, see
// ParseOver). A user in none of those groups gets global; a user in one
// gets that group's policy; a user in several gets the most restrictive
// combination of theirs (see Strictest). Groups without a document of their
// own take no part.
//
// The group lists of the access-pass settings are applied here: where the
// user is in none of the groups a list names, passes (or self-service
// passes) are switched off, and the result's lists are empty.
func ForUser(global Policy, groups map[string]Policy, member []string) Policy {
	var each []Policy
	for _, g := range member {
		if p, ok := groups[g]; ok {
			each = append(each, p)
		}
	}
	if len(each) == 0 {
		each = []Policy{global}
	}
	for i := range each {
		each[i] = applyGroupLists(each[i], member)
	}
	return Strictest(each...)
}

// applyGroupLists switches off what the access-pass group lists do not
// grant to a member of the given groups.
func applyGroupLists(p Policy, member []string) Policy {
	p = p.clone()
	a := &p.AccessPass
	if len(a.Groups) > 0 && !overlaps(a.Groups, member) {
		a.Enabled = false
	}
	if len(a.SelfService.Groups) > 0 && !overlaps(a.SelfService.Groups, member) {
		a.SelfService.Enabled = false
	}
	a.Groups, a.SelfService.Groups = []string{}, []string{}
	return p
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// Strictest combines policies into the most restrictive of them, field by
// field, for a user whom several policies govern:
//
//   - lockout: the lowest threshold and failure limit, the longest locks;
//   - authenticators: the strongest hash, the most digits, the shortest
//     period;
//   - backup codes: the fewest and longest codes, the earliest warning, the
//     shortest non-zero lifetime;
//   - sessions: the shortest lifetime;
//   - access passes and bypasses: allowed only where every policy allows
//     them, the narrowest range of lifetimes (passes are off when the
//     ranges have nothing in common), the longest passes, multi-use and
//     each self-service factor class only where every policy allows it,
//     the shortest freshness and self-service lifetime, a second approver
//     where any policy asks for one, the fewest requests and the shortest
//     wait, the shortest bypass;
//   - fraud reports block sign-in where any policy says so;
//   - email and SMS codes only where every policy allows them, the longest
//     and shortest-lived codes and the fewest sent;
//   - notices of every event any policy tells of, to the user and the
//     security contact, and the highest hourly bound, so none is lost.
//
// The result keeps the group lists of the first policy; ForUser has
// already applied them. Strictest of none is Default.
func Strictest(ps ...Policy) Policy {
	if len(ps) == 0 {
		return Default()
	}
	out := ps[0].clone()
	for _, p := range ps[1:] {
		out.Lockout = strictLockout(out.Lockout, p.Lockout)
		out.TOTP = strongTOTP(out.TOTP, p.TOTP)
		out.BackupCodes = strictCodes(out.BackupCodes, p.BackupCodes)
		out.Sessions.Lifetime = min(out.Sessions.Lifetime, p.Sessions.Lifetime)
		out.Sessions.Freshness = min(out.Sessions.Freshness, p.Sessions.Freshness)
		out.Sessions.Idle = min(out.Sessions.Idle, p.Sessions.Idle)
		out.AccessPass = strictPass(out.AccessPass, p.AccessPass)
		out.Bypass.Enabled = out.Bypass.Enabled && p.Bypass.Enabled
		out.Bypass.MaxDuration = min(out.Bypass.MaxDuration, p.Bypass.MaxDuration)
		out.FraudReport.Block = out.FraudReport.Block || p.FraudReport.Block
		out.OutOfBand = strictOutOfBand(out.OutOfBand, p.OutOfBand)
		out.Notices = moreNotices(out.Notices, p.Notices)
	}
	settle(&out)
	return out
}

func strictLockout(a, b Lockout) Lockout {
	return Lockout{
		Threshold:   min(a.Threshold, b.Threshold),
		Duration:    max(a.Duration, b.Duration),
		MaxDuration: max(a.MaxDuration, b.MaxDuration),
		MaxFailures: min(a.MaxFailures, b.MaxFailures),
	}
}

var algorithmStrength = map[string]int{"SHA1": 1, "SHA256": 2, "SHA512": 3}

func strongTOTP(a, b TOTP) TOTP {
	if algorithmStrength[b.Algorithm] > algorithmStrength[a.Algorithm] {
		a.Algorithm = b.Algorithm
	}
	a.Digits = max(a.Digits, b.Digits)
	a.Period = min(a.Period, b.Period)
	return a
}

func strictCodes(a, b BackupCodes) BackupCodes {
	out := BackupCodes{
		Count:    min(a.Count, b.Count),
		Length:   max(a.Length, b.Length),
		WarnAt:   max(a.WarnAt, b.WarnAt),
		Lifetime: a.Lifetime,
	}
	switch {
	case a.Lifetime == 0:
		out.Lifetime = b.Lifetime
	case b.Lifetime != 0:
		out.Lifetime = min(a.Lifetime, b.Lifetime)
	}
	return out
}

func strictPass(a, b AccessPass) AccessPass {
	out := a
	out.Enabled = a.Enabled && b.Enabled
	out.MinLifetime = max(a.MinLifetime, b.MinLifetime)
	out.MaxLifetime = min(a.MaxLifetime, b.MaxLifetime)
	out.DefaultLifetime = min(a.DefaultLifetime, b.DefaultLifetime)
	out.AllowMultiUse = a.AllowMultiUse && b.AllowMultiUse
	out.Length = max(a.Length, b.Length)
	out.SecondApproverForRoles = a.SecondApproverForRoles || b.SecondApproverForRoles

	sa, sb := a.SelfService, b.SelfService
	out.SelfService = PassSelfService{
		Enabled:     sa.Enabled && sb.Enabled,
		Groups:      sa.Groups,
		MaxLifetime: min(sa.MaxLifetime, sb.MaxLifetime),
		Freshness:   min(sa.Freshness, sb.Freshness),
		Factors:     []string{},
	}
	for _, f := range sa.Factors {
		if slices.Contains(sb.Factors, f) {
			out.SelfService.Factors = append(out.SelfService.Factors, f)
		}
	}

	ra, rb := a.Requests, b.Requests
	out.Requests = PassRequests{
		Enabled:   ra.Enabled && rb.Enabled,
		PerUser:   min(ra.PerUser, rb.PerUser),
		PerSource: min(ra.PerSource, rb.PerSource),
		Lifetime:  min(ra.Lifetime, rb.Lifetime),
	}
	return out
}

func strictOutOfBand(a, b OutOfBand) OutOfBand {
	return OutOfBand{
		Email:          a.Email && b.Email,
		SMS:            a.SMS && b.SMS,
		Digits:         max(a.Digits, b.Digits),
		Lifetime:       min(a.Lifetime, b.Lifetime),
		PerUser:        min(a.PerUser, b.PerUser),
		PerDestination: min(a.PerDestination, b.PerDestination),
		Global:         min(a.Global, b.Global),
	}
}

// moreNotices tells of every event either policy tells of: a notice too
// many costs an email, one too few an unseen takeover.
func moreNotices(a, b Notices) Notices {
	union := func(x, y []string) []string {
		var out []string
		for _, t := range NoticeTypes {
			if slices.Contains(x, t) || slices.Contains(y, t) {
				out = append(out, t)
			}
		}
		if out == nil {
			out = []string{}
		}
		return out
	}
	return Notices{User: union(a.User, b.User),
		SecurityContact: union(a.SecurityContact, b.SecurityContact),
		PerHour:         max(a.PerHour, b.PerHour)}
}

// settle mends what combining fields one by one can leave inconsistent, in
// the restrictive direction: a warning level no set can reach, a default
// lifetime outside the range, a range or a factor list left empty.
func settle(p *Policy) {
	b := &p.BackupCodes
	b.WarnAt = min(b.WarnAt, b.Count-1)

	a := &p.AccessPass
	if a.MinLifetime > a.MaxLifetime {
		a.Enabled = false
		a.MaxLifetime = a.MinLifetime
	}
	a.DefaultLifetime = min(max(a.DefaultLifetime, a.MinLifetime), a.MaxLifetime)
	if len(a.SelfService.Factors) == 0 {
		a.SelfService.Enabled = false
		// Keep the document valid; with self-service off the list is moot.
		a.SelfService.Factors = []string{ClassPhishingResistant}
	}
	if !a.Enabled {
		a.SelfService.Enabled = false
	}
}

// Lifetime returns the lifetime a pass gets when its issuer asks for
// requested (zero for the default), and whether the policy allows it.
func (a AccessPass) Lifetime(requested time.Duration) (time.Duration, bool) {
	if requested == 0 {
		return a.DefaultLifetime.Std(), true
	}
	return requested, requested >= a.MinLifetime.Std() && requested <= a.MaxLifetime.Std()
}
