package web

import (
	"net/http"

	"github.com/mfad/mfad/internal/mfa"
)

// activityLimit is how many events the activity page lists.
const activityLimit = 50

func (h *Handler) activity(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	events, err := h.svc.UserActivity(r.Context(), req, req.Actor.UserName, activityLimit)
	if err != nil {
		h.fail(w, r, req, "error.html", view{Title: "Recent activity"}, err)
		return
	}
	h.render(w, r, req, http.StatusOK, "activity.html", view{Title: "Recent activity",
		Nav: "activity", Data: events})
}

// notMePage asks the person to confirm a "this was not me" report and
// says what it does, before it does it.
func (h *Handler) notMePage(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.render(w, r, req, http.StatusOK, "not_me.html", view{Title: "Report: this was not me",
		Nav: "activity"})
}

// notMe records the report. By policy it blocks the account and ends its
// sessions, this one too; the cookie goes with it.
func (h *Handler) notMe(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	if !h.form(w, r, req) {
		return
	}
	rep, err := h.svc.ReportFraud(r.Context(), req, r.PostForm.Get("message"))
	if err != nil {
		h.failField(w, r, req, "not_me.html", view{Title: "Report: this was not me",
			Nav: "activity"}, fieldFor(err, "message"), err)
		return
	}
	if rep.Blocked || rep.SessionsEnded > 0 {
		h.clearSession(w)
		req.Actor = anonymous
	}
	h.render(w, r, req, http.StatusOK, "not_me_done.html", view{Title: "Report recorded",
		Data: rep})
}
