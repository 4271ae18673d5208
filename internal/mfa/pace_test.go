package mfa

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
)

// TestShortRefusalsWait checks that refusals which skip the factor check
// are held back to the time the full path takes, and that full
// verifications are not.
func TestShortRefusalsWait(t *testing.T) {
	f := newFixture(t, sqltest.SQLite(t))
	ctx := context.Background()
	var mu sync.Mutex
	var pauses []time.Duration
	f.svc.sleep = func(_ context.Context, d time.Duration) {
		mu.Lock()
		pauses = append(pauses, d)
		mu.Unlock()
	}
	last := func() (time.Duration, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(pauses) == 0 {
			return 0, 0
		}
		return pauses[len(pauses)-1], len(pauses)
	}

	secret := f.enrolled(t, "alice")
	f.user(t, "nofactor")
	f.svc.Verify(ctx, f.operator, "alice", wrong(f.code(secret, 0)))
	f.svc.Verify(ctx, f.operator, "alice", f.code(secret, 0))
	if _, n := last(); n != 0 {
		t.Fatalf("full verifications paused %d times, want none", n)
	}
	if f.svc.pace.avg <= 0 {
		t.Fatalf("average of full verifications = %v, want it measured", f.svc.pace.avg)
	}

	// Pretend the full path takes 40 ms, far above what the short one
	// takes here: each short refusal must wait most of the difference.
	f.svc.pace.avg = 40 * time.Millisecond
	for _, tc := range []struct{ user, code string }{
		{"mallory", "123456"}, {"nofactor", "123456"}, {"nofactor", "abcde-fghjk"},
	} {
		_, before := last()
		f.svc.Verify(ctx, f.operator, tc.user, tc.code)
		d, n := last()
		if n != before+1 || d <= 20*time.Millisecond || d > 40*time.Millisecond {
			t.Errorf("Verify(%s) paused %v (%d pauses), want a pause just under 40ms",
				tc.user, d, n-before)
		}
	}
	_, before := last()
	f.svc.Verify(ctx, f.operator, "alice", "12345") // malformed
	if _, n := last(); n != before {
		t.Errorf("a malformed code paused; want no pause")
	}

	f.svc.pace.avg = time.Hour
	f.svc.Verify(ctx, f.operator, "mallory", "123456")
	if d, _ := last(); d != maxPause {
		t.Errorf("pause with a huge average = %v, want the cap %v", d, maxPause)
	}
}

func TestPaceAverage(t *testing.T) {
	var p pace
	if got := p.pause(time.Millisecond); got != 0 {
		t.Errorf("pause before any observation = %v, want 0", got)
	}
	p.observe(8 * time.Millisecond)
	p.observe(16 * time.Millisecond)
	if p.avg != 9*time.Millisecond {
		t.Errorf("average of 8ms then 16ms = %v, want 9ms (1/8 weight)", p.avg)
	}
	if got := p.pause(10 * time.Millisecond); got != 0 {
		t.Errorf("pause after a slow refusal = %v, want 0", got)
	}
}
