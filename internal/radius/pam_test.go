package radius

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/testtool"
)

// pamModule is where Debian's libpam-radius-auth puts the module.
const pamModule = "/lib/x86_64-linux-gnu/security/pam_radius_auth.so"

// pamService writes a PAM service that authenticates with pam_radius_auth
// against addr, as /etc/pam.d/sshd would, and returns its name. PAM reads
// services only from /etc/pam.d, so the test needs root; the file goes
// when the test ends.
func pamService(t *testing.T, addr, options string) string {
	t.Helper()
	testtool.Look(t, "pamtester", "pamtester")
	missing := ""
	if _, err := os.Stat(pamModule); err != nil {
		missing = fmt.Sprintf("pam_radius_auth not found (Debian package libpam-radius-auth): %v",
			err)
	} else if os.Geteuid() != 0 {
		missing = "writing a PAM service to /etc/pam.d needs root"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	conf := filepath.Join(t.TempDir(), "pam_radius_auth.conf")
	// server secret timeout, as in /etc/pam_radius_auth.conf.
	line := fmt.Sprintf("%s %s 2\n", addr, testSecret)
	if err := os.WriteFile(conf, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	// PAM takes service names in lower case.
	name := fmt.Sprintf("mfad-radius-test-%d-%s", os.Getpid(),
		strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())))
	path := filepath.Join("/etc/pam.d", name)
	service := fmt.Sprintf("auth required pam_radius_auth.so conf=%s %s\n"+
		"account required pam_permit.so\n", conf, options)
	if err := os.WriteFile(path, []byte(service), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return name
}

// pamtester signs user in through service, typing the lines of input at
// the prompts, and reports whether PAM let them in, with its output.
func pamtester(t *testing.T, service, user string, input ...string) (bool, string) {
	t.Helper()
	cmd := exec.Command("pamtester", "-v", service, user, "authenticate")
	cmd.Stdin = strings.NewReader(strings.Join(input, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), "successfully authenticated"), string(out)
}

// pamClient is a client for pam_radius_auth 2.0 (Debian 12), which sends
// no Message-Authenticator: allowed without one, with limit_proxy_state.
func pamClient(mode Mode) Client {
	return Client{Name: "ssh-host", Prefix: netip.MustParsePrefix("127.0.0.0/8"),
		Secret: Secret(testSecret), Mode: mode, AllowMissingMessageAuthenticator: true,
		LimitProxyState: true}
}

// TestPAMEveryFactor signs in through pam_radius_auth, as SSH does, with
// a TOTP code, a backup code and an access pass, each refused the second
// time.
func TestPAMEveryFactor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLiveClient(t, pamClient(ModeCode))
	service := pamService(t, l.addr, "")
	secret := l.enrolled(t, "alice")
	set, err := l.svc.GenerateBackupCodes(ctx, operator, "alice")
	if err != nil {
		t.Fatal(err)
	}
	pass, err := l.svc.IssuePass(ctx, operator, "alice", mfa.NewPass{OneTime: true, Reason: "lost phone"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, code string }{
		{"TOTP", l.code(secret, 0)},
		{"backup code", set.Codes[1]},
		{"access pass", pass.Pass.Pass},
	} {
		if ok, out := pamtester(t, service, "alice", tt.code); !ok {
			t.Errorf("%s: refused, want in:\n%s", tt.name, out)
		}
		if ok, out := pamtester(t, service, "alice", tt.code); ok {
			t.Errorf("%s, the second time: let in, want refused:\n%s", tt.name, out)
		}
	}
}

// TestPAMChallenge signs in through pam_radius_auth in challenge mode:
// an empty password, then the code at the prompt the server sends.
func TestPAMChallenge(t *testing.T) {
	t.Parallel()
	l := newLiveClient(t, pamClient(ModeChallenge))
	service := pamService(t, l.addr, "prompt_attribute")
	secret := l.enrolled(t, "alice")
	ok, out := pamtester(t, service, "alice", "", l.code(secret, 0))
	if !ok || !strings.Contains(out, "Enter your code") {
		t.Errorf("empty password, then the code at the prompt: ok %v, want in after the prompt:\n%s",
			ok, out)
	}
	if ok, out := pamtester(t, service, "alice", "", "000000"); ok {
		t.Errorf("a wrong code at the prompt: let in, want refused:\n%s", out)
	}
}

// TestPAMWithoutMessageAuthenticator checks that pam_radius_auth, which
// sends no Message-Authenticator, gets no answer from a client left at
// the default.
func TestPAMWithoutMessageAuthenticator(t *testing.T) {
	t.Parallel()
	l := newLive(t, ModeCode)
	service := pamService(t, l.addr, "")
	secret := l.enrolled(t, "alice")
	if ok, out := pamtester(t, service, "alice", l.code(secret, 0)); ok {
		t.Errorf("let in, want no answer:\n%s", out)
	}
	if st := l.srv.Stats(); st.Dropped[DropMissingAuthenticator] == 0 || st.Accepted != 0 {
		t.Errorf("Stats = %+v, want the request dropped for its missing Message-Authenticator", st)
	}
}
