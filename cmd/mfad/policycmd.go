package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

func runPolicy(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "policy",
		"Show or set the policy: the global one, or a group's, which says only what it "+
			"changes for the group's members.",
		[]subcommand{
			{name: "show", args: "[--group GROUP | --user USER]", json: true, setup: policyShow,
				summary: "print the global policy, a group's document and what it amounts " +
					"to, or the policy in force for a user, as JSON (--json is accepted; " +
					"the output is JSON either way)"},
			{name: "set", args: "FILE [--group GROUP]", min: 1, max: 1, setup: policySet,
				summary: "put the policy document in FILE (- for standard input) in force " +
					"on every server at once; fields left out take their defaults, or " +
					"for a group the global policy's"},
			{name: "unset", args: "--group GROUP", setup: policyUnset,
				summary: "remove a group's policy document; its members follow the global " +
					"policy again"},
		}, args)
}

// groupPolicyJSON is a group's policy in the CLI's JSON output: its own
// document, and the policy that amounts to for its members (before it is
// combined with the documents of their other groups).
type groupPolicyJSON struct {
	Group     string          `json:"group"`
	Overrides json.RawMessage `json:"overrides"`
	Policy    policy.Policy   `json:"policy"`
}

func toGroupPolicyJSON(gp mfa.GroupPolicy) groupPolicyJSON {
	return groupPolicyJSON{Group: gp.Group, Overrides: gp.Overrides, Policy: gp.Policy}
}

func policyShow(fs *flag.FlagSet) action {
	group := fs.String("group", "", "show the policy document of `GROUP` and what it "+
		"amounts to for its members")
	user := fs.String("user", "", "show the policy in force for `USER`, once the "+
		"documents of their groups are combined")
	return func(ctx context.Context, c *call) error {
		if *group != "" && *user != "" {
			return usagef("give --group or --user, not both")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		var p policy.Policy
		switch {
		case *group != "":
			gp, err := svc.GetGroupPolicy(ctx, c.req, *group)
			if err != nil {
				return err
			}
			return writeJSON(c.e.stdout, toGroupPolicyJSON(gp))
		case *user != "":
			p, err = svc.UserPolicy(ctx, c.req, *user)
		default:
			p, err = svc.GetPolicy(ctx, c.req)
		}
		if err != nil {
			return err
		}
		_, err = c.e.stdout.Write(p.Marshal())
		return err
	}
}

// maxPolicySize bounds the policy document read, well above any real one.
const maxPolicySize = 1 << 20

func policySet(fs *flag.FlagSet) action {
	group := fs.String("group", "", "set the document of `GROUP` instead of the global "+
		"one: only the fields it names, which override the global policy for the group's "+
		"members")
	return func(ctx context.Context, c *call) error {
		doc, err := readPolicy(c.e.stdin, c.args[0])
		if err != nil {
			return err
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if *group != "" {
			gp, err := svc.SetGroupPolicy(ctx, c.req, *group, doc)
			if err != nil {
				return listProblems("the policy of the group was not changed", err)
			}
			fmt.Fprintf(c.e.stderr, "The policy of group %s is in force:\n", gp.Group)
			return writeJSON(c.e.stdout, toGroupPolicyJSON(gp))
		}
		p, err := svc.SetPolicy(ctx, c.req, doc)
		if err != nil {
			return listProblems("the policy was not changed", err)
		}
		fmt.Fprintln(c.e.stderr, "The policy is in force:")
		_, err = c.e.stdout.Write(p.Marshal())
		return err
	}
}

func policyUnset(fs *flag.FlagSet) action {
	group := fs.String("group", "", "remove the policy document of `GROUP` (required)")
	return func(ctx context.Context, c *call) error {
		if *group == "" {
			return usagef("policy unset needs --group: the global policy stays; " +
				"to put its defaults back, set the document {}")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.DeleteGroupPolicy(ctx, c.req, *group); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "removed the policy of group %s; its members follow the "+
			"global policy, or their other groups'\n", mfa.CanonicalName(*group))
		return nil
	}
}

func readPolicy(stdin io.Reader, path string) ([]byte, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("policy file: %w", err)
		}
		defer f.Close()
		r = f
	}
	doc, err := io.ReadAll(io.LimitReader(r, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	if len(doc) > maxPolicySize {
		return nil, fmt.Errorf("the policy document is larger than %d bytes", maxPolicySize)
	}
	return doc, nil
}
