package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
)

func runToken(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "token", "Create, list and revoke API tokens.",
		[]subcommand{
			{name: "create", args: "--name NAME --role ROLE [--user USER]",
				summary: "create an API token and print it, this once, alone on standard output",
				setup:   tokenCreate},
			{name: "list", summary: "list API tokens, newest first", json: true,
				setup: tokenList},
			{name: "revoke", args: "ID", min: 1, max: 1, setup: tokenRevoke,
				summary: "revoke an API token at once, given its ID (or the token itself)"},
		}, args)
}

func tokenCreate(fs *flag.FlagSet) action {
	var in mfa.NewToken
	fs.StringVar(&in.Name, "name", "", "what the token is for, such as the application's `name`")
	fs.StringVar(&in.Role, "role", "", "the token's `ROLE`: "+roleNames())
	fs.StringVar(&in.User, "user", "", "bind the token to `USER`, who must hold the role; "+
		"it then acts as that user")
	return func(ctx context.Context, c *call) error {
		if in.Name == "" || in.Role == "" {
			return usagef("token create needs --name and --role")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		t, plain, err := svc.CreateToken(ctx, c.req, in)
		if err != nil {
			return listProblems("no token was created", err)
		}
		// The token alone goes to standard output, so that
		// TOKEN=$(mfad token create ...) captures it and nothing else.
		fmt.Fprintln(c.e.stdout, plain)
		fmt.Fprintf(c.e.stderr, "Created token %s (%s, role %s). Store it now: "+
			"it is shown this once and cannot be recovered.\n", t.ID, t.Name, t.Role)
		return nil
	}
}

// tokenJSON is an API token in the CLI's JSON output; never its secret.
type tokenJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	User      string    `json:"user,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func tokenList(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		tokens, err := svc.ListTokens(ctx, c.req)
		if err != nil {
			return err
		}
		if c.json {
			out := make([]tokenJSON, len(tokens))
			for i, t := range tokens {
				out[i] = tokenJSON{ID: t.ID, Name: t.Name, Role: string(t.Role), User: t.User,
					CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt}
			}
			return writeJSON(c.e.stdout, out)
		}
		tab := newTable(c.e.stdout, "ID", "NAME", "ROLE", "USER", "CREATED", "CREATED BY",
			"REVOKED")
		for _, t := range tokens {
			tab.row(t.ID, t.Name, string(t.Role), t.User, timeText(t.CreatedAt), t.CreatedBy,
				timeText(t.RevokedAt))
		}
		return tab.flush()
	}
}

func tokenRevoke(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		// Accept a whole token too ("mfad_<id>_<secret>"), and keep only its
		// ID, so that the secret is neither sent on nor repeated in a message.
		id := c.args[0]
		if rest, ok := strings.CutPrefix(id, "mfad_"); ok {
			id, _, _ = strings.Cut(rest, "_")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.RevokeToken(ctx, c.req, id); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "revoked token %s\n", clean(id))
		return nil
	}
}
