package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/sheet"
)

// codesData is what the backup codes page shows before a set is made.
type codesData struct {
	Codes   *mfa.BackupCodes // the current set's counts; nil when none
	Low     bool
	Expired bool
	CanMake bool
}

func (h *Handler) codesPage(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	d := codesData{CanMake: mfa.Permitted(req.Actor, mfa.ActCodesMake, self(req))}
	set, err := h.svc.BackupCodeStatus(r.Context(), req, req.Actor.UserName)
	switch {
	case err == nil:
		d.Codes = &set
		d.Expired = set.Expired(h.clock())
		d.Low = set.Remaining <= set.WarnAt || d.Expired
	case !errors.Is(err, mfa.ErrNotFound):
		h.fail(w, r, req, "error.html", view{Title: "Backup codes"}, err)
		return
	}
	h.render(w, r, req, http.StatusOK, "codes.html", view{Title: "Backup codes", Nav: "codes",
		Data: d})
}

// newCodesData is the page that shows a new set, once. Both downloads are
// data: URLs in the page, made from the same set: the codes are never
// kept anywhere on the server, not even for a moment's download.
type newCodesData struct {
	Set      mfa.BackupCodes
	Text     string // the codes, one a line, for the copy button
	TextURL  template.URL
	TextFile string
	PDFURL   template.URL
	PDFFile  string
}

func (h *Handler) generateCodes(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	set, err := h.svc.GenerateBackupCodes(r.Context(), req, req.Actor.UserName)
	if err != nil {
		h.fail(w, r, req, "codes.html", view{Title: "Backup codes", Nav: "codes",
			Data: codesData{}}, err)
		return
	}
	d, err := newCodes(set)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Backup codes"}, err)
		return
	}
	h.render(w, r, req, http.StatusOK, "codes_new.html", view{Title: "Your new backup codes",
		Nav: "codes", Data: d})
}

// newCodes builds the page of a new set: the codes and both downloads.
//
// NOTE: the set is made already. Should the PDF fail, the page is an
// error and the codes are never shown; making a set again replaces this
// one, like any other.
func newCodes(set mfa.BackupCodes) (newCodesData, error) {
	sh := sheet.Sheet{Account: set.User, Issuer: set.Issuer, Issued: set.CreatedAt,
		Expires: set.ExpiresAt, Codes: set.Codes}
	pdf, err := sh.PDF()
	if err != nil {
		return newCodesData{}, fmt.Errorf("backup code sheet: %w", err)
	}
	return newCodesData{Set: set, Text: strings.Join(set.Codes, "\n"),
		TextURL: template.URL("data:text/plain;charset=utf-8;base64," +
			base64.StdEncoding.EncodeToString(sh.Text())),
		TextFile: sheet.FileName(set.User, "txt"),
		PDFURL: template.URL("data:application/pdf;base64," +
			base64.StdEncoding.EncodeToString(pdf)),
		PDFFile: sheet.FileName(set.User, "pdf"),
	}, nil
}

// codesSaved is the "I saved them" confirmation that lets the person leave
// the page of new codes. Without the box ticked (a browser that ignores
// "required"), the page says what that means rather than pretend.
func (h *Handler) codesSaved(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	if r.PostForm.Get("saved") != "yes" {
		h.redirect(w, r, "/security/backup-codes", flashCodesUnsure)
		return
	}
	h.redirect(w, r, "/security", flashCodesSaved)
}
