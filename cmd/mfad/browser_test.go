package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateScreenshots = flag.Bool("update-screenshots", false,
	"write the browser tests' screenshots to docs/screenshots, for the README")

// browserScript is one script of e2e/ and what the test checks with the
// CLI once it has run, beside what the script saw in the browser.
type browserScript struct {
	name  string
	after func(t *testing.T, b *binary, c cast)
}

var browserScripts = []browserScript{
	{name: "portal", after: func(t *testing.T, b *binary, c cast) {
		var codes struct {
			Remaining int `json:"remaining"`
		}
		decode(t, b.must("codes", "status", "alice", "--json").stdout, &codes)
		if codes.Remaining != 9 {
			t.Errorf("codes status alice after the portal: remaining %d, want 9",
				codes.Remaining)
		}
		var totps []struct {
			Name      string `json:"name"`
			Confirmed bool   `json:"confirmed"`
		}
		decode(t, b.must("totp", "list", "alice", "--json").stdout, &totps)
		if len(totps) != 1 || !totps[0].Confirmed {
			t.Errorf("totp list alice after the portal = %+v, want one confirmed", totps)
		}
	}},
	{name: "console", after: func(t *testing.T, b *binary, c cast) {
		if r := b.run("pass", "show", c.admin); r.code != 1 {
			t.Errorf("pass show %s after helpdesk's refused request = exit %d, want 1 "+
				"(no pass)\n%s", c.admin, r.code, r.stdout)
		}
		r := b.must("audit", "list", "--action", "access_pass.issue")
		refused := regexp.MustCompile(`access_pass\.issue +` + c.admin + ` +denied`)
		if !refused.MatchString(r.stdout) {
			t.Errorf("audit list --action access_pass.issue lacks the refused pass for "+
				"%s:\n%s", c.admin, r.stdout)
		}
	}},
}

// TestBrowser drives the portal and the console in Debian's chromium,
// headless, through the scripts in e2e/ (playwright-core, with Chromium's
// virtual authenticator for passkeys), against the real binary. Each
// script gets a server and a data folder of its own.
//
// The server's public URL is http://localhost: WebAuthn needs a secure
// context and a domain name as relying party ID, and browsers hold
// localhost secure over plain http.
//
// Screenshots of the main pages go to a temporary folder, or to
// MFAD_TEST_SCREENSHOTS when set (to keep them, as CI artifacts), or with
// -update-screenshots to docs/screenshots for the README.
func TestBrowser(t *testing.T) {
	node := browserTools(t)
	bin := buildMfad(t)
	shots, failures := screenshotFolders(t)
	for _, s := range browserScripts {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			b := &binary{t: t, path: bin, data: filepath.Join(t.TempDir(), "data")}
			c := newCast(b)
			addr := freeAddr(t)
			_, port, _ := strings.Cut(addr, ":")
			url := "http://localhost:" + port
			srv := startServer(t, b, "--http-addr", addr, "--public-url", url)

			out, err := runNode(node, s.name, c.environment(url, shots, failures))
			if err != nil {
				t.Fatalf("node e2e/%s.mjs: %v\n%s\nserver log, last lines:\n%s\n"+
					"screenshots of the failure: %s", s.name, err, out,
					lastLines(srv.logText(), 30), failures)
			}
			t.Logf("node e2e/%s.mjs:\n%s", s.name, out)

			srv.stop()
			s.after(t, b, c)
			if r := b.must("audit", "verify"); !strings.Contains(r.stdout, "intact") {
				t.Errorf("audit verify after the %s script = %q, want an intact chain",
					s.name, r.stdout)
			}
		})
	}
}

// screenshotFolders returns where the scripts put screenshots of the
// pages, and where they put those of a failure (never docs/). Both are
// absolute: the scripts run in e2e/.
func screenshotFolders(t *testing.T) (shots, failures string) {
	t.Helper()
	keep := os.Getenv("MFAD_TEST_SCREENSHOTS")
	failures = t.TempDir()
	if keep != "" {
		failures = keep
	}
	shots = failures
	if *updateScreenshots {
		// The folder holds what the scripts take now, and nothing older.
		shots = filepath.Join("..", "..", "docs", "screenshots")
		old, _ := filepath.Glob(filepath.Join(shots, "*.png"))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	shots, err := filepath.Abs(shots)
	if err != nil {
		t.Fatal(err)
	}
	if failures, err = filepath.Abs(failures); err != nil {
		t.Fatal(err)
	}
	switch {
	case *updateScreenshots || keep != "":
		t.Logf("screenshots go to %s", shots)
	default:
		t.Logf("screenshots go to %s, removed at the end; "+
			"set MFAD_TEST_SCREENSHOTS=DIR to keep them", shots)
	}
	return shots, failures
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}
