package radius

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mfad/mfad/internal/testtool"
)

// radclient runs FreeRADIUS's radclient against the server with the
// attributes given and returns its output, which says "Received" only of
// an answer it took for authentic: it checks the Response Authenticator
// and the Message-Authenticator itself.
func radclient(t *testing.T, addr, secret string, attrs ...string) string {
	t.Helper()
	path := testtool.Look(t, "radclient", "freeradius-utils")
	cmd := exec.Command(path, "-x", "-t", "1", "-r", "1", addr, "auth", secret)
	if _, err := os.Stat("/etc/freeradius/3.0/dictionary"); err != nil {
		// Without a server's configuration, the shipped dictionaries.
		cmd.Args = append(cmd.Args[:1], append([]string{"-d", "/usr/share/freeradius"},
			cmd.Args[1:]...)...)
	}
	cmd.Stdin = strings.NewReader(strings.Join(attrs, ",\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// It exits 1 for an Access-Reject as for no answer; the output says
	// which.
	cmd.Run()
	return out.String()
}

// TestRadclient talks to the front door on the real service with
// FreeRADIUS's radclient, an implementation that shares no code with
// this one: with a Message-Authenticator it is answered, without one it
// gets no answer at all.
func TestRadclient(t *testing.T) {
	t.Parallel()
	l := newLive(t, ModeCode)
	secret := l.enrolled(t, "alice")
	code := l.code(secret, 0)
	user := `User-Name = "alice"`
	ma := `Message-Authenticator = 0x00`

	out := radclient(t, l.addr, string(testSecret), user, `User-Password = "`+code+`"`, ma)
	if !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("radclient with Message-Authenticator, right code:\n%s", out)
	}
	out = radclient(t, l.addr, string(testSecret), user, `User-Password = "`+code+`"`, ma)
	if !strings.Contains(out, "Received Access-Reject") ||
		!strings.Contains(out, `Reply-Message = "Access denied"`) {
		t.Errorf("radclient, the code again:\n%s", out)
	}
	next := l.code(secret, 1)
	out = radclient(t, l.addr, string(testSecret), user, `User-Password = "`+next+`"`)
	if strings.Contains(out, "Received") || !strings.Contains(out, "No reply") {
		t.Errorf("radclient without Message-Authenticator got an answer:\n%s", out)
	}
	out = radclient(t, l.addr, "not-the-secret-at-all", user, `User-Password = "`+next+`"`, ma)
	if strings.Contains(out, "Received") || !strings.Contains(out, "No reply") {
		t.Errorf("radclient with the wrong secret got an answer:\n%s", out)
	}
	st := l.srv.Stats()
	if st.Dropped[DropMissingAuthenticator] != 1 || st.Dropped[DropInvalidAuthenticator] != 1 {
		t.Errorf("Stats = %+v, want one drop for each missing and wrong Message-Authenticator", st)
	}
	// The code that no answer came for is still unused.
	out = radclient(t, l.addr, string(testSecret), user, `User-Password = "`+next+`"`, ma)
	if !strings.Contains(out, "Received Access-Accept") {
		t.Errorf("radclient, the next code:\n%s", out)
	}
}
