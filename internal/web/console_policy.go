package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

// bound is one field of the policy document: what it does and the values
// it may take, as internal/policy/policy.go validates them. A test keeps
// this table in step with the fields of policy.Policy.
type bound struct {
	Field  string // the dotted JSON path, such as "lockout.threshold"
	Values string
	About  string
}

// section is a part of the policy document and its fields.
type section struct {
	Name   string
	About  string
	Fields []bound
}

var policySections = []section{
	{"lockout", "Failed tries in a row lock the account, for longer each time.", []bound{
		{"lockout.threshold", "1 to 100", "Failed tries in a row that lock the account " +
			"for a while."},
		{"lockout.duration", "1s to 30d", "How long the first lock lasts; each next one " +
			"lasts twice as long."},
		{"lockout.max_duration", "lockout.duration to 30d", "The longest a lock lasts."},
		{"lockout.max_failures", "lockout.threshold to 100", "Failed tries in a row after " +
			"which the account stays locked until staff unlock it (NIST SP 800-63B §5.2.2: " +
			"at most 100)."},
	}},
	{"totp", "What new authenticator apps get.", []bound{
		{"totp.algorithm", "SHA1, SHA256 or SHA512", "Only SHA1 works in every app."},
		{"totp.digits", "6 or 8", "Digits in a code."},
		{"totp.period", "30 or 60", "Seconds each code lasts."},
	}},
	{"backup_codes", "Sets made from now on; a set made already keeps its own.", []bound{
		{"backup_codes.count", "5 to 20", "Codes in a set."},
		{"backup_codes.length", "10 to 20", "Symbols in a code."},
		{"backup_codes.warn_at", "0 to backup_codes.count − 1", "Codes left at which the " +
			"user is warned; 0 warns only when none are left."},
		{"backup_codes.lifetime", "0 (never expire), or 1d to 3650d", "How long a set " +
			"works."},
	}},
	{"sessions", "Self-service and console sign-ins.", []bound{
		{"sessions.lifetime", "1m to 12h", "The longest a session lasts."},
		{"sessions.idle", "1m to 12h", "A session unused this long ends."},
		{"sessions.freshness", "1m to 1d", "How recent a sign-in must be to bind an email " +
			"address or phone number, or to remove the last authenticator or key."},
	}},
	{"access_pass", "Temporary access passes staff issue.", []bound{
		{"access_pass.enabled", "true or false", "Whether passes may be issued at all."},
		{"access_pass.min_lifetime", "10m to 30d", "The shortest pass staff may issue."},
		{"access_pass.max_lifetime", "10m to 30d, and at least access_pass.min_lifetime",
			"The longest pass staff may issue."},
		{"access_pass.default_lifetime", "access_pass.min_lifetime to " +
			"access_pass.max_lifetime", "A pass's lifetime when none is chosen."},
		{"access_pass.allow_multi_use", "true or false", "Whether staff may issue passes " +
			"that work more than once while they last."},
		{"access_pass.length", "8 to 48", "Symbols in a pass."},
		{"access_pass.groups", "groups that exist, none twice; [] for everyone",
			"Whose members may be issued passes."},
		{"access_pass.second_approver_for_roles", "true or false", "Passes for users who " +
			"hold a role wait until a second admin, not their issuer, approves."},
	}},
	{"access_pass.self_service", "Passes people issue themselves for a device without " +
		"their factors; always one-time.", []bound{
		{"access_pass.self_service.enabled", "true or false", "Whether people may."},
		{"access_pass.self_service.groups", "groups that exist, none twice; [] for everyone " +
			"who may use passes", "Whose members may."},
		{"access_pass.self_service.max_lifetime", "10m to 30d", "The longest such pass."},
		{"access_pass.self_service.factors", "possession, phishing_resistant or both",
			"What the sign-in must have been made with; never a backup code, a pass or an " +
				"emailed code."},
		{"access_pass.self_service.freshness", "1m to 1d", "How recent that sign-in must be."},
	}},
	{"access_pass.requests", "Requests for a pass from people who cannot sign in.", []bound{
		{"access_pass.requests.enabled", "true or false", "Whether the sign-in page takes " +
			"requests."},
		{"access_pass.requests.per_user", "1 to 1000", "Requests an hour for one user name " +
			"(read from the global policy only)."},
		{"access_pass.requests.per_source", "1 to 1000", "Requests an hour from one " +
			"address (read from the global policy only)."},
		{"access_pass.requests.lifetime", "10m to 7d", "How long a request waits in the " +
			"queue."},
	}},
	{"bypass", "One sign-in to an application without a code.", []bound{
		{"bypass.enabled", "true or false", "Whether staff may grant bypasses."},
		{"bypass.max_duration", "1m to 1h", "The longest a bypass waits to be used."},
	}},
	{"fraud_report", "What a “this was not me” report does.", []bound{
		{"fraud_report.block", "true or false", "Block the user's sign-ins and end their " +
			"passes, bypass and sessions until staff clear the report."},
	}},
	{"out_of_band", "Codes sent by email or text message; both off unless turned on.",
		[]bound{
			{"out_of_band.email", "true or false", "Codes by email."},
			{"out_of_band.sms", "true or false", "Codes by text message."},
			{"out_of_band.digits", "6 to 8", "Digits in a code."},
			{"out_of_band.lifetime", "1m to 10m", "How long a code works."},
			{"out_of_band.per_user", "1 to 100000", "Codes an hour for one user name."},
			{"out_of_band.per_destination", "1 to 100000", "Codes an hour to one address or " +
				"number."},
			{"out_of_band.global", "1 to 100000", "Codes an hour in all."},
		}},
	{"notices", "Emails about events on an account.", []bound{
		{"notices.user", "notice types, none twice", "What the user is told of."},
		{"notices.security_contact", "notice types, none twice", "What the security " +
			"contact is told of too."},
		{"notices.per_hour", "1 to 1000", "Notices one user is sent an hour at most."},
	}},
}

