// Command mfad-load drives a running mfad server from concurrent clients and
// reports verifications per second and latency: through POST /v1/verify, or
// with --radius through its RADIUS front door, as PAP Access-Requests.
//
// With an admin token it makes, through the API, users of its own, each
// with one confirmed authenticator app, and for HTTP a verifier token for
// the run; then each client sends one verification after another to its own
// users until the duration is up. Run it against a server whose data you can
// throw away: the users it makes stay (the API cannot delete users), and so
// do their audit events. The verifier token is revoked at the end.
//
// Three modes take the paths a verification can take:
//
//   - accept sends codes that are right and fresh. An authenticator accepts
//     each time step once and, with RFC 6238 §5.2's window of one step, only
//     the codes of the current and the next step, so each user gives about
//     two accepts per 30 seconds. A client stops when its users have no
//     fresh code left, so accept mode measures a run of about two
//     verifications per user, or the duration if that is shorter; the
//     report's elapsed line says which.
//   - reject sends wrong codes. Before a user's next failure would lock the
//     account, the client unlocks it (an admin request, not timed), so no
//     verification meets a lock.
//   - static, over RADIUS only, sends one fixed user name and password in
//     every request and expects Access-Accept: for a RADIUS server other
//     than mfad, such as FreeRADIUS with a static user, to compare with.
//     It needs no API and no token.
//
// Over RADIUS each client is a NAS of its own: its own UDP socket, so its
// own source port and Identifiers, one request at a time, each with a
// Message-Authenticator (RFC 3579 §3.2). A request is not retransmitted: a
// request unanswered within --timeout is counted as a timeout.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mfad/mfad/internal/totp"
)

// options are the command's flags.
type options struct {
	url      string
	token    string // an admin token
	clients  int
	users    int
	duration time.Duration
	mode     string

	radius  string        // host:port of a RADIUS server, or "" for HTTP
	secret  string        // the RADIUS shared secret
	timeout time.Duration // how long to wait for a RADIUS answer

	staticUser, staticPassword string // for static mode
}

// acceptUsersPerClient is how many users accept mode makes per client when
// --users is not given.
const acceptUsersPerClient = 100

// minEnrollers is the fewest users enrolled at once. Enrolment is not
// timed; this keeps a run of one client from waiting long for its users.
const minEnrollers = 8

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "mfad-load:", err)
		os.Exit(1)
	}
}

// run parses args, prepares the server, drives it and prints the report to
// stdout. Progress goes to stderr.
func run(ctx context.Context, args []string, lookup func(string) (string, bool),
	stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, lookup, stderr)
	if err != nil {
		return err
	}
	api := newAPI(opts.url, max(opts.clients, minEnrollers))
	l := &load{api: api, opts: opts, want: answerAccept}
	if opts.mode == "reject" {
		l.want = answerReject
	}
	users, revoke, err := l.setup(ctx, stderr)
	if revoke != nil {
		defer revoke()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "driving %s (%s) with %d clients for %s\n",
		l.door, opts.mode, opts.clients, opts.duration)
	rep, err := l.drive(ctx, users)
	if err != nil {
		return err
	}
	rep.print(stdout)
	rep.warn(stderr)
	return ctx.Err()
}

// setup prepares the server through the API, as the mode needs, and
// chooses the door to drive. It returns the users made and, for HTTP, a
// function that revokes the run's verifier token.
func (l *load) setup(ctx context.Context, stderr io.Writer) ([]*user, func(), error) {
	opts := l.opts
	if opts.mode == "static" {
		l.door = newRADIUSDoor(opts)
		return nil, nil, nil
	}
	threshold, err := l.api.lockThreshold(ctx, opts.token)
	if err != nil {
		return nil, nil, err
	}
	l.perUser = max(threshold-1, 1)
	prefix := "load-" + randomHex(4)
	var revoke func()
	if opts.radius == "" {
		tokenID, verifier, err := l.api.createVerifier(ctx, opts.token, prefix)
		if err != nil {
			return nil, nil, err
		}
		revoke = func() { l.api.revoke(opts.token, tokenID, stderr) }
		l.door = &httpDoor{api: l.api, token: verifier}
	} else {
		l.door = newRADIUSDoor(opts)
	}

	fmt.Fprintf(stderr, "enrolling %d users as %s-*\n", opts.users, prefix)
	users, err := l.api.enrollAll(ctx, opts.token, prefix, opts.users,
		max(opts.clients, minEnrollers))
	return users, revoke, err
}

