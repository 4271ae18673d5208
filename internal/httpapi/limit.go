package httpapi

import (
	"math"
	"net/http"
	"strconv"

	"github.com/mfad/mfad/internal/httpkit"
)

// DefaultSignInRate is how many sign-in attempts one client address may
// make per minute, in bursts of as many, when Config.SignInRate is zero.
const DefaultSignInRate = 10

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
func (h *Handler) limited(l *httpkit.SourceLimiter, what string, fn http.Handler) http.Handler {
	if l == nil {
		return fn
	}
	if what == "" {
		what = "requests"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := h.clientIP(r)
		ok, wait := l.Allow(ip)
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
