package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/mfad/mfad/internal/config"
	"github.com/mfad/mfad/internal/mfa"
)

// The admin commands share one shape: a command ("user") with subcommands
// ("add", "list", ...), each with its own positional arguments and flags
// besides the common ones. Every subcommand opens the service and acts as
// the operator, so what it does is audited exactly as an API call is.

// subcommand is one admin subcommand, such as "user add".
type subcommand struct {
	name    string // "add"
	args    string // its positional arguments for the usage line, "NAME"
	summary string // one line for the command's help
	min     int    // fewest positional arguments
	max     int    // most positional arguments; -1 for any number
	json    bool   // whether it takes --json

	// setup binds the subcommand's own flags to fs and returns the action
	// that runs once the flags are parsed.
	setup func(fs *flag.FlagSet) action
}

// action runs a subcommand with the service open.
type action func(ctx context.Context, c *call) error

// call is what an action gets: the environment, the configuration, the
// operator's request, the positional arguments and the output choice.
type call struct {
	e    *env
	cfg  *config.Config
	app  *app // nil until service opens it
	req  mfa.Request
	args []string
	json bool
}

// service opens the database, the key ring and the service on first use.
// Actions check their input first, so that a mistake in how a command was
// called touches nothing: not even a fresh data folder is created.
func (c *call) service(ctx context.Context) (*mfa.Service, error) {
	if c.app == nil {
		a, err := openApp(ctx, c.e, c.cfg, slog.LevelWarn, nil)
		if err != nil {
			return nil, err
		}
		c.app = a
	}
	return c.app.svc, nil
}

// runSubcommands dispatches args to the subcommand of cmd it names. With
// no subcommand or with -h it prints the command's help.
func runSubcommands(ctx context.Context, e *env, cmd, summary string, subs []subcommand,
	args []string) error {
	if len(args) == 0 {
		printSubcommands(e.stderr, cmd, summary, subs)
		return usagef("missing subcommand")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printSubcommands(e.stderr, cmd, summary, subs)
		return flag.ErrHelp
	}
	for _, sc := range subs {
		if sc.name == args[0] {
			return runSubcommand(ctx, e, cmd+" "+sc.name, sc, args[1:])
		}
	}
	return usagef("unknown subcommand %q; the subcommands are %s", args[0], names(subs))
}

func names(subs []subcommand) string {
	n := make([]string, len(subs))
	for i, sc := range subs {
		n[i] = sc.name
	}
	return strings.Join(n, ", ")
}

func printSubcommands(w io.Writer, cmd, summary string, subs []subcommand) {
	fmt.Fprintf(w, "Usage: mfad %s SUBCOMMAND [arguments] [flags]\n\n%s\n\nSubcommands:\n",
		cmd, summary)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, sc := range subs {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(sc.name+" "+sc.args), sc.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nEvery subcommand takes --data and --database; "+
		"run 'mfad %s SUBCOMMAND -h' for its flags.\n", cmd)
}

// runSubcommand parses the flags and arguments of one subcommand, named full
// ("user add", or "verify" for a command without subcommands), opens the
// service and runs the subcommand's action.
func runSubcommand(ctx context.Context, e *env, full string, sc subcommand, args []string) error {
	var cfg config.Config
	fs := newFlags(e, full, &cfg)
	var asJSON bool
	if sc.json {
		fs.BoolVar(&asJSON, "json", false, "print JSON, for scripts")
	}
	run := sc.setup(fs)
	fs.Usage = func() {
		usage := "mfad " + full
		if sc.args != "" {
			usage += " " + sc.args
		}
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\n%s.\n\nFlags:\n",
			usage, upperFirst(sc.summary))
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkCount(full, sc, pos); err != nil {
		return err
	}

	c := &call{e: e, cfg: &cfg, req: operator(e), args: pos, json: asJSON}
	defer func() {
		if c.app != nil {
			c.app.close()
		}
	}()
	return run(ctx, c)
}

// checkCount checks the number of positional arguments. It does not repeat
// them: one may be a code or a token typed in the wrong place.
func checkCount(full string, sc subcommand, pos []string) error {
	switch {
	case len(pos) < sc.min:
		return usagef("%s needs %s", full, strings.TrimSpace(sc.args))
	case sc.max == 0 && len(pos) > 0:
		return usagef("%s takes no arguments, got %d", full, len(pos))
	case sc.max > 0 && len(pos) > sc.max:
		return usagef("%s takes %s, got %d arguments", full, strings.TrimSpace(sc.args),
			len(pos))
	}
	return nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// optString is a string flag that remembers whether it was given, so that
// --email "" (clear the address) differs from leaving --email out.
type optString struct {
	value string
	set   bool
}

func (o *optString) String() string { return o.value }

func (o *optString) Set(s string) error {
	o.value, o.set = s, true
	return nil
}

// ptr returns the value if the flag was given, and nil otherwise.
func (o *optString) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.value
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints aligned columns. Cells are cleaned of control characters,
// so that no value stored in the database (an audit detail, a name) can
// move the cursor or change the terminal's state.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		c = clean(c)
		if c == "" {
			c = "-"
		}
		io.WriteString(t.tw, c)
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() error { return t.tw.Flush() }

// clean replaces control characters with '?'.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// timeText formats a time for a table: UTC to the second, or "" for the
// zero time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// isTerminal reports whether f is an *os.File open on a terminal. Without
// a terminal library, a character device is the best sign; /dev/null is a
// character device too, so it is ruled out by name.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// problemsError shows every problem of an invalid input on its own line,
// after a heading that says nothing changed.
type problemsError struct {
	heading string
	err     *mfa.Error
}

func (p problemsError) Error() string {
	return p.heading + ":\n  " + strings.Join(p.err.Problems, "\n  ")
}

func (p problemsError) Unwrap() error { return p.err }

// listProblems returns err as a problemsError if it is an invalid input
// with problems, and as it is otherwise.
func listProblems(heading string, err error) error {
	var e *mfa.Error
	if !errors.As(err, &e) || len(e.Problems) == 0 {
		return err
	}
	return problemsError{heading: heading, err: e}
}
