package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

func runPass(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "pass",
		"Issue, show and revoke temporary access passes, and decide the requests for them.",
		[]subcommand{
			{name: "issue", args: "USER --reason TEXT", min: 1, max: 1, setup: passIssue,
				summary: "issue a user an access pass, in place of any they had, and print " +
					"it, this once, alone on standard output"},
			{name: "show", args: "USER", min: 1, max: 1, json: true, setup: passShow,
				summary: "show a user's access pass: its state, times and uses, never the pass"},
			{name: "revoke", args: "USER", min: 1, max: 1, setup: passRevoke,
				summary: "end a user's access pass at once"},
			{name: "requests", max: 0, json: true, setup: passRequests,
				summary: "list requests for an access pass, newest first: by default those " +
					"that wait for a decision"},
			{name: "approve", args: "ID --reason TEXT", min: 1, max: 1, setup: passApprove,
				summary: "approve a request and print the pass, this once, alone on standard " +
					"output, to pass on once you know who is asking"},
			{name: "deny", args: "ID --reason TEXT", min: 1, max: 1, setup: passDeny,
				summary: "turn a request down; the user is told"},
		}, args)
}

// durationFlag is an optional duration flag in the policy's notation, such
// as 90m, 2h or 3d.
type durationFlag struct{ d policy.Duration }

func (f *durationFlag) String() string {
	if f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f *durationFlag) Set(s string) error {
	d, err := policy.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration such as 90m, 2h or 3d")
	}
	f.d = d
	return nil
}

// passFlags are the flags that shape a pass, for pass issue and approve.
type passFlags struct {
	lifetime durationFlag
	start    timeFlag
	multiUse bool
	reason   string
}

func bindPassFlags(fs *flag.FlagSet, why string) *passFlags {
	var p passFlags
	fs.Var(&p.lifetime, "lifetime", "how long the pass works: a `DURATION` such as 90m, 2h "+
		"or 3d, within the bounds of the user's policy (default: the policy's)")
	fs.Var(&p.start, "start", "RFC 3339 `time` the pass starts to work, such as "+
		"2026-12-04T15:00:00+01:00, up to 30 days ahead (default: now)")
	fs.BoolVar(&p.multiUse, "multi-use", false, "let the pass work any number of times "+
		"until it expires, where the policy allows (default: it works once)")
	fs.StringVar(&p.reason, "reason", "", "`TEXT` saying "+why+", such as a ticket number "+
		"(required; it goes into the audit log and the user's notice)")
	return &p
}

// needReason refuses a missing or blank --reason as a usage error, before
// anything is opened.
func needReason(full, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return usagef("%s needs --reason: say why, for the audit log", full)
	}
	return nil
}

