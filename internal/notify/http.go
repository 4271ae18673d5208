package notify

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DefaultHTTPTimeout bounds an SMS gateway call or a webhook delivery when
// the http.Client given has no Timeout of its own.
const DefaultHTTPTimeout = 10 * time.Second

// maxResponseRead is how much of a response body is read (and thrown away)
// so the connection can be reused.
const maxResponseRead = 1 << 10

// StatusError is the error for a response outside 2xx. It names the
// service and host, never the URL's path or query, which may hold a key.
type StatusError struct {
	Service string // "webhook", "sms webhook", "twilio"
	Host    string
	Status  int
	Detail  string // a safe detail from the response, such as a Twilio error code

	body []byte // the first KiB of the response, for picking out Detail
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("notify: %s %s: status %d", e.Service, e.Host, e.Status)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// RequestError is the error for a request that got no response. Like
// StatusError it names the host only: net/http's own errors quote the whole
// URL.
type RequestError struct {
	Service string
	Host    string
	Err     error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("notify: %s %s: %v", e.Service, e.Host, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

// requestError strips the URL from a net/http error.
func requestError(service, host string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &RequestError{Service: service, Host: host, Err: err}
}

// httpClient returns a copy of c (or of a zero client) that follows no
// redirects and times out after DefaultHTTPTimeout unless c sets its own
// timeout. A redirect could carry a signed body or credentials elsewhere,
// so a 3xx is answered as a failure.
func httpClient(c *http.Client) *http.Client {
	var copied http.Client
	if c != nil {
		copied = *c
	}
	if copied.Timeout == 0 {
		copied.Timeout = DefaultHTTPTimeout
	}
	copied.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	return &copied
}

// drain reads at most maxResponseRead bytes of body and closes it.
func drain(body io.ReadCloser) []byte {
	b, _ := io.ReadAll(io.LimitReader(body, maxResponseRead))
	body.Close()
	return b
}

// checkURL parses raw as an http(s) URL. Plain http is allowed only to a
// loopback host, since requests carry credentials or codes.
func checkURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("notify: %s URL is not an absolute http(s) URL", what)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("notify: %s URL must use https (http is allowed only to a loopback host)", what)
	default:
		return nil, fmt.Errorf("notify: %s URL scheme %q is not https", what, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("notify: %s URL must not carry user info; use headers", what)
	}
	return u, nil
}
