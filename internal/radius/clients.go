package radius

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Mode says what a client's users type into the password field.
type Mode string

// Modes of a client.
const (
	// ModeCode takes the code alone: TOTP, backup code or access pass.
	ModeCode Mode = "code"
	// ModePasswordCode takes a password and a code, split at the last
	// separator. The password needs an upstream that mfad does not have
	// yet, so every such request is refused.
	ModePasswordCode Mode = "password+code"
	// ModeChallenge answers an empty password (or "push") with an
	// Access-Challenge that asks for the code; a code typed at once is
	// checked as in ModeCode.
	ModeChallenge Mode = "challenge"
)

// MinSecretLength is the shortest shared secret accepted without
// AllowShortSecret. A short secret falls to an offline guess from one
// captured packet.
const MinSecretLength = 16

// DefaultSeparator splits the password from the code in ModePasswordCode.
const DefaultSeparator = ","

const redacted = "[redacted]"

// Secret is a RADIUS shared secret. It prints as "[redacted]" whatever the
// verb, in logs and in encodings, so that it cannot leak by accident.
type Secret []byte

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Secret) GoString() string { return redacted }

// Format writes "[redacted]" for every verb, %x and %q included.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue hides the secret from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the secret from text and JSON encodings.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Client is a NAS allowed to send requests: a VPN concentrator, a Wi-Fi
// controller, a host running pam_radius_auth. The zero values of its
// fields are the safe defaults.
type Client struct {
	// Name names the client in the audit log and in mfad's own logs.
	Name string
	// Prefix holds the source addresses the client sends from; a single
	// address is a /32 or /128. When several clients' prefixes hold an
	// address, the longest prefix wins.
	Prefix netip.Prefix
	Secret Secret
	Mode   Mode // "" means ModeCode
	// PasswordSeparator splits password and code in ModePasswordCode;
	// "" means DefaultSeparator.
	PasswordSeparator string
	// AllowMissingMessageAuthenticator accepts Access-Requests without a
	// Message-Authenticator, for a NAS that cannot send one. It is only
	// allowed together with LimitProxyState.
	AllowMissingMessageAuthenticator bool
	// LimitProxyState drops a request that carries Proxy-State but no
	// Message-Authenticator: the shape of the BlastRADIUS forgery
	// (CVE-2024-3596).
	LimitProxyState bool
	// AllowShortSecret accepts a secret shorter than MinSecretLength.
	AllowShortSecret bool
}

// String describes the client with its secret hidden.
func (c Client) String() string {
	return fmt.Sprintf("%s (%s, mode %s, secret %s)", c.Name, c.Prefix, c.mode(), redacted)
}

// GoString is String, so that %#v does not print the secret either.
func (c Client) GoString() string { return c.String() }

// LogValue logs the client's name and prefix, never its secret.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", c.Name), slog.String("prefix", c.Prefix.String()),
		slog.String("mode", string(c.mode())))
}

func (c Client) mode() Mode {
	if c.Mode == "" {
		return ModeCode
	}
	return c.Mode
}

func (c Client) separator() string {
	if c.PasswordSeparator == "" {
		return DefaultSeparator
	}
	return c.PasswordSeparator
}

// ClientsError lists every problem found in a set of clients, each naming
// the entry it is about. It never holds a secret.
type ClientsError struct {
	Path     string // the clients file, if the clients came from one
	Problems []string
}

func (e *ClientsError) Error() string {
	var b strings.Builder
	b.WriteString("radius clients")
	if e.Path != "" {
		fmt.Fprintf(&b, " file %s", e.Path)
	}
	if len(e.Problems) == 1 {
		return b.String() + ": " + e.Problems[0]
	}
	fmt.Fprintf(&b, ": %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t" + p)
	}
	return b.String()
}

// entry is one client while its file is read: the client, where it
// stands and what is wrong with it.
type entry struct {
	Client
	label string // how problems name it
	line  int
	// shapeless records that the entry is no mapping, so that nothing
	// more is said of it.
	shapeless bool
	// secretBad records that parseEntry has reported the secret.
	secretBad bool
}

// problem is one thing wrong with a clients file, at a line (0 when the
// clients came from code).
type problem struct {
	line int
	text string
}

// sortedProblems returns the problems' texts in the order of their lines.
func sortedProblems(ps []problem) []string {
	slices.SortStableFunc(ps, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.text
	}
	return out
}

// LoadClients reads the YAML clients file at path:
//
//	clients:
//	  - name: vpn
//	    address: 192.0.2.0/28   # an address or a CIDR prefix
//	    secret_file: vpn.secret # or secret: "..."; relative to the file
//	    mode: code              # code, password+code or challenge
//
// with the optional keys password_separator, require_message_authenticator
// (default true), limit_proxy_state and allow_short_secret. It reports
// every problem at once in a *ClientsError.
func LoadClients(path string) ([]Client, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("radius clients: %w", err)
	}
	clients, problems := parseClients(data, filepath.Dir(path))
	if len(problems) > 0 {
		return nil, &ClientsError{Path: path, Problems: problems}
	}
	return clients, nil
}

