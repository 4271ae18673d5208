package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerShowsCounts(t *testing.T) {
	m := New()
	m.Verification("totp", true, 2*time.Millisecond)
	m.Verification("totp", false, time.Millisecond)
	m.Verification("totp", false, time.Millisecond)
	m.Lockout()

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`mfad_verifications_total{factor="totp",result="accept"} 1`,
		`mfad_verifications_total{factor="totp",result="reject"} 2`,
		`mfad_verify_duration_seconds_count{result="reject"} 2`,
		`mfad_lockouts_total 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics output lacks %q", want)
		}
	}
}
