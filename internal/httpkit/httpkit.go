// Package httpkit holds the HTTP plumbing that the API and the web pages
// share: request IDs, a response writer that remembers its status for the
// access log, and a bound on how often one client address may call what
// anyone may call.
package httpkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

type requestIDKey struct{}

// WithRequestID returns r carrying a request ID: the caller's
// X-Request-ID when it is a sane token of up to 64 characters, so that one
// ID follows a request through a proxy's logs and mfad's, or else a new
// random one.
func WithRequestID(r *http.Request) (*http.Request, string) {
	id := r.Header.Get("X-Request-ID")
	if id == "" || len(id) > 64 || !isToken(id) {
		b := make([]byte, 12)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)), id
}

// RequestID returns the ID WithRequestID gave r, or "".
func RequestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// StatusRecorder is a ResponseWriter that remembers the status it sent,
// for the access log, and whether it began its answer, so that a handler
// recovering from a panic knows if it may still write one.
type StatusRecorder struct {
	http.ResponseWriter
	Status int  // the status sent; 200 until one is
	Wrote  bool // whether the header or any of the body went out
}

// NewStatusRecorder wraps w.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w, Status: http.StatusOK}
}

// WriteHeader records the first status and sends code.
func (s *StatusRecorder) WriteHeader(code int) {
	if !s.Wrote {
		s.Status, s.Wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write notes that the answer began and sends b.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	s.Wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer, so handlers
// such as the metrics one can still flush.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
