package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/totp"
)

// The browser tests' machinery: finding the browser and node, making the
// people of the scenarios with the CLI, and running one script.

// e2eDir is the folder of the browser test scripts, from this package.
const e2eDir = "../../e2e"

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// need skips the test with why, naming what to install, or fails it under
// CI=true, where every test must run.
func need(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// browserTools returns node's path once chromium, node 18 or newer (Debian
// 12's own) and the
// locked playwright-core are all there.
func browserTools(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		need(t, "the browser tests need chromium: apt-get install chromium")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		need(t, "the browser tests need node 18 or newer: apt-get install nodejs npm")
	}
	out, err := exec.Command(node, "--version").Output()
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".")
	if n, _ := strconv.Atoi(major); err != nil || n < 18 {
		need(t, fmt.Sprintf("the browser tests need node 18 or newer, not %q",
			strings.TrimSpace(string(out))))
	}
	locked, err := packageVersion(filepath.Join(e2eDir, "package.json"), "playwright-core")
	if err != nil {
		t.Fatalf("read e2e/package.json: %v", err)
	}
	installed, err := moduleVersion(filepath.Join(e2eDir, "node_modules", "playwright-core"))
	if err != nil || installed != locked {
		need(t, fmt.Sprintf("the browser tests need playwright-core %s in e2e/node_modules "+
			"(found %q): npm ci --prefix e2e", locked, installed))
	}
	return node
}

// packageVersion returns the version package.json at path asks for dep.
func packageVersion(path, dep string) (string, error) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return "", err
	}
	v, ok := pkg.Dependencies[dep]
	if !ok {
		return "", fmt.Errorf("no dependency %s", dep)
	}
	return v, nil
}

// moduleVersion returns the version of the npm module installed in dir.
func moduleVersion(dir string) (string, error) {
	var pkg struct {
		Version string `json:"version"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", err
	}
	return pkg.Version, json.Unmarshal(raw, &pkg)
}

// cast is who the scenarios need, made with the CLI in a data folder: a
// staff member of each kind with an authenticator whose key the test
// knows, alice with an access pass and nothing else, and an admin token.
type cast struct {
	admin, adminTOTP       string
	helpdesk, helpdeskTOTP string
	alicePass              string
	token                  string
}

func newCast(b *binary) cast {
	b.t.Helper()
	c := cast{admin: "ada", helpdesk: "hugo"}
	b.must("user", "add", c.admin, "--display-name", "Ada Admin", "--role", "admin")
	c.adminTOTP = confirmedTOTP(b, c.admin)
	b.must("user", "add", c.helpdesk, "--display-name", "Hugo Helpdesk", "--role", "helpdesk")
	c.helpdeskTOTP = confirmedTOTP(b, c.helpdesk)
	b.must("user", "add", "alice", "--display-name", "Alice", "--email", "alice@example.com")
	c.alicePass = strings.TrimSpace(b.must("pass", "issue", "alice", "--reason",
		"first day; identity checked in person").stdout)
	c.token = strings.TrimSpace(b.must("token", "create", "--name", "e2e", "--role",
		"admin").stdout)
	return c
}

// confirmedTOTP enrols an authenticator for user and returns its base32
// key. It confirms with the code of the previous time step, which the
// window of RFC 6238 §5.2 accepts: every code the browser computes later is
// of a later step, so the replay rule never refuses it.
func confirmedTOTP(b *binary, user string) string {
	b.t.Helper()
	r := b.must("totp", "enroll", user, "--name", "Phone")
	fields := map[string]string{}
	for _, m := range enrollLine.FindAllStringSubmatch(r.stdout, -1) {
		fields[m[1]] = m[2]
	}
	secret, err := totp.DecodeSecret(fields["secret"])
	if err != nil || fields["id"] == "" {
		b.t.Fatalf("totp enroll %s stdout = %q, want id and secret lines", user, r.stdout)
	}
	p := totp.DefaultParams()
	step := totp.Step(time.Now(), p.Period)
	b.must("totp", "confirm", user, fields["id"], totp.Code(secret, step-1, p))
	return fields["secret"]
}

// environment is what a script reads: where the server is, where its
// screenshots go, and the cast's names and secrets.
func (c cast) environment(url, shots, failures string) []string {
	return append(environ(),
		"MFAD_URL="+url,
		"MFAD_SCREENSHOTS="+shots,
		"MFAD_FAILURES="+failures,
		"MFAD_CHROMIUM="+chromiumPath,
		"MFAD_ADMIN_USER="+c.admin,
		"MFAD_ADMIN_TOTP="+c.adminTOTP,
		"MFAD_HELPDESK_USER="+c.helpdesk,
		"MFAD_HELPDESK_TOTP="+c.helpdeskTOTP,
		"MFAD_ALICE_PASS="+c.alicePass,
		"MFAD_ADMIN_TOKEN="+c.token,
	)
}

// scriptTimeout bounds one script: a run takes seconds, and a hung browser
// must not hold the test until go test's own timeout.
const scriptTimeout = 3 * time.Minute

// runNode runs the script e2e/name.mjs with env and returns its output,
// or an error with the output when it fails. The script and the browser
// it starts run in a process group of their own, killed whole on timeout.
func runNode(node, name string, env []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, name+".mjs")
	cmd.Dir = e2eDir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A browser left behind must not hold the output pipe open forever.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no end after %v: %w", scriptTimeout, err)
	}
	return string(out), err
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
