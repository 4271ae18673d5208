package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultSignInRate is how many sign-in attempts one client address may
// make per minute, in bursts of as many, when Config.SignInRate is zero.
const DefaultSignInRate = 10

// maxSources bounds the addresses a limiter remembers; beyond it, those idle
// longest are forgotten first, so a flood of addresses cannot grow memory
// without end.
const maxSources = 10_000

// sourceLimiter bounds how often each client address may try an operation
// that anyone may call. Sign-in needs no credential but counts toward the
// one lockout, so without it anybody could lock anybody out at line speed.
// The bound is per process: N replicas allow N times as much.
type sourceLimiter struct {
	perMinute int
	now       func() time.Time

	mu      sync.Mutex
	sources map[string]*sourceState
}

type sourceState struct {
	lim  *rate.Limiter
	last time.Time
}

func newSourceLimiter(perMinute int, now func() time.Time) *sourceLimiter {
	return &sourceLimiter{perMinute: perMinute, now: now, sources: map[string]*sourceState{}}
}

// allow reports whether src may try now, and if not, how long until it may.
func (l *sourceLimiter) allow(src string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.sources[src]
	if st == nil {
		if len(l.sources) >= maxSources {
			l.forgetIdle(now)
		}
		every := rate.Every(time.Minute / time.Duration(l.perMinute))
		st = &sourceState{lim: rate.NewLimiter(every, l.perMinute)}
		l.sources[src] = st
	}
	st.last = now
	r := st.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// forgetIdle drops addresses whose bucket has refilled, and if that frees
// too little, the half idle longest.
func (l *sourceLimiter) forgetIdle(now time.Time) {
	for src, st := range l.sources {
		if now.Sub(st.last) >= time.Minute {
			delete(l.sources, src)
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
	for src, st := range l.sources {
		if st.last.Before(mid) {
			delete(l.sources, src)
		}
	}
}

// anonymousLimits names what each route that takes no credential counts,
// for its 429 answer and its log line.
var anonymousLimits = map[string]string{
	"/v1/sessions":             "sign-in attempts",
	"/v1/access-pass-requests": "requests for an access pass",
	"/v1/fraud-reports":        "fraud reports",
	"/v1/challenges":           "requests for codes",
}

// limited wraps an operation so that each client address may call it only
// as often as l allows; beyond that it answers 429 with Retry-After and
// the operation does not run. what names the attempts counted.
func (h *Handler) limited(l *sourceLimiter, what string, fn http.Handler) http.Handler {
	if l == nil {
		return fn
	}
	if what == "" {
		what = "requests"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := h.clientIP(r)
		ok, wait := l.allow(ip)
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			h.log.Warn(what+" limited", "route", r.Pattern, "client_ip", ip,
				"retry_after_s", secs)
			writeProblem(w, r, http.StatusTooManyRequests,
				"too many "+what+" from this address; try again in "+
					strconv.Itoa(secs)+" seconds", nil)
			return
		}
		fn.ServeHTTP(w, r)
	})
}
