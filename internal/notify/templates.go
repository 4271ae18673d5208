package notify

import (
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	ttemplate "text/template"
	"time"
)

// Notice is one event told to one recipient. The service fills it in; it
// holds only what may be shown to a person and never a code, pass, token or
// secret.
type Notice struct {
	// Type is the event type, such as "backup_code.used"; it picks the
	// templates.
	Type string
	// Issuer is the organisation or service name shown to people, such as
	// "Example Corp MFA". Render uses "mfad" when it is empty.
	Issuer string
	// User is the account name; DisplayName the person's name, if known.
	User        string
	DisplayName string
	// Time is when the event happened, shown in its own location.
	Time time.Time
	// Actor is who did it, human-readable: "you", "helpdesk agent bob".
	Actor string
	// Source is the client address the event came from.
	Source string
	// FrontDoor is the way in: "api", "cli", "radius" or "web".
	FrontDoor string
	// Facts are further details, in order, already human-readable.
	Facts []Fact
	// Data is the event's raw data, for organisations' own templates.
	Data map[string]any
	// ReportURL is the signed "this was not me" link; empty when the
	// recipient caused the event.
	ReportURL string
	// Recipient is who the notice is for: "user" (or empty), "old_address"
	// (the address an email change moved away from) or "security_contact".
	Recipient string
}

// Fact is one labelled detail of a Notice.
type Fact struct{ Label, Value string }

// Recipient kinds for Notice.Recipient.
const (
	RecipientUser            = "user"
	RecipientOldAddress      = "old_address"
	RecipientSecurityContact = "security_contact"
)

// defaultIssuer stands in for an empty Notice.Issuer.
const defaultIssuer = "mfad"

//go:embed templates/*.txt templates/*.html
var embedded embed.FS

// Templates renders Notices. It is safe for concurrent use.
type Templates struct {
	text map[string]*ttemplate.Template // by event type; "default" too
	html map[string]*htemplate.Template
}

// view is what the templates see: the Notice, plus the output of the
// "subject", "headline" and "advice" text templates, which Render runs
// before the bodies.
type view struct {
	Notice
	Subject  string
	Headline string
	Advice   string
}

// The templates every text set must end up defining, and the HTML one.
var textNames = []string{"subject", "headline", "advice", "body"}

const htmlName = "body"

// templateFile is one template file's content and where it came from.
type templateFile struct {
	origin  string // "embedded" or the override path
	content string
}

// LoadTemplates parses the embedded templates and, when dir is not empty,
// the *.txt and *.html files in dir, each of which replaces the embedded
// file of the same name. Every template is parsed and tried on a sample
// Notice here, so a broken override fails at start rather than when a
// notice is due.
func LoadTemplates(dir string) (*Templates, error) {
	files, err := templateFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"default.txt", "default.html"} {
		if _, ok := files[name]; !ok {
			return nil, fmt.Errorf("notify: template %s is missing", name)
		}
	}

	t := &Templates{
		text: make(map[string]*ttemplate.Template),
		html: make(map[string]*htemplate.Template),
	}
	if err := t.parse(files); err != nil {
		return nil, err
	}
	if err := t.try(); err != nil {
		return nil, err
	}
	return t, nil
}

// templateFiles reads the embedded files, then dir's over them.
func templateFiles(dir string) (map[string]templateFile, error) {
	files := make(map[string]templateFile)
	if err := readTemplateDir(embedded, "templates", "embedded", files); err != nil {
		return nil, err
	}
	if dir == "" {
		return files, nil
	}
	if err := readTemplateDir(os.DirFS(dir), ".", dir, files); err != nil {
		return nil, fmt.Errorf("notify: template directory %s: %w", dir, err)
	}
	return files, nil
}

func readTemplateDir(fsys fs.FS, dir, origin string, into map[string]templateFile) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || (ext != ".txt" && ext != ".html") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return err
		}
		where := origin
		if origin != "embedded" {
			where = filepath.Join(origin, name)
		}
		into[name] = templateFile{origin: where, content: string(b)}
	}
	return nil
}

// parse builds one text and one HTML template set per event type. A type's
// file is parsed over a clone of the default of its kind, so it needs to
// define only the templates it changes.
func (t *Templates) parse(files map[string]templateFile) error {
	defText, err := parseText(nil, "default.txt", files["default.txt"])
	if err != nil {
		return err
	}
	defHTML, err := parseHTML(nil, "default.html", files["default.html"])
	if err != nil {
		return err
	}
	t.text["default"], t.html["default"] = defText, defHTML

	var errs []error
	for _, name := range sortedKeys(files) {
		typ, ext := strings.TrimSuffix(name, filepath.Ext(name)), filepath.Ext(name)
		if typ == "default" {
			continue
		}
		if ext == ".txt" {
			tt, err := parseText(defText, name, files[name])
			errs = append(errs, err)
			t.text[typ] = tt
			continue
		}
		ht, err := parseHTML(defHTML, name, files[name])
		errs = append(errs, err)
		t.html[typ] = ht
	}
	return errors.Join(errs...)
}

