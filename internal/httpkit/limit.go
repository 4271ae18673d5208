package httpkit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxSources bounds the keys a SourceLimiter remembers, so a flood of
// addresses cannot grow memory without end.
const maxSources = 10_000

// SourceLimiter bounds how often each key (a client address, or a form and
// an address) may try an operation that anyone may call. Sign-in needs no
// credential but counts toward the account's one lockout, so without such a
// bound anybody could lock anybody out at line speed. The bound is per
// process: N replicas allow N times as much.
type SourceLimiter struct {
	perMinute int
	now       func() time.Time

	mu      sync.Mutex
	sources map[string]*sourceState
}

type sourceState struct {
	lim  *rate.Limiter
	last time.Time
}

// NewSourceLimiter allows each key perMinute tries a minute, in bursts of
// as many, on the clock now. A perMinute of zero or less allows everything,
// as does a nil *SourceLimiter.
func NewSourceLimiter(perMinute int, now func() time.Time) *SourceLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &SourceLimiter{perMinute: perMinute, now: now, sources: map[string]*sourceState{}}
}

// Allow reports whether key may try now, and if not, how long until it may.
// A refused try is not counted.
func (l *SourceLimiter) Allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.sources[key]
	if st == nil {
		if len(l.sources) >= maxSources {
			l.forgetIdle(now)
		}
		every := rate.Every(time.Minute / time.Duration(l.perMinute))
		st = &sourceState{lim: rate.NewLimiter(every, l.perMinute)}
		l.sources[key] = st
	}
	st.last = now
	r := st.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// forgetIdle drops keys whose bucket has refilled, and if that frees too
// little, the half idle longest.
func (l *SourceLimiter) forgetIdle(now time.Time) {
	for key, st := range l.sources {
		if now.Sub(st.last) >= time.Minute {
			delete(l.sources, key)
		}
	}
	if len(l.sources) < maxSources*3/4 {
		return
	}
	cut := now
	for _, st := range l.sources {
		if st.last.Before(cut) {
			cut = st.last
		}
	}
	mid := cut.Add(now.Sub(cut) / 2)
	for key, st := range l.sources {
		if st.last.Before(mid) {
			delete(l.sources, key)
		}
	}
}
