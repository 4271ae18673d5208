package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadmeWalkthrough runs the README's five-minute walk-through as
// written, with curl, jq and oathtool, against the real binary, so the front
// door of the project never shows commands that do not work.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "oathtool", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed for the README walk-through: %v", tool, err)
			}
			t.Skipf("%s not installed; the README walk-through needs it", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Five-minute walk-through")
	if !ok {
		t.Fatal("README has no walk-through section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := fencedBlocks(section)
	if len(blocks["sh"]) < 5 || len(blocks["json"]) != 5 {
		t.Fatalf("walk-through has %d sh and %d json blocks, want the documented steps",
			len(blocks["sh"]), len(blocks["json"]))
	}

	// The first block builds and starts the server; do that here, on a free
	// port, and run the rest as a script against it.
	start := blocks["sh"][0]
	if !strings.Contains(start, "go build -o mfad ./cmd/mfad") || !strings.Contains(start, "./mfad serve") {
		t.Fatalf("first walk-through block = %q, want the build and serve commands", start)
	}
	dir := t.TempDir()
	if err := os.Symlink(buildMfad(t), filepath.Join(dir, "mfad")); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	serve := exec.Command("./mfad", "serve")
	serve.Dir = dir
	serve.Env = append(environ(), "MFAD_HTTP_ADDR="+addr)
	var serveLog strings.Builder
	serve.Stderr = &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		serve.Process.Kill()
		serve.Wait()
	})
	waitReady(t, "http://"+addr)

	script := "set -euo pipefail\n" + strings.Join(blocks["sh"][1:], "\n")
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", "http://"+addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, "bash", "-c", script)
	run.Dir = dir
	run.Env = environ()
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\noutput:\n%s\nserver log:\n%s", err, out, serveLog.String())
	}

	// The two JSON answers the README shows appear, in order.
	rest := string(out)
	for _, want := range blocks["json"] {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("walk-through output lacks the README's answer\n%s\noutput:\n%s", want, out)
		}
		rest = rest[i+len(want):]
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`verify +alice +failure +replay`),
		regexp.MustCompile(`verify +alice +success +accepted`),
		regexp.MustCompile(`chain: +intact`),
		regexp.MustCompile(`(?m)^[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}$`),
	} {
		if !want.Match(out) {
			t.Errorf("walk-through output lacks %q:\n%s", want, out)
		}
	}
}

// fencedBlocks returns the contents of the fenced code blocks in md by
// language, in order.
func fencedBlocks(md string) map[string][]string {
	blocks := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(md))
	var lang string
	var cur []string
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in, lang, cur = true, strings.TrimPrefix(line, "```"), nil
		case in && line == "```":
			in = false
			blocks[lang] = append(blocks[lang], strings.Join(cur, "\n")+"\n")
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitReady polls /readyz until the server answers 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server at %s not ready after 15s", base)
}
