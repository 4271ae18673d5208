package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
)

func runUser(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "user",
		"Add, list, show, change, disable, enable and unblock users, and set their roles.",
		userCommands(), args)
}

func userCommands() []subcommand {
	return []subcommand{
		{name: "add", args: "NAME", summary: "add a user", min: 1, max: 1, setup: userAdd},
		{name: "list", summary: "list users by name", max: 0, json: true, setup: userList},
		{name: "show", args: "NAME", summary: "show a user with their groups", min: 1, max: 1,
			json: true, setup: userShow},
		{name: "set", args: "NAME", summary: "change a user's email, display name or phone",
			min: 1, max: 1, setup: userSet},
		{name: "disable", args: "NAME", summary: "disable a user: every verification fails",
			min: 1, max: 1, setup: userEnable(true)},
		{name: "enable", args: "NAME", summary: "enable a disabled user", min: 1, max: 1,
			setup: userEnable(false)},
		{name: "roles", args: "NAME [ROLE...]", min: 1, max: -1, setup: userRoles,
			summary: "replace a user's roles (" + roleNames() + "); none removes all"},
		{name: "unblock", args: "NAME --reason TEXT", min: 1, max: 1, setup: userUnblock,
			summary: "lift the block a fraud report put on a user's sign-ins, once you " +
				"have looked into it"},
	}
}

func roleNames() string {
	n := make([]string, len(mfa.Roles))
	for i, r := range mfa.Roles {
		n[i] = string(r)
	}
	return strings.Join(n, ", ")
}

