// Package qr renders the QR codes people scan to enrol an authenticator app:
// a PNG image for the web portal and a text rendering for the command line.
//
// The package is pure: it returns bytes and strings and does no I/O. The
// content of an enrolment code is an otpauth URI carrying a TOTP secret, so
// no error from this package ever includes the content.
//
// Codes use medium error correction (ISO/IEC 18004 level M, about 15% of
// the symbol recoverable), the usual balance between size and tolerance of
// glare and screen moiré, and keep the 4-module quiet zone the standard
// requires around the symbol.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"unicode/utf8"

	qrcode "github.com/skip2/go-qrcode"
)

// minScale is the fewest pixels per module PNG draws: at one pixel per
// module a code is too small to scan reliably (zbar cannot read it at all).
const minScale = 2

// MaxSize is the largest PNG side PNG accepts, in pixels. It bounds memory
// (an 8-bit paletted image of MaxSize² pixels is 16 MiB) whatever a caller
// passes.
const MaxSize = 4096

var (
	// ErrContent is returned for content that cannot be encoded: empty, not
	// ASCII, or too long for the largest QR code.
	ErrContent = errors.New("qr: cannot encode content")
	// ErrSize is returned for a PNG size outside the range PNG accepts.
	ErrSize = errors.New("qr: unsupported image size")
)

// modules returns the symbol's modules, quiet zone included: modules[y][x]
// is true for a dark module.
func modules(content string) ([][]bool, error) {
	if content == "" {
		return nil, fmt.Errorf("%w: empty", ErrContent)
	}
	// Other bytes go into byte mode without an ECI designator, and readers
	// guess their charset: zbar reads UTF-8 as Shift JIS, so a scanner could
	// show a different account name. Enrolment URIs are percent-encoded
	// ASCII anyway.
	for i := 0; i < len(content); i++ {
		if content[i] >= utf8.RuneSelf {
			return nil, fmt.Errorf("%w: not ASCII", ErrContent)
		}
	}
	code, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		// go-qrcode fails only for content too long for version 40.
		return nil, fmt.Errorf("%w: too long (%d bytes)", ErrContent, len(content))
	}
	return code.Bitmap(), nil
}

// PNG returns a size×size pixel PNG image of a QR code for content, black on
// white. Every module is the same whole number of pixels, so the image stays
// sharp; pixels left over are added to the white border. size must be at
// least twice the symbol's width in modules, quiet zone included (29 to 185
// modules, growing with the content's length), and at most MaxSize; 256 is
// enough for an enrolment URI and scans well from a screen.
func PNG(content string, size int) ([]byte, error) {
	bits, err := modules(content)
	if err != nil {
		return nil, err
	}
	if least := minScale * len(bits); size < least || size > MaxSize {
		return nil, fmt.Errorf("%w: %d pixels, need %d to %d for this content",
			ErrSize, size, least, MaxSize)
	}
	return encodePNG(bits, size)
}

// encodePNG draws bits centred in a size×size image, scaled by a whole
// number of pixels per module. size must be at least len(bits).
func encodePNG(bits [][]bool, size int) ([]byte, error) {
	n := len(bits)
	scale := size / n
	margin := (size - scale*n) / 2

	// Index 0, white, is the zero value of every pixel.
	palette := color.Palette{color.White, color.Black}
	img := image.NewPaletted(image.Rect(0, 0, size, size), palette)
	for y, row := range bits {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				off := img.PixOffset(margin+x*scale, margin+y*scale+dy)
				for dx := range scale {
					img.Pix[off+dx] = 1
				}
			}
		}
	}

	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// ANSI SGR sequences for a terminal line: black text on a bright white
// background, then back to the terminal's defaults.
const (
	ansiStart = "\x1b[30;107m"
	ansiReset = "\x1b[0m"
)

// Terminal returns a QR code for content as text for a terminal, two module
// rows per line using the half block characters ▀, ▄ and █, quiet zone
// included. Each line sets its own colours with ANSI escape sequences, dark
// modules black on a bright white background, so the code scans the same on
// dark and light terminal themes (an uncoloured rendering comes out
// inverted on one of them, and many scanners refuse inverted codes). Each
// line resets the colours before its newline. It needs a terminal that
// understands ANSI colours, as every common one does; the output is not
// meant for files or logs.
func Terminal(content string) (string, error) {
	bits, err := modules(content)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for y := 0; y < len(bits); y += 2 {
		b.WriteString(ansiStart)
		for x, top := range bits[y] {
			// The symbol has an odd number of rows (4v+17 plus two quiet
			// zones): the last line's lower half is extra quiet zone.
			bottom := y+1 < len(bits) && bits[y+1][x]
			b.WriteString(halfBlock(top, bottom))
		}
		b.WriteString(ansiReset)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// halfBlock returns the character that draws a dark upper half, lower half,
// both or neither of a cell in the foreground colour.
func halfBlock(top, bottom bool) string {
	switch {
	case top && bottom:
		return "█"
	case top:
		return "▀"
	case bottom:
		return "▄"
	}
	return " "
}
