package mfa

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mfad/mfad/internal/store"
)

// Role is a staff role. Ordinary users hold none.
type Role string

// The roles, from most to least powerful.
const (
	RoleAdmin     Role = "admin"                // everything, including policy and roles
	RoleAuthAdmin Role = "authentication-admin" // manage factors of users below admin
	RoleHelpdesk  Role = "helpdesk"             // look up and unlock users without roles
	RoleAuditor   Role = "auditor"              // read the audit log
	RoleVerifier  Role = "verifier"             // call the verify endpoints
)

// Roles lists every role in the order of the table above.
var Roles = []Role{RoleAdmin, RoleAuthAdmin, RoleHelpdesk, RoleAuditor, RoleVerifier}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", invalid(fmt.Sprintf("unknown role %q; roles are %s", s, roleList()))
	}
	return r, nil
}

func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Action is something an actor may be allowed to do.
type Action string

// Actions the roles table governs.
const (
	ActUserRead     Action = "user.read"
	ActUserCreate   Action = "user.create"
	ActUserUpdate   Action = "user.update"
	ActUserRoles    Action = "user.roles"
	ActUnlock       Action = "user.unlock"
	ActGroupRead    Action = "group.read"
	ActGroupManage  Action = "group.manage"
	ActTokenManage  Action = "token.manage"
	ActTOTPRead     Action = "totp.read"
	ActTOTPEnroll   Action = "totp.enroll"
	ActTOTPDelete   Action = "totp.delete"
	ActKeyRead      Action = "webauthn.read"
	ActKeyEnroll    Action = "webauthn.enroll"
	ActKeyDelete    Action = "webauthn.delete"
	ActActivityRead Action = "activity.read"
	ActCodesRead    Action = "backup_codes.read"
	ActCodesMake    Action = "backup_codes.generate"
	ActCodesDelete  Action = "backup_codes.delete"
	ActPassRead     Action = "access_pass.read"
	ActPassIssue    Action = "access_pass.issue"
	ActPassRevoke   Action = "access_pass.revoke"
	ActPassQueue    Action = "access_pass.requests"
	ActBypassRead   Action = "bypass.read"
	ActBypassGrant  Action = "bypass.grant"
	ActBypassEnd    Action = "bypass.revoke"
	ActFraudReport  Action = "fraud.report"
	ActFraudClear   Action = "fraud.clear"
	ActDestBind     Action = "destination.bind"
	ActDestRemove   Action = "destination.remove"
	ActWebhook      Action = "webhook.manage"
	ActChallenge    Action = "challenge.send"
	ActVerify       Action = "verify"
	ActAuditRead    Action = "audit.read"
	ActPolicyRead   Action = "policy.read"
	ActPolicyWrite  Action = "policy.write"
	ActKeysRotate   Action = "keys.rotate"
)

// permission says which roles may take an action, and whether the action on
// a user is tiered: then nobody may take it on their own account, and only
// on accounts below their own (see mayActOn).
type permission struct {
	roles  []Role
	tiered bool
}

var (
	staff    = []Role{RoleAdmin, RoleAuthAdmin, RoleHelpdesk}
	managers = []Role{RoleAdmin, RoleAuthAdmin}
	admins   = []Role{RoleAdmin}
)

// permissions is the role x action table. docs/roles.md shows the same
// table; a test keeps the two in step.
var permissions = map[Action]permission{
	ActUserRead:    {roles: staff},
	ActUserCreate:  {roles: managers},
	ActUserUpdate:  {roles: managers, tiered: true},
	ActUserRoles:   {roles: admins, tiered: true},
	ActUnlock:      {roles: staff, tiered: true},
	ActGroupRead:   {roles: staff},
	ActGroupManage: {roles: admins},
	ActTokenManage: {roles: admins},
	ActTOTPRead:    {roles: staff},
	ActTOTPEnroll:  {roles: managers, tiered: true},
	ActTOTPDelete:  {roles: managers, tiered: true},
	ActKeyRead:     {roles: staff},
	ActKeyEnroll:   {roles: managers, tiered: true},
	ActKeyDelete:   {roles: managers, tiered: true},
	// A user's recent sign-ins and changes, on their page.
	ActActivityRead: {roles: staff},
	ActCodesRead:    {roles: staff},
	ActCodesMake:    {roles: staff, tiered: true},
	ActCodesDelete:  {roles: staff, tiered: true},
	ActPassRead:     {roles: staff},
	ActPassIssue:    {roles: staff, tiered: true},
	ActPassRevoke:   {roles: staff, tiered: true},
	// Staff list the queue and decide; approving is issuing, so it is
	// tiered as ActPassIssue is on the request's user.
	ActPassQueue:   {roles: staff},
	ActBypassRead:  {roles: staff},
	ActBypassGrant: {roles: staff, tiered: true},
	ActBypassEnd:   {roles: staff, tiered: true},
	// A report is made by the user (a session or a signed link), never by
	// a token role.
	ActFraudReport: {},
	ActFraudClear:  {roles: staff, tiered: true},
	// Binding an address or number for codes is adding a factor.
	ActDestBind:   {roles: managers, tiered: true},
	ActDestRemove: {roles: managers, tiered: true},
	ActWebhook:    {roles: admins},
	// Applications that verify may also have a code sent; anyone may,
	// without a credential, to sign in (see SendChallenge).
	ActChallenge:   {roles: []Role{RoleAdmin, RoleVerifier}},
	ActVerify:      {roles: []Role{RoleAdmin, RoleVerifier}},
	ActAuditRead:   {roles: []Role{RoleAdmin, RoleAuditor}},
	ActPolicyRead:  {roles: managers},
	ActPolicyWrite: {roles: admins},
	// Rotating keys needs the key file, so only the operator on the server
	// can do it; no token role may.
	ActKeysRotate: {},
}

// Allowed reports whether role may take act at all, before tiering.
func Allowed(role Role, act Action) bool {
	return slices.Contains(permissions[act].roles, role)
}

// Tiered reports whether act on a user is subject to tiering.
func Tiered(act Action) bool { return permissions[act].tiered }

// Actions returns every action in the table, sorted.
func Actions() []Action {
	acts := make([]Action, 0, len(permissions))
	for a := range permissions {
		acts = append(acts, a)
	}
	slices.Sort(acts)
	return acts
}

// mayActOn reports whether an actor holding role, signed in as actorUserID
// (empty for service tokens), may take a tiered action on subject. Nobody acts
// on their own account; an admin acts on anyone else; an authentication
// admin on users without roles and helpdesk agents; helpdesk on users without
// roles.
func mayActOn(role Role, actorUserID string, subject store.User) bool {
	if actorUserID != "" && actorUserID == subject.ID {
		return false
	}
	switch role {
	case RoleAdmin:
		return true
	case RoleAuthAdmin:
		for _, r := range subject.Roles {
			if Role(r) != RoleHelpdesk {
				return false
			}
		}
		return true
	case RoleHelpdesk:
		return len(subject.Roles) == 0
	}
	return false
}
