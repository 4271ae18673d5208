package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/mfa"
)

func runAudit(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "audit", "List the audit log and verify its chain.",
		[]subcommand{
			{name: "list", json: true, setup: auditList,
				summary: "list audit events, newest first"},
			{name: "verify", json: true, setup: auditVerify,
				summary: "check every event and the chain; exit status 1 if broken"},
		}, args)
}

// auditJSON is an audit event in the CLI's JSON output. The MACs stay out:
// they mean nothing without the key, and audit verify checks them.
type auditJSON struct {
	Seq       int64             `json:"seq"`
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Action    string            `json:"action"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	Actor     string            `json:"actor"`
	Subject   string            `json:"subject,omitempty"`
	Source    string            `json:"source,omitempty"`
	FrontDoor string            `json:"front_door,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Factor    string            `json:"factor,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	LinkSeq   int64             `json:"link_seq,omitempty"` // 0 until sealed into the chain
}

func toAuditJSON(ev audit.Event) auditJSON {
	j := auditJSON{
		Seq: ev.Seq, ID: ev.ID, Time: ev.Time, Action: ev.Action, Outcome: string(ev.Outcome),
		Reason: ev.Reason, Actor: ev.Actor, Subject: ev.Subject, Source: ev.Source,
		FrontDoor: ev.FrontDoor, RequestID: ev.RequestID, Factor: ev.Factor, Detail: ev.Detail,
	}
	if ev.Link != nil {
		j.LinkSeq = ev.Link.Seq
	}
	return j
}

// timeFlag is an optional RFC 3339 time flag.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return errors.New("want an RFC 3339 time such as 2025-01-31T09:00:00Z")
	}
	f.t = t
	return nil
}

func auditList(fs *flag.FlagSet) action {
	var q mfa.AuditQuery
	var since, until timeFlag
	fs.StringVar(&q.User, "user", "", "only events about `USER`")
	fs.StringVar(&q.Action, "action", "", "only this `action`, such as verify; "+
		"one ending in a dot, such as user., selects every action it begins")
	fs.Var(&since, "since", "only events at or after this RFC 3339 `time`")
	fs.Var(&until, "until", "only events before this RFC 3339 `time`")
	fs.IntVar(&q.Limit, "limit", 100, "show at most `N` events (1 to 1000)")
	fs.Int64Var(&q.Before, "before", 0, "only events before sequence number `SEQ`, "+
		"for the next page")
	return func(ctx context.Context, c *call) error {
		q.Since, q.Until = since.t, until.t
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		events, err := svc.ListAudit(ctx, c.req, q)
		if err != nil {
			return listProblems("cannot list the audit log", err)
		}
		if c.json {
			out := make([]auditJSON, len(events))
			for i, ev := range events {
				out[i] = toAuditJSON(ev)
			}
			return writeJSON(c.e.stdout, out)
		}
		if err := printEvents(c.e.stdout, events); err != nil {
			return err
		}
		if len(events) > 0 && len(events) == q.Limit {
			fmt.Fprintf(c.e.stderr, "there may be older events: add --before %d\n",
				events[len(events)-1].Seq)
		}
		return nil
	}
}

func printEvents(w io.Writer, events []audit.Event) error {
	t := newTable(w, "SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT", "OUTCOME", "REASON",
		"SOURCE", "DETAIL")
	for _, ev := range events {
		t.row(fmt.Sprint(ev.Seq), timeText(ev.Time), ev.Actor, ev.Action, ev.Subject,
			string(ev.Outcome), ev.Reason, ev.Source, detailText(ev))
	}
	return t.flush()
}

// detailText shows an event's factor and details as sorted key=value pairs.
func detailText(ev audit.Event) string {
	var parts []string
	if ev.Factor != "" {
		parts = append(parts, "factor="+ev.Factor)
	}
	for _, k := range slices.Sorted(maps.Keys(ev.Detail)) {
		parts = append(parts, k+"="+ev.Detail[k])
	}
	return strings.Join(parts, " ")
}

