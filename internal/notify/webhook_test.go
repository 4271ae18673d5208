package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	hookSecret = []byte("whsec-test-secret")
	hookBody   = []byte(`{"id":"evt_1","type":"user.locked"}`)
	hookTime   = time.Unix(1700000000, 0)
)

func TestSignVector(t *testing.T) {
	// Computed independently: HMAC-SHA256("whsec-test-secret",
	// "1700000000." + body), hex.
	const want = "t=1700000000,v1=1c7c61f318c81c71cb711ceaa3cd2e33d73467b1f47053d811ad99d6656debf7"
	if got := Sign(hookSecret, hookTime, hookBody); got != want {
		t.Errorf("Sign() = %q, want %q", got, want)
	}
}

func TestVerifySignature(t *testing.T) {
	good := Sign(hookSecret, hookTime, hookBody)
	oldSecret := []byte("the secret before rotation")
	rotated := good + ",v1=" + strings.TrimPrefix(Sign(oldSecret, hookTime, hookBody), "t=1700000000,v1=")
	otherTime := strings.Replace(good, "t=1700000000", "t=1700000001", 1)

	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"round trip", hookSecret, good, hookBody, hookTime, nil},
		{"within tolerance, later", hookSecret, good, hookBody, hookTime.Add(4 * time.Minute), nil},
		{"within tolerance, earlier", hookSecret, good, hookBody, hookTime.Add(-4 * time.Minute), nil},
		{"rotation, new secret", hookSecret, rotated, hookBody, hookTime, nil},
		{"rotation, old secret", oldSecret, rotated, hookBody, hookTime, nil},
		{"unknown keys ignored", hookSecret, good + ",v0=abc", hookBody, hookTime, nil},
		{"spaces after commas", hookSecret, strings.Replace(good, ",", ", ", 1), hookBody, hookTime, nil},
		{"tampered body", hookSecret, good, []byte(`{"id":"evt_1","type":"user.unlocked"}`), hookTime, ErrSignatureMismatch},
		{"tampered timestamp", hookSecret, otherTime, hookBody, hookTime, ErrSignatureMismatch},
		{"wrong secret", []byte("another secret"), good, hookBody, hookTime, ErrSignatureMismatch},
		{"old timestamp", hookSecret, good, hookBody, hookTime.Add(6 * time.Minute), ErrSignatureTime},
		{"future timestamp", hookSecret, good, hookBody, hookTime.Add(-6 * time.Minute), ErrSignatureTime},
		{"empty", hookSecret, "", hookBody, hookTime, ErrSignatureFormat},
		{"no time", hookSecret, strings.TrimPrefix(good, "t=1700000000,"), hookBody, hookTime, ErrSignatureFormat},
		{"no v1", hookSecret, "t=1700000000", hookBody, hookTime, ErrSignatureFormat},
		{"two times", hookSecret, "t=1700000000," + good, hookBody, hookTime, ErrSignatureFormat},
		{"time not a number", hookSecret, strings.Replace(good, "1700000000", "soon", 1), hookBody, hookTime, ErrSignatureFormat},
		{"short v1", hookSecret, "t=1700000000,v1=abcd", hookBody, hookTime, ErrSignatureFormat},
		{"v1 not hex", hookSecret, "t=1700000000,v1=" + strings.Repeat("zz", 32), hookBody, hookTime, ErrSignatureFormat},
		{"no equals sign", hookSecret, good + ",junk", hookBody, hookTime, ErrSignatureFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("VerifySignature(%q) = %v, want %v", tt.header, err, tt.want)
			}
		})
	}
}

func TestVerifySignatureDefaultTolerance(t *testing.T) {
	h := Sign(hookSecret, hookTime, hookBody)
	if err := VerifySignature(hookSecret, h, hookBody, hookTime.Add(DefaultSignatureTolerance), 0); err != nil {
		t.Errorf("VerifySignature(at the edge, tolerance 0) = %v, want nil", err)
	}
	err := VerifySignature(hookSecret, h, hookBody, hookTime.Add(DefaultSignatureTolerance+time.Second), 0)
	if !errors.Is(err, ErrSignatureTime) {
		t.Errorf("VerifySignature(past the edge, tolerance 0) = %v, want ErrSignatureTime", err)
	}
}