func parseText(base *ttemplate.Template, name string, f templateFile) (*ttemplate.Template, error) {
	var t *ttemplate.Template
	if base == nil {
		t = ttemplate.New(name).Funcs(ttemplate.FuncMap(funcs))
	} else {
		clone, err := base.Clone()
		if err != nil {
			return nil, err
		}
		t = clone.New(name)
	}
	if _, err := t.Parse(f.content); err != nil {
		return nil, fmt.Errorf("notify: template %s (%s): %w", name, f.origin, err)
	}
	if t.Tree != nil {
		if err := checkTopLevel(name, f, t.Tree.Root.String()); err != nil {
			return nil, err
		}
	}
	for _, want := range textNames {
		if t.Lookup(want) == nil {
			return nil, fmt.Errorf("notify: template %s (%s): no %q template", name, f.origin, want)
		}
	}
	return t, nil
}

func parseHTML(base *htemplate.Template, name string, f templateFile) (*htemplate.Template, error) {
	var t *htemplate.Template
	if base == nil {
		t = htemplate.New(name).Funcs(htemplate.FuncMap(funcs))
	} else {
		clone, err := base.Clone()
		if err != nil {
			return nil, err
		}
		t = clone.New(name)
	}
	if _, err := t.Parse(f.content); err != nil {
		return nil, fmt.Errorf("notify: template %s (%s): %w", name, f.origin, err)
	}
	if t.Tree != nil {
		if err := checkTopLevel(name, f, t.Tree.Root.String()); err != nil {
			return nil, err
		}
	}
	if t.Lookup(htmlName) == nil {
		return nil, fmt.Errorf("notify: template %s (%s): no %q template", name, f.origin, htmlName)
	}
	return t, nil
}

// checkTopLevel refuses a file with anything but {{define}} blocks and
// space at its top level: Render never runs that part, so text there
// would be silently lost.
func checkTopLevel(name string, f templateFile, root string) error {
	if strings.TrimSpace(root) == "" {
		return nil
	}
	return fmt.Errorf("notify: template %s (%s): text outside {{define}} would be ignored",
		name, f.origin)
}

// try renders every type once for each kind of recipient, so that errors
// only execution finds (a misspelt field, a wrong argument) show at load.
func (t *Templates) try() error {
	var errs []error
	for _, typ := range t.Types() {
		for _, r := range []string{RecipientUser, RecipientOldAddress, RecipientSecurityContact} {
			if _, _, _, err := t.Render(sampleNotice(typ, r)); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return errors.Join(errs...)
}

func sampleNotice(typ, recipient string) Notice {
	return Notice{
		Type: typ, Issuer: "Example", User: "user", DisplayName: "User",
		Time: time.Unix(0, 0).UTC(), Actor: "you", Source: "192.0.2.1",
		FrontDoor: "web", Facts: []Fact{{"Label", "Value"}}, Data: map[string]any{},
		ReportURL: "https://mfad.example/report", Recipient: recipient,
	}
}

// Types returns the event types that have a template of their own, sorted,
// with "default" among them.
func (t *Templates) Types() []string {
	types := sortedKeys(t.text)
	for typ := range t.html {
		if !slices.Contains(types, typ) {
			types = append(types, typ)
		}
	}
	slices.Sort(types)
	return types
}

// Render returns n's subject, plain-text body and HTML body. It uses the
// templates for n.Type, or the default ones when the type has none of its
// own.
func (t *Templates) Render(n Notice) (subject, text, html string, err error) {
	if n.Issuer == "" {
		n.Issuer = defaultIssuer
	}
	tt, ok := t.text[n.Type]
	if !ok {
		tt = t.text["default"]
	}
	ht, ok := t.html[n.Type]
	if !ok {
		ht = t.html["default"]
	}

	v := view{Notice: n}
	for _, p := range []struct {
		name string
		out  *string
	}{{"subject", &v.Subject}, {"headline", &v.Headline}, {"advice", &v.Advice}, {"body", &text}} {
		var b strings.Builder
		if err := tt.ExecuteTemplate(&b, p.name, v); err != nil {
			return "", "", "", fmt.Errorf("notify: render %s: %w", n.Type, err)
		}
		*p.out = strings.TrimSpace(b.String())
		if p.name == "subject" {
			// The subject becomes a header field: one line, single spaces.
			v.Subject = strings.Join(strings.Fields(v.Subject), " ")
		}
	}
	text += "\n"

	var b strings.Builder
	if err := ht.ExecuteTemplate(&b, htmlName, v); err != nil {
		return "", "", "", fmt.Errorf("notify: render %s: %w", n.Type, err)
	}
	return v.Subject, text, b.String(), nil
}

// funcs are available to every template.
var funcs = map[string]any{
	"when":      when,
	"frontDoor": frontDoor,
}

// when formats t for people, in t's own location; the zero time is "".
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("Monday 2 January 2006, 15:04:05 MST")
}

// frontDoor names a front door for people.
func frontDoor(fd string) string {
	switch fd {
	case "api":
		return "the API"
	case "cli":
		return "the command line on the server"
	case "radius":
		return "RADIUS (VPN or network sign-in)"
	case "web":
		return "the web portal"
	}
	return fd
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
