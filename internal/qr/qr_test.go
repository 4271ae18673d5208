package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/mfad/mfad/internal/testtool"
)

// enrolURI is an otpauth URI with special characters in label and issuer,
// as internal/totp writes it.
const enrolURI = "otpauth://totp/ACME%20Co%20%26%20Sons:j%C3%B6hn%2Bdoe%40example.com" +
	"?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA" +
	"&issuer=ACME%20Co%20%26%20Sons&algorithm=SHA256&digits=8&period=60"

// contents are the texts every test encodes.
var contents = []struct {
	name    string
	content string
}{
	{"otpauth URI", enrolURI},
	{"raw symbols", "otpauth://totp/Big & Co: x?y=1#%+~`'\"\\<>{}|^[]"},
	{"one character", "x"},
	{"long", "otpauth://totp/X:a?secret=" + strings.Repeat("GEZDGNBV", 60)},
}

// zbarDecode decodes a PNG image with zbarimg and returns the text.
func zbarDecode(t *testing.T, zbarimg string, img []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "code.png")
	if err := os.WriteFile(file, img, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbarimg, "-q", "--raw", file).Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v", file, err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

func TestPNGDecodes(t *testing.T) {
	zbarimg := testtool.Look(t, "zbarimg", "zbar-tools")
	for _, c := range contents {
		bits, err := modules(c.content)
		if err != nil {
			t.Fatalf("modules(%q) error = %v", c.name, err)
		}
		// The smallest size (two pixels per module), an uneven one and a
		// large one.
		for _, size := range []int{2 * len(bits), 301, 512} {
			t.Run(fmt.Sprintf("%s/%d", c.name, size), func(t *testing.T) {
				img, err := PNG(c.content, size)
				if err != nil {
					t.Fatalf("PNG(%s, %d) error = %v", c.name, size, err)
				}
				cfg, err := png.DecodeConfig(bytes.NewReader(img))
				if err != nil || cfg.Width != size || cfg.Height != size {
					t.Errorf("PNG(%s, %d) is %dx%d (%v), want %dx%d",
						c.name, size, cfg.Width, cfg.Height, err, size, size)
				}
				if got := zbarDecode(t, zbarimg, img); got != c.content {
					t.Errorf("zbarimg(PNG(%s, %d)) = %q, want %q", c.name, size, got, c.content)
				}
			})
		}
	}
}

func TestPNGErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		size    int
		wantErr error
	}{
		{"empty content", "", 256, ErrContent},
		{"content too long", strings.Repeat("x", 3000), 256, ErrContent},
		{"zero size", enrolURI, 0, ErrSize},
		{"negative size", enrolURI, -5, ErrSize},
		{"non-ASCII content", "otpauth://totp/Grüße:ö?secret=GEZDGNBV", 256, ErrContent},
		{"smaller than the symbol", enrolURI, 64, ErrSize},
		{"one pixel per module", enrolURI, 129, ErrSize},
		{"above MaxSize", enrolURI, MaxSize + 1, ErrSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := PNG(tt.content, tt.size)
			if !errors.Is(err, tt.wantErr) || img != nil {
				t.Fatalf("PNG(%.20q, %d) = %d bytes, %v, want nil, %v",
					tt.content, tt.size, len(img), err, tt.wantErr)
			}
			if tt.content != "" && strings.Contains(err.Error(), tt.content[:10]) {
				t.Errorf("PNG(%.20q, %d) error %q contains the content", tt.content, tt.size, err)
			}
		})
	}
	for _, size := range []int{130, MaxSize} {
		if _, err := PNG(enrolURI, size); err != nil {
			t.Errorf("PNG(enrolURI, %d) error = %v, want nil", size, err)
		}
	}
}

