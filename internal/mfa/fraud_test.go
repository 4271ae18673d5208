package mfa

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/store"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

func TestFraudReportBlocks(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		pass := f.issued(t, "alice", NewPass{OneTime: true})
		if _, err := f.svc.GrantBypass(ctx, f.operator, "alice", 0, "r"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RequestPass(ctx, caller("203.0.113.9"), "alice", "it's me, honest"); err != nil {
			t.Fatal(err)
		}
		sess, _ := f.signIn(t, "alice", f.code(secret, 0))
		_, other := f.signIn(t, "alice", f.code(secret, 1))

		rep, err := f.svc.ReportFraud(ctx, sess, "I did not ask for a pass")
		if err != nil {
			t.Fatalf("ReportFraud = %v", err)
		}
		want := FraudReport{User: "alice", Blocked: true, PassRevoked: true, BypassRevoked: true,
			SessionsEnded: 2, RequestsDenied: 1, ReportedAt: t0}
		if rep != want {
			t.Errorf("ReportFraud = %+v, want %+v", rep, want)
		}
		f.clock.Add(30 * time.Second)
		for name, code := range map[string]string{"authenticator": f.code(secret, 0),
			"pass": pass.Pass, "bypass": ""} {
			if ok, reason := f.verifyReason(t, "alice", code); ok || reason != reasonBlocked {
				t.Errorf("%s after a fraud report = %v (%s), want refused: blocked", name, ok, reason)
			}
		}
		if _, err := f.svc.Authenticate(ctx, other.Token); !isKind(err, ErrUnauthenticated) {
			t.Errorf("another session after the report: %v, want ended", err)
		}
		if len(f.pending(t, f.operator)) != 0 {
			t.Errorf("a pass request survived the report")
		}
		if u, _ := f.svc.GetUser(ctx, f.operator, "alice"); !u.BlockedAt.Equal(t0) {
			t.Errorf("user blocked at %v, want %v", u.BlockedAt, t0)
		}
		types := outboxTypes(f.outbox(t))
		if types[len(types)-1] != EventFraudReported {
			t.Errorf("outbox ends %v, want %s", types, EventFraudReported)
		}

		// Staff clear it, with a reason; then sign-in works again.
		desk, _ := f.token(t, "helpdesk", "")
		if err := f.svc.ClearFraud(ctx, desk, "alice", ""); !isKind(err, ErrInvalid) {
			t.Errorf("ClearFraud without a reason = %v, want ErrInvalid", err)
		}
		if err := f.svc.ClearFraud(ctx, desk, "alice", "she lent her laptop; new pass issued"); err != nil {
			t.Fatalf("ClearFraud = %v", err)
		}
		if ok, _ := f.verifyReason(t, "alice", f.code(secret, 1)); !ok {
			t.Errorf("authenticator refused after the block was cleared")
		}
		if err := f.svc.ClearFraud(ctx, desk, "alice", "again"); !isKind(err, ErrConflict) {
			t.Errorf("ClearFraud of a user not blocked = %v, want ErrConflict", err)
		}
	})
}

func TestFraudReportPolicy(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	f.setPolicy(t, `{"fraud_report": {"block": false}}`)
	sess, _ := f.signIn(t, "alice", f.code(secret, 0))
	rep, err := f.svc.ReportFraud(ctx, sess, "")
	if err != nil || rep.Blocked {
		t.Fatalf("ReportFraud without blocking = %+v, %v; want recorded, not blocked", rep, err)
	}
	if ok, _ := f.verifyReason(t, "alice", f.code(secret, 1)); !ok {
		t.Errorf("verification refused although the policy does not block")
	}
	if ev := f.lastEvent(t, string(ActFraudReport)); ev.Detail["blocked"] != "false" {
		t.Errorf("audit = %v, want blocked false", ev.Detail)
	}
}

func TestFraudReportLink(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	f.issued(t, "alice", NewPass{OneTime: true})
	evs := f.outbox(t)
	issued := evs[len(evs)-1]
	if issued.Type != EventPassIssued {
		t.Fatalf("last outbox event %s, want %s", issued.Type, EventPassIssued)
	}

	link, err := f.svc.ReportLink(issued)
	if err != nil {
		t.Fatalf("ReportLink = %v", err)
	}
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "http" || u.Host != "127.0.0.1:8080" || u.Path != "/report" {
		t.Fatalf("ReportLink = %q, want a link under the public URL", link)
	}
	token := u.Query().Get("token")
	if err := f.svc.CheckReportLink(token); err != nil {
		t.Errorf("CheckReportLink(valid) = %v", err)
	}

	// Tampering with any part breaks it.
	bad := []string{"", "x", token + "x", strings.Replace(token, ".", ".A", 1),
		"A" + token[1:], token[:len(token)-2]}
	for _, b := range bad {
		if _, err := f.svc.ReportFraudByLink(ctx, caller("203.0.113.1"), b, ""); !isKind(err, ErrInvalid) {
			t.Errorf("ReportFraudByLink(%.20q...) = %v, want ErrInvalid", b, err)
		}
	}
	if u, _ := f.svc.GetUser(ctx, f.operator, "alice"); !u.BlockedAt.IsZero() {
		t.Fatalf("a tampered link blocked the user")
	}

	rep, err := f.svc.ReportFraudByLink(ctx, caller("203.0.113.1"), token, "not me")
	if err != nil || !rep.Blocked || !rep.ReportedByLink || rep.LinkedEventType != EventPassIssued ||
		!rep.PassRevoked {
		t.Fatalf("ReportFraudByLink = %+v, %v; want alice blocked and her pass revoked", rep, err)
	}
	ev := f.lastEvent(t, string(ActFraudReport))
	if ev.Actor != "anonymous" || ev.Detail["event"] != issued.ID {
		t.Errorf("audit = %+v, want an anonymous report naming the event", ev)
	}
	// Each link works once.
	if _, err := f.svc.ReportFraudByLink(ctx, caller("203.0.113.1"), token, ""); !isKind(err, ErrInvalid) {
		t.Errorf("second use of a link = %v, want ErrInvalid", err)
	}
	if ok, _ := f.verifyReason(t, "alice", f.code(secret, 0)); ok {
		t.Errorf("verification accepted for a blocked user")
	}

	// Links expire after 30 days.
	f.svc.ClearFraud(ctx, f.operator, "alice", "checked")
	link2, _ := f.svc.ReportLink(store.OutboxEvent{ID: "ev2", UserID: issued.UserID, Type: "x"})
	u2, _ := url.Parse(link2)
	f.clock.Add(30 * 24 * time.Hour)
	if _, err := f.svc.ReportFraudByLink(ctx, caller("203.0.113.1"), u2.Query().Get("token"), ""); !isKind(err, ErrInvalid) {
		t.Errorf("a 30-day-old link = %v, want ErrInvalid", err)
	}
}
