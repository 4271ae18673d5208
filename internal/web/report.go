package web

import (
	"errors"
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
)

// The "this was not me" link in a notice opens /report. Opening it only
// asks; a confirmation, posted from the page, reports the event, since
// mail scanners and link previews open links too. The link's token is in
// the query string, so this page sends no referrer at all.

// reportData is what the report page shows.
type reportData struct {
	Token string
	Done  *mfa.FraudReport
}

func (h *Handler) reportForm(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	token := r.URL.Query().Get("token")
	v := view{Title: "Report: this was not me"}
	if err := h.svc.CheckReportLink(token); err != nil {
		v.Problem = linkProblem(err)
		h.render(w, r, req, http.StatusBadRequest, "report.html", v)
		return
	}
	v.Data = reportData{Token: token}
	h.render(w, r, req, http.StatusOK, "report.html", v)
}

func (h *Handler) report(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	v := view{Title: "Report: this was not me"}
	if err := r.ParseForm(); err != nil {
		v.Problem = "The form could not be read."
		h.render(w, r, req, http.StatusBadRequest, "report.html", v)
		return
	}
	token := r.PostForm.Get("token")
	rep, err := h.svc.ReportFraudByLink(r.Context(), req, token, r.PostForm.Get("message"))
	var e *mfa.Error
	switch {
	case errors.As(err, &e):
		v.Problem, v.Data = e.Message, reportData{Token: token}
		h.render(w, r, req, http.StatusBadRequest, "report.html", v)
	case err != nil:
		h.log.Error("fraud report failed", "client_ip", req.Source,
			"request_id", req.RequestID, "err", err)
		v.Problem = "Your report could not be recorded. Please call the helpdesk."
		h.render(w, r, req, http.StatusInternalServerError, "report.html", v)
	default:
		v.Data = reportData{Done: &rep}
		h.render(w, r, req, http.StatusOK, "report.html", v)
	}
}

// linkProblem is the service's message as it is: notices and their tests
// quote it.
func linkProblem(err error) string {
	var e *mfa.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "This link does not work."
}