// parseClients parses a clients file whose relative secret files are in
// dir, and checks the clients.
func parseClients(data []byte, dir string) ([]Client, []string) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// The parser's message names a line and the problem, not the text.
		return nil, []string{"not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return nil, []string{"no clients: the file is empty"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, []string{fmt.Sprintf("line %d: want a mapping with a clients list", root.Line)}
	}
	var problems []problem
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "clients" {
			problems = append(problems, problem{k.Line,
				fmt.Sprintf("line %d: unknown key %q", k.Line, k.Value)})
			continue
		}
		list = v
	}
	switch {
	case list == nil:
		return nil, append(sortedProblems(problems), "no clients: the file has no clients list")
	case list.Kind != yaml.SequenceNode:
		return nil, append(sortedProblems(problems),
			fmt.Sprintf("line %d: clients must be a list", list.Line))
	case len(list.Content) == 0:
		return nil, append(sortedProblems(problems), "no clients: the list is empty")
	}
	var entries []entry
	for i, n := range list.Content {
		e, p := parseEntry(n, i+1, dir)
		problems = append(problems, p...)
		entries = append(entries, e)
	}
	problems = append(problems, checkEntries(entries)...)
	clients := make([]Client, len(entries))
	for i, e := range entries {
		clients[i] = e.Client
	}
	return clients, sortedProblems(problems)
}

// parseEntry reads the nth client of the list.
func parseEntry(n *yaml.Node, nth int, dir string) (entry, []problem) {
	e := entry{label: fmt.Sprintf("client #%d", nth), line: n.Line}
	if n.Kind != yaml.MappingNode {
		e.shapeless = true
		return e, []problem{{n.Line, fmt.Sprintf("%s (line %d): want a mapping of keys", e.label,
			n.Line)}}
	}
	// The name first, so that every problem below can use it.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			e.Name = n.Content[i+1].Value
			if e.Name != "" {
				e.label = fmt.Sprintf("client %q", e.Name)
			}
		}
	}
	var bad []problem
	add := func(line int, format string, args ...any) {
		bad = append(bad, problem{line,
			fmt.Sprintf("%s (line %d): ", e.label, line) + fmt.Sprintf(format, args...)})
	}
	var address, secretFile string
	var addressLine, fileLine int
	var hasSecret, hasFile bool
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			add(k.Line, "%s is given twice", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "name":
			err = scalar(v, &e.Name)
		case "address":
			err = scalar(v, &address)
			addressLine = v.Line
		case "secret":
			var s string
			// The secret's own text never goes into a problem.
			if scalar(v, &s) != nil {
				err = errors.New("must be text")
				e.secretBad = true
			}
			e.Secret, hasSecret = Secret(s), true
		case "secret_file":
			err = scalar(v, &secretFile)
			hasFile, fileLine = true, v.Line
		case "mode":
			var m string
			err = scalar(v, &m)
			e.Mode = Mode(m)
		case "password_separator":
			err = scalar(v, &e.PasswordSeparator)
			if err == nil && e.PasswordSeparator == "" {
				err = errors.New("must not be empty")
			}
		case "require_message_authenticator":
			var require bool
			err = boolean(v, &require)
			e.AllowMissingMessageAuthenticator = !require
		case "limit_proxy_state":
			err = boolean(v, &e.LimitProxyState)
		case "allow_short_secret":
			err = boolean(v, &e.AllowShortSecret)
		default:
			add(k.Line, "unknown key %q", k.Value)
			continue
		}
		if err != nil {
			add(v.Line, "%s %v", k.Value, err)
		}
	}
	switch {
	case addressLine == 0:
		add(n.Line, "address is missing")
	case address != "":
		p, err := parsePrefix(address)
		if err != nil {
			add(addressLine, "address %v", err)
		}
		e.Prefix = p
	}
	switch {
	case hasSecret && hasFile:
		add(n.Line, "give secret or secret_file, not both")
		e.secretBad = true
	case hasFile && secretFile == "":
		add(fileLine, "secret_file is empty")
		e.secretBad = true
	case hasFile:
		s, err := readSecret(secretFile, dir)
		if err != nil {
			add(fileLine, "secret_file: %v", err)
			e.secretBad = true
		} else if len(s) == 0 {
			add(fileLine, "secret_file %s holds no secret", secretFile)
			e.secretBad = true
		}
		e.Secret = s
	case !hasSecret:
		add(n.Line, "secret or secret_file is missing")
		e.secretBad = true
	}
	return e, bad
}

