package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/config"
	"github.com/mfad/mfad/internal/keyring"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/store/sqlstore"
)

// app is what every command that touches data opens: the configuration, the
// database, the key ring and the service over them.
type app struct {
	cfg  *config.Config
	log  *slog.Logger
	db   *sqlstore.DB
	ring *keyring.Ring
	svc  *mfa.Service
}

// newFlags returns a flag set for a command with the common settings bound.
func newFlags(e *env, name string, cfg *config.Config) *flag.FlagSet {
	fs := flag.NewFlagSet("mfad "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfg.BindCommon(fs, e.lookup)
	return fs
}

// parse parses args into fs, allowing flags after positional arguments
// ("mfad user add alice --email a@example.com"), and returns the positional
// arguments. A lone "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newLogger returns the logger the configuration asks for, writing to w, at
// no lower level than floor.
func newLogger(cfg *config.Config, w io.Writer, floor slog.Level) *slog.Logger {
	level, _ := cfg.Level() // validated already
	opts := &slog.HandlerOptions{Level: max(level, floor)}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openApp validates the configuration and opens the database, the key ring
// and the service. On a fresh machine it creates the data folder and a key
// file; the database is migrated on open. Admin commands pass a floor of
// slog.LevelWarn so that the service's info lines do not crowd their output.
func openApp(ctx context.Context, e *env, cfg *config.Config, floor slog.Level,
	obs mfa.Observer) (*app, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := newLogger(cfg, e.stderr, floor)
	// The senders first: a problem with them stops the start before any
	// data is touched.
	var mc mfa.Config
	if err := addNotifiers(&mc, cfg, log); err != nil {
		return nil, err
	}
	if cfg.Database == "" {
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
	}
	ring, created, err := keyring.LoadOrCreate(cfg.KeyFile, rand.Reader, time.Now())
	if err != nil {
		return nil, fmt.Errorf("key ring: %w", err)
	}
	if created {
		log.Warn("created a new key file; back it up: without it no authenticator secret can be opened",
			"key_file", cfg.KeyFile)
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL())
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", config.Redact(cfg.DatabaseURL()), err)
	}
	mc.Store, mc.Keys, mc.Logger, mc.Observer = db, ring, log, obs
	mc.Issuer, mc.PublicURL = cfg.Issuer, cfg.PublicURL
	svc, err := mfa.New(mc)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := svc.CheckKeys(ctx); err != nil {
		db.Close()
		if created && errors.Is(err, mfa.ErrKeyMismatch) {
			// The file was made a moment ago and nothing used its key:
			// remove it so the next start does not trip over it.
			os.Remove(cfg.KeyFile)
			return nil, fmt.Errorf("%w\nno key file was found at %s, so a new one was made and "+
				"removed again: copy the key file of this database there", err, cfg.KeyFile)
		}
		return nil, fmt.Errorf("%w (key file %s)", err, cfg.KeyFile)
	}
	return &app{cfg: cfg, log: log, db: db, ring: ring, svc: svc}, nil
}

// addNotifiers puts what the configuration says sends notices and codes
// into mc. Admin commands bind none of these settings, so they get no mail
// server and no gateway: the events they cause wait in the outbox, and the
// running server delivers them. Nor do they bind a public URL, so the
// service's default stands for them.
func addNotifiers(mc *mfa.Config, cfg *config.Config, log *slog.Logger) error {
	mailer, err := cfg.Mailer()
	if err != nil {
		return fmt.Errorf("mail server: %w", err)
	}
	if mailer != nil {
		// Only when set: a nil *notify.SMTP would be a non-nil mfa.Mailer.
		mc.Mailer = mailer
	}
	if mc.SMS, err = cfg.SMS(); err != nil {
		return fmt.Errorf("sms gateway: %w", err)
	}
	if rpID, origins := cfg.WebAuthn(); rpID != "" {
		mc.WebAuthn = &mfa.WebAuthnConfig{RPID: rpID, RPName: cfg.Issuer, Origins: origins}
	}
	if mc.Templates, err = cfg.Templates(); err != nil {
		return fmt.Errorf("notice templates: %w", err)
	}
	if mc.Templates != nil {
		warnUnusedTemplates(log, mc.Templates)
	}
	mc.SecurityContact = cfg.SecurityContact
	return nil
}

// warnUnusedTemplates warns of templates for a type of event that does not
// exist, such as a misspelt file name in --notice-templates: the notices
// they were meant for keep the built-in wording.
func warnUnusedTemplates(log *slog.Logger, t *notify.Templates) {
	for _, typ := range t.Types() {
		if typ != "default" && !slices.Contains(mfa.EventTypes, typ) {
			log.Warn("notice templates for an unknown event type are never used; "+
				"check the file name", "type", typ)
		}
	}
}

func (a *app) close() {
	// Seal what this command wrote, so `mfad audit verify` right after sees
	// a complete chain even when no server is running.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.svc.SealAudit(ctx); err != nil {
		a.log.Warn("could not seal the audit log; the server will", "err", err)
	}
	a.db.Close()
}

// operator is the service request of a person at the command line, named by
// their login so the audit log says who acted.
func operator(e *env) mfa.Request {
	login, _ := e.lookup("SUDO_USER")
	if login == "" {
		if u, err := user.Current(); err == nil {
			login = u.Username
		}
	}
	login = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '_'
		}
		return r
	}, login)
	return mfa.Request{Actor: mfa.Operator(login), Source: "local", FrontDoor: audit.DoorCLI}
}
