package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/sheet"
)

// Media types the answer to making backup codes comes in, in the order
// preferred when a client ranks several the same.
const (
	typeJSON = "application/json"
	typeText = "text/plain"
	typePDF  = "application/pdf"
)

var sheetTypes = []string{typeJSON, typeText, typePDF}

// generateBackupCodes makes a new set of backup codes, replacing the old
// one, and answers with the codes: as JSON that also holds the printable
// sheet in text and PDF, or as the text or PDF sheet alone. It is the only
// answer that ever shows them.
func (h *Handler) generateBackupCodes(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	// Choose the form before making the set: a client that can read none
	// of them must not lose its old codes for an answer it cannot use.
	form, ok := negotiate(r.Header.Values("Accept"), sheetTypes)
	if !ok {
		writeProblem(w, r, http.StatusNotAcceptable,
			"backup codes come as "+strings.Join(sheetTypes, ", ")+"; accept one of them", nil)
		return
	}
	// Nothing may be sent: an empty body and {} are the same request.
	var in struct{}
	if !decodeOptional(w, r, &in) {
		return
	}
	set, err := h.svc.GenerateBackupCodes(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeCodes(w, r, form, set)
}

// writeCodes answers with a new set of codes in the form chosen.
func (h *Handler) writeCodes(w http.ResponseWriter, r *http.Request, form string,
	set mfa.BackupCodes) {
	sh := sheet.Sheet{Account: set.User, Issuer: set.Issuer, Issued: set.CreatedAt,
		Expires: set.ExpiresAt, Codes: set.Codes}
	// The PDF is made whatever the form: making it checks the sheet, which
	// Text does not.
	//
	// NOTE: the set is already made. Should the PDF fail, the answer is a
	// 503 and the codes are never shown; making a set again is the remedy,
	// and it replaces this one like any other.
	pdf, err := sh.PDF()
	if err != nil {
		h.fail(w, r, fmt.Errorf("backup code sheet: %w", err))
		return
	}
	w.Header().Set("Location", userPath(r)+"/backup-codes")
	switch form {
	case typeText:
		writeSheet(w, typeText+"; charset=utf-8", sheet.FileName(set.User, "txt"), sh.Text())
		return
	case typePDF:
		writeSheet(w, typePDF, sheet.FileName(set.User, "pdf"), pdf)
		return
	}
	writeJSON(w, http.StatusCreated, newBackupCodesJSON{
		Codes: set.Codes, backupCodesJSON: backupCodesView(set),
		Text: string(sh.Text()), PDF: base64.StdEncoding.EncodeToString(pdf),
	})
}

func (h *Handler) backupCodeStatus(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	set, err := h.svc.BackupCodeStatus(r.Context(), req, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, backupCodesView(set))
}

func (h *Handler) deleteBackupCodes(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if err := h.svc.DeleteBackupCodes(r.Context(), req, r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeSheet answers 201 with a sheet as a file to save.
func writeSheet(w http.ResponseWriter, ctype, filename string, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.WriteHeader(http.StatusCreated)
	w.Write(body)
}
