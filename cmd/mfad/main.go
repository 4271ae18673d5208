// Command mfad is a self-hosted multi-factor authentication server. One
// binary runs the server (mfad serve) and every admin task on the server's
// command line, through the same service and the same audit log.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand of mfad.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// env is what a command reads and writes besides its arguments, so tests can
// run commands in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	lookup func(string) (string, bool)
}

// usageError is a mistake in how a command was called; mfad prints it with
// the command's usage and exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func commands() []command {
	return []command{
		{"serve", "run the server", runServe},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"user", "add, list, show, change, disable, enable and unblock users", runUser},
		{"group", "add, list, show and delete groups; add and remove members", runGroup},
		{"token", "create, list and revoke API tokens", runToken},
		{"totp", "enroll, confirm, list and delete authenticator apps", runTOTP},
		{"codes", "generate backup codes, show how many remain, delete them", runCodes},
		{"pass", "issue, show and revoke access passes; decide requests for them", runPass},
		{"bypass", "grant, show and revoke one-time bypasses", runBypass},
		{"verify", "check a code for a user, as an application would", runVerify},
		{"unlock", "lift a user's lockout", runUnlock},
		{"webhook", "add, list and delete webhooks; show their deliveries", runWebhook},
		{"audit", "list the audit log and verify its chain", runAudit},
		{"policy", "show or set the policy, globally or for a group", runPolicy},
		{"keys", "rotate the key ring and re-seal secrets", runKeys},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command named by args[0] and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		var ue usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(e.stderr, "mfad %s: %s\nrun 'mfad %s -h' for help\n", c.name, ue.msg, c.name)
			return 2
		default:
			fmt.Fprintf(e.stderr, "mfad %s: %s\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "mfad: unknown command %q\n\n", args[0])
	printUsage(e.stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "mfad is a multi-factor authentication server.")
	fmt.Fprintln(w, "\nUsage: mfad COMMAND [arguments] [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --data and --database; run 'mfad COMMAND -h' for its flags.")
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ context.Context, e *env, _ []string) error {
	fmt.Fprintln(e.stdout, "mfad", version)
	return nil
}
