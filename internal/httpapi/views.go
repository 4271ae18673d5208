package httpapi

import (
	"encoding/json"
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

// The JSON shapes of the API. Field names are snake_case; times are RFC 3339
// in UTC with milliseconds; a time that has not happened is left out.

// jsonTime formats t, or returns nil for the zero time so omitempty drops it.
func jsonTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return &s
}

type userJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	Email       string   `json:"email"`
	Phone       string   `json:"phone"`
	Disabled    bool     `json:"disabled"`
	Roles       []string `json:"roles"`
	Groups      []string `json:"groups,omitempty"`
	Failures    int      `json:"failures"`
	Locked      bool     `json:"locked"`
	LockedUntil *string  `json:"locked_until,omitempty"`
	// Blocked says a fraud report stopped the user's sign-ins until staff
	// unblock them.
	Blocked   bool    `json:"blocked"`
	BlockedAt *string `json:"blocked_at,omitempty"`
	// EmailVerifiedAt and PhoneVerifiedAt say since when the user has
	// proved, with a code, that codes reach Email and Phone.
	EmailVerifiedAt *string `json:"email_verified_at,omitempty"`
	PhoneVerifiedAt *string `json:"phone_verified_at,omitempty"`
	CreatedAt       *string `json:"created_at"`
	UpdatedAt       *string `json:"updated_at"`
}

func userView(u mfa.User) userJSON {
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	return userJSON{
		ID: u.ID, Name: u.Name, DisplayName: u.DisplayName, Email: u.Email, Phone: u.Phone,
		Disabled: u.Disabled, Roles: roles, Groups: u.Groups, Failures: u.Failures,
		Locked: u.Locked, LockedUntil: jsonTime(u.LockedUntil),
		Blocked: !u.BlockedAt.IsZero(), BlockedAt: jsonTime(u.BlockedAt),
		CreatedAt: jsonTime(u.CreatedAt), UpdatedAt: jsonTime(u.UpdatedAt),
		EmailVerifiedAt: jsonTime(u.EmailVerifiedAt),
		PhoneVerifiedAt: jsonTime(u.PhoneVerifiedAt),
	}
}

type totpJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Algorithm   string  `json:"algorithm"`
	Digits      int     `json:"digits"`
	Period      int     `json:"period"`
	Confirmed   bool    `json:"confirmed"`
	CreatedAt   *string `json:"created_at"`
	ConfirmedAt *string `json:"confirmed_at,omitempty"`
	LastUsedAt  *string `json:"last_used_at,omitempty"`
}

func totpView(t mfa.TOTP) totpJSON {
	return totpJSON{
		ID: t.ID, Name: t.Name, Algorithm: t.Algorithm, Digits: t.Digits, Period: t.Period,
		Confirmed: t.Confirmed, CreatedAt: jsonTime(t.CreatedAt),
		ConfirmedAt: jsonTime(t.ConfirmedAt), LastUsedAt: jsonTime(t.LastUsedAt),
	}
}

type enrollmentJSON struct {
	totpJSON
	Secret string `json:"secret"`
	URI    string `json:"uri"`
	QRPNG  string `json:"qr_png"`
}

type groupJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Members     []string `json:"members,omitempty"`
	CreatedAt   *string  `json:"created_at"`
}

func groupView(g mfa.Group) groupJSON {
	return groupJSON{
		ID: g.ID, Name: g.Name, Description: g.Description, Members: g.Members,
		CreatedAt: jsonTime(g.CreatedAt),
	}
}

type tokenJSON struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Role      string  `json:"role"`
	User      string  `json:"user,omitempty"`
	CreatedBy string  `json:"created_by"`
	CreatedAt *string `json:"created_at"`
	RevokedAt *string `json:"revoked_at,omitempty"`
	// Token is the secret token, present only in the answer to its creation.
	Token string `json:"token,omitempty"`
}

func tokenView(t mfa.Token) tokenJSON {
	return tokenJSON{
		ID: t.ID, Name: t.Name, Role: string(t.Role), User: t.User, CreatedBy: t.CreatedBy,
		CreatedAt: jsonTime(t.CreatedAt), RevokedAt: jsonTime(t.RevokedAt),
	}
}

type eventJSON struct {
	Seq       int64             `json:"seq"`
	ID        string            `json:"id"`
	Time      *string           `json:"time"`
	Action    string            `json:"action"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	Actor     string            `json:"actor"`
	Subject   string            `json:"subject,omitempty"`
	Source    string            `json:"source,omitempty"`
	FrontDoor string            `json:"front_door"`
	RequestID string            `json:"request_id,omitempty"`
	Factor    string            `json:"factor,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	Sealed    bool              `json:"sealed"`
}

