package sheet

import (
	"bytes"
	"fmt"
	"strings"

	"codeberg.org/go-pdf/fpdf"
)

// Page geometry in millimetres: A4 portrait, with margins wider than any
// printer needs. On Letter paper it prints scaled to fit.
const (
	pageHeight = 297.0
	margin     = 15.0
	textWidth  = 210.0 - 2*margin
	labelWidth = 24.0 // the "Account:" column of the header
	numWidth   = 10.0 // the number before each code, right-aligned
	numGap     = 2.0  // between the number and the code
	rowHeight  = 10.0 // one row of codes
	boxPadding = 4.0  // inside the frame around the codes
)

// Font sizes in points. At 14 points Courier is 2.96 mm per character, so
// a code of MaxCodeLength characters takes 71 mm; with its number that is
// 83 mm of a column 86 mm wide, so two columns fit across the page.
const (
	titleSize = 24.0
	bodySize  = 11.0
	onceSize  = 13.0
	codeSize  = 14.0
	numSize   = 10.0
)

// PDF returns the sheet as a one-page A4 PDF document. It fails with
// ErrInvalid for a sheet that check rejects, including no codes, more than
// MaxCodes and an empty account.
//
// The output is reproducible: the document's creation and modification
// dates are the issue time, and rendering the same Sheet twice gives the
// same bytes. The core PDF fonts cover only Windows-1252, so characters of
// the account or issuer outside it show as '?'.
func (s Sheet) PDF() ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(s.Issued.UTC())
	pdf.SetModificationDate(s.Issued.UTC())
	// Fonts are kept in maps; sorting the catalogs makes their order, and
	// so the bytes, the same on every run.
	pdf.SetCatalogSort(true)
	pdf.SetTitle(title, false)
	pdf.SetMargins(margin, margin, margin)
	// NOTE: no automatic page break. The limits in check keep the content
	// on one page, and a second page would be worse than a clipped one;
	// the end of the content is checked below instead.
	pdf.SetAutoPageBreak(false, margin)
	pdf.AddPage()

	enc := cp1252(pdf)
	drawHeader(pdf, s.fields(), enc)
	drawCodes(pdf, s.Codes)
	drawAdvice(pdf, enc)

	if y := pdf.GetY(); y > pageHeight-margin {
		return nil, fmt.Errorf("sheet: content runs off the page (%.0f mm)", y)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("sheet: write pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// cp1252 returns a function that encodes text for fpdf's core fonts, which
// use Windows-1252. fpdf's own translator shows a character it cannot encode
// as '.', which reads as part of the name; this one uses '?'.
func cp1252(pdf *fpdf.Fpdf) func(string) string {
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	return func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r < 0x80:
				b.WriteRune(r)
			case tr(string(r)) == ".":
				b.WriteByte('?')
			default:
				b.WriteString(tr(string(r)))
			}
		}
		return b.String()
	}
}

// drawHeader draws the title and the labelled header lines. A value too
// long for its line wraps onto the next.
func drawHeader(pdf *fpdf.Fpdf, fields []field, enc func(string) string) {
	pdf.SetFont("Helvetica", "B", titleSize)
	pdf.CellFormat(0, 12, title, "", 1, "L", false, 0, "")
	pdf.SetDrawColor(120, 120, 120)
	pdf.SetLineWidth(0.3)
	pdf.Line(margin, pdf.GetY()+1, margin+textWidth, pdf.GetY()+1)
	pdf.Ln(5)

	for _, f := range fields {
		pdf.SetFont("Helvetica", "B", bodySize)
		pdf.CellFormat(labelWidth, 6, f.label, "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", bodySize)
		pdf.MultiCell(textWidth-labelWidth, 6, enc(f.value), "", "L", false)
	}
	pdf.Ln(5)

	pdf.SetFont("Helvetica", "B", onceSize)
	pdf.CellFormat(0, 8, onceLine, "", 1, "L", false, 0, "")
	pdf.Ln(2)
}

// drawCodes draws the numbered codes in a frame, laid out as grid says.
// The caller has checked them: printable ASCII, so no encoding is needed.
func drawCodes(pdf *fpdf.Fpdf, codes []string) {
	rows, cols := grid(len(codes))
	top := pdf.GetY()
	height := float64(rows)*rowHeight + 2*boxPadding
	pdf.SetDrawColor(120, 120, 120)
	pdf.SetLineWidth(0.3)
	pdf.Rect(margin, top, textWidth, height, "D")

	colWidth := (textWidth - 2*boxPadding) / float64(cols)
	for i, code := range codes {
		x := margin + boxPadding + float64(i/rows)*colWidth
		y := top + boxPadding + float64(i%rows)*rowHeight
		pdf.SetXY(x, y)
		pdf.SetTextColor(90, 90, 90)
		pdf.SetFont("Helvetica", "", numSize)
		pdf.CellFormat(numWidth, rowHeight, fmt.Sprintf("%d.", i+1), "", 0, "R", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
		pdf.SetFont("Courier", "B", codeSize)
		pdf.SetX(x + numWidth + numGap)
		pdf.CellFormat(colWidth-numWidth-numGap, rowHeight, code, "", 0, "L", false, 0, "")
	}
	pdf.SetXY(margin, top+height)
	pdf.Ln(8)
}

// drawAdvice draws the guidance on keeping the codes, one bullet a line.
func drawAdvice(pdf *fpdf.Fpdf, enc func(string) string) {
	bullet := enc("\u2022") + "  "
	pdf.SetFont("Helvetica", "", bodySize)
	for _, a := range advice {
		pdf.MultiCell(0, 6, bullet+a, "", "L", false)
	}
}
