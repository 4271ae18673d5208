package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustParseOver(t *testing.T, base Policy, doc string) Policy {
	t.Helper()
	p, err := ParseOver(base, []byte(doc))
	if err != nil {
		t.Fatalf("ParseOver(%s) error = %v", doc, err)
	}
	return p
}

func TestParseOverKeepsBase(t *testing.T) {
	global := mustParseOver(t, Default(), `{"access_pass": {"max_lifetime": "4h",
		"groups": ["staff", "contractors"]}, "bypass": {"enabled": false}}`)
	group := mustParseOver(t, global, `{"access_pass": {"groups": ["staff"]}}`)

	want := global.clone()
	want.AccessPass.Groups = []string{"staff"}
	if diff := cmp.Diff(want, group); diff != "" {
		t.Errorf("group over global (-want +got):\n%s", diff)
	}
	// Reading the group's list must not write into the global's.
	if got := global.AccessPass.Groups; !cmp.Equal(got, []string{"staff", "contractors"}) {
		t.Errorf("global groups after ParseOver = %v, want unchanged", got)
	}
	// The base's bounds still hold: a group cannot go past them unnoticed.
	if _, err := ParseOver(global, []byte(`{"access_pass": {"default_lifetime": "5h"}}`)); err == nil {
		t.Errorf("ParseOver accepted a default lifetime above the inherited maximum")
	}
}

func TestParseNullLists(t *testing.T) {
	p := mustParseOver(t, Default(), `{"access_pass": {"groups": null}}`)
	if p.AccessPass.Groups == nil {
		t.Errorf("groups: null read as nil, want an empty list")
	}
}

func TestStrictest(t *testing.T) {
	a := Default()
	b := Default()
	b.Lockout = Lockout{Threshold: 5, Duration: Duration(5 * time.Minute),
		MaxDuration: Duration(30 * time.Minute), MaxFailures: 50}
	b.TOTP = TOTP{Algorithm: "SHA256", Digits: 8, Period: 60}
	b.BackupCodes = BackupCodes{Count: 8, Length: 12, WarnAt: 2, Lifetime: Duration(365 * 24 * time.Hour)}
	b.Sessions.Lifetime = Duration(5 * time.Minute)
	b.AccessPass.MinLifetime = Duration(30 * time.Minute)
	b.AccessPass.MaxLifetime = Duration(4 * time.Hour)
	b.AccessPass.DefaultLifetime = Duration(30 * time.Minute)
	b.AccessPass.AllowMultiUse = false
	b.AccessPass.Length = 16
	b.AccessPass.SecondApproverForRoles = true
	b.AccessPass.SelfService.Factors = []string{ClassPhishingResistant}
	b.AccessPass.SelfService.Freshness = Duration(5 * time.Minute)
	b.AccessPass.Requests.PerUser = 1
	b.Bypass.MaxDuration = Duration(2 * time.Minute)

	got := Strictest(a, b)
	want := Default()
	want.Lockout = Lockout{Threshold: 5, Duration: Duration(5 * time.Minute),
		MaxDuration: Duration(time.Hour), MaxFailures: 50}
	want.TOTP = TOTP{Algorithm: "SHA256", Digits: 8, Period: 30}
	want.BackupCodes = BackupCodes{Count: 8, Length: 12, WarnAt: 3, Lifetime: Duration(365 * 24 * time.Hour)}
	want.Sessions.Lifetime = Duration(5 * time.Minute)
	want.AccessPass.MinLifetime = Duration(time.Hour)
	want.AccessPass.MaxLifetime = Duration(4 * time.Hour)
	// The smaller default, 30m, is below the combined minimum, so it is
	// raised to it.
	want.AccessPass.DefaultLifetime = Duration(time.Hour)
	want.AccessPass.AllowMultiUse = false
	want.AccessPass.Length = 16
	want.AccessPass.SecondApproverForRoles = true
	want.AccessPass.SelfService.Factors = []string{ClassPhishingResistant}
	want.AccessPass.SelfService.Freshness = Duration(5 * time.Minute)
	want.AccessPass.Requests.PerUser = 1
	want.Bypass.MaxDuration = Duration(2 * time.Minute)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Strictest (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Strictest result is not valid: %v", err)
	}
	// Order does not matter.
	if diff := cmp.Diff(got, Strictest(b, a)); diff != "" {
		t.Errorf("Strictest(b, a) differs from Strictest(a, b):\n%s", diff)
	}
}