// boundRow is a field of the table as a page shows it: its bounds, its
// value in the policy shown, and a problem of the document sent, if any.
type boundRow struct {
	bound
	Value   string
	Set     bool // the group's own document sets it
	Problem string
}

type sectionRows struct {
	Name, About string
	Rows        []boundRow
}

// boundsTable fills the table in with the values of p, the fields doc sets
// (a group's own document; nil for the global policy) and the problems
// that name a field.
func boundsTable(p policy.Policy, doc []byte, problems []string) []sectionRows {
	values := flatten(p.Marshal())
	set := map[string]string{}
	if doc != nil {
		set = flatten(doc)
	}
	out := make([]sectionRows, len(policySections))
	for i, s := range policySections {
		out[i] = sectionRows{Name: s.Name, About: s.About}
		for _, b := range s.Fields {
			_, isSet := set[b.Field]
			row := boundRow{bound: b, Value: values[b.Field], Set: doc != nil && isSet}
			for _, pr := range problems {
				if strings.HasPrefix(pr, b.Field+" ") {
					row.Problem += sentence(pr) + " "
				}
			}
			row.Problem = strings.TrimSpace(row.Problem)
			out[i].Rows = append(out[i].Rows, row)
		}
	}
	return out
}

// flatten returns the leaves of a JSON object by dotted path, each value
// written as a person reads it. A document that does not parse has none.
func flatten(doc []byte) map[string]string {
	var tree map[string]any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	out := map[string]string{}
	if d.Decode(&tree) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				walk(strings.TrimPrefix(prefix+"."+k, "."), child)
			}
		case []any:
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i] = fmt.Sprint(x)
			}
			out[prefix] = "[" + strings.Join(parts, ", ") + "]"
		default:
			out[prefix] = fmt.Sprint(v)
		}
	}
	walk("", tree)
	return out
}

// policyData is what the policy page shows.
type policyData struct {
	Doc      string
	CanWrite bool
	Problems []string
	Sections []sectionRows
	Groups   []mfa.Group
}

func (h *Handler) consolePolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	p, err := h.svc.GetPolicy(r.Context(), req)
	if err != nil {
		h.fail(w, r, req, "error.html", consoleView("Policy", "policy", nil), err)
		return
	}
	h.policyPage(w, r, req, http.StatusOK, string(p.Marshal()), p, nil)
}

// policyPage draws the policy page with doc in the editor, the table
// filled in from p, and problems of the document sent.
func (h *Handler) policyPage(w http.ResponseWriter, r *http.Request, req mfa.Request,
	status int, doc string, p policy.Policy, problems []string) {
	groups, err := h.svc.ListGroups(r.Context(), req)
	if err != nil {
		h.fail(w, r, req, "error.html", consoleView("Policy", "policy", nil), err)
		return
	}
	d := policyData{Doc: doc, CanWrite: mfa.Permitted(req.Actor, mfa.ActPolicyWrite, nil),
		Problems: problems, Sections: boundsTable(p, nil, problems), Groups: groups}
	h.render(w, r, req, status, "console_policy.html", consoleView("Policy", "policy", d))
}

// maxPolicyDoc bounds a policy document sent from the editor.
const maxPolicyDoc = 48 << 10

