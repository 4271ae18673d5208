package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/totp"
)

// These tests build the real binary and run it as an operator would.

// buildMfad builds mfad into a temporary folder and returns its path.
func buildMfad(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the mfad binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no go command to build mfad with: %v", err)
		}
		t.Skipf("no go command to build mfad with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "mfad")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// binary runs a built mfad against one data folder.
type binary struct {
	t    *testing.T
	path string
	data string
}

// environ is the test's environment without MFAD_ settings, so that only
// the flags the test gives apply.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MFAD_") {
			env = append(env, kv)
		}
	}
	return env
}

func (b *binary) command(args ...string) *exec.Cmd {
	cmd := exec.Command(b.path, append(args, "--data", b.data)...)
	cmd.Env = environ()
	// A pipe, not /dev/null: standard input is not a terminal.
	cmd.Stdin = strings.NewReader("")
	return cmd
}

// run runs mfad with args and returns its exit status and output.
func (b *binary) run(args ...string) result {
	b.t.Helper()
	cmd := b.command(args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		b.t.Fatalf("run mfad %s: %v", strings.Join(args, " "), err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(),
		stderr: errOut.String()}
}

func (b *binary) must(args ...string) result {
	b.t.Helper()
	r := b.run(args...)
	if r.code != 0 {
		b.t.Fatalf("mfad %s = exit %d, want 0; stderr:\n%s", strings.Join(args, " "), r.code,
			r.stderr)
	}
	return r
}

var enrollLine = regexp.MustCompile(`(?m)^(id|secret): +(\S+)$`)

// TestBinaryTOTP enrolls, confirms and verifies with the real binary, and
// checks that no secret rests in clear in the database.
//
// The confirmation consumes the time step of its code, so the verification
// uses the code of the next step: RFC 6238 §5.2's window of one step either
// way accepts it now, and it is later than any step the confirmation can
// have used. No waiting is needed.
func TestBinaryTOTP(t *testing.T) {
	b := &binary{t: t, path: buildMfad(t), data: filepath.Join(t.TempDir(), "data")}
	b.must("user", "add", "alice")

	r := b.must("totp", "enroll", "alice")
	fields := map[string]string{}
	for _, m := range enrollLine.FindAllStringSubmatch(r.stdout, -1) {
		fields[m[1]] = m[2]
	}
	id, b32 := fields["id"], fields["secret"]
	secret, err := totp.DecodeSecret(b32)
	if err != nil || id == "" {
		t.Fatalf("totp enroll alice stdout = %q, want id and secret lines", r.stdout)
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("totp enroll to a pipe = %q, want no QR code", r.stdout)
	}
	if !strings.Contains(r.stderr, "mfad totp confirm alice "+id+" CODE") {
		t.Errorf("totp enroll stderr = %q, want how to confirm", r.stderr)
	}

	p := totp.DefaultParams()
	step := totp.Step(time.Now(), p.Period)
	b.must("totp", "confirm", "alice", id, totp.Code(secret, step, p))

	next := totp.Code(secret, step+1, p)
	if r := b.run("verify", "alice", next); r.code != 0 || r.stdout != "accept totp\n" {
		t.Errorf("verify alice NEXT = exit %d, stdout %q; want 0, \"accept totp\\n\"; "+
			"stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r := b.run("verify", "alice", next); r.code != 1 || r.stdout != "reject\n" {
		t.Errorf("verify alice NEXT again = exit %d, stdout %q; want 1, \"reject\\n\"",
			r.code, r.stdout)
	}
	r = b.must("token", "create", "--name", "ci", "--role", "admin")
	if !tokenPattern.MatchString(r.stdout) {
		t.Fatalf("token create stdout = %q, want the token alone", r.stdout)
	}
	token := strings.TrimSpace(r.stdout)
	r = b.must("audit", "verify")
	if !regexp.MustCompile(`(?m)^chain: +intact$`).MatchString(r.stdout) {
		t.Errorf("audit verify stdout = %q, want an intact chain", r.stdout)
	}

	tokenSecret := token[strings.LastIndex(token, "_")+1:]
	forbidden := map[string][]byte{
		"base32 secret":           []byte(b32),
		"base32 secret lowercase": []byte(strings.ToLower(b32)),
		"raw secret":              secret,
		"token":                   []byte(token),
		"token secret":            []byte(tokenSecret),
	}
	notStored(t, b.data, forbidden)
}

// notStored fails the test if any database file in the data folder holds
// one of the forbidden byte strings, such as a secret in clear.
func notStored(t *testing.T, data string, forbidden map[string][]byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(data, "mfad.db*"))
	if len(files) == 0 {
		t.Fatalf("no database files in %s", data)
	}
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for what, s := range forbidden {
			if bytes.Contains(content, s) {
				t.Errorf("%s holds the %s in clear", filepath.Base(file), what)
			}
		}
	}
}

