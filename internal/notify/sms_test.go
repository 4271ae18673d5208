package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// smsText stands in for a message that carries a code; it has characters
// that need quoting in JSON and in a form.
const smsText = "Your Example code is 493817.\nDon't share it: \"&=+\""

// request is what a test gateway received.
type request struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// gateway starts an httptest server that records each request and answers
// with status and body. Tests read the record only after Send has
// returned, which the response orders after the handler's write.
func gateway(t *testing.T, status int, body string) (*httptest.Server, *[]request) {
	t.Helper()
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)})
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestWebhookSMSSend(t *testing.T) {
	srv, got := gateway(t, http.StatusAccepted, `{"id": "m1"}`)
	g, err := NewWebhookSMS(WebhookSMSConfig{
		URL:     srv.URL + "/v1/send",
		Headers: map[string]string{"Authorization": "Bearer gw-key-123", "X-Tenant": "example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Send(context.Background(), "+49 (151) 234-567.89", smsText); err != nil {
		t.Fatalf("Send() = %v, want nil", err)
	}

	if len(*got) != 1 {
		t.Fatalf("gateway got %d requests, want 1", len(*got))
	}
	r := (*got)[0]
	for _, c := range []struct{ what, got, want string }{
		{"method", r.Method, http.MethodPost},
		{"path", r.Path, "/v1/send"},
		{"Content-Type", r.Header.Get("Content-Type"), "application/json"},
		{"Authorization", r.Header.Get("Authorization"), "Bearer gw-key-123"},
		{"X-Tenant", r.Header.Get("X-Tenant"), "example"},
		{"User-Agent", r.Header.Get("User-Agent"), "mfad"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.Body, err)
	}
	want := map[string]string{"to": "+4915123456789", "text": smsText}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestWebhookSMSCustomBody(t *testing.T) {
	srv, got := gateway(t, http.StatusOK, "OK")
	g, err := NewWebhookSMS(WebhookSMSConfig{
		URL:         srv.URL + "/sms?account=7",
		Body:        `number={{urlquery .To}}&message={{urlquery .Text}}`,
		ContentType: "application/x-www-form-urlencoded",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Send(context.Background(), "+15551234567", smsText); err != nil {
		t.Fatalf("Send() = %v, want nil", err)
	}
	r := (*got)[0]
	form, err := url.ParseQuery(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("number") != "+15551234567" || form.Get("message") != smsText || r.Query != "account=7" {
		t.Errorf("request = %+v, want number, message and the query kept", r)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestTwilioSend(t *testing.T) {
	srv, got := gateway(t, http.StatusCreated, `{"sid": "SM1", "status": "queued"}`)
	g, err := NewTwilioSMS(TwilioConfig{
		BaseURL: srv.URL, AccountSID: "AC0123456789abcdef", AuthToken: "twilio-token-xyz",
		From: "+15550001111",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Send(context.Background(), "+44 7700 900123", smsText); err != nil {
		t.Fatalf("Send() = %v, want nil", err)
	}

	r := (*got)[0]
	if r.Method != http.MethodPost || r.Path != "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json" {
		t.Errorf("request %s %s, want POST /2010-04-01/Accounts/AC0123456789abcdef/Messages.json", r.Method, r.Path)
	}
	req := &http.Request{Header: r.Header}
	user, pass, ok := req.BasicAuth()
	if !ok || user != "AC0123456789abcdef" || pass != "twilio-token-xyz" {
		t.Errorf("basic auth = %q, %q, %v; want the SID and token", user, pass, ok)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q, want a form", ct)
	}
	form, err := url.ParseQuery(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"To": {"+447700900123"}, "From": {"+15550001111"}, "Body": {smsText}}
	if diff := cmp.Diff(want, form); diff != "" {
		t.Errorf("form (-want +got):\n%s", diff)
	}
}

func TestSMSErrors(t *testing.T) {
	const token = "twilio-token-xyz"
	const key = "Bearer gw-key-123"
	// Twilio's error messages may quote the request, so only the code
	// may come through.
	msg, _ := json.Marshal("Invalid 'To' number; body was " + smsText)
	twilioBody := `{"code": 21211, "message": ` + string(msg) + `, "status": 400}`

	tests := []struct {
		name       string
		status     int
		body       string
		make       func(base string) (SMS, error)
		wantStatus int
		wantDetail string
	}{
		{
			name: "webhook 500", status: http.StatusInternalServerError, body: "failed: " + smsText,
			make: func(base string) (SMS, error) {
				return NewWebhookSMS(WebhookSMSConfig{URL: base + "/send", Headers: map[string]string{"Authorization": key}})
			},
			wantStatus: 500,
		},
		{
			name: "webhook redirect", status: http.StatusFound, body: "",
			make: func(base string) (SMS, error) {
				return NewWebhookSMS(WebhookSMSConfig{URL: base + "/send", Headers: map[string]string{"Authorization": key}})
			},
			wantStatus: 302,
		},
		{
			name: "twilio 500", status: http.StatusInternalServerError, body: "oops " + smsText,
			make: func(base string) (SMS, error) {
				return NewTwilioSMS(TwilioConfig{BaseURL: base, AccountSID: "AC1", AuthToken: token, From: "+15550001111"})
			},
			wantStatus: 500,
		},
		{
			name: "twilio 400 with error code", status: http.StatusBadRequest, body: twilioBody,
			make: func(base string) (SMS, error) {
				return NewTwilioSMS(TwilioConfig{BaseURL: base, AccountSID: "AC1", AuthToken: token, From: "+15550001111"})
			},
			wantStatus: 400, wantDetail: "twilio error 21211",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := gateway(t, tt.status, tt.body)
			g, err := tt.make(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			err = g.Send(context.Background(), "+15551234567", smsText)
			var se *StatusError
			if !errors.As(err, &se) || se.Status != tt.wantStatus || se.Detail != tt.wantDetail {
				t.Fatalf("Send() = %v, want a *StatusError with status %d, detail %q", err, tt.wantStatus, tt.wantDetail)
			}
			msg := err.Error()
			for _, secret := range []string{"493817", token, "gw-key-123", "/send"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q holds %q", msg, secret)
				}
			}
			if !strings.Contains(msg, srv.Listener.Addr().String()) {
				t.Errorf("error %q does not name the gateway's host", msg)
			}
		})
	}
}

func TestSMSRefusesBadNumber(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()

	wh, err := NewWebhookSMS(WebhookSMSConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := NewTwilioSMS(TwilioConfig{BaseURL: srv.URL, AccountSID: "AC1", AuthToken: "t", From: "+15550001111"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []SMS{wh, tw} {
		if err := g.Send(context.Background(), "0151 2345678", smsText); !errors.Is(err, ErrPhone) {
			t.Errorf("%T.Send(national number) = %v, want ErrPhone", g, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("gateway got %d requests, want 0", hits.Load())
	}
}

func TestSMSConfig(t *testing.T) {
	tests := []struct {
		name     string
		make     func() error
		wantErrs int
	}{
		{"webhook ok", func() error {
			_, err := NewWebhookSMS(WebhookSMSConfig{URL: "https://sms.example.com/send"})
			return err
		}, 0},
		{"webhook plain http remote", func() error {
			_, err := NewWebhookSMS(WebhookSMSConfig{URL: "http://sms.example.com/send"})
			return err
		}, 1},
		{"webhook http loopback", func() error { _, err := NewWebhookSMS(WebhookSMSConfig{URL: "http://localhost:9000/send"}); return err }, 0},
		{"webhook no URL", func() error { _, err := NewWebhookSMS(WebhookSMSConfig{}); return err }, 1},
		{"webhook bad template and header", func() error {
			_, err := NewWebhookSMS(WebhookSMSConfig{
				URL: "https://sms.example.com", Body: "{{json .To", Headers: map[string]string{"X-Key": "a\r\nb"},
			})
			return err
		}, 2},
		{"twilio ok", func() error {
			_, err := NewTwilioSMS(TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "+15550001111"})
			return err
		}, 0},
		{"twilio everything missing", func() error { _, err := NewTwilioSMS(TwilioConfig{}); return err }, 3},
		{"twilio bad SID and base", func() error {
			_, err := NewTwilioSMS(TwilioConfig{BaseURL: "ftp://x", AccountSID: "AC1/../x", AuthToken: "t", From: "x"})
			return err
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.make()
			if tt.wantErrs == 0 {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
				return
			}
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) || len(joined.Unwrap()) != tt.wantErrs {
				t.Errorf("got %v, want %d joined errors", err, tt.wantErrs)
			}
		})
	}
}

func TestTwilioDefaultBaseURL(t *testing.T) {
	g, err := NewTwilioSMS(TwilioConfig{AccountSID: "AC9", AuthToken: "t", From: "+15550001111"})
	if err != nil {
		t.Fatal(err)
	}
	const want = "https://api.twilio.com/2010-04-01/Accounts/AC9/Messages.json"
	if g.endpoint != want {
		t.Errorf("endpoint = %q, want %q", g.endpoint, want)
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"already E.164", "+4915123456789", "+4915123456789"},
		{"spaces", "+49 151 23456789", "+4915123456789"},
		{"dashes dots parentheses", "+1 (555) 123-45.67", "+15551234567"},
		{"surrounding space", "  +447700900123 ", "+447700900123"},
		{"shortest", "+12345678", "+12345678"},
		{"longest", "+123456789012345", "+123456789012345"},
		{"no plus", "4915123456789", ""},
		{"national", "0151 23456789", ""},
		{"00 prefix", "0049 151 23456789", ""},
		{"too short", "+1234567", ""},
		{"too long", "+1234567890123456", ""},
		{"country code 0", "+0123456789", ""},
		{"letters", "+1 555 CALL NOW", ""},
		{"plus inside", "+49+15123456789", ""},
		{"empty", "", ""},
		{"only plus", "+", ""},
		{"extension", "+15551234567;ext=1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePhone(tt.in)
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if err != nil && (!errors.Is(err, ErrPhone) || (len(tt.in) > 3 && strings.Contains(err.Error(), tt.in))) {
				t.Errorf("NormalizePhone(%q) error = %v, want ErrPhone without the input", tt.in, err)
			}
		})
	}
}

func TestGatewaysPrintNoSecret(t *testing.T) {
	w, err := NewWebhookSMS(WebhookSMSConfig{URL: "https://sms.example.com/send",
		Headers: map[string]string{"Authorization": "Bearer s3cr3t-header"}})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := NewTwilioSMS(TwilioConfig{AccountSID: "AC123", AuthToken: "s3cr3t-token",
		From: "+15005550006"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []any{w, tw} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(verb, g); strings.Contains(out, "s3cr3t") {
				t.Errorf("Sprintf(%s) of a gateway = %q, shows its secret", verb, out)
			}
		}
	}
}
