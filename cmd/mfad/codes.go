package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/sheet"
)

func runCodes(ctx context.Context, e *env, args []string) error {
	return runSubcommands(ctx, e, "codes",
		"Generate single-use backup codes, show how many remain, and delete them.",
		[]subcommand{
			{name: "generate", args: "USER", min: 1, max: 1, json: true,
				summary: "make a new set of backup codes for a user, replacing the old set, " +
					"and show it this once",
				setup: codesGenerate},
			{name: "status", args: "USER", min: 1, max: 1, json: true,
				summary: "show how many of a user's backup codes remain, never the codes",
				setup:   codesStatus},
			{name: "delete", args: "USER", min: 1, max: 1,
				summary: "delete a user's backup codes", setup: codesDelete},
		}, args)
}

// codesJSON is a set of backup codes in the CLI's JSON output; Codes only
// right after generation.
type codesJSON struct {
	User      string    `json:"user"`
	Codes     []string  `json:"codes,omitempty"`
	Total     int       `json:"total"`
	Remaining int       `json:"remaining"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func toCodesJSON(b mfa.BackupCodes) codesJSON {
	return codesJSON{User: b.User, Codes: b.Codes, Total: b.Total, Remaining: b.Remaining,
		CreatedAt: b.CreatedAt, ExpiresAt: b.ExpiresAt}
}

func codesGenerate(fs *flag.FlagSet) action {
	textPath := fs.String("text", "", "write the printable sheet as plain text to `FILE`, "+
		"which must not exist, instead of printing the codes")
	pdfPath := fs.String("pdf", "", "write the printable sheet as a one-page PDF to `FILE`, "+
		"which must not exist, instead of printing the codes")
	return func(ctx context.Context, c *call) error {
		if *textPath != "" && *textPath == *pdfPath {
			return usagef("--text and --pdf name the same file")
		}
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		// Create the files before generating, so that a bad path replaces no
		// set: the old codes keep working until the new ones are safe.
		files := map[string]*os.File{}
		for _, path := range []string{*textPath, *pdfPath} {
			if path == "" {
				continue
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				removeAll(files)
				return fmt.Errorf("sheet: %w", err)
			}
			files[path] = f
		}
		set, err := svc.GenerateBackupCodes(ctx, c.req, c.args[0])
		if err != nil {
			removeAll(files)
			return err
		}
		sh := sheet.Sheet{Account: set.User, Issuer: set.Issuer, Issued: set.CreatedAt,
			Expires: set.ExpiresAt, Codes: set.Codes}
		if err := writeSheets(sh, files, *textPath, *pdfPath); err != nil {
			// The new set is in force; without a sheet nobody has its codes,
			// so say how to make another.
			return fmt.Errorf("%w; the new codes of %s are in force but unsaved: "+
				"run mfad codes generate %s again", err, set.User, set.User)
		}

		switch {
		case c.json:
			if err := writeJSON(c.e.stdout, toCodesJSON(set)); err != nil {
				return err
			}
		case *textPath == "" && *pdfPath == "":
			for _, code := range set.Codes {
				fmt.Fprintln(c.e.stdout, code)
			}
		}
		for _, path := range []string{*textPath, *pdfPath} {
			if path != "" {
				fmt.Fprintf(c.e.stderr, "Wrote the sheet to %s; it holds the codes: print "+
					"it, then delete the file.\n", path)
			}
		}
		fmt.Fprintf(c.e.stderr, "Made %d backup codes for %s; each works once, and every "+
			"earlier code of %s stopped working. They are shown this once.\n",
			set.Total, set.User, set.User)
		if !set.ExpiresAt.IsZero() {
			fmt.Fprintf(c.e.stderr, "They expire %s.\n", set.ExpiresAt.Format(time.RFC3339))
		}
		return nil
	}
}

func writeSheets(sh sheet.Sheet, files map[string]*os.File, textPath, pdfPath string) error {
	defer removeAll(files)
	if f := files[textPath]; f != nil {
		if _, err := f.Write(sh.Text()); err != nil {
			return fmt.Errorf("text sheet: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("text sheet: %w", err)
		}
		delete(files, textPath)
	}
	if f := files[pdfPath]; f != nil {
		pdf, err := sh.PDF()
		if err != nil {
			return fmt.Errorf("pdf sheet: %w", err)
		}
		if _, err := f.Write(pdf); err != nil {
			return fmt.Errorf("pdf sheet: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("pdf sheet: %w", err)
		}
		delete(files, pdfPath)
	}
	return nil
}

// removeAll closes and removes files that were not written in full.
func removeAll(files map[string]*os.File) {
	for path, f := range files {
		f.Close()
		os.Remove(path)
		delete(files, path)
	}
}

func codesStatus(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		set, err := svc.BackupCodeStatus(ctx, c.req, c.args[0])
		if err != nil {
			return err
		}
		if c.json {
			return writeJSON(c.e.stdout, toCodesJSON(set))
		}
		t := newTable(c.e.stdout)
		t.row("user:", set.User)
		t.row("remaining:", fmt.Sprintf("%d of %d", set.Remaining, set.Total))
		t.row("created:", set.CreatedAt.Format(time.RFC3339))
		expires := "never"
		if !set.ExpiresAt.IsZero() {
			expires = set.ExpiresAt.Format(time.RFC3339)
			if set.Expired(time.Now()) {
				expires += " (expired)"
			}
		}
		t.row("expires:", expires)
		return t.flush()
	}
}

func codesDelete(*flag.FlagSet) action {
	return func(ctx context.Context, c *call) error {
		svc, err := c.service(ctx)
		if err != nil {
			return err
		}
		if err := svc.DeleteBackupCodes(ctx, c.req, c.args[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.e.stdout, "deleted the backup codes of %s\n", mfa.CanonicalName(c.args[0]))
		return nil
	}
}
