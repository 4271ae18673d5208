package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
)

func runWebhook(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "webhook",
		"Add, list and delete webhooks, which receive events as signed JSON, and show "+
			"what was delivered to them. The running server (mfad serve) delivers.",
		[]subcommand{
			{name: "add", args: "URL --events TYPE[,TYPE...]", min: 1, max: 1,
				setup: webhookAdd,
				summary: "add a webhook and print its signing secret, this once, alone on " +
					"standard output"},
			{name: "list", max: 0, json: true, setup: webhookList,
				summary: "list webhooks, oldest first, without their secrets"},
			{name: "delete", args: "ID", min: 1, max: 1, setup: webhookDelete,
				summary: "delete a webhook; what is still due to it is given up, its " +
					"deliveries stay listed"},
			{name: "deliveries", args: "ID", min: 1, max: 1, json: true,
				setup: webhookDeliveries,
				summary: "list the newest deliveries to a webhook: event, state, attempts, " +
					"last status or error"},
		}, args)
}

// eventTypes splits --events values at commas, dropping blanks.
func eventTypes(values []string) []string {
	var types []string
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
	}
	return types
}

func webhookAdd(fs *flag.FlagSet) action {
	var events listFlag
	fs.Var(&events, "events", "comma-separated event `TYPES` the webhook receives, or '*' "+
		"for every type (required; may be repeated); the types are "+
		strings.Join(mfa.EventTypes, ", "))
	return func(ctx context.Context, c *call) error {
		types := eventTypes(events)
		if len(types) == 0 {
			return usagef("webhook add needs --events: the event types to send, or '*' " +
				"for every type")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		h, secret, err := svc.CreateWebhook(ctx, c.req, c.args[0], types)
		if err != nil {
			return listProblems("no webhook was added", err)
		}
		fmt.Fprintln(c.e.stdout, secret)
		fmt.Fprintf(c.e.stderr, "Added webhook %s: it receives %s at %s.\n"+
			"Each request is signed with the secret above in its Mfad-Signature header. The "+
			"secret is shown this once and cannot be recovered: give it to the receiver "+
			"over a channel you trust.\nThe running server delivers; see what it delivered "+
			"with:\n  mfad webhook deliveries %s%s\n",
			h.ID, receives(h.Events), clean(h.URL), h.ID, dataFlags(c.cfg))
		return nil
	}
}

// receives says in words which events a webhook receives.
func receives(events []string) string {
	if slices.Contains(events, "*") {
		return "every event"
	}
	return strings.Join(events, ", ")
}

// webhookJSON is a webhook in the CLI's JSON output, without its secret.
type webhookJSON struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

func webhookList(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		hooks, err := svc.ListWebhooks(ctx, c.req)
		if err != nil {
			return err
		}
		if c.json {
			out := make([]webhookJSON, len(hooks))
			for i, h := range hooks {
				out[i] = webhookJSON{ID: h.ID, URL: h.URL, Events: h.Events,
					CreatedAt: h.CreatedAt, CreatedBy: h.CreatedBy}
			}
			return writeJSON(c.e.stdout, out)
		}
		t := newTable(c.e.stdout, "ID", "URL", "EVENTS", "CREATED", "CREATED BY")
		for _, h := range hooks {
			t.row(h.ID, h.URL, strings.Join(h.Events, ","), timeText(h.CreatedAt), h.CreatedBy)
		}
		return t.flush()
	}
}

func webhookDelete(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.DeleteWebhook(ctx, c.req, c.args[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "deleted webhook %s\n", clean(c.args[0]))
		return nil
	}
}

// deliveryJSON is one delivery to a webhook in the CLI's JSON output.
type deliveryJSON struct {
	ID          string    `json:"id"`
	EventID     string    `json:"event_id"`
	EventType   string    `json:"event_type"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	LastStatus  int       `json:"last_status,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	NextAt      time.Time `json:"next_at,omitzero"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	GaveUpAt    time.Time `json:"gave_up_at,omitzero"`
}

func toDeliveryJSON(d mfa.Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, State: d.State,
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: d.CreatedAt, NextAt: d.NextAt, DeliveredAt: d.DeliveredAt,
		GaveUpAt: d.GaveUpAt}
}

func webhookDeliveries(fs *flag.FlagSet) action {
	limit := fs.Int("limit", 100, "show at most `N` deliveries (1 to 500)")
	return func(ctx context.Context, c *call) error {
		if *limit < 1 || *limit > 500 {
			return usagef("--limit must be between 1 and 500")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		ds, err := svc.WebhookDeliveries(ctx, c.req, c.args[0], *limit)
		if err != nil {
			return err
		}
		if c.json {
			out := make([]deliveryJSON, len(ds))
			for i, d := range ds {
				out[i] = toDeliveryJSON(d)
			}
			return writeJSON(c.e.stdout, out)
		}
		t := newTable(c.e.stdout, "CREATED", "EVENT", "TYPE", "STATE", "ATTEMPTS", "STATUS",
			"ERROR", "NEXT", "DONE")
		for _, d := range ds {
			status := ""
			if d.LastStatus != 0 {
				status = fmt.Sprint(d.LastStatus)
			}
			done := d.DeliveredAt
			if done.IsZero() {
				done = d.GaveUpAt
			}
			t.row(timeText(d.CreatedAt), d.EventID, d.EventType, d.State,
				fmt.Sprint(d.Attempts), status, d.LastError, timeText(d.NextAt),
				timeText(done))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(ds) == *limit {
			fmt.Fprintln(c.e.stderr, "there may be older deliveries: raise --limit")
		}
		return nil
	}
}
