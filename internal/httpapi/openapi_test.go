package httpapi

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/go-cmp/cmp"

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/policy"
)

// unauthenticated are the operations served outside the routes table.
var unauthenticated = []string{
	"GET /v1/openapi.json",
	"GET /healthz",
	"GET /readyz",
	"GET /metrics",
}

func TestOpenAPIDocumentValidates(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPI)
	if err != nil {
		t.Fatalf("LoadFromData(openapi.json) = %v", err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Errorf("Validate(openapi.json) = %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
}

// TestOpenAPIDescribesEveryRoute fails when a route is added to the table
// without documenting it, or the document describes one that is not served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	s := loadSpec(t)
	want := slices.Clone(unauthenticated)
	for _, rt := range routes {
		want = append(want, rt.method+" "+rt.pattern)
	}
	var got []string
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			got = append(got, method+" "+path)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operations in openapi.json differ from the routes (-routes +document):\n%s", diff)
	}
}

// TestOpenAPIRolesMatchService keeps what each operation says about who may
// call it in step with the service: roles and tiering for token routes, the
// self-service table for session routes, no credential for the rest. It
// also checks that each operation documents the errors every operation of
// its kind can give.
func TestOpenAPIRolesMatchService(t *testing.T) {
	s := loadSpec(t)
	self := selfServiceTable()
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
			item := s.doc.Paths.Value(rt.pattern)
			if item == nil {
				t.Fatalf("no path %s in openapi.json", rt.pattern)
			}
			op := item.GetOperation(rt.method)
			if op == nil {
				t.Fatalf("no operation %s %s in openapi.json", rt.method, rt.pattern)
			}
			codes := []string{"401", "403", "503"}
			switch rt.access {
			case byToken:
				checkRoles(t, op)
			case bySession:
				checkSelfService(t, op, self)
			case byAnyone:
				checkPublic(t, op)
				codes = []string{"503"}
			case byAnyoneOrToken:
				checkOptionalToken(t, op)
				codes = append(codes, "429")
			}
			if op.RequestBody != nil {
				codes = append(codes, "400", "413", "415")
			}
			for _, c := range codes {
				if op.Responses.Value(c) == nil {
					t.Errorf("response %s is not documented", c)
				}
			}
		})
	}
}

