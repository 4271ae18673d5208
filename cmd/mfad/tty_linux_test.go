package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair: what a program writes to term, the
// test reads from ctl, and what the test writes to ctl, the program reads
// from term as typed input.
func openPTY(t *testing.T) (ctl, term *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("open /dev/ptmx: %v", err)
		}
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	var unlock int32
	if err := ioctl(ctl, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	var n uint32
	if err := ioctl(ctl, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("pty number: %v", err)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	return ctl, term
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// screen collects what a program writes to a terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the screen shows want count times.
func (s *screen) waitFor(t *testing.T, want string, count int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(s.String(), want) < count {
		if time.Now().After(deadline) {
			t.Fatalf("screen = %q, want %q %d times", s.String(), want, count)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var secretLine = regexp.MustCompile(`secret: +([A-Z2-7]+)`)

// TestEnrollOnTerminal enrolls at a terminal: the QR code is drawn, the first
// code is asked for, a wrong one is asked for again, and a right one
// confirms the authenticator.
func TestEnrollOnTerminal(t *testing.T) {
	f := newFixture(t)
	f.must("user", "add", "alice")
	ctl, term := openPTY(t)
	var scr screen
	go func() {
		// Ends when term is closed and ctl reads EIO.
		b := make([]byte, 4096)
		for {
			n, err := ctl.Read(b)
			scr.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()

	done := make(chan int, 1)
	go func() {
		e := &env{stdin: term, stdout: term, stderr: term, lookup: f.lookup}
		done <- run(context.Background(), e, []string{"totp", "enroll", "alice"})
	}()

	prompt := "Enter the code the app shows now"
	scr.waitFor(t, prompt, 1)
	m := secretLine.FindStringSubmatch(scr.String())
	if m == nil {
		t.Fatalf("screen = %q, want the secret", scr.String())
	}
	en := enrollmentJSON{Secret: m[1], totpJSON: totpJSON{Algorithm: "SHA1", Digits: 6,
		Period: 30}}
	code := codeAt(t, en, 0)
	fmt.Fprintf(ctl, "%s\n", wrong(code))
	scr.waitFor(t, prompt, 2)
	fmt.Fprintf(ctl, "%s\n", code)

	select {
	case status := <-done:
		if status != 0 {
			t.Errorf("totp enroll alice at a terminal = exit %d, want 0; screen:\n%s", status,
				scr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("totp enroll at a terminal did not finish")
	}
	scr.waitFor(t, "Confirmed: authenticator", 1)
	out := scr.String()
	for _, want := range []string{"\x1b[30;107m", "▀", "the code does not match"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen = %q, want it to contain %q", out, want)
		}
	}
	if list := f.must("totp", "list", "alice"); !strings.Contains(list, " confirmed ") {
		t.Errorf("totp list alice = %q, want the authenticator confirmed", list)
	}
}

func TestIsTerminal(t *testing.T) {
	_, term := openPTY(t)
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tests := []struct {
		name string
		f    any
		want bool
	}{
		{"pty", term, true},
		{"dev null", null, false},
		{"pipe", r, false},
		{"buffer", &bytes.Buffer{}, false},
		{"regular file", mustCreate(t), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isTerminal(tt.f); got != tt.want {
				t.Errorf("isTerminal(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func mustCreate(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			t.Error(err)
		}
	})
	return f
}
