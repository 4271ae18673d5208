package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/testtool"
	"github.com/mfad/mfad/internal/totp"
)

// TestServeRADIUS starts mfad serve with the RADIUS front door and asks it
// with FreeRADIUS's radclient, as a VPN concentrator would: the code is
// accepted once, refused the second time, and a request without a
// Message-Authenticator gets no answer at all.
func TestServeRADIUS(t *testing.T) {
	radclient := testtool.Look(t, "radclient", "freeradius-utils")
	b := &binary{t: t, path: buildMfad(t), data: filepath.Join(t.TempDir(), "data")}
	b.must("user", "add", "alice")
	r := b.must("totp", "enroll", "alice")
	fields := map[string]string{}
	for _, m := range enrollLine.FindAllStringSubmatch(r.stdout, -1) {
		fields[m[1]] = m[2]
	}
	secret, err := totp.DecodeSecret(fields["secret"])
	if err != nil {
		t.Fatal(err)
	}
	p := totp.DefaultParams()
	step := totp.Step(time.Now(), p.Period)
	b.must("totp", "confirm", "alice", fields["id"], totp.Code(secret, step, p))

	const shared = "a shared secret of some length"
	clients := filepath.Join(t.TempDir(), "clients.yaml")
	if err := os.WriteFile(clients, []byte(fmt.Sprintf(
		"clients:\n  - name: vpn\n    address: 127.0.0.1\n    secret: %q\n", shared)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeUDP(t)
	srv := startServer(t, b, "--radius-addr", addr, "--radius-clients", clients)
	if !strings.Contains(srv.logText(), "radius front door listening") {
		t.Errorf("serve log does not say the RADIUS front door listens:\n%s", srv.logText())
	}

	ask := func(code string, withMA bool) string {
		attrs := fmt.Sprintf("User-Name = alice\nUser-Password = %q\n", code)
		if withMA {
			attrs += "Message-Authenticator = 0x00\n"
		}
		cmd := exec.Command(radclient, "-x", "-t", "1", "-r", "1", "-d", "/usr/share/freeradius",
			addr, "auth", shared)
		cmd.Stdin = strings.NewReader(attrs)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	code := totp.Code(secret, step+1, p)
	if out := ask(code, true); !strings.Contains(out, "Received Access-Accept") {
		t.Errorf("radclient with the code = \n%s\nwant Access-Accept", out)
	}
	if out := ask(code, true); !strings.Contains(out, "Received Access-Reject") {
		t.Errorf("radclient with the same code again = \n%s\nwant Access-Reject", out)
	}
	if out := ask(totp.Code(secret, step+1, p), false); strings.Contains(out, "Received") {
		t.Errorf("radclient without Message-Authenticator = \n%s\nwant no answer", out)
	}
	srv.stop()
	if r := b.must("audit", "list", "--user", "alice"); !strings.Contains(r.stdout, "nas:vpn (127.0.0.1)") {
		t.Errorf("audit list holds no verification by the RADIUS client:\n%s", r.stdout)
	}
}

// freeUDP returns a loopback UDP address nothing listens on.
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}
