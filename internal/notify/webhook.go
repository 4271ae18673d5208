package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook header names.
const (
	// SignatureHeader carries Sign's value.
	SignatureHeader = "Mfad-Signature"
	// EventIDHeader carries the event's ID; delivery is at least once, so
	// receivers drop an ID they have seen.
	EventIDHeader = "Mfad-Event-Id"
)

// DefaultSignatureTolerance is how far a signature's time may be from now
// when VerifySignature is given no tolerance.
const DefaultSignatureTolerance = 5 * time.Minute

// SecretSize is the length of a webhook secret from NewSecret.
const SecretSize = 32

// Signature errors from VerifySignature.
var (
	ErrSignatureFormat   = errors.New("notify: webhook signature header is malformed")
	ErrSignatureTime     = errors.New("notify: webhook signature time is outside the tolerance")
	ErrSignatureMismatch = errors.New("notify: webhook signature does not match")
)

// Sign returns the SignatureHeader value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>." + body)>".
// Signing the time with the body lets a receiver refuse a replay of an old
// delivery.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks a SignatureHeader value against body: its time
// must be within tolerance of now (either side; DefaultSignatureTolerance
// when tolerance is not positive) and one of its v1 values must be the
// HMAC of body under secret. Several v1 values are allowed so that a sender
// can sign with an old and a new secret while the secret rotates; unknown
// keys are ignored. The comparison takes constant time.
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrSignatureFormat
	}
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureTime
	}

	want := mac(secret, ts, body)
	ok := false
	for _, sig := range sigs {
		// Every candidate is compared, matched or not, so timing does not
		// tell which one matched.
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	return nil
}

// parseSignature splits "t=...,v1=...,v1=..." into the time and the
// decoded v1 values.
func parseSignature(header string) (ts string, sigs [][]byte, err error) {
	for _, part := range strings.Split(header, ",") {
		key, value, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", nil, ErrSignatureFormat
		}
		switch key {
		case "t":
			if ts != "" {
				return "", nil, ErrSignatureFormat
			}
			ts = value
		case "v1":
			sig, err := hex.DecodeString(value)
			if err != nil || len(sig) != sha256.Size {
				return "", nil, ErrSignatureFormat
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return "", nil, ErrSignatureFormat
	}
	return ts, sigs, nil
}

// PostWebhook delivers one event: it POSTs body (JSON) to url with the
// signature for now and the event ID, and reports the status. Any answer
// outside 2xx, a redirect included (redirects are not followed), is an
// error of type *StatusError carrying the status; a request that got no
// answer returns status 0 and a *RequestError. Errors name only the host.
// The response body is read up to 1 KiB and dropped. client may be nil; a
// client without a Timeout gets DefaultHTTPTimeout.
func PostWebhook(ctx context.Context, client *http.Client, url string, secret []byte,
	eventID string, body []byte, now time.Time) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil || (req.URL.Scheme != "https" && req.URL.Scheme != "http") || req.URL.Host == "" {
		// Not err itself: it quotes the URL, which may hold a key.
		return 0, errors.New("notify: webhook URL is not an absolute http(s) URL")
	}
	host := req.URL.Host
	if eventID == "" || strings.ContainsAny(eventID, "\r\n") {
		return 0, fmt.Errorf("notify: webhook %s: event ID is empty or invalid", host)
	}

	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(SignatureHeader, Sign(secret, now, body))
	req.Header.Set(EventIDHeader, eventID)
	return do(httpClient(client), req, "webhook", host)
}

// NewSecret reads a new webhook secret of SecretSize bytes from r, or from
// crypto/rand when r is nil.
func NewSecret(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	secret := make([]byte, SecretSize)
	if _, err := io.ReadFull(r, secret); err != nil {
		return nil, fmt.Errorf("notify: webhook secret: %w", err)
	}
	return secret, nil
}