func TestPostWebhook(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		checks := []struct{ what, got, want string }{
			{"method", r.Method, http.MethodPost},
			{"path", r.URL.Path, "/hooks/mfad"},
			{"Content-Type", r.Header.Get("Content-Type"), "application/json"},
			{"User-Agent", r.Header.Get("User-Agent"), "mfad"},
			{EventIDHeader, r.Header.Get(EventIDHeader), "evt_1"},
			{"body", string(body), string(hookBody)},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("receiver: %s = %q, want %q", c.what, c.got, c.want)
			}
		}
		if err := VerifySignature(hookSecret, r.Header.Get(SignatureHeader), body, hookTime, time.Minute); err != nil {
			t.Errorf("receiver: VerifySignature() = %v", err)
		}
		w.Write(bytes.Repeat([]byte("x"), 10<<10)) // more than is read
	}))
	defer srv.Close()

	status, err := PostWebhook(context.Background(), nil, srv.URL+"/hooks/mfad", hookSecret, "evt_1", hookBody, hookTime)
	if status != http.StatusOK || err != nil {
		t.Errorf("PostWebhook() = %d, %v; want 200, nil", status, err)
	}
	if hits.Load() != 1 {
		t.Errorf("receiver got %d requests, want 1", hits.Load())
	}
}

func TestPostWebhookFails(t *testing.T) {
	var elsewhere atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer target.Close()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		if code == http.StatusFound {
			http.Redirect(w, r, target.URL, code)
			return
		}
		w.WriteHeader(code)
		io.WriteString(w, "receiver says no")
	}))
	defer srv.Close()

	for _, code := range []int{http.StatusFound, http.StatusBadRequest, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			url := srv.URL + "/hook?key=QUERY-SECRET&status=" + strconv.Itoa(code)
			status, err := PostWebhook(context.Background(), srv.Client(), url, hookSecret, "evt_2", hookBody, hookTime)
			var se *StatusError
			if status != code || !errors.As(err, &se) || se.Status != code {
				t.Fatalf("PostWebhook() = %d, %v; want %d and a *StatusError", status, err, code)
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Itoa(code)) || strings.Contains(msg, "QUERY-SECRET") ||
				strings.Contains(msg, "receiver says no") {
				t.Errorf("error %q: want the status, not the query or the response", msg)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

func TestPostWebhookNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?key=QUERY-SECRET"
	srv.Close() // nothing listens now

	status, err := PostWebhook(context.Background(), nil, url, hookSecret, "evt_3", hookBody, hookTime)
	var re *RequestError
	if status != 0 || !errors.As(err, &re) {
		t.Fatalf("PostWebhook() = %d, %v; want 0 and a *RequestError", status, err)
	}
	if strings.Contains(err.Error(), "QUERY-SECRET") {
		t.Errorf("error %q holds the URL's query", err)
	}
}

func TestPostWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)

	client := &http.Client{Timeout: 50 * time.Millisecond}
	_, err := PostWebhook(context.Background(), client, srv.URL, hookSecret, "evt_4", hookBody, hookTime)
	var re *RequestError
	if !errors.As(err, &re) {
		t.Errorf("PostWebhook(slow receiver) = %v, want a *RequestError", err)
	}
}

func TestPostWebhookBadInput(t *testing.T) {
	tests := []struct{ name, url, eventID string }{
		{"not a URL", "://nope", "evt"},
		{"not http", "ftp://example.com/hook", "evt"},
		{"relative", "/hook", "evt"},
		{"no event ID", "https://example.com/hook", ""},
		{"event ID with a line break", "https://example.com/hook", "evt\r\nX-Evil: 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, err := PostWebhook(context.Background(), nil, tt.url, hookSecret, tt.eventID, hookBody, hookTime)
			if status != 0 || err == nil {
				t.Errorf("PostWebhook() = %d, %v; want 0 and an error", status, err)
			}
		})
	}
}

func TestHTTPClientCopy(t *testing.T) {
	given := &http.Client{}
	c := httpClient(given)
	if c == given || c.Timeout != DefaultHTTPTimeout || c.CheckRedirect == nil {
		t.Errorf("httpClient() = %+v; want a copy with a timeout and no redirects", c)
	}
	if given.Timeout != 0 || given.CheckRedirect != nil {
		t.Error("httpClient() changed the caller's client")
	}
	if c := httpClient(&http.Client{Timeout: time.Minute}); c.Timeout != time.Minute {
		t.Errorf("httpClient() Timeout = %v, want the caller's minute", c.Timeout)
	}
}

func TestNewSecret(t *testing.T) {
	s, err := NewSecret(nil)
	if err != nil || len(s) != SecretSize {
		t.Fatalf("NewSecret(nil) = %d bytes, %v; want %d, nil", len(s), err, SecretSize)
	}
	fixed := bytes.Repeat([]byte{7}, 40)
	s, err = NewSecret(bytes.NewReader(fixed))
	if err != nil || !bytes.Equal(s, fixed[:SecretSize]) {
		t.Errorf("NewSecret(reader) = %x, %v; want the reader's first %d bytes", s, err, SecretSize)
	}
	if _, err := NewSecret(bytes.NewReader(fixed[:10])); err == nil {
		t.Error("NewSecret(short reader) = nil error, want one")
	}
}