// server is a running `mfad serve` of a built binary.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	exited chan error // receives how the process exited, once

	logMu sync.Mutex
	log   strings.Builder
}

// startServer starts mfad serve on b's data folder, on a free loopback
// port, with args as further flags, and waits until it says where it
// listens. The process is killed when the test ends, if it still runs.
func startServer(t *testing.T, b *binary, args ...string) *server {
	t.Helper()
	args = append([]string{"serve", "--http-addr", "127.0.0.1:0"}, args...)
	s := &server{t: t, cmd: b.command(args...), exited: make(chan error, 1)}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
	})

	addrc := make(chan string, 1)
	go func() {
		// Read every line so the server never blocks on a full pipe.
		re := regexp.MustCompile(`mfad is listening on http://(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.logMu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.logMu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
		s.exited <- s.cmd.Wait()
	}()

	select {
	case s.addr = <-addrc:
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("mfad serve exited: %v\n%s", err, s.logText())
	case <-time.After(60 * time.Second):
		t.Fatalf("mfad serve did not say where it listens:\n%s", s.logText())
	}
	return s
}

func (s *server) logText() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// stop stops the server with SIGTERM and checks that it exits with status 0.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		s.exited <- err
		if err != nil {
			s.t.Errorf("mfad serve after SIGTERM: %v, want exit status 0\n%s", err,
				s.logText())
		}
	case <-time.After(30 * time.Second):
		s.t.Fatalf("mfad serve did not stop on SIGTERM:\n%s", s.logText())
	}
}

// kill stops the server with SIGKILL, as a crash would, and waits until it
// has gone.
func (s *server) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		s.exited <- err
	case <-time.After(30 * time.Second):
		s.t.Fatalf("mfad serve did not die of SIGKILL:\n%s", s.logText())
	}
}

// TestBinaryBesideServer runs admin commands on the data folder of a
// running server and sees their effect over HTTP.
func TestBinaryBesideServer(t *testing.T) {
	b := &binary{t: t, path: buildMfad(t), data: filepath.Join(t.TempDir(), "data")}
	srv := startServer(t, b)
	addr := srv.addr

	token := strings.TrimSpace(b.must("token", "create", "--name", "ops", "--role",
		"admin").stdout)
	if got := listUsers(t, addr, token); len(got) != 0 {
		t.Errorf("GET /v1/users = %v, want none", got)
	}
	b.must("user", "add", "bob")
	if got := listUsers(t, addr, token); len(got) != 1 || got[0] != "bob" {
		t.Errorf("GET /v1/users after user add bob = %v, want [bob]", got)
	}

	// The page a "this was not me" link opens is served beside the API.
	resp, err := http.Get("http://" + addr + "/report?token=not-a-token")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), "this link is not valid") {
		t.Errorf("GET /report with a bad token = %d %s\n%s\nwant the page saying so",
			resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}

	srv.stop()
	if r := b.must("audit", "verify"); !strings.Contains(r.stdout, "intact") {
		t.Errorf("audit verify after serve = %q, want an intact chain", r.stdout)
	}
}

// postJSON posts body as JSON to url, with a bearer token unless it is
// empty, and returns the status and the response body.
func postJSON(t *testing.T, url, token string, body any) (int, []byte) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// listUsers returns the names GET /v1/users answers with.
func listUsers(t *testing.T, addr, token string) []string {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+"/v1/users", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/users = %s, want 200 OK\n%s", resp.Status, body)
	}
	var out struct {
		Users []struct {
			Name string `json:"name"`
		} `json:"users"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET /v1/users: %v\n%s", err, body)
	}
	names := []string{}
	for _, u := range out.Users {
		names = append(names, u.Name)
	}
	return names
}
