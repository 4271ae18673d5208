package mfa

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/codes"
	"github.com/mfad/mfad/internal/policy"
	"github.com/mfad/mfad/internal/store"
)

// generated gives user a set of backup codes, made by the operator.
func (f *fixture) generated(t *testing.T, user string) BackupCodes {
	t.Helper()
	set, err := f.svc.GenerateBackupCodes(context.Background(), f.operator, user)
	if err != nil {
		t.Fatalf("GenerateBackupCodes(%q) = %v", user, err)
	}
	return set
}

// outbox returns the types of every outbox event, oldest first.
func (f *fixture) outbox(t *testing.T) []store.OutboxEvent {
	t.Helper()
	evs, err := f.st.ListOutbox(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func outboxTypes(evs []store.OutboxEvent) []string {
	types := make([]string, len(evs))
	for i, ev := range evs {
		types[i] = ev.Type
	}
	return types
}

func TestBackupCodesGenerate(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		set := f.generated(t, "alice")
		if len(set.Codes) != 10 || set.Total != 10 || set.Remaining != 10 ||
			!set.CreatedAt.Equal(t0) || !set.ExpiresAt.IsZero() {
			t.Errorf("GenerateBackupCodes = %+v, want 10 codes made now, no expiry", set)
		}
		seen := map[string]bool{}
		for _, c := range set.Codes {
			clean, ok := codes.Clean(c)
			if !ok || codes.Classify(clean) != codes.Passcode || len(c) != 11 || c[5] != '-' ||
				c != strings.ToLower(c) {
				t.Errorf("code %q: want two lower-case groups of five", c)
			}
			if seen[c] {
				t.Errorf("code %q twice in one set", c)
			}
			seen[c] = true
		}

		st, err := f.svc.BackupCodeStatus(ctx, f.operator, "alice")
		if err != nil || st.Total != 10 || st.Remaining != 10 || st.Codes != nil {
			t.Errorf("BackupCodeStatus = %+v, %v; want 10 of 10 and no codes", st, err)
		}
		ev := f.lastEvent(t, "backup_codes.generate")
		if ev.Subject != "alice" || ev.Outcome != audit.Success ||
			ev.Detail["count"] != "10" || ev.Detail["replaced"] != "false" {
			t.Errorf("audit event = %+v, want alice, success, count 10, not replaced", ev)
		}
		if got := outboxTypes(f.outbox(t)); !cmp.Equal(got, []string{EventCodesGenerated}) {
			t.Errorf("outbox = %v, want one %s", got, EventCodesGenerated)
		}

		f.user(t, "nocodes")
		_, err = f.svc.BackupCodeStatus(ctx, f.operator, "nocodes")
		if !isKind(err, ErrNotFound) {
			t.Errorf("BackupCodeStatus(no set) = %v, want ErrNotFound", err)
		}
	})
}

// TestBackupCodeWorksOnce uses a code, then tries it again in every
// spelling a person might type.
func TestBackupCodeWorksOnce(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		set := f.generated(t, "alice")
		code := set.Codes[2]

		res, err := f.svc.Verify(ctx, f.operator, "alice", strings.ToUpper(code))
		if err != nil || !res.Accepted || res.Factor != "backup_code" {
			t.Fatalf("Verify(third code, upper case) = %+v, %v; want accept backup_code", res, err)
		}
		ev := f.lastEvent(t, "verify")
		if ev.Factor != "backup_code" || ev.Detail["position"] != "3" ||
			ev.Detail["remaining"] != "9" || ev.Source != f.operator.Source ||
			ev.FrontDoor != audit.DoorCLI {
			t.Errorf("verify event = %+v, want backup_code position 3, 9 remaining, source "+
				"and front door", ev)
		}
		spellings := []string{code, strings.ReplaceAll(code, "-", ""),
			strings.ReplaceAll(code, "-", " "), " " + strings.ToUpper(code) + " "}
		for _, s := range spellings {
			res, err := f.svc.Verify(ctx, f.operator, "alice", s)
			if err != nil || res.Accepted {
				t.Errorf("Verify(used code as %q) = %+v, %v; want a refusal", s, res, err)
			}
			if ev := f.lastEvent(t, "verify"); ev.Reason != reasonReplay ||
				ev.Detail["position"] != "3" {
				t.Errorf("refusal of a used code: audit %q position %q, want replay, 3",
					ev.Reason, ev.Detail["position"])
			}
		}
		if st, _ := f.svc.BackupCodeStatus(ctx, f.operator, "alice"); st.Remaining != 9 {
			t.Errorf("remaining after one use = %d, want 9", st.Remaining)
		}
		// A success reset the failures; the four refusals count.
		u, _ := f.svc.GetUser(ctx, f.operator, "alice")
		if u.Failures != len(spellings) {
			t.Errorf("failures after %d refusals = %d", len(spellings), u.Failures)
		}

		// Another spelling of an unused code works.
		other := strings.ToUpper(strings.ReplaceAll(set.Codes[0], "-", " - "))
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", other); !res.Accepted {
			t.Errorf("Verify(%q) = reject, want accept", other)
		}
	})
}

