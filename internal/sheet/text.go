package sheet

import (
	"bytes"
	"fmt"
	"strings"
)

// Text returns the sheet as UTF-8 plain text with LF line endings. Apart
// from the account and issuer it is ASCII.
//
// Text never fails and does not check the sheet: it shows what it is given.
// Every code is listed, however many there are ("(no codes)" when there are
// none); bytes of a code outside printable ASCII show as '?'. An empty
// account leaves its line blank, an empty issuer leaves its line out, and a
// zero issue time reads "unknown". In the account and issuer, characters
// that are not printable show as '?', so a name cannot add lines or terminal
// escapes. Call PDF, or check the sheet the same way, before offering text
// people will rely on.
func (s Sheet) Text() []byte {
	var b bytes.Buffer
	b.WriteString(title + "\n")
	b.WriteString(strings.Repeat("=", len(title)) + "\n\n")
	for _, f := range s.fields() {
		line := fmt.Sprintf("%-9s%s", f.label, f.value)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}

	b.WriteString("\n" + onceLine + "\n\n")
	s.writeCodes(&b)

	b.WriteString("\n")
	for _, a := range advice {
		b.WriteString("- " + a + "\n")
	}
	return b.Bytes()
}

// writeCodes writes the numbered codes laid out as grid says, the columns
// as wide as the longest code.
func (s Sheet) writeCodes(b *bytes.Buffer) {
	n := len(s.Codes)
	if n == 0 {
		b.WriteString("  " + noCodes + "\n")
		return
	}
	codes := make([]string, n)
	width := 0
	for i, c := range s.Codes {
		codes[i] = cleanCode(c)
		width = max(width, len(codes[i]))
	}
	numWidth := len(fmt.Sprint(n))

	rows, cols := grid(n)
	for r := range rows {
		var line strings.Builder
		for c := range cols {
			i := c*rows + r
			if i >= n {
				break
			}
			fmt.Fprintf(&line, "  %*d. %-*s  ", numWidth, i+1, width, codes[i])
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
