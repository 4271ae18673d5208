package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxSources bounds the addresses the limiter remembers, so a flood of
// addresses cannot grow memory without end.
const maxSources = 10_000

// limiter bounds how often one client address may use a sign-in form.
// Sign-in needs no credential but counts toward the account's one lockout,
// so without a bound anybody could lock anybody out at line speed; the API
// bounds its sign-in the same way, and the web must not be the way around
// it. The bound is per process and per form: each form counts on its own,
// so that someone who spent the sign-in budget can still ask for a pass.
type limiter struct {
	perMinute int // negative: no limit
	now       func() time.Time

	mu      sync.Mutex
	sources map[string]*source
}

type source struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiter(perMinute int, now func() time.Time) *limiter {
	return &limiter{perMinute: perMinute, now: now, sources: map[string]*source{}}
}

// allow reports whether the address may use form now.
func (l *limiter) allow(form, addr string) bool {
	if l.perMinute < 0 {
		return true
	}
	now := l.now()
	key := form + "|" + addr
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sources[key]
	if s == nil {
		if len(l.sources) >= maxSources {
			l.forget(now)
		}
		every := rate.Every(time.Minute / time.Duration(l.perMinute))
		s = &source{lim: rate.NewLimiter(every, l.perMinute)}
		l.sources[key] = s
	}
	s.last = now
	return s.lim.AllowN(now, 1)
}

// forget drops the addresses idle for a minute, whose buckets are full
// again, and if that frees too little, all of them: a flood of addresses
// is then limited only by the account lockout, for a minute.
func (l *limiter) forget(now time.Time) {
	for k, s := range l.sources {
		if now.Sub(s.last) >= time.Minute {
			delete(l.sources, k)
		}
	}
	if len(l.sources) >= maxSources*3/4 {
		clear(l.sources)
	}
}
