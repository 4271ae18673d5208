package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/qr"
)

func runTOTP(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "totp",
		"Enroll, confirm, list and delete users' authenticator apps (TOTP, RFC 6238).",
		[]subcommand{
			{name: "enroll", args: "USER", min: 1, max: 1, json: true,
				summary: "enroll an authenticator app for a user and show its secret, this once",
				setup:   totpEnroll},
			{name: "confirm", args: "USER ID CODE", min: 3, max: 3,
				summary: "confirm an enrolled authenticator with a code it shows",
				setup:   totpConfirm},
			{name: "list", args: "USER", min: 1, max: 1, json: true,
				summary: "list a user's authenticators, without their secrets", setup: totpList},
			{name: "delete", args: "USER ID", min: 2, max: 2,
				summary: "delete one of a user's authenticators", setup: totpDelete},
		}, args)
}

// qrPNGSize is the side of the PNG --qr-png writes: enough pixels for the
// largest QR symbol (185 modules) at two pixels a module.
const qrPNGSize = 512

// confirmTries is how many codes an interactive enrolment asks for before
// giving up.
const confirmTries = 3

func totpEnroll(fs *flag.FlagSet) action {
	var in mfa.NewTOTP
	fs.StringVar(&in.Name, "name", "", "a `name` for the authenticator, such as the phone's "+
		"(default \"Authenticator\")")
	fs.StringVar(&in.Algorithm, "algorithm", "", "HMAC `algorithm`: SHA1, SHA256 or SHA512 "+
		"(default: the policy's; many apps know only SHA1)")
	fs.IntVar(&in.Digits, "digits", 0, "code length, `6 or 8` (default: the policy's)")
	fs.IntVar(&in.Period, "period", 0, "seconds each code lasts, `30 or 60` "+
		"(default: the policy's)")
	pngPath := fs.String("qr-png", "", "also write the QR code as a PNG image to `FILE`, "+
		"which must not exist; it holds the secret: delete it once scanned")
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		// Create the file before enrolling, so that a bad path enrols nothing.
		var png *os.File
		if *pngPath != "" {
			png, err = os.OpenFile(*pngPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("qr png: %w", err)
			}
			defer png.Close()
		}
		en, err := svc.EnrollTOTP(ctx, c.req, c.args[0], in)
		if err != nil {
			if png != nil {
				os.Remove(*pngPath)
			}
			return err
		}
		user := mfa.CanonicalName(c.args[0])
		if png != nil {
			if err := writeQRPNG(png, en.URI); err != nil {
				os.Remove(*pngPath)
				return fmt.Errorf("%w; authenticator %s of %s is enrolled but unconfirmed: "+
					"delete it with mfad totp delete %s %s", err, en.ID, user, user, en.ID)
			}
		}
		if err := showEnrollment(c, user, en); err != nil {
			return err
		}
		if *pngPath != "" {
			fmt.Fprintf(c.e.stderr, "Wrote the QR code to %s; it holds the secret: "+
				"delete it once the app has scanned it.\n", *pngPath)
		}
		return confirmEnrollment(ctx, c, user, en.ID)
	}
}