// userJSON is a user in the CLI's JSON output.
type userJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	Disabled    bool      `json:"disabled"`
	Locked      bool      `json:"locked"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	Blocked     bool      `json:"blocked"`
	BlockedAt   time.Time `json:"blocked_at,omitzero"`
	Failures    int       `json:"failures"`
	Roles       []string  `json:"roles"`
	Groups      []string  `json:"groups,omitempty"`
	// EmailVerified and PhoneVerified say whether the user proved, with a
	// code, that they receive codes there; only then are codes sent.
	EmailVerified   bool      `json:"email_verified"`
	EmailVerifiedAt time.Time `json:"email_verified_at,omitzero"`
	PhoneVerified   bool      `json:"phone_verified"`
	PhoneVerifiedAt time.Time `json:"phone_verified_at,omitzero"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func toUserJSON(u mfa.User) userJSON {
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	return userJSON{
		ID: u.ID, Name: u.Name, DisplayName: u.DisplayName, Email: u.Email, Phone: u.Phone,
		Disabled: u.Disabled, Locked: u.Locked, LockedUntil: u.LockedUntil,
		Blocked: !u.BlockedAt.IsZero(), BlockedAt: u.BlockedAt, Failures: u.Failures,
		Roles: roles, Groups: u.Groups,
		EmailVerified: !u.EmailVerifiedAt.IsZero(), EmailVerifiedAt: u.EmailVerifiedAt,
		PhoneVerified: !u.PhoneVerifiedAt.IsZero(), PhoneVerifiedAt: u.PhoneVerifiedAt,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// status sums up whether a user can verify now.
func status(u mfa.User) string {
	switch {
	case u.Disabled:
		return "disabled"
	case !u.BlockedAt.IsZero():
		return "blocked by a fraud report since " + timeText(u.BlockedAt)
	case u.Locked && u.LockedUntil.IsZero():
		return "locked until unlocked"
	case u.Locked:
		return "locked until " + timeText(u.LockedUntil)
	}
	return "active"
}

func userAdd(fs *flag.FlagSet) action {
	var in mfa.NewUser
	var roles listFlag
	fs.StringVar(&in.Email, "email", "", "email `address`")
	fs.StringVar(&in.DisplayName, "display-name", "", "display `name`")
	fs.StringVar(&in.Phone, "phone", "", "phone `number` in E.164 form, such as +4915123456789")
	fs.Var(&roles, "role", "grant `ROLE` ("+roleNames()+"); repeat for several")
	return func(ctx context.Context, c *call) error {
		in.Name, in.Roles = c.args[0], roles
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		u, err := svc.CreateUser(ctx, c.req, in)
		if err != nil {
			return listProblems("the user was not added", err)
		}
		fmt.Fprintf(c.e.stdout, "added user %s (ID %s)\n", u.Name, u.ID)
		return nil
	}
}

func userList(fs *flag.FlagSet) action {
	var q mfa.UserQuery
	fs.StringVar(&q.Search, "search", "", "show only users whose name, display name or email "+
		"contains `text`")
	fs.IntVar(&q.Limit, "limit", 100, "show at most `N` users (1 to 500)")
	fs.StringVar(&q.After, "after", "", "start after the user `NAME`, for the next page")
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		users, err := svc.ListUsers(ctx, c.req, q)
		if err != nil {
			return err
		}
		if c.json {
			out := make([]userJSON, len(users))
			for i, u := range users {
				out[i] = toUserJSON(u)
			}
			return writeJSON(c.e.stdout, out)
		}
		t := newTable(c.e.stdout, "NAME", "DISPLAY NAME", "EMAIL", "ROLES", "STATUS")
		for _, u := range users {
			t.row(u.Name, u.DisplayName, u.Email, joinRoles(u.Roles), status(u))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(users) > 0 && len(users) == q.Limit {
			fmt.Fprintf(c.e.stderr, "there may be more users: add --after %s\n",
				users[len(users)-1].Name)
		}
		return nil
	}
}

func joinRoles(roles []mfa.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func userShow(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		u, err := svc.GetUser(ctx, c.req, c.args[0])
		if err != nil {
			return err
		}
		if c.json {
			return writeJSON(c.e.stdout, toUserJSON(u))
		}
		return printUser(c.e.stdout, u)
	}
}

func printUser(w io.Writer, u mfa.User) error {
	t := newTable(w)
	t.row("name:", u.Name)
	t.row("id:", u.ID)
	t.row("display name:", u.DisplayName)
	t.row("email:", u.Email)
	t.row("email proved:", proved(u.Email, u.EmailVerifiedAt))
	t.row("phone:", u.Phone)
	t.row("phone proved:", proved(u.Phone, u.PhoneVerifiedAt))
	t.row("roles:", joinRoles(u.Roles))
	t.row("groups:", strings.Join(u.Groups, ","))
	t.row("status:", status(u))
	t.row("failures:", fmt.Sprint(u.Failures))
	t.row("created:", timeText(u.CreatedAt))
	t.row("updated:", timeText(u.UpdatedAt))
	return t.flush()
}

// proved says whether an address or number was proved with a code, and
// when: codes go only to one that was.
func proved(dest string, at time.Time) string {
	switch {
	case dest == "":
		return ""
	case at.IsZero():
		return "no (no codes go there until it is proved)"
	}
	return "yes, since " + timeText(at)
}

func userSet(fs *flag.FlagSet) action {
	var email, display, phone optString
	fs.Var(&email, "email", "new email `address`; '' removes it")
	fs.Var(&display, "display-name", "new display `name`; '' removes it")
	fs.Var(&phone, "phone", "new phone `number` in E.164 form; '' removes it")
	return func(ctx context.Context, c *call) error {
		in := mfa.UserUpdate{Email: email.ptr(), DisplayName: display.ptr(), Phone: phone.ptr()}
		if in.Email == nil && in.DisplayName == nil && in.Phone == nil {
			return usagef("nothing to change: give --email, --display-name or --phone")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		u, err := svc.UpdateUser(ctx, c.req, c.args[0], in)
		if err != nil {
			return listProblems("the user was not changed", err)
		}
		fmt.Fprintf(c.e.stdout, "changed user %s\n", u.Name)
		return nil
	}
}

func userEnable(disable bool) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action {
		return func(ctx context.Context, c *call) error {
			svc, err := c.service(ctx)
			if err != nil {
				return err
			}
			u, err := svc.UpdateUser(ctx, c.req, c.args[0], mfa.UserUpdate{Disabled: &disable})
			if err != nil {
				return err
			}
			word := "enabled"
			if disable {
				word = "disabled"
			}
			fmt.Fprintf(c.e.stdout, "%s user %s\n", word, u.Name)
			return nil
		}
	}
}

func userRoles(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		roles := c.args[1:]
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		u, err := svc.SetRoles(ctx, c.req, c.args[0], roles)
		if err != nil {
			return listProblems("the roles were not changed", err)
		}
		if len(u.Roles) == 0 {
			fmt.Fprintf(c.e.stdout, "user %s now holds no role\n", u.Name)
			return nil
		}
		fmt.Fprintf(c.e.stdout, "user %s now holds %s\n", u.Name, joinRoles(u.Roles))
		return nil
	}
}

func userUnblock(fs *flag.FlagSet) action {
	reason := fs.String("reason", "", "`TEXT` saying why the block is lifted, such as what "+
		"you found (required; it goes into the audit log and the user's notice)")
	return func(ctx context.Context, c *call) error {
		if err := needReason("user unblock", *reason); err != nil {
			return err
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.ClearFraud(ctx, c.req, c.args[0], *reason); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "unblocked user %s\n", mfa.CanonicalName(c.args[0]))
		return nil
	}
}

func runGroup(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "group",
		"Add, list, show and delete groups, and add and remove their members.",
		groupCommands(), args)
}

