package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"layeh.com/radius/rfc2869"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/mfa"
	mfadradius "github.com/mfad/mfad/internal/radius"
)

const testSecret = "a shared secret for the load test"

// newRADIUS serves the real RADIUS front door of svc on 127.0.0.1 until
// the test ends, with this host as a client of secret testSecret, and
// returns its address.
func newRADIUS(t *testing.T, svc *mfa.Service) string {
	t.Helper()
	srv, err := mfadradius.New(mfadradius.Config{Service: svc, Clients: []mfadradius.Client{{
		Name: "load", Prefix: netip.MustParsePrefix("127.0.0.1/32"),
		Secret: mfadradius.Secret(testSecret),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return conn.LocalAddr().String()
}

// passUser makes a user with an access pass that may be used again and
// again, which is what static mode needs of mfad, and returns the pass.
func passUser(t *testing.T, svc *mfa.Service, name string) string {
	t.Helper()
	ctx := context.Background()
	op := mfa.Request{Actor: mfa.Operator("tester"), Source: "local", FrontDoor: audit.DoorCLI}
	if _, err := svc.CreateUser(ctx, op, mfa.NewUser{Name: name}); err != nil {
		t.Fatal(err)
	}
	issue, err := svc.IssuePass(ctx, op, name, mfa.NewPass{Reason: "load test"})
	if err != nil || issue.Pass.Pass == "" {
		t.Fatalf("IssuePass = %+v, %v", issue, err)
	}
	return issue.Pass.Pass
}

// TestRunRADIUS drives the real RADIUS front door for a second in each
// mode and checks the report: every answer of the mode's code.
func TestRunRADIUS(t *testing.T) {
	base, token, svc := newService(t)
	addr := newRADIUS(t, svc)
	pass := passUser(t, svc, "static")
	tests := []struct {
		mode   string
		args   []string
		answer string
	}{
		{"accept", []string{"--users", "40"}, "accept"},
		{"reject", []string{"--users", "4"}, "reject"},
		{"static", []string{"--static-user", "static", "--static-password", pass}, "accept"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			args := append([]string{"--url", base, "--radius", addr, "--mode", tt.mode,
				"--clients", "4", "--duration", "1s"}, tt.args...)
			env := map[string]string{"MFAD_LOAD_TOKEN": token,
				"MFAD_LOAD_RADIUS_SECRET": testSecret}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			var out, errOut bytes.Buffer
			if err := run(context.Background(), args, lookup, &out, &errOut); err != nil {
				t.Fatalf("run(%q) = %v\nstderr:\n%s", args, err, errOut.String())
			}
			fields := reportFields(out.String())
			checkReport(t, fields, tt.mode, "requests/s")
			if fields[tt.answer] == "0" || fields[tt.answer] != fields["requests"] ||
				fields["timeouts"] != "0" {
				t.Errorf("report: %s %s of %s requests, %s timeouts; want all %s",
					fields[tt.answer], tt.answer, fields["requests"], fields["timeouts"], tt.answer)
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
			}
		})
	}
}

// TestRunRADIUSWrongSecret checks that requests under the wrong secret,
// which the server drops, are counted as timeouts, and the report says
// why there is no answer.
func TestRunRADIUSWrongSecret(t *testing.T) {
	_, _, svc := newService(t)
	args := []string{"--radius", newRADIUS(t, svc), "--radius-secret", "not the secret at all",
		"--mode", "static", "--static-user", "u", "--static-password", "p",
		"--clients", "2", "--duration", "500ms", "--timeout", "100ms"}
	none := func(string) (string, bool) { return "", false }
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, none, &out, &errOut); err != nil {
		t.Fatalf("run(%q) = %v", args, err)
	}
	fields := reportFields(out.String())
	if fields["timeouts"] == "0" || fields["timeouts"] != fields["requests"] {
		t.Errorf("report: %s timeouts of %s requests, want all",
			fields["timeouts"], fields["requests"])
	}
	if !strings.Contains(errOut.String(), "no request was answered") {
		t.Errorf("stderr = %q, want it to say no request was answered", errOut.String())
	}
}

// TestReadAnswer checks an answer of the real front door, and copies of
// it made wrong one way at a time.
func TestReadAnswer(t *testing.T) {
	_, _, svc := newService(t)
	conn, err := net.Dial("udp", newRADIUS(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, err := accessRequest(7, []byte(testSecret), "nobody", "123456")
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(req)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	genuine := buf[:n]
	off, ok := findValue(genuine, rfc2869.MessageAuthenticator_Type)
	if !ok {
		t.Fatalf("answer % x has no Message-Authenticator", genuine)
	}
	// badMA has a wrong Message-Authenticator but a Response
	// Authenticator that is right for it.
	badMA := bytes.Clone(genuine)
	badMA[off] ^= 1
	h := md5.New()
	h.Write(badMA[:4])
	h.Write(req[4:20])
	h.Write(badMA[20:])
	h.Write([]byte(testSecret))
	copy(badMA[4:20], h.Sum(nil))

	tests := []struct {
		name   string
		resp   []byte
		secret string
		want   string // the answer, or part of the error
	}{
		{"genuine", genuine, testSecret, "reject"},
		{"wrong secret", genuine, "another secret", "wrong Response Authenticator"},
		{"wrong Message-Authenticator", badMA, testSecret, "wrong Message-Authenticator"},
		{"cut short", genuine[:n-1], testSecret, "wrong length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAnswer(tt.resp, req, []byte(tt.secret))
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("readAnswer = %q, want %q", got, tt.want)
			}
		})
	}
}
