package httpkit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/testtool"
)

func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		header string
		kept   bool
	}{
		{"abc-123_x.y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"two words", false},
		{"line\nbreak", false},
		{"", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Request-ID", tc.header)
		r, id := WithRequestID(r)
		if got := RequestID(r); got != id {
			t.Errorf("RequestID = %q, want the one given, %q", got, id)
		}
		if tc.kept && id != tc.header {
			t.Errorf("X-Request-ID %q became %q, want it kept", tc.header, id)
		}
		if !tc.kept && (id == tc.header || len(id) != 24 || !isToken(id)) {
			t.Errorf("X-Request-ID %q gave %q, want a new random ID", tc.header, id)
		}
	}
	_, a := WithRequestID(httptest.NewRequest("GET", "/", nil))
	_, b := WithRequestID(httptest.NewRequest("GET", "/", nil))
	if a == b {
		t.Errorf("two requests got one ID, %q", a)
	}
	if id := RequestID(httptest.NewRequest("GET", "/", nil)); id != "" {
		t.Errorf("RequestID of a request without one = %q, want empty", id)
	}
}

func TestStatusRecorder(t *testing.T) {
	w := httptest.NewRecorder()
	rec := NewStatusRecorder(w)
	if rec.Status != 200 || rec.Wrote {
		t.Fatalf("new recorder = %d, %v; want 200, nothing written", rec.Status, rec.Wrote)
	}
	rec.WriteHeader(http.StatusTeapot)
	rec.WriteHeader(http.StatusInternalServerError) // net/http ignores it; so does the log
	if rec.Status != http.StatusTeapot || !rec.Wrote || w.Code != http.StatusTeapot {
		t.Errorf("after two WriteHeader calls: recorded %d, sent %d; want the first, 418",
			rec.Status, w.Code)
	}

	w = httptest.NewRecorder()
	rec = NewStatusRecorder(w)
	fmt.Fprint(rec, "hello")
	if rec.Status != 200 || !rec.Wrote || w.Body.String() != "hello" {
		t.Errorf("after a Write: %d, %v, %q; want 200, written, hello", rec.Status, rec.Wrote,
			w.Body.String())
	}
	if http.NewResponseController(rec).Flush() != nil || !w.Flushed {
		t.Error("a recorder hides its writer's Flush")
	}
}

func TestSourceLimiter(t *testing.T) {
	c := testtool.NewClock(time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC))
	l := NewSourceLimiter(6, c.Now)
	for i := range 6 {
		if ok, _ := l.Allow("192.0.2.1"); !ok {
			t.Fatalf("try %d of a burst of 6 refused", i+1)
		}
	}
	ok, wait := l.Allow("192.0.2.1")
	if ok || wait <= 0 || wait > 10*time.Second {
		t.Errorf("seventh try = %v, wait %v; want refused for up to 10s", ok, wait)
	}
	if ok, _ := l.Allow("192.0.2.2"); !ok {
		t.Error("another address refused for the first's tries")
	}
	// One try comes back every ten seconds, and refused tries spent none.
	for range 5 {
		l.Allow("192.0.2.1")
	}
	c.Add(10 * time.Second)
	if ok, _ := l.Allow("192.0.2.1"); !ok {
		t.Error("after 10s, one try is not back")
	}
	if ok, _ := l.Allow("192.0.2.1"); ok {
		t.Error("after 10s, two tries are back")
	}
}

func TestSourceLimiterOff(t *testing.T) {
	for _, n := range []int{0, -1} {
		l := NewSourceLimiter(n, time.Now)
		for range 1000 {
			if ok, _ := l.Allow("192.0.2.1"); !ok {
				t.Fatalf("NewSourceLimiter(%d) refused a try", n)
			}
		}
	}
}

// TestSourceLimiterMemory floods the limiter with addresses: it remembers
// a bounded number, and still limits the address that keeps trying.
func TestSourceLimiterMemory(t *testing.T) {
	c := testtool.NewClock(time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC))
	l := NewSourceLimiter(3, c.Now)
	for range 3 {
		l.Allow("198.51.100.7")
	}
	for i := range 5 * maxSources {
		c.Add(time.Microsecond)
		l.Allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		if i%1000 == 0 {
			if ok, _ := l.Allow("198.51.100.7"); ok {
				t.Fatalf("after %d other addresses, the spent address got a try", i)
			}
		}
	}
	if n := len(l.sources); n > maxSources {
		t.Errorf("the limiter remembers %d addresses, want at most %d", n, maxSources)
	}
}