func TestBackupCodesOfAnotherUser(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		f.user(t, "bob")
		f.generated(t, "alice")
		bobs := f.generated(t, "bob")
		for _, c := range bobs.Codes {
			if res, _ := f.svc.Verify(ctx, f.operator, "alice", c); res.Accepted {
				t.Fatalf("bob's code %s accepted for alice", c)
			}
		}
		if ev := f.lastEvent(t, "verify"); ev.Reason != reasonWrongCode {
			t.Errorf("bob's code for alice: reason %q, want wrong_code", ev.Reason)
		}
		if st, _ := f.svc.BackupCodeStatus(ctx, f.operator, "bob"); st.Remaining != 10 {
			t.Errorf("bob's remaining after alice tried his codes = %d, want 10", st.Remaining)
		}
	})
}

func TestBackupCodesRegenerate(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		old := f.generated(t, "alice")
		fresh := f.generated(t, "alice")
		for _, c := range old.Codes {
			if res, _ := f.svc.Verify(ctx, f.operator, "alice", c); res.Accepted {
				t.Errorf("old code accepted after a new set was made")
			}
			f.svc.Unlock(ctx, f.operator, "alice", "test")
		}
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", fresh.Codes[9]); !res.Accepted {
			t.Errorf("new code refused")
		}
		if ev := f.lastEvent(t, "backup_codes.generate"); ev.Detail["replaced"] != "true" {
			t.Errorf("second generation: replaced = %q, want true", ev.Detail["replaced"])
		}
	})
}

func TestBackupCodesEvents(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		set := f.generated(t, "alice") // default policy: 10 codes, warn at 3
		for i, c := range set.Codes {
			res, err := f.svc.Verify(ctx, f.operator, "alice", c)
			if err != nil || !res.Accepted {
				t.Fatalf("code %d: %+v, %v", i+1, res, err)
			}
		}
		var got []string
		for _, ev := range f.outbox(t)[1:] {
			var data map[string]any
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatal(err)
			}
			got = append(got, ev.Type+" "+jsonNumber(data["remaining"]))
			if ev.Subject != "alice" || data["front_door"] != "cli" || data["source"] != "local" {
				t.Errorf("event %s = %+v %v, want alice from local through cli", ev.Type, ev, data)
			}
			for _, c := range set.Codes {
				if strings.Contains(string(ev.Data), c) ||
					strings.Contains(string(ev.Data), strings.ToUpper(strings.ReplaceAll(c, "-", ""))) {
					t.Errorf("outbox event %s holds a code", ev.Type)
				}
			}
		}
		want := []string{
			"backup_code.used 9", "backup_code.used 8", "backup_code.used 7",
			"backup_code.used 6", "backup_code.used 5", "backup_code.used 4",
			"backup_code.used 3", "backup_codes.low 3", "backup_code.used 2",
			"backup_code.used 1", "backup_code.used 0", "backup_codes.exhausted 0",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outbox after using every code (-want +got):\n%s", diff)
		}
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", set.Codes[0]); res.Accepted {
			t.Errorf("a code accepted after the set was exhausted")
		}
	})
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBackupCodesExpire(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		pol := policy.Default()
		pol.BackupCodes.Lifetime = policy.Duration(24 * time.Hour)
		if _, err := f.svc.SetPolicy(ctx, f.operator, pol.Marshal()); err != nil {
			t.Fatal(err)
		}
		f.user(t, "alice")
		set := f.generated(t, "alice")
		if !set.ExpiresAt.Equal(t0.Add(24 * time.Hour)) {
			t.Errorf("ExpiresAt = %v, want a day after %v", set.ExpiresAt, t0)
		}
		f.clock.Add(24*time.Hour - time.Second)
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", set.Codes[0]); !res.Accepted {
			t.Errorf("code refused a second before the set expires")
		}
		f.clock.Add(time.Second)
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", set.Codes[1]); res.Accepted {
			t.Errorf("code accepted when the set has expired")
		}
		if ev := f.lastEvent(t, "verify"); ev.Reason != reasonExpired {
			t.Errorf("refusal of an expired code: reason %q, want expired", ev.Reason)
		}
	})
}