func TestStrictestConflicts(t *testing.T) {
	short := Default()
	short.AccessPass.MinLifetime = Duration(10 * time.Minute)
	short.AccessPass.MaxLifetime = Duration(time.Hour)
	short.AccessPass.SelfService.Factors = []string{ClassPossession}
	long := Default()
	long.AccessPass.MinLifetime = Duration(2 * time.Hour)
	long.AccessPass.MaxLifetime = Duration(8 * time.Hour)
	long.AccessPass.DefaultLifetime = Duration(2 * time.Hour)
	long.AccessPass.SelfService.Factors = []string{ClassPhishingResistant}
	long.BackupCodes = BackupCodes{Count: 5, Length: 10, WarnAt: 4}
	short.BackupCodes = BackupCodes{Count: 10, Length: 10, WarnAt: 9}

	got := Strictest(short, long)
	if got.AccessPass.Enabled {
		t.Errorf("passes enabled although the lifetimes 10m-1h and 2h-8h share nothing")
	}
	if got.AccessPass.SelfService.Enabled {
		t.Errorf("self-service enabled although no factor class is in both policies")
	}
	if got.BackupCodes.WarnAt != 4 {
		t.Errorf("warn_at = %d, want 4 (one below the combined count of 5)", got.BackupCodes.WarnAt)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Strictest result is not valid: %v", err)
	}
}

func TestStrictestCodesAndNotices(t *testing.T) {
	a, b := Default(), Default()
	a.OutOfBand.Email, a.OutOfBand.SMS = true, true
	b.OutOfBand.Email, b.OutOfBand.Digits = true, 8
	a.Notices = Notices{User: []string{"user.locked"}, SecurityContact: []string{}, PerHour: 5}
	b.Notices = Notices{User: []string{"totp.added"}, SecurityContact: []string{"fraud.reported"},
		PerHour: 50}
	got := Strictest(a, b)
	if !got.OutOfBand.Email || got.OutOfBand.SMS || got.OutOfBand.Digits != 8 {
		t.Errorf("out_of_band = %+v, want email alone, with 8 digits", got.OutOfBand)
	}
	want := Notices{User: []string{"totp.added", "user.locked"},
		SecurityContact: []string{"fraud.reported"}, PerHour: 50}
	if diff := cmp.Diff(want, got.Notices); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}

func TestForUser(t *testing.T) {
	global := mustParseOver(t, Default(), `{"access_pass": {"groups": ["staff", "field"],
		"self_service": {"groups": ["field"]}}}`)
	field := mustParseOver(t, global, `{"access_pass": {"max_lifetime": "30d",
		"default_lifetime": "2d"}, "bypass": {"enabled": false}}`)
	locked := mustParseOver(t, global, `{"access_pass": {"enabled": false}}`)
	groups := map[string]Policy{"field": field, "locked": locked}

	tests := []struct {
		name        string
		member      []string
		pass, self  bool
		maxLifetime time.Duration
		bypass      bool
	}{
		{"no group: the global policy, whose list leaves them out", nil, false, false,
			8 * time.Hour, true},
		{"a listed group without a document of its own", []string{"staff"}, true, false,
			8 * time.Hour, true},
		{"a group with its own document", []string{"field"}, true, true, 30 * 24 * time.Hour,
			false},
		{"two documents: the strictest", []string{"field", "locked"}, false, false,
			8 * time.Hour, false},
		{"a group without a document takes no part", []string{"field", "other"}, true, true,
			30 * 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ForUser(global, groups, tt.member)
			a := p.AccessPass
			if a.Enabled != tt.pass || a.SelfService.Enabled != tt.self ||
				a.MaxLifetime.Std() != tt.maxLifetime || p.Bypass.Enabled != tt.bypass {
				t.Errorf("ForUser(%v): passes %v, self-service %v, max lifetime %s, bypass %v; "+
					"want %v, %v, %s, %v", tt.member, a.Enabled, a.SelfService.Enabled,
					a.MaxLifetime, p.Bypass.Enabled, tt.pass, tt.self, Duration(tt.maxLifetime),
					tt.bypass)
			}
			if len(a.Groups) != 0 || len(a.SelfService.Groups) != 0 {
				t.Errorf("ForUser left group lists %v, %v; want them applied and empty",
					a.Groups, a.SelfService.Groups)
			}
		})
	}
}

func TestPassLifetime(t *testing.T) {
	a := Default().AccessPass
	tests := []struct {
		requested time.Duration
		want      time.Duration
		ok        bool
	}{
		{0, time.Hour, true},
		{time.Hour, time.Hour, true},
		{8 * time.Hour, 8 * time.Hour, true},
		{time.Hour - time.Second, time.Hour - time.Second, false},
		{8*time.Hour + time.Second, 8*time.Hour + time.Second, false},
	}
	for _, tt := range tests {
		got, ok := a.Lifetime(tt.requested)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lifetime(%s) = %s, %v; want %s, %v", tt.requested, got, ok, tt.want, tt.ok)
		}
	}
}