func writeQRPNG(f *os.File, uri string) error {
	img, err := qr.PNG(uri, qrPNGSize)
	if err != nil {
		return fmt.Errorf("qr png: %w", err)
	}
	if _, err := f.Write(img); err != nil {
		return fmt.Errorf("qr png: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("qr png: %w", err)
	}
	return nil
}

// enrollmentJSON is a new authenticator with its secret, shown once.
type enrollmentJSON struct {
	User string `json:"user"`
	totpJSON
	Secret string `json:"secret"`
	URI    string `json:"uri"`
}

// showEnrollment prints the new authenticator and its secret, with a QR
// code when standard output is a terminal (the code is drawn with ANSI
// colours, which do not belong in files or pipes).
func showEnrollment(c *call, user string, en mfa.TOTPEnrollment) error {
	if c.json {
		return writeJSON(c.e.stdout, enrollmentJSON{User: user, totpJSON: toTOTPJSON(en.TOTP),
			Secret: en.Secret, URI: en.URI})
	}
	t := newTable(c.e.stdout)
	t.row("user:", user)
	t.row("id:", en.ID)
	t.row("name:", en.Name)
	t.row("algorithm:", en.Algorithm)
	t.row("digits:", fmt.Sprint(en.Digits))
	t.row("period:", fmt.Sprint(en.Period))
	t.row("secret:", en.Secret)
	t.row("uri:", en.URI)
	if err := t.flush(); err != nil {
		return err
	}
	if !isTerminal(c.e.stdout) {
		fmt.Fprintln(c.e.stderr, "The secret is shown this once: give the app the URI "+
			"(as a QR code with --qr-png) or type in the secret.")
		return nil
	}
	code, err := qr.Terminal(en.URI)
	if err != nil {
		return fmt.Errorf("qr code: %w", err)
	}
	fmt.Fprintf(c.e.stdout, "\n%s\n", code)
	fmt.Fprintln(c.e.stderr, "The secret is shown this once: scan the QR code with the "+
		"authenticator app, or type in the secret.")
	return nil
}

// confirmEnrollment asks for a first code when standard input is a
// terminal, and otherwise says how to confirm later.
func confirmEnrollment(ctx context.Context, c *call, user, id string) error {
	later := fmt.Sprintf("mfad totp confirm %s %s CODE%s", user, id, dataFlags(c.cfg))
	if !isTerminal(c.e.stdin) {
		fmt.Fprintf(c.e.stderr, "The authenticator counts once confirmed with a code "+
			"from the app:\n  %s\n", later)
		return nil
	}
	svc, err := c.service(ctx)
	if err != nil {
		return err
	}
	in := bufio.NewReader(c.e.stdin)
	for range confirmTries {
		fmt.Fprint(c.e.stderr, "Enter the code the app shows now (empty to confirm later): ")
		line, err := in.ReadString('\n')
		code := strings.TrimSpace(line)
		if code == "" {
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read code: %w", err)
			}
			fmt.Fprintf(c.e.stderr, "\nNot confirmed yet. Confirm later with:\n  %s\n", later)
			return nil
		}
		if _, err := svc.ConfirmTOTP(ctx, c.req, user, id, code); err != nil {
			if errors.Is(err, mfa.ErrInvalid) {
				fmt.Fprintln(c.e.stderr, err)
				continue
			}
			return err
		}
		fmt.Fprintf(c.e.stderr, "Confirmed: authenticator %s now counts for %s.\n", id, user)
		return nil
	}
	return fmt.Errorf("authenticator %s is enrolled but not confirmed; confirm it with:\n  %s",
		id, later)
}

func totpConfirm(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		user, id, code := c.args[0], c.args[1], c.args[2]
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		t, err := svc.ConfirmTOTP(ctx, c.req, user, id, code)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "confirmed authenticator %s (%s) of user %s\n",
			t.ID, clean(t.Name), mfa.CanonicalName(user))
		return nil
	}
}

