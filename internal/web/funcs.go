package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/policy"
)

// funcs are the functions templates may call.
var funcs = template.FuncMap{
	"asset":        assetPath,
	"when":         when,
	"iso":          iso,
	"describedBy":  describedBy,
	"fieldError":   fieldError,
	"factorName":   factorName,
	"withFactor":   withFactor,
	"actionName":   actionName,
	"outcomeName":  outcomeName,
	"doorName":     doorName,
	"until":        until,
	"may":          may,
	"phonetic":     phonetic,
	"duration":     duration,
	"reason":       reasonInput,
	"removeFactor": removeFactorInput,
	"add":          func(a, b int) int { return a + b },
	"sentence":     sentence,
}

// when shows a time to a person: in UTC, since the server does not know
// the reader's zone, to the minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

// iso is a time for a <time datetime> attribute.
func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// until says how long from now to t, roughly: "in 45 minutes".
func until(now, t time.Time) string {
	d := t.Sub(now).Round(time.Minute)
	switch {
	case d <= 0:
		return "now"
	case d < 2*time.Minute:
		return "in a minute"
	case d < 2*time.Hour:
		return "in " + strconv.Itoa(int(d/time.Minute)) + " minutes"
	case d < 48*time.Hour:
		return "in " + strconv.Itoa(int(d/time.Hour)) + " hours"
	}
	return "in " + strconv.Itoa(int(d/(24*time.Hour))) + " days"
}

// duration says a duration in words: "45 minutes", "8 hours", "3 days".
// It takes a time.Duration or a policy.Duration.
func duration(v any) string {
	var d time.Duration
	switch v := v.(type) {
	case time.Duration:
		d = v
	case policy.Duration:
		d = v.Std()
	default:
		panic(fmt.Sprintf("web: duration of %T", v))
	}
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d.Round(time.Second)/time.Second), "second")
}

// reasonData is what the "reason" partial draws: the reason field of one
// console form.
type reasonData struct {
	ID, Label, Value string
	Error            *fieldMessage
	DescribedBy      string
}

// reasonInput builds the reason field id of a console form, labelled
// label, with the value typed before (form) and its error (errs).
func reasonInput(errs, form map[string]string, id, label string) reasonData {
	return reasonData{ID: id, Label: label, Value: form[id], Error: fieldError(errs, id),
		DescribedBy: describedBy(errs, id, id+"-hint")}
}

// fieldMessage is what the "field-error" partial draws.
type fieldMessage struct {
	ID      string // the field's id; the message's id is ID + "-error"
	Message string
}

// fieldError returns the error of field id, or nil.
func fieldError(errs map[string]string, id string) *fieldMessage {
	if msg := errs[id]; msg != "" {
		return &fieldMessage{ID: id, Message: msg}
	}
	return nil
}

// describedBy is the aria-describedby of field id: its hints, and its
// error when it has one, so a screen reader reads the error with the
// field.
func describedBy(errs map[string]string, id string, hints ...string) string {
	if errs[id] != "" {
		hints = append(hints, id+"-error")
	}
	return strings.Join(hints, " ")
}

// factorName names a factor in words.
func factorName(f string) string {
	switch f {
	case "totp":
		return "authenticator app"
	case "webauthn":
		return "security key or passkey"
	case "backup_code":
		return "backup code"
	case "access_pass":
		return "access pass"
	case "bypass":
		return "bypass"
	case "email":
		return "code by email"
	case "sms":
		return "code by text message"
	case "":
		return ""
	}
	return strings.ReplaceAll(f, "_", " ")
}

// withFactor names a factor with its article, for "you signed in with
// ...".
func withFactor(f string) string {
	name := factorName(f)
	switch {
	case name == "":
		return "nothing"
	case strings.HasPrefix(name, "code by"):
		return "a " + name
	case strings.ContainsAny(name[:1], "aeiou"):
		return "an " + name
	}
	return "a " + name
}

// actionNames says in words what an audit action in a person's activity
// was.
var actionNames = map[string]string{
	"session.create":        "Signed in to this portal",
	"session.end":           "Signed out",
	"totp.confirm":          "Authenticator app added",
	"totp.delete":           "Authenticator app removed",
	"webauthn.enroll":       "Security key or passkey added",
	"webauthn.delete":       "Security key or passkey removed",
	"factor.rename":         "Factor renamed",
	"factor.remove":         "Factor removed by the helpdesk",
	"backup_codes.generate": "New backup codes made",
	"backup_codes.delete":   "Backup codes deleted",
	"access_pass.issue":     "Access pass issued",
	"access_pass.revoke":    "Access pass revoked",
	"bypass.grant":          "Bypass granted",
	"bypass.revoke":         "Bypass ended",
	"user.lock":             "Account locked after failed tries",
	"user.unlock":           "Account unlocked",
	"fraud.report":          "Reported: this was not me",
	"fraud.clear":           "Report cleared by the helpdesk",
	"destination.confirm":   "Email address or phone number proved",
	"destination.remove":    "Email address or phone number removed",
}

func actionName(ev audit.Event) string {
	if ev.Action == "verify" {
		if ev.Detail["purpose"] == "sign_in" {
			return "Sign-in attempt"
		}
		return "Code checked"
	}
	if n, ok := actionNames[ev.Action]; ok {
		return n
	}
	return ev.Action
}

func outcomeName(o audit.Outcome) string {
	switch o {
	case audit.Success:
		return "Done"
	case audit.Failure:
		return "Refused"
	case audit.Denied:
		return "Not allowed"
	}
	return string(o)
}

func doorName(door string) string {
	switch door {
	case audit.DoorWeb:
		return "this portal"
	case audit.DoorAPI:
		return "an application"
	case audit.DoorRADIUS:
		return "VPN or network sign-in"
	case audit.DoorCLI:
		return "an administrator"
	case audit.DoorSystem:
		return "mfad itself"
	}
	return door
}
