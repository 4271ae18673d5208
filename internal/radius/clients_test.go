package radius

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadClientsValid(t *testing.T) {
	got, err := LoadClients(filepath.Join("testdata", "clients", "valid.yaml"))
	if err != nil {
		t.Fatalf("LoadClients(valid.yaml) = %v", err)
	}
	want := []Client{
		{Name: "vpn", Prefix: netip.MustParsePrefix("192.0.2.0/24"),
			Secret: Secret("file-secret-0123456789abcdef")},
		{Name: "vpn-gateway", Prefix: netip.MustParsePrefix("192.0.2.7/32"),
			Secret: Secret("inline-secret-0123456789"), Mode: ModeChallenge},
		{Name: "wifi", Prefix: netip.MustParsePrefix("2001:db8::/32"),
			Secret: Secret("wifi-secret-0123456789"), Mode: ModePasswordCode, PasswordSeparator: "+"},
		{Name: "old-switch", Prefix: netip.MustParsePrefix("198.51.100.9/32"),
			Secret: Secret("short"), AllowShortSecret: true,
			AllowMissingMessageAuthenticator: true, LimitProxyState: true},
	}
	// Secrets are compared as bytes: their String hides them.
	opt := cmp.Comparer(func(a, b Secret) bool { return bytes.Equal(a, b) })
	prefixes := cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
	if diff := cmp.Diff(want, got, opt, prefixes); diff != "" {
		t.Errorf("LoadClients(valid.yaml) mismatch (-want +got):\n%s", diff)
	}
}

// TestLoadClientsInvalid checks that every problem of a bad file is
// reported at once, naming its entry, and that no secret is in the
// report. The report is held to testdata/clients/invalid.txt (-update).
func TestLoadClientsInvalid(t *testing.T) {
	path := filepath.Join("testdata", "clients", "invalid.yaml")
	_, err := LoadClients(path)
	var ce *ClientsError
	if !errors.As(err, &ce) {
		t.Fatalf("LoadClients(invalid.yaml) = %v, want a *ClientsError", err)
	}
	text := err.Error() + "\n"
	for _, secret := range []string{"do-not-print", "file-secret", "tiny-do"} {
		if strings.Contains(text, secret) {
			t.Errorf("the report holds the secret %q:\n%s", secret, text)
		}
	}
	golden := filepath.Join("testdata", "clients", "invalid.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), text); diff != "" {
		t.Errorf("LoadClients(invalid.yaml) report mismatch (-want +got):\n%s", diff)
	}
}

func TestParseClientsProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // a problem that must be among those reported
	}{
		{"empty file", "", "no clients: the file is empty"},
		{"no list", "other: 1\n", "no clients: the file has no clients list"},
		{"not a list", "clients: 3\n", "line 1: clients must be a list"},
		{"not YAML", "clients: [\n", "not valid YAML"},
		{"empty list", "clients: []\n", "no clients"},
		{"short secret", "clients:\n- {name: a, address: 10.0.0.1, secret: fifteen-chars!!}\n",
			`client "a" (line 2): secret is shorter than 16 characters`},
		{"opt-out without limit", "clients:\n- {name: a, address: 10.0.0.1, secret: sixteen-chars!!!, " +
			"require_message_authenticator: false}\n",
			`client "a" (line 2): require_message_authenticator: false needs limit_proxy_state: true`},
		{"host bits", "clients:\n- {name: a, address: 10.0.0.1/8, secret: sixteen-chars!!!}\n",
			`did you mean 10.0.0.0/8?`},
		{"mapped prefix",
			"clients:\n- {name: a, address: '::ffff:10.0.0.0/104', secret: sixteen-chars!!!}\n",
			"IPv4-mapped"},
		{"zone", "clients:\n- {name: a, address: 'fe80::1%eth0', secret: sixteen-chars!!!}\n",
			"no address or CIDR prefix"},
		{"same prefix twice", "clients:\n- {name: a, address: 10.0.0.1, secret: sixteen-chars!!!}\n" +
			"- {name: b, address: 10.0.0.1/32, secret: sixteen-chars!!!}\n",
			`client "b" (line 3): address 10.0.0.1/32 is also client "a" (line 2)'s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := parseClients([]byte(tt.yaml), t.TempDir())
			if !containsProblem(problems, tt.want) {
				t.Errorf("parseClients problems = %q, want one holding %q", problems, tt.want)
			}
		})
	}
}

func containsProblem(problems []string, want string) bool {
	for _, p := range problems {
		if strings.Contains(p, want) {
			return true
		}
	}
	return false
}

func TestParseClientsMappedAddress(t *testing.T) {
	clients, problems := parseClients([]byte(
		"clients:\n- {name: a, address: '::ffff:10.0.0.1', secret: sixteen-chars!!!}\n"), "")
	if len(problems) > 0 || clients[0].Prefix != netip.MustParsePrefix("10.0.0.1/32") {
		t.Errorf("parseClients(::ffff:10.0.0.1) = %v, %q; want 10.0.0.1/32", clients, problems)
	}
}

func TestMatchMostSpecific(t *testing.T) {
	mk := func(name, prefix string) Client {
		return Client{Name: name, Prefix: netip.MustParsePrefix(prefix),
			Secret: Secret("sixteen-chars!!!")}
	}
	table, err := newClientTable([]Client{
		mk("wide", "10.0.0.0/8"), mk("host", "10.1.2.3/32"), mk("net", "10.1.0.0/16"),
		mk("v6", "2001:db8::/32"),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want string // "" for no client
	}{
		{"10.1.2.3", "host"},
		{"10.1.2.4", "net"},
		{"10.2.0.1", "wide"},
		{"::ffff:10.1.2.3", "host"},
		{"11.0.0.1", ""},
		{"2001:db8::1", "v6"},
		{"2001:db9::1", ""},
	}
	for _, tt := range tests {
		got := ""
		if c := table.match(netip.MustParseAddr(tt.addr)); c != nil {
			got = c.Name
		}
		if got != tt.want {
			t.Errorf("match(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestNewChecksClients(t *testing.T) {
	base := Client{Name: "a", Prefix: netip.MustParsePrefix("10.0.0.1/32"),
		Secret: Secret("sixteen-chars!!!")}
	tests := []struct {
		name    string
		clients []Client
		want    string
	}{
		{"none", nil, "no clients"},
		{"no prefix", []Client{{Name: "a", Secret: base.Secret}}, "address is missing"},
		{"no secret", []Client{{Name: "a", Prefix: base.Prefix}}, "secret is empty"},
		{"bad mode", []Client{{Name: "a", Prefix: base.Prefix, Secret: base.Secret, Mode: "otp"}},
			`mode "otp"`},
		{"duplicate name", []Client{base, {Name: "a", Prefix: netip.MustParsePrefix("10.0.0.2/32"),
			Secret: base.Secret}}, "the name is also"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Service: &fakeService{}, Clients: tt.clients})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error holding %q", err, tt.want)
			}
		})
	}
}

// TestSecretNeverPrinted checks every way a client or its secret may be
// printed, formatted or logged.
func TestSecretNeverPrinted(t *testing.T) {
	const secret = "hunter2-hunter2-hunter2"
	c := Client{Name: "vpn", Prefix: netip.MustParsePrefix("192.0.2.0/24"), Secret: Secret(secret)}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, c), fmt.Sprintf(verb, c.Secret),
			fmt.Sprintf(verb, []Client{c}), fmt.Sprintf(verb, &c))
	}
	out = append(out, c.String())
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		slog.New(h).Info("client", "client", c, "secret", c.Secret, "ptr", &c)
	}
	out = append(out, logs.String())
	for _, s := range out {
		if strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
			t.Errorf("printed the secret: %s", s)
		}
	}
}