// totpJSON is an authenticator in the CLI's JSON output.
type totpJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Algorithm   string    `json:"algorithm"`
	Digits      int       `json:"digits"`
	Period      int       `json:"period"`
	Confirmed   bool      `json:"confirmed"`
	CreatedAt   time.Time `json:"created_at"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
	LastUsedAt  time.Time `json:"last_used_at,omitzero"`
}

func toTOTPJSON(t mfa.TOTP) totpJSON {
	return totpJSON{ID: t.ID, Name: t.Name, Algorithm: t.Algorithm, Digits: t.Digits,
		Period: t.Period, Confirmed: t.Confirmed, CreatedAt: t.CreatedAt,
		ConfirmedAt: t.ConfirmedAt, LastUsedAt: t.LastUsedAt}
}

func totpList(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		creds, err := svc.ListTOTP(ctx, c.req, c.args[0])
		if err != nil {
			return err
		}
		if c.json {
			out := make([]totpJSON, len(creds))
			for i, t := range creds {
				out[i] = toTOTPJSON(t)
			}
			return writeJSON(c.e.stdout, out)
		}
		tab := newTable(c.e.stdout, "ID", "NAME", "ALGORITHM", "DIGITS", "PERIOD", "STATUS",
			"CREATED", "LAST USED")
		for _, t := range creds {
			state := "unconfirmed"
			if t.Confirmed {
				state = "confirmed"
			}
			tab.row(t.ID, t.Name, t.Algorithm, fmt.Sprint(t.Digits), fmt.Sprint(t.Period),
				state, timeText(t.CreatedAt), timeText(t.LastUsedAt))
		}
		return tab.flush()
	}
}

func totpDelete(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		user, id := c.args[0], c.args[1]
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.DeleteTOTP(ctx, c.req, user, id); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "deleted authenticator %s of user %s\n",
			clean(id), mfa.CanonicalName(user))
		return nil
	}
}

// errRejected makes mfad verify exit with status 1 after printing "reject".
var errRejected = errors.New("the code was rejected")

func runVerify(ctx context.Context, e *env, args []string) error {
	sc := subcommand{name: "verify", args: "USER CODE", min: 2, max: 2, json: true,
		summary: "check a code for a user through the same path as every front door. " +
			"It prints accept and the factor, or reject, and exits with status 0 on accept " +
			"and 1 on reject. It counts toward the user's lockout and is audited. " +
			"CODE - reads the code from standard input, keeping it out of the process list; " +
			"an empty CODE (\"\") asks for the user's bypass. With --challenge, CODE is the " +
			"one sent by email or SMS for that challenge",
		setup: verify}
	return runSubcommand(ctx, e, "verify", sc, args)
}

// verifyJSON is the outcome of mfad verify --json.
type verifyJSON struct {
	Result     string `json:"result"`
	Factor     string `json:"factor,omitempty"`
	Credential string `json:"credential,omitempty"`
}

func verify(fs *flag.FlagSet) action {
	challenge := fs.String("challenge", "", "`ID` of the email or SMS challenge CODE "+
		"answers (POST /v1/challenges made it and sent the code)")
	return func(ctx context.Context, c *call) error {
		user, code := c.args[0], c.args[1]
		if code == "-" {
			line, err := bufio.NewReader(c.e.stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read code: %w", err)
			}
			code = strings.TrimSpace(line)
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		var res mfa.VerifyResult
		if *challenge != "" {
			res, err = svc.VerifyChallenge(ctx, c.req, user, *challenge, code)
		} else {
			res, err = svc.Verify(ctx, c.req, user, code)
		}
		if err != nil {
			return err
		}
		out := verifyJSON{Result: "reject"}
		if res.Accepted {
			out = verifyJSON{Result: "accept", Factor: res.Factor, Credential: res.Credential}
		}
		if c.json {
			err = writeJSON(c.e.stdout, out)
		} else if res.Accepted {
			_, err = fmt.Fprintf(c.e.stdout, "accept %s\n", res.Factor)
		} else {
			_, err = fmt.Fprintln(c.e.stdout, "reject")
		}
		if err != nil {
			return err
		}
		if !res.Accepted {
			return errRejected
		}
		return nil
	}
}

func runUnlock(ctx context.Context, e *env, args []string) error {
	sc := subcommand{name: "unlock", args: "USER --reason TEXT", min: 1, max: 1,
		summary: "lift a user's lockout and clear their failure count; " +
			"the reason goes into the audit log",
		setup: unlock}
	return runSubcommand(ctx, e, "unlock", sc, args)
}

func unlock(fs *flag.FlagSet) action {
	var reason optString
	fs.Var(&reason, "reason", "`TEXT` saying why the user is unlocked, such as a ticket "+
		"number (required; it goes into the audit log)")
	return func(ctx context.Context, c *call) error {
		if !reason.set {
			return usagef("unlock needs --reason: say why, for the audit log")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		u, err := svc.Unlock(ctx, c.req, c.args[0], reason.value)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "unlocked user %s\n", u.Name)
		return nil
	}
}
