package policy

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    func(p *Policy)
		wantErr []string // substrings the error must contain, all of them
	}{
		{name: "empty object keeps defaults", doc: `{}`, want: func(*Policy) {}},
		{
			name: "partial lockout overlays defaults",
			doc:  `{"lockout": {"threshold": 5, "duration": "30s"}}`,
			want: func(p *Policy) {
				p.Lockout.Threshold = 5
				p.Lockout.Duration = Duration(30 * time.Second)
			},
		},
		{
			name: "days",
			doc:  `{"lockout": {"max_duration": "2d"}}`,
			want: func(p *Policy) { p.Lockout.MaxDuration = Duration(48 * time.Hour) },
		},
		{
			name: "totp profile",
			doc:  `{"totp": {"algorithm": "SHA256", "digits": 8, "period": 60}}`,
			want: func(p *Policy) { p.TOTP = TOTP{Algorithm: "SHA256", Digits: 8, Period: 60} },
		},
		{name: "unknown field", doc: `{"lockout": {"treshold": 5}}`, wantErr: []string{"treshold"}},
		{name: "not json", doc: `lockout`, wantErr: []string{"policy"}},
		{name: "trailing", doc: `{} {}`, wantErr: []string{"trailing"}},
		{name: "trailing bracket", doc: `{}]`, wantErr: []string{"trailing"}},
		{name: "wrong type", doc: `{"lockout": {"threshold": "ten"}}`,
			wantErr: []string{"lockout.threshold must be a whole number, not string"}},
		{name: "number duration", doc: `{"lockout": {"duration": 60}}`, wantErr: []string{"15m"}},
		{
			name:    "over 100 failures",
			doc:     `{"lockout": {"max_failures": 101}}`,
			wantErr: []string{"lockout.max_failures is 101", "between lockout.threshold (10) and 100"},
		},
		{
			name: "every problem at once",
			doc: `{"lockout": {"threshold": 0, "duration": "0s", "max_failures": 200},
			       "totp": {"algorithm": "MD5", "digits": 7, "period": 45}}`,
			wantErr: []string{
				"lockout.threshold is 0", "lockout.duration is 0s", "lockout.max_failures is 200",
				"totp.algorithm is \"MD5\"", "totp.digits is 7", "totp.period is 45",
			},
		},
		{
			name: "backup codes",
			doc:  `{"backup_codes": {"count": 12, "length": 15, "warn_at": 2, "lifetime": "365d"}}`,
			want: func(p *Policy) {
				p.BackupCodes = BackupCodes{Count: 12, Length: 15, WarnAt: 2,
					Lifetime: Duration(365 * 24 * time.Hour)}
			},
		},
		{
			name: "session lifetime",
			doc:  `{"sessions": {"lifetime": "5m"}}`,
			want: func(p *Policy) { p.Sessions.Lifetime = Duration(5 * time.Minute) },
		},
		{
			name: "backup codes out of bounds",
			doc: `{"backup_codes": {"count": 4, "length": 9, "warn_at": 4, "lifetime": "1h"},
			       "sessions": {"lifetime": "13h"}}`,
			wantErr: []string{
				"backup_codes.count is 4; it must be between 5 and 20",
				"backup_codes.length is 9; it must be between 10 and 20",
				"backup_codes.warn_at is 4; it must be between 0 and backup_codes.count - 1 (3)",
				"backup_codes.lifetime is 1h; it must be 0 (never expire) or between 1d and 3650d",
				"sessions.lifetime is 13h; it must be between 1m and 12h",
			},
		},
		{
			name: "access pass",
			doc: `{"access_pass": {"min_lifetime": "10m", "max_lifetime": "30d",
			       "default_lifetime": "2h", "length": 48, "groups": ["staff"],
			       "self_service": {"enabled": false, "factors": ["phishing_resistant"]}},
			       "bypass": {"enabled": false, "max_duration": "1h"}}`,
			want: func(p *Policy) {
				p.AccessPass.MinLifetime = Duration(10 * time.Minute)
				p.AccessPass.MaxLifetime = Duration(30 * 24 * time.Hour)
				p.AccessPass.DefaultLifetime = Duration(2 * time.Hour)
				p.AccessPass.Length = 48
				p.AccessPass.Groups = []string{"staff"}
				p.AccessPass.SelfService.Enabled = false
				p.AccessPass.SelfService.Factors = []string{ClassPhishingResistant}
				p.Bypass = Bypass{Enabled: false, MaxDuration: Duration(time.Hour)}
			},
		},
		{
			name: "access pass out of bounds",
			doc: `{"access_pass": {"min_lifetime": "5m", "max_lifetime": "31d",
			       "default_lifetime": "9h", "length": 7, "groups": ["a", "a"],
			       "self_service": {"factors": ["backup_code"], "freshness": "0s"}},
			       "bypass": {"max_duration": "2h"}}`,
			wantErr: []string{
				"access_pass.min_lifetime is 5m; it must be between 10m and 30d",
				"access_pass.max_lifetime is 31d; it must be between 10m and 30d",
				"access_pass.length is 7; it must be between 8 and 48",
				"repeated group name \"a\"",
				"access_pass.self_service.factors holds \"backup_code\"",
				"access_pass.self_service.freshness is 0s",
				"bypass.max_duration is 2h; it must be between 1m and 1h",
			},
		},
		{
			name: "requests, second approver and fraud reports",
			doc: `{"access_pass": {"second_approver_for_roles": true,
			       "requests": {"per_user": 1, "lifetime": "7d"}}, "fraud_report": {"block": false}}`,
			want: func(p *Policy) {
				p.AccessPass.SecondApproverForRoles = true
				p.AccessPass.Requests.PerUser = 1
				p.AccessPass.Requests.Lifetime = Duration(7 * 24 * time.Hour)
				p.FraudReport.Block = false
			},
		},
		{
			name: "out-of-band codes and notices",
			doc: `{"out_of_band": {"email": true, "digits": 8, "lifetime": "5m"},
			       "notices": {"user": ["backup_code.used"], "security_contact": [], "per_hour": 5},
			       "sessions": {"freshness": "5m"}}`,
			want: func(p *Policy) {
				p.OutOfBand.Email, p.OutOfBand.Digits = true, 8
				p.OutOfBand.Lifetime = Duration(5 * time.Minute)
				p.Notices = Notices{User: []string{"backup_code.used"}, SecurityContact: []string{},
					PerHour: 5}
				p.Sessions.Freshness = Duration(5 * time.Minute)
			},
		},
		{
			name: "out-of-band codes and notices out of bounds",
			doc: `{"out_of_band": {"digits": 9, "lifetime": "11m", "per_user": 0},
			       "notices": {"user": ["backup_code.usd", "totp.added", "totp.added"], "per_hour": 0},
			       "sessions": {"freshness": "0s"}}`,
			wantErr: []string{
				"out_of_band.digits is 9; it must be between 6 and 8",
				"out_of_band.lifetime is 11m; it must be between 1m and 10m",
				"out_of_band.per_user is 0",
				`notices.user holds "backup_code.usd", which is no notice type`,
				`notices.user holds "totp.added", which is no notice type or is repeated`,
				"notices.per_hour is 0",
				"sessions.freshness is 0s",
			},
		},
		{
			name: "requests out of bounds",
			doc:  `{"access_pass": {"requests": {"per_user": 0, "per_source": 1001, "lifetime": "8d"}}}`,
			wantErr: []string{
				"access_pass.requests.per_user is 0; it must be between 1 and 1000",
				"access_pass.requests.per_source is 1001; it must be between 1 and 1000",
				"access_pass.requests.lifetime is 8d; it must be between 10m and 7d",
			},
		},
		{
			name: "default lifetime outside min and max",
			doc:  `{"access_pass": {"min_lifetime": "2h", "max_lifetime": "4h", "default_lifetime": "1h"}}`,
			wantErr: []string{"access_pass.default_lifetime is 1h; it must be between " +
				"access_pass.min_lifetime (2h) and access_pass.max_lifetime (4h)"},
		},
		{
			name:    "too many backup codes",
			doc:     `{"backup_codes": {"count": 21, "length": 21}}`,
			wantErr: []string{"backup_codes.count is 21", "backup_codes.length is 21"},
		},
		{
			name:    "max below duration",
			doc:     `{"lockout": {"duration": "2h", "max_duration": "1h"}}`,
			wantErr: []string{"lockout.max_duration is 1h; it must be between lockout.duration (2h) and 30d"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.doc))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Parse(%s) = %+v, want error", tt.doc, got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Parse(%s) error = %q, want it to contain %q", tt.doc, err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) error = %v", tt.doc, err)
			}
			want := Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	p := Default()
	p.Lockout.MaxDuration = Duration(72 * time.Hour)
	p.Lockout.Duration = Duration(90 * time.Second)
	got, err := Parse(p.Marshal())
	if err != nil {
		t.Fatalf("Parse(Marshal()) error = %v", err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
	if s := string(p.Marshal()); !strings.Contains(s, `"max_duration": "3d"`) {
		t.Errorf("Marshal() = %s, want max_duration written as \"3d\"", s)
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{time.Minute, "1m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{90 * time.Second, "1m30s"},
		{48 * time.Hour, "2d"},
		{0, "0s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
		back, err := ParseDuration(tt.want)
		if err != nil || back.Std() != tt.d {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", tt.want, back.Std(), err, tt.d)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the defaults block of docs/policy.md")

// TestDefaultsMatchDocs keeps the defaults docs/policy.md shows equal to
// Default; -update rewrites them.
func TestDefaultsMatchDocs(t *testing.T) {
	const path = "../../docs/policy.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, block, ok := strings.Cut(string(doc), "<!-- policy-defaults:start -->\n```json\n")
	block, tail, ok2 := strings.Cut(block, "```\n<!-- policy-defaults:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/policy.md lacks the policy-defaults block")
	}
	want := string(Default().Marshal()) + "\n"
	if *update {
		doc := head + "<!-- policy-defaults:start -->\n```json\n" + want +
			"```\n<!-- policy-defaults:end -->" + tail
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, block); diff != "" {
		t.Errorf("docs/policy.md defaults differ from Default() (-code +docs):\n%s", diff)
	}
}
