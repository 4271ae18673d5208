package mfa

import (
	"context"
	"sync"
	"time"
)

// maxPause bounds how long a refusal is held back, so that a slow spike of
// the database cannot make every refusal slow for long.
const maxPause = 250 * time.Millisecond

// pace evens out how long refusals take. A verification of a known user
// with a factor to check does more database work (the failure count, the
// factor's rows) than the refusal of an unknown, disabled or locked user or
// of one without a factor; on its own that difference, a few hundred
// microseconds, would tell a patient caller which users exist. pace keeps a
// moving average of the full path and holds the short refusals back to it.
type pace struct {
	mu  sync.Mutex
	avg time.Duration // moving average of full verifications; 0 before any
}

// observe adds the duration of a verification that checked a factor.
func (p *pace) observe(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.avg == 0 {
		p.avg = d
		return
	}
	// An exponential moving average over about the last eight.
	p.avg += (d - p.avg) / 8
}

// pause returns how long a short refusal that took elapsed should still
// wait.
func (p *pace) pause(elapsed time.Duration) time.Duration {
	p.mu.Lock()
	avg := p.avg
	p.mu.Unlock()
	return min(max(avg-elapsed, 0), maxPause)
}

// shortRefusal reports whether a verification ended before the full path:
// no factor of a real, usable account was checked.
func shortRefusal(reason string) bool {
	switch reason {
	case reasonUnknownUser, reasonDisabled, reasonNoFactor, reasonLocked, reasonBlocked:
		return true
	}
	return false
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
