package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

// An access pass issued in the console is shown once, on the page that
// answers the form, for the agent to read out over the phone: large, in
// groups of four, each group spelled out in the ICAO alphabet. The pass
// is in no other page, log line or redirect.

// readoutData is the page of a pass just issued, or of a pass that waits
// for a second admin.
type readoutData struct {
	User    string
	Pass    mfa.AccessPass
	Groups  []passGroup
	Pending *mfa.PassRequest
	// Forwarded says a user's request was approved, and the pass now
	// waits for a second admin as a staff request.
	Forwarded bool
}

// passGroup is four symbols of a pass and how to say each.
type passGroup struct {
	Symbols string
	Words   []string
}

// readout builds the page of an issued pass.
func readout(issue mfa.PassIssue, user string) readoutData {
	d := readoutData{User: user, Pass: issue.Pass, Pending: issue.Pending}
	if issue.Pending != nil {
		d.User = issue.Pending.User
		return d
	}
	for _, g := range strings.Split(issue.Pass.Pass, "-") {
		pg := passGroup{Symbols: g}
		for i := 0; i < len(g); i++ {
			pg.Words = append(pg.Words, phonetic(g[i]))
		}
		d.Groups = append(d.Groups, pg)
	}
	return d
}

// spoken are the words for a pass's symbols: the ICAO spelling alphabet
// for letters, the digit's name for digits. Passes hold no 0, 1, I, L or
// O (codes.Alphabet), so no word is needed to tell those apart.
var spoken = map[byte]string{
	'a': "alfa", 'b': "bravo", 'c': "charlie", 'd': "delta", 'e': "echo", 'f': "foxtrot",
	'g': "golf", 'h': "hotel", 'i': "india", 'j': "juliett", 'k': "kilo", 'l': "lima",
	'm': "mike", 'n': "november", 'o': "oscar", 'p': "papa", 'q': "quebec", 'r': "romeo",
	's': "sierra", 't': "tango", 'u': "uniform", 'v': "victor", 'w': "whiskey",
	'x': "x-ray", 'y': "yankee", 'z': "zulu", '0': "zero", '1': "one", '2': "two",
	'3': "three", '4': "four", '5': "five", '6': "six", '7': "seven", '8': "eight",
	'9': "nine",
}

// phonetic says symbol c of a pass in a word.
func phonetic(c byte) string {
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	if w, ok := spoken[c]; ok {
		return w
	}
	return string(c)
}

// Readout is the pass as the read-out shows it: its groups apart, which
// the sign-in form takes as typed.
func (d readoutData) Readout() string {
	out := make([]string, len(d.Groups))
	for i, g := range d.Groups {
		out[i] = g.Symbols
	}
	return strings.Join(out, " ")
}

// passRules place the service's problems with an issued pass.
var passRules = []placement{
	{"a reason", "pass-reason"},
	{"starts_at", "pass-start"},
	{"lifetime", "pass-lifetime"},
	{"the policy in force", "pass-multi-use"}, // allows one-time passes only
}

func (h *Handler) consoleIssuePass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	f, name := r.PostForm, r.PathValue("name")
	form := map[string]string{"pass-lifetime": f.Get("lifetime"),
		"pass-start": f.Get("starts_at"), "pass-multi-use": f.Get("multi_use"),
		"pass-reason": f.Get("reason")}
	in := mfa.NewPass{OneTime: f.Get("multi_use") != "yes", Reason: f.Get("reason")}
	var err error
	if in.Lifetime, err = formDuration(f.Get("lifetime")); err != nil {
		h.userFail(w, r, req, form, err, nil, "pass-lifetime")
		return
	}
	if s := strings.TrimSpace(f.Get("starts_at")); s != "" {
		if in.StartsAt, _, err = parseWhen(s); err != nil {
			h.userFail(w, r, req, form, err, nil, "pass-start")
			return
		}
	}
	issue, err := h.svc.IssuePass(r.Context(), req, name, in)
	if err != nil {
		h.userFail(w, r, req, form, err, passRules, "pass-reason")
		return
	}
	h.showIssued(w, r, req, issue, mfa.CanonicalName(name), false)
}

// showIssued answers a form that issued a pass: the read-out, or the page
// that says it waits for a second admin.
func (h *Handler) showIssued(w http.ResponseWriter, r *http.Request, req mfa.Request,
	issue mfa.PassIssue, user string, forwarded bool) {
	d := readout(issue, user)
	d.Forwarded = forwarded
	title := "Access pass for " + d.User
	if d.Pending != nil {
		title = "Waiting for a second admin"
	}
	h.render(w, r, req, http.StatusOK, "console_pass.html", consoleView(title, "users", d))
}

// formDuration reads a duration chosen in a form: "" is zero, for the
// policy's default.
func formDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := policy.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &mfa.Error{Kind: mfa.ErrInvalid, Message: "choose one of the times offered"}
	}
	return d.Std(), nil
}

// whenLayouts are the forms of a time typed or picked in a form, read in
// UTC: what a datetime-local input sends, with or without seconds, with a
// space instead of the T, or a date alone.
var whenLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04",
	"2006-01-02 15:04:05", time.RFC3339}

// parseWhen reads a time from a form. dateOnly reports a date without a
// time, which stands for its midnight UTC.
func parseWhen(s string) (t time.Time, dateOnly bool, err error) {
	s = strings.TrimSpace(s)
	for _, layout := range whenLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), false, nil
		}
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true, nil
	}
	return time.Time{}, false, &mfa.Error{Kind: mfa.ErrInvalid,
		Message: "write the time as 2027-03-01 14:30 (UTC), or a date as 2027-03-01"}
}