// checkExtensions checks that op has exactly the x-mfad extensions want.
func checkExtensions(t *testing.T, op *openapi3.Operation, want ...string) {
	t.Helper()
	var got []string
	for k := range op.Extensions {
		if strings.HasPrefix(k, "x-mfad-") {
			got = append(got, k)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("x-mfad extensions (-want +got):\n%s", diff)
	}
}

// checkRoles checks an operation for API tokens against the service's
// permission table.
func checkRoles(t *testing.T, op *openapi3.Operation) {
	t.Helper()
	if op.Security != nil {
		t.Errorf("security = %v, want the document's bearer default", *op.Security)
	}
	checkRoleTable(t, op)
}

// checkOptionalToken checks an operation that takes no credential or a
// token: its security lists both, and the roles it names for a token are
// the service's.
func checkOptionalToken(t *testing.T, op *openapi3.Operation) {
	t.Helper()
	var got []string
	if op.Security != nil {
		for _, req := range *op.Security {
			names := slices.Sorted(maps.Keys(req))
			got = append(got, "{"+strings.Join(names, ",")+"}")
		}
	}
	if want := []string{"{}", "{bearer}"}; !slices.Equal(got, want) {
		t.Errorf("security = %v, want %v (no credential, or a bearer token)", got, want)
	}
	checkRoleTable(t, op)
}

// checkRoleTable checks what an operation says about the roles that may
// call it against the service's permission table.
func checkRoleTable(t *testing.T, op *openapi3.Operation) {
	t.Helper()
	checkExtensions(t, op, "x-mfad-action", "x-mfad-roles", "x-mfad-tiered")
	act, _ := op.Extensions["x-mfad-action"].(string)
	var want []string
	for _, r := range mfa.Roles {
		if mfa.Allowed(r, mfa.Action(act)) {
			want = append(want, string(r))
		}
	}
	if len(want) == 0 {
		t.Fatalf("x-mfad-action = %q: no role may take it", act)
	}
	var got []string
	raw, _ := op.Extensions["x-mfad-roles"].([]any)
	for _, r := range raw {
		s, _ := r.(string)
		got = append(got, s)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("x-mfad-roles for %s differ from the service (-service +document):\n%s",
			act, diff)
	}
	tiered, _ := op.Extensions["x-mfad-tiered"].(bool)
	if tiered != mfa.Tiered(mfa.Action(act)) {
		t.Errorf("x-mfad-tiered = %v, want %v", tiered, !tiered)
	}
	for _, r := range want {
		if !strings.Contains(op.Description, r) {
			t.Errorf("description does not name role %s", r)
		}
	}
	if strings.Contains(op.Description, "Tiered") != tiered {
		t.Errorf("description mentions tiering: %v, want %v",
			!tiered, tiered)
	}
}

// checkSelfService checks a /v1/me operation against the self-service
// table: its action is one a session may take, and it says whether a
// recovery session may.
func checkSelfService(t *testing.T, op *openapi3.Operation, self map[string]bool) {
	t.Helper()
	checkExtensions(t, op, "x-mfad-action", "x-mfad-self-service", "x-mfad-recovery-session")
	if op.Security != nil {
		t.Errorf("security = %v, want the document's bearer default", *op.Security)
	}
	if on, _ := op.Extensions["x-mfad-self-service"].(bool); !on {
		t.Errorf("x-mfad-self-service = %v, want true", op.Extensions["x-mfad-self-service"])
	}
	act, _ := op.Extensions["x-mfad-action"].(string)
	recovery, ok := self[act]
	if !ok {
		t.Fatalf("x-mfad-action = %q: no session may take it", act)
	}
	if got, _ := op.Extensions["x-mfad-recovery-session"].(bool); got != recovery {
		t.Errorf("x-mfad-recovery-session = %v, want %v", got, recovery)
	}
	say := "Sessions: not a recovery session"
	if recovery {
		say = "Sessions: any"
	}
	if !strings.Contains(op.Description, say) || strings.Contains(op.Description, "Roles:") {
		t.Errorf("description = %q, want it to say %q and name no role", op.Description, say)
	}
}

// checkPublic checks an operation that takes no credential.
func checkPublic(t *testing.T, op *openapi3.Operation) {
	t.Helper()
	checkExtensions(t, op)
	if op.Security == nil || len(*op.Security) != 0 {
		t.Errorf("security = %v, want [] (no credential)", op.Security)
	}
}

// selfServiceTable returns what sessions may do, from the service's own
// table, as a map from action to whether a recovery session may take it.
func selfServiceTable() map[string]bool {
	self := map[string]bool{}
	for _, act := range mfa.Actions() {
		if allowed, recovery, _ := mfa.SelfService(act); allowed {
			self[string(act)] = recovery
		}
	}
	// Ending one's own session acts on no account, so the table leaves it
	// out: every session may.
	self["session.end"] = true
	return self
}

// TestSpecCatchesMismatches proves that the tests' document would notice a
// response that strays from it: an undocumented field, a missing one, an
// undocumented status, a missing request ID.
func TestSpecCatchesMismatches(t *testing.T) {
	s := loadSpec(t)
	user := `{"id":"u1","name":"alice","display_name":"","email":"","phone":"",
		"disabled":false,"roles":[],"failures":0,"locked":false,"blocked":false,
		"created_at":"2027-03-01T08:00:00.000Z","updated_at":"2027-03-01T08:00:00.000Z"%s}`
	header := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"abc"}}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{name: "as documented", status: 200, header: header, body: fmtUser(user, ""), ok: true},
		{name: "undocumented field", status: 200, header: header,
			body: fmtUser(user, `,"password":"x"`)},
		{name: "missing field", status: 200, header: header,
			body: strings.Replace(fmtUser(user, ""), `"locked":false,`, "", 1)},
		{name: "undocumented status", status: 202, header: header, body: fmtUser(user, "")},
		{name: "no request ID", status: 200,
			header: http.Header{"Content-Type": {"application/json"}}, body: fmtUser(user, "")},
		{name: "problem without status", status: 404,
			header: http.Header{"Content-Type": {"application/problem+json"},
				"X-Request-Id": {"abc"}},
			body: `{"type":"about:blank","title":"Not Found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://mfad.test/v1/users/alice", nil)
			req.Header.Set("Authorization", "Bearer x")
			route, params, err := s.router.FindRoute(req)
			if err != nil {
				t.Fatalf("FindRoute = %v", err)
			}
			in := &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route, Options: s.opts,
			}
			rin := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in, Status: tt.status, Header: tt.header, Options: s.opts,
			}
			rin.SetBodyBytes([]byte(tt.body))
			err = openapi3filter.ValidateResponse(context.Background(), rin)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateResponse(%s) = %v, want ok %v", tt.name, err, tt.ok)
			}
		})
	}
}

func fmtUser(format, extra string) string {
	return strings.Replace(format, "%s", extra, 1)
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, options{})
	r := e.do(t, call{method: "GET", path: "/v1/openapi.json"}).want(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !bytes.Equal(r.body, openAPI) {
		t.Errorf("GET /v1/openapi.json served %d bytes, not the embedded document (%d bytes)",
			len(r.body), len(openAPI))
	}
}

// TestOpenAPIEventTypes keeps the document's lists of event types in step
// with the service's: what a webhook may subscribe to, and what the
// policy's notices may name.
func TestOpenAPIEventTypes(t *testing.T) {
	s := loadSpec(t)
	schemas := s.doc.Components.Schemas
	want := append(slices.Clone(mfa.EventTypes), "*")
	if diff := cmp.Diff(want, enumStrings(schemas["WebhookEventType"].Value.Enum)); diff != "" {
		t.Errorf("WebhookEventType differs from mfa.EventTypes (-service +document):\n%s", diff)
	}
	for _, schema := range []string{"Policy", "PolicyInput"} {
		notices := schemas[schema].Value.Properties["notices"].Value
		for _, list := range []string{"user", "security_contact"} {
			got := enumStrings(notices.Properties[list].Value.Items.Value.Enum)
			if diff := cmp.Diff(policy.NoticeTypes, got); diff != "" {
				t.Errorf("%s notices.%s differs from policy.NoticeTypes "+
					"(-policy +document):\n%s", schema, list, diff)
			}
		}
	}
}

// enumStrings returns the strings of an enum.
func enumStrings(enum []any) []string {
	out := make([]string, len(enum))
	for i, v := range enum {
		out[i], _ = v.(string)
	}
	return out
}
