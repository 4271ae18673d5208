package mfa

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mfad/mfad/internal/notify"
	"github.com/mfad/mfad/internal/store"
)

// Roles a notice's recipient has.
const (
	toUser            = "user"
	toOldAddress      = "old_address"
	toSecurityContact = "security_contact"
	toWebhook         = "webhook"
)

// eventData reads an outbox event's data.
func eventData(ev store.OutboxEvent) map[string]any {
	var data map[string]any
	if err := json.Unmarshal(ev.Data, &data); err != nil || data == nil {
		return map[string]any{}
	}
	return data
}

func str(data map[string]any, key string) string {
	v, _ := data[key].(string)
	return v
}

// causedByUser reports whether the user did what the event records
// themselves, signed in to their own session. Everything else (staff, an
// application's verification, someone without a credential) is what the
// "this was not me" link is for.
func causedByUser(data map[string]any, u store.User) bool {
	return str(data, "actor_kind") == string(ActorSession) && str(data, "actor_user") == u.Name
}

// actorText says in words who acted, for a notice to u.
func actorText(data map[string]any, u store.User) string {
	switch ActorKind(str(data, "actor_kind")) {
	case ActorSession:
		if str(data, "actor_user") == u.Name {
			return "you, signed in to your account"
		}
		return str(data, "actor_user")
	case ActorToken:
		if name := str(data, "actor_user"); name != "" {
			return fmt.Sprintf("%s (with the API token %q)", name, str(data, "actor_token"))
		}
		return fmt.Sprintf("the application or service %q", str(data, "actor_token"))
	case ActorOperator:
		return fmt.Sprintf("an administrator at the server (%s)", str(data, "actor_login"))
	case ActorAnonymous:
		return "someone who had not signed in"
	case ActorSystem:
		return "mfad itself"
	case ActorNAS:
		return fmt.Sprintf("the RADIUS client %q", str(data, "actor_nas"))
	case ActorStaff:
		return fmt.Sprintf("%s (in the admin console)", str(data, "actor_user"))
	}
	return "unknown"
}

// fact is how one key of an event's data reads in a notice.
type fact struct {
	key, label string
	format     func(v any) string
}

// facts lists, in the order a notice shows them, the keys of event data a
// person should see. Keys not listed (request IDs, the actor's raw form)
// stay out of notices.
var facts = []fact{
	{"credential", "Authenticator", plain},
	{"factor", "Factor", factorName},
	{"position", "Code number", plain},
	{"remaining", "Codes left", plain},
	{"total", "Codes in the set", plain},
	{"count", "Codes in the set", plain},
	{"one_time", "Use", func(v any) string {
		if v == true {
			return "once"
		}
		return "any number of times until it expires"
	}},
	{"starts_at", "Valid from", timeText},
	{"expires_at", "Valid until", timeText},
	{"until", "Locked until", timeText},
	{"failures", "Failed attempts in a row", plain},
	{"reason", "Reason given", plain},
	{"granted_by", "Granted by", plain},
	{"requested_by", "Requested by", plain},
	{"old", "Before", masked},
	{"new", "Now", masked},
	{"verified", "Proved by a code", yesNo},
	{"blocked", "Sign-ins blocked", yesNo},
	{"pass_revoked", "Access pass revoked", yesNo},
	{"bypass_revoked", "Bypass revoked", yesNo},
	{"sessions_ended", "Sessions ended", plain},
}

func plain(v any) string {
	switch x := v.(type) {
	case float64:
		return fmt.Sprintf("%g", x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func yesNo(v any) string {
	if v == true {
		return "yes"
	}
	return "no"
}

func timeText(v any) string {
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("Mon 2 Jan 2006, 15:04 UTC")
}

var factorNames = map[string]string{"totp": "authenticator app", "backup_code": "backup code",
	"access_pass": "access pass", "bypass": "bypass", "email": "email code", "sms": "SMS code"}

func factorName(v any) string {
	if n, ok := factorNames[plain(v)]; ok {
		return n
	}
	return plain(v)
}

// masked shows enough of an address or number to recognise it, not to
// harvest it: "a***@example.com", "+44******789".
func masked(v any) string {
	s := plain(v)
	if s == "" {
		return "(none)"
	}
	if local, domain, ok := strings.Cut(s, "@"); ok && local != "" {
		return local[:1] + "***@" + domain
	}
	if len(s) > 6 {
		return s[:3] + strings.Repeat("*", len(s)-6) + s[len(s)-3:]
	}
	return strings.Repeat("*", len(s))
}

// notice makes the notice of ev for u, addressed in role.
func (s *Service) notice(ev store.OutboxEvent, u store.User, role string) notify.Notice {
	data := eventData(ev)
	n := notify.Notice{Type: ev.Type, Issuer: s.issuer, User: u.Name, DisplayName: u.DisplayName,
		Time: ev.Time, Actor: actorText(data, u), Source: str(data, "source"),
		FrontDoor: str(data, "front_door"), Data: data, Recipient: role}
	if n.User == "" {
		n.User = ev.Subject
	}
	for _, f := range facts {
		if v, ok := data[f.key]; ok && v != nil && v != "" {
			n.Facts = append(n.Facts, notify.Fact{Label: f.label, Value: f.format(v)})
		}
	}
	if role != toSecurityContact && !causedByUser(data, u) &&
		!strings.HasPrefix(ev.Type, "fraud.") {
		if link, err := s.ReportLink(ev); err == nil {
			n.ReportURL = link
		}
	}
	return n
}

// webhookBody is the JSON a webhook receives for ev.
func webhookBody(ev store.OutboxEvent) ([]byte, error) {
	data := eventData(ev)
	return json.Marshal(struct {
		ID   string         `json:"id"`
		Type string         `json:"type"`
		Time time.Time      `json:"time"`
		User string         `json:"user,omitempty"`
		Data map[string]any `json:"data"`
	}{ID: ev.ID, Type: ev.Type, Time: ev.Time.UTC(), User: ev.Subject, Data: data})
}
