package config

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// bindWebAuthn adds the settings of security keys and passkeys to fs.
func (c *Config) bindWebAuthn(fs *flag.FlagSet, env Env) {
	c.str(fs, env, &c.WebAuthnRPID, "webauthn-rp-id", "MFAD_WEBAUTHN_RP_ID", "",
		"relying party `domain` passkeys are bound to, such as example.com (default: the "+
			"host of --public-url, when it is a name, not an IP address)")
	c.str(fs, env, &c.WebAuthnOrigins, "webauthn-origins", "MFAD_WEBAUTHN_ORIGINS", "",
		"comma-separated `origins` the pages are served from, such as https://mfa.example.com "+
			"(default: the origin of --public-url)")
}

// WebAuthn returns the relying party ID and origins in force, or an empty
// ID when security keys are off: when no ID is set and the public URL's
// host is an IP address, which WebAuthn cannot bind to, or the public URL
// is plain http to a host other than localhost.
func (c *Config) WebAuthn() (rpID string, origins []string) {
	rpID = c.WebAuthnRPID
	pub, err := url.Parse(c.PublicURL)
	secure := err == nil && (pub.Scheme == "https" || pub.Hostname() == "localhost")
	if rpID == "" && secure && net.ParseIP(pub.Hostname()) == nil {
		// Only a public URL a browser calls secure gives a default: over
		// plain http elsewhere, WebAuthn would fail in every browser.
		rpID = pub.Hostname()
	}
	if rpID == "" {
		return "", nil
	}
	for _, o := range strings.Split(c.WebAuthnOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, strings.TrimRight(o, "/"))
		}
	}
	if len(origins) == 0 && err == nil {
		origins = []string{pub.Scheme + "://" + pub.Host}
	}
	return rpID, origins
}

// checkWebAuthn returns every problem of the relying party settings: an ID
// that is no domain, origins that are not under it, and origins a browser
// would not call secure.
func (c *Config) checkWebAuthn() []string {
	rpID, origins := c.WebAuthn()
	if rpID == "" {
		if c.WebAuthnOrigins != "" {
			return []string{"--webauthn-origins is set but no relying party ID is: set " +
				"--webauthn-rp-id, or a --public-url whose host is a name"}
		}
		return nil
	}
	var problems []string
	if net.ParseIP(rpID) != nil || strings.ContainsAny(rpID, ":/ ") || strings.HasPrefix(rpID, ".") {
		problems = append(problems, fmt.Sprintf("--webauthn-rp-id %q is not a domain name; "+
			"passkeys are bound to a name such as example.com, never to an address", rpID))
	}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			problems = append(problems, fmt.Sprintf("--webauthn-origins: %q is not an origin "+
				"such as https://mfa.example.com", o))
			continue
		}
		host := u.Hostname()
		if host != rpID && !strings.HasSuffix(host, "."+rpID) {
			problems = append(problems, fmt.Sprintf("--webauthn-origins: %q is not on %s or "+
				"a subdomain of it, so browsers would refuse the relying party ID", o, rpID))
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && host == "localhost") {
			problems = append(problems, fmt.Sprintf("--webauthn-origins: %q is not https; "+
				"browsers allow WebAuthn over http only on localhost", o))
		}
	}
	return problems
}
