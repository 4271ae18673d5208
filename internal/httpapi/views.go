package httpapi

import (
	"time"

	"github.com/mfad/mfad/internal/audit"
	"github.com/mfad/mfad/internal/mfa"
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
	CreatedAt   *string  `json:"created_at"`
	UpdatedAt   *string  `json:"updated_at"`
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
		CreatedAt: jsonTime(u.CreatedAt), UpdatedAt: jsonTime(u.UpdatedAt),
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
