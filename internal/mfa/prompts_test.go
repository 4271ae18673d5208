package mfa

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// nas is a RADIUS client's request.
func nas(name string) Request {
	return Request{Actor: NAS(name, "192.0.2.50"), Source: "192.0.2.50",
		FrontDoor: audit.DoorRADIUS, RequestID: "r-radius"}
}

func TestPrompt(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		secret := f.enrolled(t, "alice")
		vpn := nas("vpn")

		p, err := f.svc.OpenPrompt(ctx, vpn, "alice")
		if err != nil || len(p.State) != 22 || p.Message != promptMessage ||
			!p.ExpiresAt.Equal(t0.Add(promptLifetime)) {
			t.Fatalf("OpenPrompt = %+v, %v", p, err)
		}
		unknown, err := f.svc.OpenPrompt(ctx, vpn, "mallory")
		if err != nil || len(unknown.State) != 22 || unknown.Message != p.Message ||
			!unknown.ExpiresAt.Equal(p.ExpiresAt) {
			t.Errorf("OpenPrompt(unknown) = %+v, %v; want the same shape", unknown, err)
		}

		// The State is bound to its client and works once.
		if res, _ := f.svc.AnswerPrompt(ctx, nas("wifi"), "alice", p.State, f.code(secret, 0)); res.Accepted {
			t.Errorf("a State accepted from another client")
		}
		if ev := f.lastEvent(t, "verify"); ev.Reason != "bad_state" || ev.FrontDoor != audit.DoorRADIUS {
			t.Errorf("audit = %s/%s, want bad_state through radius", ev.Reason, ev.FrontDoor)
		}
		p, _ = f.svc.OpenPrompt(ctx, vpn, "alice")
		res, err := f.svc.AnswerPrompt(ctx, vpn, "alice", p.State, f.code(secret, 0))
		if err != nil || !res.Accepted || res.Factor != "totp" {
			t.Fatalf("AnswerPrompt = %+v, %v; want accepted", res, err)
		}
		if ev := f.lastEvent(t, "verify"); ev.Actor != "nas:vpn (192.0.2.50)" {
			t.Errorf("audited actor %q, want the RADIUS client", ev.Actor)
		}
		if res, _ := f.svc.AnswerPrompt(ctx, vpn, "alice", p.State, f.code(secret, 1)); res.Accepted {
			t.Errorf("a State used twice")
		}
		// And it expires.
		p, _ = f.svc.OpenPrompt(ctx, vpn, "alice")
		f.clock.Add(promptLifetime)
		if res, _ := f.svc.AnswerPrompt(ctx, vpn, "alice", p.State, f.code(secret, 0)); res.Accepted {
			t.Errorf("an expired State accepted")
		}
		// A made-up State for an unknown user is refused like anything else.
		if res, err := f.svc.AnswerPrompt(ctx, vpn, "mallory", unknown.State, "123456"); err != nil || res.Accepted {
			t.Errorf("AnswerPrompt(unknown) = %+v, %v", res, err)
		}
	})
}

func TestPromptOnce(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.user(t, "alice")
		set := f.generated(t, "alice")
		vpn := nas("vpn")
		p, _ := f.svc.OpenPrompt(ctx, vpn, "alice")
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				res, err := f.svc.AnswerPrompt(ctx, vpn, "alice", p.State, set.Codes[i%10])
				if err != nil {
					t.Errorf("AnswerPrompt = %v", err)
				}
				if res.Accepted {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d of 20 answers to one prompt accepted, want 1", wins.Load())
		}
	})
}

// TestPromptSendsCode checks that a prompt sends a code to a proved phone,
// and that either that code or an authenticator code answers it.
func TestPromptSendsCode(t *testing.T) {
	f, g := newCodesFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	secret := f.enrolled(t, "alice")
	ch, err := f.svc.BindDestination(ctx, f.operator, "alice", "sms", "+442079460018")
	if err != nil {
		t.Fatal(err)
	}
	code := codeRE.FindStringSubmatch(g.wait(t, 1)["text"])[1]
	if _, err := f.svc.ConfirmDestination(ctx, f.operator, "alice", "sms", ch.ID, code); err != nil {
		t.Fatal(err)
	}
	vpn := nas("vpn")
	p, _ := f.svc.OpenPrompt(ctx, vpn, "alice")
	sent := codeRE.FindStringSubmatch(g.wait(t, 2)["text"])[1]
	res, err := f.svc.AnswerPrompt(ctx, vpn, "alice", p.State, sent)
	if err != nil || !res.Accepted || res.Factor != "sms" {
		t.Errorf("AnswerPrompt(SMS code) = %+v, %v; want accepted as sms", res, err)
	}
	p, _ = f.svc.OpenPrompt(ctx, vpn, "alice")
	g.wait(t, 3)
	res, err = f.svc.AnswerPrompt(ctx, vpn, "alice", p.State, f.code(secret, 0))
	if err != nil || !res.Accepted || res.Factor != "totp" {
		t.Errorf("AnswerPrompt(authenticator code) = %+v, %v; want accepted as totp", res, err)
	}
	// One wrong answer is one failure, not two.
	p, _ = f.svc.OpenPrompt(ctx, vpn, "alice")
	f.svc.AnswerPrompt(ctx, vpn, "alice", p.State, "000000")
	if u, _ := f.svc.GetUser(ctx, f.operator, "alice"); u.Failures != 1 {
		t.Errorf("a wrong answer counted %d failures, want 1", u.Failures)
	}
}

func TestNASMayOnlyVerify(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	f.user(t, "alice")
	vpn := nas("vpn")
	if _, err := f.svc.GetUser(ctx, vpn, "alice"); !isKind(err, ErrForbidden) {
		t.Errorf("a RADIUS client reading a user = %v, want ErrForbidden", err)
	}
	if _, err := f.svc.IssuePass(ctx, vpn, "alice", NewPass{Reason: "r", OneTime: true}); !isKind(err, ErrForbidden) {
		t.Errorf("a RADIUS client issuing a pass = %v, want ErrForbidden", err)
	}
	if _, err := f.svc.Verify(ctx, vpn, "alice", "123456"); err != nil {
		t.Errorf("a RADIUS client verifying = %v, want allowed", err)
	}
}