// bypassRules place the service's problems with a bypass.
var bypassRules = []placement{
	{"a reason", "bypass-reason"},
	{"the duration", "bypass-duration"},
	{"duration", "bypass-duration"},
}

func (h *Handler) consoleGrantBypass(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	f, name := r.PostForm, r.PathValue("name")
	form := map[string]string{"bypass-duration": f.Get("duration"),
		"bypass-reason": f.Get("reason")}
	d, err := formDuration(f.Get("duration"))
	if err == nil {
		_, err = h.svc.GrantBypass(r.Context(), req, name, d, f.Get("reason"))
	}
	if err != nil {
		h.userFail(w, r, req, form, err, bypassRules, "bypass-reason")
		return
	}
	h.redirect(w, r, userPath(name), flashBypassGranted)
}

// requestsData is what the pass request queue shows.
type requestsData struct {
	Requests []requestRow
	// Form holds what was typed into a row's forms, by field id, when the
	// queue is drawn again after a refusal.
	Form map[string]string
}

// requestRow is one request and what the viewer may do with it.
type requestRow struct {
	mfa.PassRequest
	CanApprove bool
	CanDeny    bool
	// Waits says why the viewer is offered no approval of a staff request.
	Waits     string
	Lifetimes []choice
}

func (h *Handler) consoleRequests(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.requestsWith(w, r, req, nil, nil, "")
}

// requestsWith draws the queue; after a refused decision, with the form as
// typed and the refusal, placed as failForm does.
func (h *Handler) requestsWith(w http.ResponseWriter, r *http.Request, req mfa.Request,
	form map[string]string, refused error, fallback string, rules ...placement) {
	d, err := h.requests(r, req)
	if err != nil {
		h.fail(w, r, req, "error.html", consoleView("Access pass requests", "requests", nil),
			err)
		return
	}
	v := consoleView("Access pass requests", "requests", d)
	if refused == nil {
		h.render(w, r, req, http.StatusOK, "console_requests.html", v)
		return
	}
	for k, val := range form {
		d.Form[k] = val
	}
	v.Data = d
	h.failForm(w, r, req, "console_requests.html", v, refused, rules, fallback)
}

// requests lists the waiting requests with what the viewer may do with
// each. Approving is issuing, tiered on the request's user; a staff
// request needs an admin other than the one who issued it.
func (h *Handler) requests(r *http.Request, req mfa.Request) (requestsData, error) {
	ctx := r.Context()
	d := requestsData{Form: map[string]string{}}
	list, err := h.svc.ListPassRequests(ctx, req, mfa.PassRequestQuery{})
	if err != nil {
		return d, err
	}
	users := map[string]*mfa.User{}
	pols := map[string]*policy.AccessPass{}
	readPolicy := mfa.Permitted(req.Actor, mfa.ActPolicyRead, nil)
	for _, p := range list {
		u, ok := users[p.User]
		if !ok {
			got, err := h.svc.GetUser(ctx, req, p.User)
			if err != nil && !errors.Is(err, mfa.ErrNotFound) {
				return d, err
			}
			if err == nil {
				u = &got
			}
			users[p.User] = u
			if u != nil && readPolicy {
				pol, err := h.svc.UserPolicy(ctx, req, p.User)
				if err != nil {
					return d, err
				}
				pols[p.User] = &pol.AccessPass
			}
		}
		row := requestRow{PassRequest: p, Lifetimes: passLifetimes(pols[p.User])}
		if u != nil && mfa.Permitted(req.Actor, mfa.ActPassIssue, u) {
			row.CanApprove, row.CanDeny = true, true
		}
		if p.Kind == "staff" && row.CanApprove && !mfa.MayApprove(req.Actor, p) {
			row.CanApprove = false
			row.Waits = "Another admin, not the one who issued it, must approve this pass."
			if !slices.Contains(req.Actor.Roles, mfa.RoleAdmin) {
				row.Waits = "Only an admin may be the second approver."
			}
		}
		d.Requests = append(d.Requests, row)
	}
	return d, nil
}

func (h *Handler) consoleApprove(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	f, id := r.PostForm, r.PathValue("id")
	reasonField, lifeField := "approve-reason-"+id, "approve-lifetime-"+id
	form := map[string]string{reasonField: f.Get("reason"), lifeField: f.Get("lifetime")}
	life, err := formDuration(f.Get("lifetime"))
	if err != nil {
		h.requestsWith(w, r, req, form, err, lifeField)
		return
	}
	issue, err := h.svc.ApprovePassRequest(r.Context(), req, id, mfa.Approval{
		Lifetime: life, OneTime: true, Reason: f.Get("reason")})
	if err != nil {
		h.requestsWith(w, r, req, form, err, reasonField, placement{"lifetime", lifeField})
		return
	}
	h.showIssued(w, r, req, issue, issue.Pass.User, issue.Pending != nil)
}

func (h *Handler) consoleDeny(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	id, reason := r.PathValue("id"), r.PostForm.Get("reason")
	field := "deny-reason-" + id
	if err := h.svc.DenyPassRequest(r.Context(), req, id, reason); err != nil {
		h.requestsWith(w, r, req, map[string]string{field: reason}, err, field)
		return
	}
	h.redirect(w, r, "/console/requests", flashRequestDenied)
}