func parseFlags(args []string, lookup func(string) (string, bool), stderr io.Writer) (
	options, error) {
	var o options
	fs := flag.NewFlagSet("mfad-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "`URL` of the mfad server's API")
	fs.StringVar(&o.token, "token", "", "admin API `token` (default $MFAD_LOAD_TOKEN)")
	fs.IntVar(&o.clients, "clients", 16, "number of concurrent clients")
	fs.IntVar(&o.users, "users", 0, "users to enroll (default: --clients for reject, "+
		fmt.Sprint(acceptUsersPerClient)+" per client for accept)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to drive the server")
	fs.StringVar(&o.mode, "mode", "accept", "accept (right, fresh codes), reject (wrong codes) "+
		"or, with --radius, static (--static-user and --static-password)")
	fs.StringVar(&o.radius, "radius", "", "send RADIUS Access-Requests to `host:port` "+
		"rather than POST /v1/verify to --url")
	fs.StringVar(&o.secret, "radius-secret", "", "RADIUS shared `secret` "+
		"(default $MFAD_LOAD_RADIUS_SECRET)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Second,
		"how long to wait for a RADIUS answer before counting a timeout")
	fs.StringVar(&o.staticUser, "static-user", "", "user `name` of every request in static mode")
	fs.StringVar(&o.staticPassword, "static-password", "",
		"`password` of every request in static mode (default $MFAD_LOAD_STATIC_PASSWORD)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: mfad-load [flags]\n\n"+
			"Drive POST /v1/verify, or with --radius the RADIUS front door, of an mfad\n"+
			"server and report its rate and latency.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	fromEnv := func(v *string, key string) {
		if *v == "" {
			*v, _ = lookup(key)
		}
	}
	fromEnv(&o.token, "MFAD_LOAD_TOKEN")
	fromEnv(&o.secret, "MFAD_LOAD_RADIUS_SECRET")
	fromEnv(&o.staticPassword, "MFAD_LOAD_STATIC_PASSWORD")
	if o.users == 0 {
		o.users = o.clients
		if o.mode == "accept" {
			o.users = acceptUsersPerClient * o.clients
		}
	}
	return o, o.check(fs.NArg())
}

func (o options) check(nargs int) error {
	var bad []string
	if nargs > 0 {
		bad = append(bad, "mfad-load takes no arguments")
	}
	switch o.mode {
	case "accept", "reject":
		bad = append(bad, o.checkAPI()...)
	case "static":
		if o.radius == "" {
			bad = append(bad, "--mode static needs --radius")
		}
		if o.staticUser == "" || o.staticPassword == "" {
			bad = append(bad, "--mode static needs --static-user and --static-password")
		}
	default:
		bad = append(bad, fmt.Sprintf("--mode is %q; it must be accept, reject or static", o.mode))
	}
	if o.clients < 1 {
		bad = append(bad, "--clients must be at least 1")
	}
	if o.duration <= 0 {
		bad = append(bad, "--duration must be positive")
	}
	if o.radius != "" {
		if _, _, err := net.SplitHostPort(o.radius); err != nil {
			bad = append(bad, "--radius must be host:port")
		}
		if o.secret == "" {
			bad = append(bad,
				"a RADIUS secret is required: --radius-secret or MFAD_LOAD_RADIUS_SECRET")
		}
		if o.timeout <= 0 {
			bad = append(bad, "--timeout must be positive")
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// checkAPI checks the flags of the modes that enroll users through the API.
func (o options) checkAPI() []string {
	var bad []string
	if o.token == "" {
		bad = append(bad, "an admin token is required: --token or MFAD_LOAD_TOKEN")
	}
	if o.users < o.clients {
		bad = append(bad, "--users must be at least --clients: each client has users of its own")
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		bad = append(bad, "--url must be an http:// or https:// URL")
	}
	return bad
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// api calls the mfad REST API.
type api struct {
	base string
	http *http.Client
}

func newAPI(base string, clients int) *api {
	// One kept-alive connection per client, or enrolling worker: the
	// default of two idle connections per host would make most requests
	// open a new one.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = clients + 4
	tr.MaxIdleConnsPerHost = clients + 4
	return &api{
		base: strings.TrimRight(base, "/"),
		http: &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}
}

// call sends in as JSON (none if nil) and decodes the answer into out (if
// not nil). An answer other than want is an error that quotes the server.
func (a *api) call(ctx context.Context, method, path, token string, in, out any,
	want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// lockThreshold returns the number of consecutive failures that locks an
// account under the server's policy.
func (a *api) lockThreshold(ctx context.Context, admin string) (int, error) {
	var pol struct {
		Lockout struct {
			Threshold int `json:"threshold"`
		} `json:"lockout"`
	}
	if err := a.call(ctx, "GET", "/v1/policy", admin, nil, &pol, http.StatusOK); err != nil {
		return 0, err
	}
	if pol.Lockout.Threshold < 1 {
		return 0, fmt.Errorf("GET /v1/policy: no lockout threshold")
	}
	return pol.Lockout.Threshold, nil
}

// createVerifier makes the verifier token the clients use and returns its
// ID and secret.
func (a *api) createVerifier(ctx context.Context, admin, name string) (string, string, error) {
	in := map[string]string{"name": name, "role": "verifier"}
	var out struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := a.call(ctx, "POST", "/v1/tokens", admin, in, &out, http.StatusCreated); err != nil {
		return "", "", err
	}
	return out.ID, out.Token, nil
}

// revoke revokes the run's verifier token, even when the run was cancelled.
func (a *api) revoke(admin, id string, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.call(ctx, "DELETE", "/v1/tokens/"+url.PathEscape(id), admin, nil, nil,
		http.StatusNoContent)
	if err != nil {
		fmt.Fprintf(stderr, "mfad-load: could not revoke the verifier token %s: %v\n", id, err)
	}
}

// user is a user the run made, with what a client needs to make its codes.
// Only the client that owns it touches it.
type user struct {
	name     string
	secret   []byte
	params   totp.Params
	last     int64 // the newest step the server took from this user
	failures int   // wrong codes sent since the last unlock
}

// enrollAll makes n users named prefix-NNNN with workers requests at once.
func (a *api) enrollAll(ctx context.Context, admin, prefix string, n, workers int) (
	[]*user, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	users := make([]*user, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				u, err := a.enroll(ctx, admin, fmt.Sprintf("%s-%04d", prefix, i))
				if err != nil {
					cancel(err)
					return
				}
				users[i] = u
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return users, nil
}

// enroll makes one user with a confirmed authenticator. It confirms with
// the code of the step before now, so the codes of the current and the next
// step are fresh; if the step changed meanwhile, it confirms with the
// current one.
func (a *api) enroll(ctx context.Context, admin, name string) (*user, error) {
	path := "/v1/users/" + url.PathEscape(name)
	err := a.call(ctx, "POST", "/v1/users", admin, map[string]string{"name": name}, nil,
		http.StatusCreated)
	if err != nil {
		return nil, err
	}
	var e struct {
		ID        string `json:"id"`
		Secret    string `json:"secret"`
		Algorithm string `json:"algorithm"`
		Digits    int    `json:"digits"`
		Period    int    `json:"period"`
	}
	err = a.call(ctx, "POST", path+"/totp", admin, map[string]string{"name": "mfad-load"}, &e,
		http.StatusCreated)
	if err != nil {
		return nil, err
	}
	secret, err := totp.DecodeSecret(e.Secret)
	if err != nil {
		return nil, fmt.Errorf("enroll %s: secret: %w", name, err)
	}
	u := &user{name: name, secret: secret,
		params: totp.Params{Algorithm: totp.Algorithm(e.Algorithm), Digits: e.Digits, Period: e.Period}}
	confirm := path + "/totp/" + url.PathEscape(e.ID) + "/confirm"
	for _, offset := range []int64{-1, 0} {
		step := totp.Step(time.Now(), u.params.Period) + offset
		in := map[string]string{"code": totp.Code(secret, step, u.params)}
		err = a.call(ctx, "POST", confirm, admin, in, nil, http.StatusOK)
		if err == nil {
			u.last = step
			return u, nil
		}
	}
	return nil, err
}

// Answers a door reports.
const (
	answerAccept    = "accept"
	answerReject    = "reject"
	answerChallenge = "challenge" // RADIUS only
)

// errTimeout is a request that got no answer in time.
var errTimeout = errors.New("no answer")

// A door is the way into the server that a run drives.
type door interface {
	// open returns the sender of one client.
	open() (sender, error)
	// String names the door in the progress line.
	String() string
}

// A sender sends one client's verifications, one at a time; only that
// client uses it.
type sender interface {
	// send asks the server to verify code for user and returns its answer:
	// answerAccept, answerReject or answerChallenge. A request that got no
	// answer in time is errTimeout.
	send(ctx context.Context, user, code string) (string, error)
	Close() error
}

// load is one run of verifications.
type load struct {
	api     *api
	opts    options
	door    door
	want    string // the answer that counts
	perUser int    // wrong codes a user may take before it must be unlocked
}

// client is one of the concurrent clients, with the users it owns and what
// it measured.
type client struct {
	sender    sender
	users     []*user
	next      int
	latencies []time.Duration // of verifications answered as expected
	requests  int
	answers   map[string]int
	timeouts  int
	errors    int
	unlocks   int
	firstErr  error
	ranOut    bool // no user had a fresh code left
}

// drive runs the clients until the duration is up and sums up. It fails
// only when a client cannot be opened.
func (l *load) drive(ctx context.Context, users []*user) (report, error) {
	clients := make([]*client, l.opts.clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.sender.Close()
			}
		}
	}()
	for i := range clients {
		s, err := l.door.open()
		if err != nil {
			return report{}, err
		}
		clients[i] = &client{sender: s, answers: map[string]int{}}
	}
	for i, u := range users {
		c := clients[i%len(clients)]
		c.users = append(c.users, u)
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { l.runClient(ctx, c) })
	}
	wg.Wait()
	return summarize(l.opts, clients, time.Since(start)), nil
}

// runClient sends one verification after another until ctx ends.
func (l *load) runClient(ctx context.Context, c *client) {
	for ctx.Err() == nil {
		name, code, ok := l.pick(ctx, c)
		if !ok {
			return
		}
		start := time.Now()
		got, err := c.sender.send(ctx, name, code)
		elapsed := time.Since(start)
		if ctx.Err() != nil && err != nil {
			return // cut off by the end of the run, not a failure of the server
		}
		c.requests++
		switch {
		case errors.Is(err, errTimeout):
			c.timeouts++
		case err != nil:
			c.fail(err)
		case got != l.want:
			c.answers[got]++
			c.fail(fmt.Errorf("verify %s: unexpected answer %s", name, got))
		default:
			c.answers[got]++
			c.latencies = append(c.latencies, elapsed)
		}
	}
}

func (c *client) fail(err error) {
	c.errors++
	if c.firstErr == nil {
		c.firstErr = err
	}
}

// pick chooses the user and the code to send next. In accept mode it takes
// the next user with a fresh code and marks that step used; in reject mode
// it takes the next user, unlocking it first if another failure would lock
// it; in static mode it is always the same user and password.
func (l *load) pick(ctx context.Context, c *client) (string, string, bool) {
	switch l.opts.mode {
	case "static":
		return l.opts.staticUser, l.opts.staticPassword, true
	case "accept":
		u, code, ok := c.fresh(time.Now())
		if !ok {
			return "", "", false
		}
		return u.name, code, true
	}
	u := c.users[c.next]
	c.next = (c.next + 1) % len(c.users)
	if u.failures >= l.perUser {
		in := map[string]string{"reason": "mfad-load: reset the failure count"}
		err := l.api.call(ctx, "POST", "/v1/users/"+url.PathEscape(u.name)+"/unlock", l.opts.token,
			in, nil, http.StatusOK)
		if err != nil {
			if ctx.Err() == nil {
				c.fail(err)
			}
			return "", "", false
		}
		c.unlocks++
		u.failures = 0
	}
	u.failures++
	return u.name, wrongCode(u, time.Now()), true
}

// fresh returns the next user that has a code the server has not taken: of
// the step after the last one taken, but no older than the current step (an
// older one could leave the window while the request travels) and no newer
// than the next.
func (c *client) fresh(now time.Time) (*user, string, bool) {
	for range c.users {
		u := c.users[c.next]
		c.next = (c.next + 1) % len(c.users)
		cur := totp.Step(now, u.params.Period)
		if step := max(u.last+1, cur); step <= cur+1 {
			u.last = step
			return u, totp.Code(u.secret, step, u.params), true
		}
	}
	c.ranOut = true
	return nil, "", false
}

// wrongCode returns a code of the right shape that no step of the window
// around now accepts for u.
func wrongCode(u *user, now time.Time) string {
	cur := totp.Step(now, u.params.Period)
	window := []string{
		totp.Code(u.secret, cur-1, u.params),
		totp.Code(u.secret, cur, u.params),
		totp.Code(u.secret, cur+1, u.params),
	}
	for n := 0; ; n++ {
		if c := fmt.Sprintf("%0*d", u.params.Digits, n); !slices.Contains(window, c) {
			return c
		}
	}
}

// httpDoor is POST /v1/verify with a verifier token. Its one HTTP client
// serves every client, each on a kept-alive connection of its own.
type httpDoor struct {
	api   *api
	token string
}

func (d *httpDoor) open() (sender, error) { return d, nil }

func (d *httpDoor) String() string { return "POST /v1/verify" }

func (d *httpDoor) send(ctx context.Context, name, code string) (string, error) {
	in := struct {
		User string `json:"user"`
		Code string `json:"code"`
	}{name, code}
	var out struct {
		Result string `json:"result"`
	}
	err := d.api.call(ctx, "POST", "/v1/verify", d.token, in, &out, http.StatusOK)
	if err != nil {
		return "", err
	}
	return out.Result, nil
}

func (d *httpDoor) Close() error { return nil }

// report is what a run measured.
type report struct {
	opts     options
	elapsed  time.Duration
	requests int
	answers  map[string]int
	timeouts int
	errors   int
	unlocks  int
	rate     float64 // verifications answered as expected, per second
	p50, p90 time.Duration
	p99, max time.Duration
	ranOut   int // clients that stopped early for want of fresh codes
	firstErr error
}

func summarize(opts options, clients []*client, elapsed time.Duration) report {
	r := report{opts: opts, elapsed: elapsed, answers: map[string]int{}}
	var lat []time.Duration
	for _, c := range clients {
		r.requests += c.requests
		for k, n := range c.answers {
			r.answers[k] += n
		}
		r.timeouts += c.timeouts
		r.errors += c.errors
		r.unlocks += c.unlocks
		lat = append(lat, c.latencies...)
		if c.ranOut {
			r.ranOut++
		}
		if r.firstErr == nil {
			r.firstErr = c.firstErr
		}
	}
	slices.Sort(lat)
	r.rate = float64(len(lat)) / elapsed.Seconds()
	r.p50, r.p90 = percentile(lat, 50), percentile(lat, 90)
	r.p99, r.max = percentile(lat, 99), percentile(lat, 100)
	return r
}

// percentile returns the nearest-rank p-th percentile of sorted: the
// smallest value at least p percent of the values are no greater than.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func (r report) print(w io.Writer) {
	line := func(k string, v any) { fmt.Fprintf(w, "%-17s %v\n", k, v) }
	rate := "verifications/s"
	line("mode", r.opts.mode)
	line("clients", r.opts.clients)
	if r.opts.mode != "static" {
		line("users", r.opts.users)
	}
	line("elapsed", r.elapsed.Round(time.Millisecond))
	line("requests", r.requests)
	if r.opts.radius != "" {
		// Every answer by its code, expected or not, and every request
		// left without one.
		for _, k := range []string{answerAccept, answerReject, answerChallenge} {
			line(k, r.answers[k])
		}
		line("timeouts", r.timeouts)
		rate = "requests/s"
	}
	line("errors", r.errors)
	if r.opts.mode == "reject" {
		line("unlocks", r.unlocks)
	}
	line(rate, fmt.Sprintf("%.1f", r.rate))
	for _, p := range []struct {
		k string
		v time.Duration
	}{{"p50", r.p50}, {"p90", r.p90}, {"p99", r.p99}, {"max", r.max}} {
		line(p.k, p.v.Round(10*time.Microsecond))
	}
}

// warn says what makes the figures less than they seem.
func (r report) warn(w io.Writer) {
	if r.firstErr != nil {
		fmt.Fprintf(w, "mfad-load: %d errors; the first: %v\n", r.errors, r.firstErr)
	}
	if r.timeouts > 0 {
		fmt.Fprintf(w, "mfad-load: %d of %d requests got no answer within %s; "+
			"the rate and the percentiles leave them out\n", r.timeouts, r.requests, r.opts.timeout)
		if r.timeouts == r.requests {
			// A RADIUS server drops, unanswered, what it cannot
			// authenticate (RFC 3579 §3.2).
			fmt.Fprintln(w, "mfad-load: no request was answered: check --radius, the secret, "+
				"and that the server has this host as a client")
		}
	}
	if r.ranOut > 0 {
		// Each client holds the same number of codes, so they run out at
		// about the same time and the rate until then stands.
		fmt.Fprintf(w, "mfad-load: %d of %d clients spent every fresh code of their users; "+
			"the figures cover the %s until then: raise --users (%d) for a longer run\n",
			r.ranOut, r.opts.clients, r.elapsed.Round(time.Millisecond), r.opts.users)
	}
}
