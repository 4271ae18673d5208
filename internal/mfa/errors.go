package mfa

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of error the service returns. Front doors map them to their
// protocol (an HTTP status, a CLI exit message) with errors.Is.
var (
	ErrInvalid         = errors.New("invalid input")
	ErrUnauthenticated = errors.New("not authenticated")
	ErrForbidden       = errors.New("not allowed")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrRateLimited     = errors.New("too many requests")
)

// Error is an error whose message is fit to show to the caller: it names
// what went wrong and never holds a secret. Its Kind is one of the Err
// values above.
type Error struct {
	Kind     error
	Message  string
	Problems []string // for ErrInvalid: every problem found, each on its own
	// RetryAfter is, for ErrRateLimited, how long until the caller may try
	// again.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

func invalid(problems ...string) *Error {
	return &Error{Kind: ErrInvalid, Message: strings.Join(problems, "; "), Problems: problems}
}

func notFound(format string, args ...any) *Error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *Error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *Error {
	return &Error{Kind: ErrForbidden, Message: fmt.Sprintf(format, args...)}
}

// problems collects validation problems so that every one is reported at
// once rather than the first alone.
type problems []string

func (p *problems) add(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return invalid(p...)
}