func eventView(e audit.Event) eventJSON {
	return eventJSON{
		Seq: e.Seq, ID: e.ID, Time: jsonTime(e.Time), Action: e.Action,
		Outcome: string(e.Outcome), Reason: e.Reason, Actor: e.Actor, Subject: e.Subject,
		Source: e.Source, FrontDoor: e.FrontDoor, RequestID: e.RequestID, Factor: e.Factor,
		Detail: e.Detail, Sealed: e.Link != nil,
	}
}

// backupCodesJSON describes a set of backup codes, never its codes.
// ExpiresAt is null rather than left out for a set that never expires:
// "never" is the answer, not a time yet to come.
type backupCodesJSON struct {
	Total     int     `json:"total"`
	Remaining int     `json:"remaining"`
	CreatedAt *string `json:"created_at"`
	ExpiresAt *string `json:"expires_at"`
}

func backupCodesView(b mfa.BackupCodes) backupCodesJSON {
	return backupCodesJSON{
		Total: b.Total, Remaining: b.Remaining,
		CreatedAt: jsonTime(b.CreatedAt), ExpiresAt: jsonTime(b.ExpiresAt),
	}
}

// newBackupCodesJSON is a new set with its codes and the printable sheet,
// as text and as a base64 PDF.
type newBackupCodesJSON struct {
	Codes []string `json:"codes"`
	backupCodesJSON
	Text string `json:"text"`
	PDF  string `json:"pdf"`
}

// sessionJSON is a new session with its token.
type sessionJSON struct {
	Token     string  `json:"token"`
	ExpiresAt *string `json:"expires_at"`
	Factor    string  `json:"factor"`
}

// passJSON describes an access pass. Pass, the pass itself, is set only in
// the answer that issues it.
type passJSON struct {
	Pass       string  `json:"pass,omitempty"`
	User       string  `json:"user"`
	StartsAt   *string `json:"starts_at"`
	ExpiresAt  *string `json:"expires_at"`
	OneTime    bool    `json:"one_time"`
	State      string  `json:"state"`
	SelfIssued bool    `json:"self_issued"`
	CreatedAt  *string `json:"created_at"`
	CreatedBy  string  `json:"created_by"`
	Reason     string  `json:"reason"`
	Uses       int     `json:"uses"`
	LastUsedAt *string `json:"last_used_at,omitempty"`
	RevokedAt  *string `json:"revoked_at,omitempty"`
}

func passView(p mfa.AccessPass) passJSON {
	return passJSON{
		Pass: p.Pass, User: p.User, StartsAt: jsonTime(p.StartsAt),
		ExpiresAt: jsonTime(p.ExpiresAt), OneTime: p.OneTime, State: p.State,
		SelfIssued: p.SelfIssued, CreatedAt: jsonTime(p.CreatedAt), CreatedBy: p.CreatedBy,
		Reason: p.Reason, Uses: p.Uses, LastUsedAt: jsonTime(p.LastUsedAt),
		RevokedAt: jsonTime(p.RevokedAt),
	}
}

// passRequestJSON describes a request for an access pass in the queue.
// What a user's request leaves to the approver (lifetime, start) is left
// out.
type passRequestJSON struct {
	ID             string  `json:"id"`
	User           string  `json:"user"`
	Kind           string  `json:"kind"`
	Status         string  `json:"status"`
	Message        string  `json:"message,omitempty"`
	Source         string  `json:"source,omitempty"`
	RequestedBy    string  `json:"requested_by,omitempty"`
	Lifetime       string  `json:"lifetime,omitempty"`
	StartsAt       *string `json:"starts_at,omitempty"`
	OneTime        bool    `json:"one_time"`
	Reason         string  `json:"reason,omitempty"`
	Origin         string  `json:"origin,omitempty"`
	CreatedAt      *string `json:"created_at"`
	ExpiresAt      *string `json:"expires_at"`
	DecidedBy      string  `json:"decided_by,omitempty"`
	DecidedAt      *string `json:"decided_at,omitempty"`
	DecisionReason string  `json:"decision_reason,omitempty"`
}

func passRequestView(r mfa.PassRequest) passRequestJSON {
	out := passRequestJSON{
		ID: r.ID, User: r.User, Kind: r.Kind, Status: r.Status, Message: r.Message,
		Source: r.Source, RequestedBy: r.RequestedBy, StartsAt: jsonTime(r.StartsAt),
		OneTime: r.OneTime, Reason: r.Reason, Origin: r.Origin,
		CreatedAt: jsonTime(r.CreatedAt), ExpiresAt: jsonTime(r.ExpiresAt),
		DecidedBy: r.DecidedBy, DecidedAt: jsonTime(r.DecidedAt),
		DecisionReason: r.DecisionReason,
	}
	if r.Lifetime != 0 {
		out.Lifetime = policy.Duration(r.Lifetime).String()
	}
	return out
}