func passIssue(fs *flag.FlagSet) action {
	p := bindPassFlags(fs, "why the user needs a pass")
	return func(ctx context.Context, c *call) error {
		if err := needReason("pass issue", p.reason); err != nil {
			return err
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		res, err := svc.IssuePass(ctx, c.req, c.args[0], mfa.NewPass{
			Lifetime: p.lifetime.d.Std(), StartsAt: p.start.t, OneTime: !p.multiUse,
			Reason: p.reason,
		})
		if err != nil {
			return listProblems("no pass was issued", err)
		}
		showIssue(c, res)
		return nil
	}
}

// showIssue prints a new pass alone on standard output, so that
// PASS=$(mfad pass issue ...) captures it and nothing else, or, when it
// waits for a second admin, says so on standard error alone.
func showIssue(c *call, res mfa.PassIssue) {
	if r := res.Pending; r != nil {
		fmt.Fprintf(c.e.stderr, "No pass was issued yet: %s holds a role, and their policy "+
			"wants a second admin to approve their passes.\n"+
			"Request %s waits until %s. An admin other than you approves it with:\n"+
			"  mfad pass approve %s --reason TEXT%s\n",
			r.User, r.ID, timeText(r.ExpiresAt), r.ID, dataFlags(c.cfg))
		return
	}
	p := res.Pass
	fmt.Fprintln(c.e.stdout, p.Pass)
	uses := "once"
	if !p.OneTime {
		uses = "any number of times"
	}
	fmt.Fprintf(c.e.stderr, "Issued %s an access pass in place of any they had. It works "+
		"%s, from %s until %s.\nIt is shown this once and cannot be recovered: give it to %s "+
		"over a channel you trust.\n",
		p.User, uses, timeText(p.StartsAt), timeText(p.ExpiresAt), p.User)
}

// passJSON is an access pass in the CLI's JSON output: what is known about
// it, never the pass itself.
type passJSON struct {
	User       string    `json:"user"`
	State      string    `json:"state"`
	OneTime    bool      `json:"one_time"`
	SelfIssued bool      `json:"self_issued"`
	StartsAt   time.Time `json:"starts_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Uses       int       `json:"uses"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
	Reason     string    `json:"reason"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

func toPassJSON(p mfa.AccessPass) passJSON {
	return passJSON{User: p.User, State: p.State, OneTime: p.OneTime,
		SelfIssued: p.SelfIssued, StartsAt: p.StartsAt, ExpiresAt: p.ExpiresAt, Uses: p.Uses,
		LastUsedAt: p.LastUsedAt, CreatedAt: p.CreatedAt, CreatedBy: p.CreatedBy,
		Reason: p.Reason, RevokedAt: p.RevokedAt}
}

func passShow(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		p, err := svc.PassStatus(ctx, c.req, c.args[0])
		if err != nil {
			return err
		}
		if c.json {
			return writeJSON(c.e.stdout, toPassJSON(p))
		}
		kind := "one-time"
		if !p.OneTime {
			kind = "multi-use"
		}
		if p.SelfIssued {
			kind += ", issued by the user"
		}
		t := newTable(c.e.stdout)
		t.row("user:", p.User)
		t.row("state:", p.State)
		t.row("kind:", kind)
		t.row("starts:", timeText(p.StartsAt))
		t.row("expires:", timeText(p.ExpiresAt))
		t.row("uses:", fmt.Sprint(p.Uses))
		t.row("last used:", timeText(p.LastUsedAt))
		t.row("issued:", timeText(p.CreatedAt)+" by "+p.CreatedBy)
		t.row("reason:", p.Reason)
		t.row("revoked:", timeText(p.RevokedAt))
		return t.flush()
	}
}

func passRevoke(fs *flag.FlagSet) action {
	reason := fs.String("reason", "", "`TEXT` saying why, for the audit log (optional: "+
		"revoking only takes a way in away)")
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.RevokePass(ctx, c.req, c.args[0], *reason); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "revoked the access pass of %s\n", mfa.CanonicalName(c.args[0]))
		return nil
	}
}

// requestJSON is a request for an access pass in the CLI's JSON output.
type requestJSON struct {
	ID             string          `json:"id"`
	User           string          `json:"user"`
	Kind           string          `json:"kind"`
	Status         string          `json:"status"`
	Message        string          `json:"message,omitempty"`
	Source         string          `json:"source,omitempty"`
	RequestedBy    string          `json:"requested_by,omitempty"`
	Lifetime       policy.Duration `json:"lifetime,omitzero"`
	StartsAt       time.Time       `json:"starts_at,omitzero"`
	OneTime        bool            `json:"one_time"`
	Reason         string          `json:"reason,omitempty"`
	Origin         string          `json:"origin,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	ExpiresAt      time.Time       `json:"expires_at"`
	DecidedBy      string          `json:"decided_by,omitempty"`
	DecidedAt      time.Time       `json:"decided_at,omitzero"`
	DecisionReason string          `json:"decision_reason,omitempty"`
}

func toRequestJSON(r mfa.PassRequest) requestJSON {
	return requestJSON{ID: r.ID, User: r.User, Kind: r.Kind, Status: r.Status,
		Message: r.Message, Source: r.Source, RequestedBy: r.RequestedBy,
		Lifetime: policy.Duration(r.Lifetime), StartsAt: r.StartsAt, OneTime: r.OneTime,
		Reason: r.Reason, Origin: r.Origin, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, DecisionReason: r.DecisionReason}
}

func passRequests(fs *flag.FlagSet) action {
	var q mfa.PassRequestQuery
	fs.StringVar(&q.Status, "status", "pending", "show only requests in this `state`: "+
		"pending, approved, denied, forwarded, or all")
	fs.StringVar(&q.User, "user", "", "show only requests for `USER`")
	fs.IntVar(&q.Limit, "limit", 100, "show at most `N` requests (1 to 500)")
	return func(ctx context.Context, c *call) error {
		if q.Limit < 1 {
			return usagef("--limit must be between 1 and 500")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		reqs, err := svc.ListPassRequests(ctx, c.req, q)
		if err != nil {
			return err
		}
		if c.json {
			out := make([]requestJSON, len(reqs))
			for i, r := range reqs {
				out[i] = toRequestJSON(r)
			}
			return writeJSON(c.e.stdout, out)
		}
		t := newTable(c.e.stdout, "ID", "USER", "KIND", "STATUS", "CREATED", "EXPIRES",
			"FROM", "NOTE", "DECIDED BY")
		for _, r := range reqs {
			// A user's request comes from an address with a message; a
			// member of staff's from them, with their reason.
			from, note := r.Source, r.Message
			if r.Kind == "staff" {
				from, note = r.RequestedBy, r.Reason
			}
			t.row(r.ID, r.User, r.Kind, r.Status, timeText(r.CreatedAt), timeText(r.ExpiresAt),
				from, note, r.DecidedBy)
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(reqs) > 0 && len(reqs) == q.Limit {
			fmt.Fprintf(c.e.stderr, "there may be older requests: narrow the list with "+
				"--user or --status, or raise --limit\n")
		}
		return nil
	}
}

func passApprove(fs *flag.FlagSet) action {
	p := bindPassFlags(fs, "why the request is approved")
	return func(ctx context.Context, c *call) error {
		if err := needReason("pass approve", p.reason); err != nil {
			return err
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		// A request a member of staff made keeps the lifetime, start and
		// use they asked for; these flags shape a user's request only.
		res, err := svc.ApprovePassRequest(ctx, c.req, c.args[0], mfa.Approval{
			Lifetime: p.lifetime.d.Std(), StartsAt: p.start.t, OneTime: !p.multiUse,
			Reason: p.reason,
		})
		if err != nil {
			return listProblems("the request was not approved", err)
		}
		if res.Pending == nil {
			fmt.Fprintf(c.e.stderr, "Approved request %s. Give the pass to %s only once "+
				"you know who is asking.\n", clean(c.args[0]), res.Pass.User)
		}
		showIssue(c, res)
		return nil
	}
}

func passDeny(fs *flag.FlagSet) action {
	reason := fs.String("reason", "", "`TEXT` saying why the request is turned down "+
		"(required; it goes into the audit log and the user's notice)")
	return func(ctx context.Context, c *call) error {
		if err := needReason("pass deny", *reason); err != nil {
			return err
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.DenyPassRequest(ctx, c.req, c.args[0], *reason); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "denied access pass request %s\n", clean(c.args[0]))
		return nil
	}
}

func runBypass(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "bypass",
		"Grant, show and revoke one-time bypasses: the next verification of a user with an "+
			"empty code is accepted, once, for a few minutes.",
		[]subcommand{
			{name: "grant", args: "USER --for DURATION --reason TEXT", min: 1, max: 1,
				setup: bypassGrant,
				summary: "let the next verification of a user through without a code, " +
					"once, in place of any bypass they had"},
			{name: "show", args: "USER", min: 1, max: 1, json: true, setup: bypassShow,
				summary: "show a user's bypass"},
			{name: "revoke", args: "USER", min: 1, max: 1, setup: bypassRevoke,
				summary: "end a user's unused bypass at once"},
		}, args)
}

func bypassGrant(fs *flag.FlagSet) action {
	var d durationFlag
	fs.Var(&d, "for", "how long the bypass waits to be used: a `DURATION` such as 5m, at "+
		"most the policy's bypass.max_duration (required)")
	reason := fs.String("reason", "", "`TEXT` saying why, such as a ticket number "+
		"(required; it goes into the audit log and the user's notice)")
	return func(ctx context.Context, c *call) error {
		if d.d == 0 {
			return usagef("bypass grant needs --for: how long the bypass waits to be used, " +
				"such as 5m")
		}
		if err := needReason("bypass grant", *reason); err != nil {
			return err
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		b, err := svc.GrantBypass(ctx, c.req, c.args[0], d.d.Std(), *reason)
		if err != nil {
			return listProblems("no bypass was granted", err)
		}
		fmt.Fprintf(c.e.stderr, "Granted %s a bypass until %s: the next verification of %s "+
			"with an empty code is accepted, once. It lifts no lock and opens no session.\n",
			b.User, timeText(b.ExpiresAt), b.User)
		return nil
	}
}

// bypassJSON is a bypass in the CLI's JSON output.
type bypassJSON struct {
	User      string    `json:"user"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	ExpiresAt time.Time `json:"expires_at"`
	Reason    string    `json:"reason"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func bypassShow(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		b, err := svc.BypassStatus(ctx, c.req, c.args[0])
		if err != nil {
			return err
		}
		if c.json {
			return writeJSON(c.e.stdout, bypassJSON{User: b.User, State: b.State,
				CreatedAt: b.CreatedAt, CreatedBy: b.CreatedBy, ExpiresAt: b.ExpiresAt,
				Reason: b.Reason, UsedAt: b.UsedAt, RevokedAt: b.RevokedAt})
		}
		t := newTable(c.e.stdout)
		t.row("user:", b.User)
		t.row("state:", b.State)
		t.row("granted:", timeText(b.CreatedAt)+" by "+b.CreatedBy)
		t.row("expires:", timeText(b.ExpiresAt))
		t.row("reason:", b.Reason)
		t.row("used:", timeText(b.UsedAt))
		t.row("revoked:", timeText(b.RevokedAt))
		return t.flush()
	}
}

func bypassRevoke(fs *flag.FlagSet) action {
	reason := fs.String("reason", "", "`TEXT` saying why, for the audit log (optional)")
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.RevokeBypass(ctx, c.req, c.args[0], *reason); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "revoked the bypass of %s\n", mfa.CanonicalName(c.args[0]))
		return nil
	}
}