func groupCommands() []subcommand {
	one := func(name, args, summary string, setup func(*flag.FlagSet) action) subcommand {
		n := len(strings.Fields(args))
		return subcommand{name: name, args: args, summary: summary, min: n, max: n, setup: setup}
	}
	list := one("list", "", "list groups by name", groupList)
	list.json = true
	show := one("show", "NAME", "show a group with its members", groupShow)
	show.json = true
	return []subcommand{
		one("add", "NAME", "add a group", groupAdd),
		list,
		show,
		one("delete", "NAME", "delete a group; its members stay", groupDelete),
		one("add-member", "GROUP USER", "put a user in a group", groupMember(true)),
		one("remove-member", "GROUP USER", "take a user out of a group", groupMember(false)),
	}
}

// groupJSON is a group in the CLI's JSON output.
type groupJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Members     []string  `json:"members,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

func toGroupJSON(g mfa.Group) groupJSON {
	return groupJSON{ID: g.ID, Name: g.Name, Description: g.Description, Members: g.Members,
		CreatedAt: g.CreatedAt}
}

func groupAdd(fs *flag.FlagSet) action {
	description := fs.String("description", "", "what the group is `for`")
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		g, err := svc.CreateGroup(ctx, c.req, c.args[0], *description)
		if err != nil {
			return listProblems("the group was not added", err)
		}
		fmt.Fprintf(c.e.stdout, "added group %s (ID %s)\n", g.Name, g.ID)
		return nil
	}
}

func groupList(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		groups, err := svc.ListGroups(ctx, c.req)
		if err != nil {
			return err
		}
		if c.json {
			out := make([]groupJSON, len(groups))
			for i, g := range groups {
				out[i] = toGroupJSON(g)
			}
			return writeJSON(c.e.stdout, out)
		}
		t := newTable(c.e.stdout, "NAME", "DESCRIPTION", "CREATED")
		for _, g := range groups {
			t.row(g.Name, g.Description, timeText(g.CreatedAt))
		}
		return t.flush()
	}
}

func groupShow(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		g, err := svc.GetGroup(ctx, c.req, c.args[0])
		if err != nil {
			return err
		}
		if c.json {
			return writeJSON(c.e.stdout, toGroupJSON(g))
		}
		t := newTable(c.e.stdout)
		t.row("name:", g.Name)
		t.row("id:", g.ID)
		t.row("description:", g.Description)
		t.row("created:", timeText(g.CreatedAt))
		t.row("members:", strings.Join(g.Members, ","))
		return t.flush()
	}
}

func groupDelete(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.DeleteGroup(ctx, c.req, c.args[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "deleted group %s\n", mfa.CanonicalName(c.args[0]))
		return nil
	}
}

func groupMember(add bool) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action {
		return func(ctx context.Context, c *call) error {
			group, user := c.args[0], c.args[1]
			svc, err := c.service(ctx)
			if err != nil {
				return err
			}
			if add {
				if err := svc.AddMember(ctx, c.req, group, user); err != nil {
					return err
				}
				fmt.Fprintf(c.e.stdout, "added user %s to group %s\n",
					mfa.CanonicalName(user), mfa.CanonicalName(group))
				return nil
			}
			if err := svc.RemoveMember(ctx, c.req, group, user); err != nil {
				return err
			}
			fmt.Fprintf(c.e.stdout, "removed user %s from group %s\n",
				mfa.CanonicalName(user), mfa.CanonicalName(group))
			return nil
		}
	}
}