// auditReportJSON is the outcome of audit verify in the CLI's JSON output.
type auditReportJSON struct {
	Intact     bool   `json:"intact"`
	Events     int64  `json:"events"`
	Sealed     int64  `json:"sealed"`
	Unsealed   int64  `json:"unsealed"`
	HeadSeq    int64  `json:"head_seq"`
	HeadMAC    string `json:"head_mac"`
	Breaks     int64  `json:"breaks"`
	FirstBreak string `json:"first_break,omitempty"`
}

func auditVerify(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		r, err := svc.VerifyAudit(ctx, c.req)
		if err != nil {
			return err
		}
		out := auditReportJSON{
			Intact: r.OK(), Events: r.Events, Sealed: r.Sealed, Unsealed: r.Unsealed,
			HeadSeq: r.Head.Seq, HeadMAC: r.HeadMAC, Breaks: r.Breaks,
		}
		if r.First != nil {
			out.FirstBreak = r.First.Error()
		}
		if c.json {
			err = writeJSON(c.e.stdout, out)
		} else {
			err = printReport(c.e.stdout, out)
		}
		if err != nil {
			return err
		}
		if !r.OK() {
			return fmt.Errorf("the audit log is broken: events that failed a check: %d", r.Breaks)
		}
		fmt.Fprintln(c.e.stderr, "Keep the head sequence and MAC somewhere outside the "+
			"database: events cut from the end of the log show only against them.")
		return nil
	}
}

func printReport(w io.Writer, r auditReportJSON) error {
	t := newTable(w)
	chain := "intact"
	if !r.Intact {
		chain = fmt.Sprintf("BROKEN (events that failed a check: %d)", r.Breaks)
	}
	t.row("chain:", chain)
	t.row("events:", fmt.Sprint(r.Events))
	t.row("sealed:", fmt.Sprint(r.Sealed))
	t.row("unsealed:", fmt.Sprint(r.Unsealed))
	t.row("head seq:", fmt.Sprint(r.HeadSeq))
	t.row("head mac:", r.HeadMAC)
	if r.FirstBreak != "" {
		t.row("first break:", r.FirstBreak)
	}
	return t.flush()
}

func runKeys(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "keys", "Manage the key ring.",
		[]subcommand{
			{name: "rotate", setup: keysRotate,
				summary: "add a new active key to the key file and re-seal every " +
					"authenticator secret under it"},
			{name: "reseal", setup: keysReseal,
				summary: "re-seal the secrets not yet under the active key, as rotate " +
					"does, after an interrupted rotate"},
		}, args)
}

func keysRotate(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		// Open first: the service checks the database and the key file are
		// usable before the file changes.
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		id, err := keyring.Rotate(c.cfg.KeyFile, rand.Reader, time.Now())
		if err != nil {
			return fmt.Errorf("rotate key file: %w", err)
		}
		fmt.Fprintf(c.e.stdout, "new active key: %s\n", id)
		if err := c.app.ring.Reload(); err != nil {
			return fmt.Errorf("reload key file: %w", err)
		}
		n, err := svc.ResealSecrets(ctx, c.req)
		if err != nil {
			return fmt.Errorf("re-sealed %d secrets, then: %w; run mfad keys reseal "+
				"to finish", n, err)
		}
		fmt.Fprintf(c.e.stdout, "re-sealed secrets: %d\n", n)
		fmt.Fprintf(c.e.stderr, "Copy %s to every server that shares this database and "+
			"back it up now: without it no authenticator secret can be opened.\n",
			c.cfg.KeyFile)
		return nil
	}
}

func keysReseal(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		n, err := svc.ResealSecrets(ctx, c.req)
		if err != nil {
			return fmt.Errorf("re-sealed %d secrets, then: %w", n, err)
		}
		fmt.Fprintf(c.e.stdout, "active key: %s\nre-sealed secrets: %d\n", c.app.ring.ActiveID(), n)
		return nil
	}
}