// parseTerminal checks the shape of a Terminal rendering and turns it back
// into modules, two rows per line.
func parseTerminal(t *testing.T, text string) [][]bool {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("Terminal() does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var bits [][]bool
	width := -1
	for i, line := range lines {
		if !strings.HasPrefix(line, ansiStart) || !strings.HasSuffix(line, ansiReset) {
			t.Fatalf("Terminal() line %d = %q, want it wrapped in %q and %q",
				i, line, ansiStart, ansiReset)
		}
		cells := strings.TrimSuffix(strings.TrimPrefix(line, ansiStart), ansiReset)
		if n := utf8.RuneCountInString(cells); width == -1 {
			width = n
		} else if n != width {
			t.Fatalf("Terminal() line %d is %d cells wide, want %d like line 0", i, n, width)
		}
		top, bottom := make([]bool, 0, width), make([]bool, 0, width)
		for _, r := range cells {
			switch r {
			case ' ':
				top, bottom = append(top, false), append(bottom, false)
			case '▀':
				top, bottom = append(top, true), append(bottom, false)
			case '▄':
				top, bottom = append(top, false), append(bottom, true)
			case '█':
				top, bottom = append(top, true), append(bottom, true)
			default:
				t.Fatalf("Terminal() line %d has %q, want only half blocks and spaces", i, r)
			}
		}
		bits = append(bits, top, bottom)
	}
	if width < 29 {
		t.Fatalf("Terminal() is %d cells wide, want at least 29", width)
	}
	return bits
}

func TestTerminal(t *testing.T) {
	for _, c := range contents {
		t.Run(c.name, func(t *testing.T) {
			text, err := Terminal(c.content)
			if err != nil {
				t.Fatalf("Terminal(%s) error = %v", c.name, err)
			}
			got := parseTerminal(t, text)

			code, err := qrcode.New(c.content, qrcode.Medium)
			if err != nil {
				t.Fatal(err)
			}
			want := code.Bitmap()
			// The last line's lower half pads the odd row count with light
			// modules.
			if len(got) != len(want)+1 {
				t.Fatalf("Terminal(%s) has %d module rows, want %d", c.name, len(got), len(want)+1)
			}
			if diff := cmp.Diff(make([]bool, len(want)), got[len(want)]); diff != "" {
				t.Errorf("Terminal(%s) padding row not light (-want +got):\n%s", c.name, diff)
			}
			if diff := cmp.Diff(want, got[:len(want)]); diff != "" {
				t.Errorf("Terminal(%s) modules mismatch (-want +got):\n%s", c.name, diff)
			}
			// The quiet zone: four module rows (two lines) above and below,
			// four columns each side.
			for i, row := range got {
				edge := i < 4 || i >= len(got)-5
				if edge && slices.Contains(row, true) ||
					slices.Contains(row[:4], true) || slices.Contains(row[len(row)-4:], true) {
					t.Errorf("Terminal(%s) quiet zone has dark modules in row %d", c.name, i)
				}
			}
		})
	}
}

// TestTerminalDecodes draws the terminal rendering's modules as an image and
// has zbarimg read it, so the rendering is known to scan.
func TestTerminalDecodes(t *testing.T) {
	zbarimg := testtool.Look(t, "zbarimg", "zbar-tools")
	for _, c := range contents {
		t.Run(c.name, func(t *testing.T) {
			text, err := Terminal(c.content)
			if err != nil {
				t.Fatalf("Terminal(%s) error = %v", c.name, err)
			}
			bits := parseTerminal(t, text)
			// Square it for encodePNG: add light columns for the padding row.
			for i := range bits {
				bits[i] = append(bits[i], false)
			}
			img, err := encodePNG(bits, 4*len(bits))
			if err != nil {
				t.Fatalf("encodePNG() error = %v", err)
			}
			if got := zbarDecode(t, zbarimg, img); got != c.content {
				t.Errorf("zbarimg(Terminal(%s)) = %q, want %q", c.name, got, c.content)
			}
		})
	}
}

func TestTerminalErrors(t *testing.T) {
	for _, content := range []string{"", strings.Repeat("x", 3000), "é"} {
		if got, err := Terminal(content); !errors.Is(err, ErrContent) || got != "" {
			t.Errorf("Terminal(%d bytes) = %q, %v, want \"\", ErrContent", len(content), got, err)
		}
	}
}