// scalar decodes a scalar node into s.
func scalar(n *yaml.Node, s *string) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("must be text")
	}
	*s = n.Value
	return nil
}

func boolean(n *yaml.Node, b *bool) error {
	if n.Kind != yaml.ScalarNode || n.Decode(b) != nil {
		return fmt.Errorf("must be true or false, not %q", n.Value)
	}
	return nil
}

// readSecret reads a secret file, relative to dir unless absolute. A final
// line break is not part of the secret.
func readSecret(path, dir string) (Secret, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		// An *fs.PathError names the path and the cause, never contents.
		return nil, err
	}
	return Secret(strings.TrimRight(string(b), "\r\n")), nil
}

// parsePrefix parses an address or a CIDR prefix. A prefix with bits set
// past its length is refused: it is not clear which was meant.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is no address or CIDR prefix", s)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped prefix; write the IPv4 one", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", s,
				p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is no address or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkEntries checks each client on its own and the clients together.
func checkEntries(entries []entry) []problem {
	var bad []problem
	names := map[string]string{}
	prefixes := map[netip.Prefix]string{}
	for _, e := range entries {
		if e.shapeless {
			continue
		}
		at := e.label
		if e.line > 0 {
			at = fmt.Sprintf("%s (line %d)", e.label, e.line)
		}
		for _, p := range checkClient(e.Client, e.secretBad) {
			bad = append(bad, problem{e.line, at + ": " + p})
		}
		if e.Name != "" {
			if other, ok := names[e.Name]; ok {
				bad = append(bad, problem{e.line,
					fmt.Sprintf("%s: the name is also %s's", at, other)})
			} else {
				names[e.Name] = at
			}
		}
		if e.Prefix.IsValid() {
			if other, ok := prefixes[e.Prefix]; ok {
				bad = append(bad, problem{e.line,
					fmt.Sprintf("%s: address %s is also %s's", at, e.Prefix, other)})
			} else {
				prefixes[e.Prefix] = at
			}
		}
	}
	return bad
}

// checkClient returns what is wrong with one client; it leaves out the
// secret when that has been reported already.
func checkClient(c Client, secretReported bool) []string {
	var bad []string
	if c.Name == "" {
		bad = append(bad, "name is missing")
	} else if !validName(c.Name) {
		bad = append(bad, fmt.Sprintf(
			"name %q may hold only letters, digits, '.', '-' and '_', up to 64", c.Name))
	}
	switch c.mode() {
	case ModeCode, ModePasswordCode, ModeChallenge:
	default:
		bad = append(bad, fmt.Sprintf("mode %q is none of code, password+code, challenge", c.Mode))
	}
	if c.Prefix.IsValid() && c.Prefix.Addr().Is4In6() {
		bad = append(bad, "address is IPv4-mapped; give the IPv4 address")
	}
	switch {
	case secretReported:
	case len(c.Secret) == 0:
		bad = append(bad, "secret is empty")
	case len(c.Secret) < MinSecretLength && !c.AllowShortSecret:
		bad = append(bad, fmt.Sprintf("secret is shorter than %d characters; make a longer one "+
			"(openssl rand -base64 24) or set allow_short_secret", MinSecretLength))
	}
	if c.AllowMissingMessageAuthenticator && !c.LimitProxyState {
		bad = append(bad, "require_message_authenticator: false needs limit_proxy_state: true "+
			"(BlastRADIUS, CVE-2024-3596)")
	}
	return bad
}

func validName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// clientTable finds the client of a source address.
type clientTable struct {
	clients []Client // longest prefix first
}

// newClientTable checks clients built in code as LoadClients checks those
// from a file.
func newClientTable(clients []Client) (*clientTable, error) {
	entries := make([]entry, len(clients))
	for i, c := range clients {
		entries[i] = entry{Client: c, label: fmt.Sprintf("client #%d", i+1)}
		if c.Name != "" {
			entries[i].label = fmt.Sprintf("client %q", c.Name)
		}
		if !c.Prefix.IsValid() {
			return nil, &ClientsError{Problems: []string{entries[i].label + ": address is missing"}}
		}
	}
	if len(clients) == 0 {
		return nil, &ClientsError{Problems: []string{"no clients"}}
	}
	if bad := checkEntries(entries); len(bad) > 0 {
		return nil, &ClientsError{Problems: sortedProblems(bad)}
	}
	t := &clientTable{clients: slices.Clone(clients)}
	slices.SortStableFunc(t.clients, func(a, b Client) int {
		return cmp.Compare(b.Prefix.Bits(), a.Prefix.Bits())
	})
	return t, nil
}

// match returns the client whose prefix holds a with the most bits, or nil.
func (t *clientTable) match(a netip.Addr) *Client {
	a = a.Unmap()
	for i := range t.clients {
		if t.clients[i].Prefix.Contains(a) {
			return &t.clients[i]
		}
	}
	return nil
}