// pendingJSON is the answer to issuing a pass that waits for a second
// approver.
type pendingJSON struct {
	Status  string          `json:"status"`
	Request passRequestJSON `json:"request"`
}

// bypassJSON describes a one-time bypass.
type bypassJSON struct {
	User      string  `json:"user"`
	State     string  `json:"state"`
	CreatedAt *string `json:"created_at"`
	ExpiresAt *string `json:"expires_at"`
	CreatedBy string  `json:"created_by"`
	Reason    string  `json:"reason"`
	UsedAt    *string `json:"used_at,omitempty"`
	RevokedAt *string `json:"revoked_at,omitempty"`
}

func bypassView(b mfa.Bypass) bypassJSON {
	return bypassJSON{
		User: b.User, State: b.State, CreatedAt: jsonTime(b.CreatedAt),
		ExpiresAt: jsonTime(b.ExpiresAt), CreatedBy: b.CreatedBy, Reason: b.Reason,
		UsedAt: jsonTime(b.UsedAt), RevokedAt: jsonTime(b.RevokedAt),
	}
}

// fraudReportJSON is the answer to a "this was not me" report: what it
// blocked and ended.
type fraudReportJSON struct {
	User           string  `json:"user"`
	Blocked        bool    `json:"blocked"`
	PassRevoked    bool    `json:"pass_revoked"`
	BypassRevoked  bool    `json:"bypass_revoked"`
	SessionsEnded  int     `json:"sessions_ended"`
	RequestsDenied int     `json:"requests_denied"`
	ReportedAt     *string `json:"reported_at"`
}

func fraudReportView(f mfa.FraudReport) fraudReportJSON {
	return fraudReportJSON{
		User: f.User, Blocked: f.Blocked, PassRevoked: f.PassRevoked,
		BypassRevoked: f.BypassRevoked, SessionsEnded: f.SessionsEnded,
		RequestsDenied: f.RequestsDenied, ReportedAt: jsonTime(f.ReportedAt),
	}
}

// groupPolicyJSON is a group's own policy document and the policy it puts
// in force for its members.
type groupPolicyJSON struct {
	Group     string          `json:"group"`
	Overrides json.RawMessage `json:"overrides"`
	Policy    policy.Policy   `json:"policy"`
}

func groupPolicyView(g mfa.GroupPolicy) groupPolicyJSON {
	return groupPolicyJSON{Group: g.Group, Overrides: g.Overrides, Policy: g.Policy}
}

// challengeJSON is a code on its way: the ID to answer it with, and when
// the code stops working.
type challengeJSON struct {
	Challenge string  `json:"challenge"`
	ExpiresAt *string `json:"expires_at"`
}

func challengeView(c mfa.Challenge) challengeJSON {
	return challengeJSON{Challenge: c.ID, ExpiresAt: jsonTime(c.ExpiresAt)}
}

// webhookJSON describes a webhook endpoint. Secret, its signing secret, is
// set only in the answer that creates it.
type webhookJSON struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	CreatedAt *string  `json:"created_at"`
	CreatedBy string   `json:"created_by"`
	Secret    string   `json:"secret,omitempty"`
}

func webhookView(h mfa.Webhook) webhookJSON {
	events := h.Events
	if events == nil {
		events = []string{}
	}
	return webhookJSON{ID: h.ID, URL: h.URL, Events: events, CreatedAt: jsonTime(h.CreatedAt),
		CreatedBy: h.CreatedBy}
}

// deliveryJSON is one delivery of an event to a webhook, with how its
// attempts went.
type deliveryJSON struct {
	ID          string  `json:"id"`
	EventID     string  `json:"event_id"`
	EventType   string  `json:"event_type"`
	CreatedAt   *string `json:"created_at"`
	Attempts    int     `json:"attempts"`
	State       string  `json:"state"`
	NextAt      *string `json:"next_at,omitempty"`
	DeliveredAt *string `json:"delivered_at,omitempty"`
	GaveUpAt    *string `json:"gave_up_at,omitempty"`
	LastError   string  `json:"last_error,omitempty"`
	LastStatus  int     `json:"last_status,omitempty"`
}

func deliveryView(d mfa.Delivery) deliveryJSON {
	return deliveryJSON{
		ID: d.ID, EventID: d.EventID, EventType: d.EventType, CreatedAt: jsonTime(d.CreatedAt),
		Attempts: d.Attempts, State: d.State, NextAt: jsonTime(d.NextAt),
		DeliveredAt: jsonTime(d.DeliveredAt), GaveUpAt: jsonTime(d.GaveUpAt),
		LastError: d.LastError, LastStatus: d.LastStatus,
	}
}
