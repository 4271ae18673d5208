package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/httpkit"
	"github.com/mfad/mfad/internal/mfa"
)

// problem is an RFC 9457 problem document, with the request ID and, for bad
// input, every problem found.
type problem struct {
	Type      string   `json:"type"`
	Title     string   `json:"title"`
	Status    int      `json:"status"`
	Detail    string   `json:"detail,omitempty"`
	Problems  []string `json:"problems,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string, problems []string) {
	id := httpkit.RequestID(r)
	p := problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: detail, Problems: problems, RequestID: id,
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

// fail writes the problem for a service error. Errors the service marks as
// fit to show keep their message; anything else is logged with its cause
// and shown only as an internal error.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *mfa.Error
	if errors.As(err, &e) {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(e, mfa.ErrInvalid):
			status = http.StatusBadRequest
		case errors.Is(e, mfa.ErrUnauthenticated):
			status = http.StatusUnauthorized
		case errors.Is(e, mfa.ErrForbidden):
			status = http.StatusForbidden
		case errors.Is(e, mfa.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(e, mfa.ErrConflict):
			status = http.StatusConflict
		case errors.Is(e, mfa.ErrRateLimited):
			// Whole seconds, rounded up, as RFC 9110 §10.2.3 writes them.
			secs := int((e.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			status = http.StatusTooManyRequests
		}
		writeProblem(w, r, status, e.Message, e.Problems)
		return
	}
	id := httpkit.RequestID(r)
	h.log.Error("request failed", "route", r.Pattern, "request_id", id, "err", err)
	// Fail closed and say so plainly; the cause is in the log.
	writeProblem(w, r, http.StatusServiceUnavailable,
		"the service could not complete the request; try again", nil)
}

// decode reads a JSON body into v, refusing unknown fields, trailing data
// and wrong types with a message that says which field is wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeBody(w, r, v, false)
}

// decodeOptional is decode for a body that may be left out: an empty body
// leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeBody(w, r, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	if !jsonContent(w, r) {
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if optional && err == io.EOF {
		return true
	}
	if err == nil {
		// The body must end after the value. dec.More would miss a stray
		// closing bracket, so read one more token: only io.EOF is clean.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errTrailing
			var tooBig *http.MaxBytesError
			if errors.As(terr, &tooBig) {
				err = terr
			}
		}
	}
	if err == nil {
		return true
	}
	var (
		typeErr *json.UnmarshalTypeError
		syntax  *json.SyntaxError
		tooBig  *http.MaxBytesError
		msg     string
	)
	switch {
	case errors.As(err, &tooBig):
		writeProblem(w, r, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit), nil)
		return false
	case errors.As(err, &typeErr) && typeErr.Field == "":
		msg = fmt.Sprintf("the body must be %s, not %s", jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &typeErr):
		msg = fmt.Sprintf("field %q must be %s, not %s",
			typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntax):
		msg = fmt.Sprintf("the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.Is(err, io.EOF):
		msg = "the body is empty; send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the body ends in the middle of the JSON"
	case errors.Is(err, errTrailing):
		msg = err.Error()
	default:
		// Unknown fields and similar: the decoder's message names the field
		// and holds nothing but what the client sent.
		msg = strings.TrimPrefix(err.Error(), "json: ")
	}
	writeProblem(w, r, http.StatusBadRequest, msg, nil)
	return false
}

var errTrailing = errors.New("trailing data after the JSON object")

// jsonContent refuses a body labelled as anything but JSON. A body without
// a Content-Type is let through; it must still parse as JSON.
func jsonContent(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" {
		return true
	}
	writeProblem(w, r, http.StatusUnsupportedMediaType, "send a JSON body (application/json)", nil)
	return false
}

// jsonKind names the JSON type that decodes into t, for error messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a whole number"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