func (h *Handler) consoleSetPolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	doc := r.PostForm.Get("policy")
	if len(doc) > maxPolicyDoc {
		h.fail(w, r, req, "error.html", consoleView("Policy", "policy", nil), &mfa.Error{
			Kind: mfa.ErrInvalid, Message: "the document is longer than 48 KiB"})
		return
	}
	_, err := h.svc.SetPolicy(r.Context(), req, []byte(doc))
	if err == nil {
		h.redirect(w, r, "/console/policy", flashPolicySaved)
		return
	}
	problems, ok := invalidProblems(err)
	if !ok {
		h.fail(w, r, req, "error.html", consoleView("Policy", "policy", nil), err)
		return
	}
	// The table shows the policy in force, which the document did not
	// change, beside the problems of the document sent.
	current, gerr := h.svc.GetPolicy(r.Context(), req)
	if gerr != nil {
		h.fail(w, r, req, "error.html", consoleView("Policy", "policy", nil), gerr)
		return
	}
	h.policyPage(w, r, req, http.StatusBadRequest, doc, current, problems)
}

// invalidProblems returns every problem of an ErrInvalid error, or false
// for any other error.
func invalidProblems(err error) ([]string, bool) {
	var e *mfa.Error
	if !errors.As(err, &e) || !errors.Is(err, mfa.ErrInvalid) {
		return nil, false
	}
	if len(e.Problems) == 0 {
		return []string{e.Message}, true
	}
	return e.Problems, true
}

// groupPolicyData is what a group's policy page shows.
type groupPolicyData struct {
	Group    string
	Path     string // the page's address
	Doc      string // the group's own document, or what was sent
	Override bool   // the group has a document of its own
	// Effective is the policy the document puts in force for the group's
	// members (before combining with their other groups').
	Effective string
	CanWrite  bool
	Problems  []string
	Sections  []sectionRows
}

func groupPolicyPath(name string) string {
	return "/console/groups/" + url.PathEscape(name) + "/policy"
}

func (h *Handler) consoleGroupPolicy(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.groupPolicyPage(w, r, req, http.StatusOK, nil, nil)
}

// groupPolicyPage draws a group's policy page; after a refused save, with
// the document sent and its problems.
func (h *Handler) groupPolicyPage(w http.ResponseWriter, r *http.Request, req mfa.Request,
	status int, sent []byte, problems []string) {
	gp, err := h.svc.GetGroupPolicy(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, req, "error.html", consoleView("Group policy", "policy", nil), err)
		return
	}
	d := groupPolicyData{Group: gp.Group, Path: groupPolicyPath(gp.Group),
		Doc: indent(gp.Overrides), Override: string(gp.Overrides) != "{}",
		Effective: string(gp.Policy.Marshal()), Problems: problems,
		CanWrite: mfa.Permitted(req.Actor, mfa.ActPolicyWrite, nil),
		Sections: boundsTable(gp.Policy, gp.Overrides, problems)}
	if sent != nil {
		d.Doc = string(sent)
	}
	h.render(w, r, req, status, "console_group_policy.html",
		consoleView("Policy of group "+gp.Group, "policy", d))
}

// indent lays a JSON document out for the editor, or returns it as it is
// when it is no JSON.
func indent(doc []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, doc, "", "  ") != nil {
		return string(doc)
	}
	return b.String()
}

func (h *Handler) consoleSetGroupPolicy(w http.ResponseWriter, r *http.Request,
	req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	doc := r.PostForm.Get("policy")
	if len(doc) > maxPolicyDoc {
		h.fail(w, r, req, "error.html", consoleView("Group policy", "policy", nil), &mfa.Error{
			Kind: mfa.ErrInvalid, Message: "the document is longer than 48 KiB"})
		return
	}
	gp, err := h.svc.SetGroupPolicy(r.Context(), req, r.PathValue("name"), []byte(doc))
	if err == nil {
		h.redirect(w, r, groupPolicyPath(gp.Group), flashGroupPolicySaved)
		return
	}
	problems, ok := invalidProblems(err)
	if !ok {
		h.fail(w, r, req, "error.html", consoleView("Group policy", "policy", nil), err)
		return
	}
	h.groupPolicyPage(w, r, req, http.StatusBadRequest, []byte(doc), problems)
}

func (h *Handler) consoleDeleteGroupPolicy(w http.ResponseWriter, r *http.Request,
	req mfa.Request) {
	name := r.PathValue("name")
	if err := h.svc.DeleteGroupPolicy(r.Context(), req, name); err != nil {
		h.fail(w, r, req, "error.html", consoleView("Group policy", "policy", nil), err)
		return
	}
	h.redirect(w, r, groupPolicyPath(mfa.CanonicalName(name)), flashGroupPolicyGone)
}

// policyFields lists every field the table explains, sorted, for the test
// that keeps it in step with policy.Policy.
func policyFields() []string {
	var out []string
	for _, s := range policySections {
		for _, b := range s.Fields {
			out = append(out, b.Field)
		}
	}
	sort.Strings(out)
	return out
}