// TestBackupCodeLockout: wrong backup codes count toward the one lockout,
// and a locked account refuses even a right code.
func TestBackupCodeLockout(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		set := f.generated(t, "alice")
		for range 10 {
			f.svc.Verify(ctx, f.operator, "alice", "abcde-fghjk")
		}
		if res, _ := f.svc.Verify(ctx, f.operator, "alice", set.Codes[0]); res.Accepted {
			t.Errorf("right code accepted after 10 wrong ones")
		}
		if ev := f.lastEvent(t, "verify"); ev.Reason != reasonLocked {
			t.Errorf("reason = %q, want locked", ev.Reason)
		}
		if st, _ := f.svc.BackupCodeStatus(ctx, f.operator, "alice"); st.Remaining != 10 {
			t.Errorf("a code was used up while locked: %d remain", st.Remaining)
		}
	})
}

func TestConcurrentBackupCode(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.user(t, "alice")
		code := f.generated(t, "alice").Codes[0]
		if n := f.acceptedOf(t, 50, "alice", code); n != 1 {
			t.Errorf("%d of 50 concurrent uses of one backup code accepted, want 1", n)
		}
	})
}

func TestBackupCodesTiering(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "plain")
		f.user(t, "boss", "admin")
		f.user(t, "desk", "helpdesk")
		f.user(t, "authy", "authentication-admin")
		helpdesk, _ := f.token(t, "helpdesk", "desk")
		authAdmin, _ := f.token(t, "authentication-admin", "authy")
		auditor, _ := f.token(t, "auditor", "")

		tests := []struct {
			name    string
			req     Request
			user    string
			allowed bool
		}{
			{"helpdesk for a user without roles", helpdesk, "plain", true},
			{"helpdesk for an admin", helpdesk, "boss", false},
			{"helpdesk for itself", helpdesk, "desk", false},
			{"authentication-admin for helpdesk", authAdmin, "desk", true},
			{"authentication-admin for an admin", authAdmin, "boss", false},
			{"auditor", auditor, "plain", false},
		}
		for _, tt := range tests {
			_, err := f.svc.GenerateBackupCodes(ctx, tt.req, tt.user)
			if tt.allowed && err != nil {
				t.Errorf("%s: %v, want allowed", tt.name, err)
			}
			if !tt.allowed && !isKind(err, ErrForbidden) {
				t.Errorf("%s: %v, want ErrForbidden", tt.name, err)
			}
		}
		if _, err := f.svc.BackupCodeStatus(ctx, f.operator, "boss"); !isKind(err, ErrNotFound) {
			t.Errorf("refused generations made a set for boss: %v", err)
		}
		if ev := f.lastEvent(t, "backup_codes.generate"); ev.Outcome != audit.Denied {
			t.Errorf("last generation event = %s, want denied", ev.Outcome)
		}
	})
}
