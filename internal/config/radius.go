package config

import (
	"errors"
	"flag"
	"fmt"
	"net"

	"github.com/mfad/mfad/internal/radius"
)

// bindRADIUS adds the settings of the RADIUS front door to fs.
func (c *Config) bindRADIUS(fs *flag.FlagSet, env Env) {
	c.str(fs, env, &c.RADIUSAddr, "radius-addr", "MFAD_RADIUS_ADDR", "",
		"UDP `address` for the RADIUS front door, such as :1812 (default: off)")
	c.str(fs, env, &c.RADIUSClientsFile, "radius-clients", "MFAD_RADIUS_CLIENTS", "",
		"YAML `file` naming the RADIUS clients, their secrets and modes "+
			"(required with --radius-addr)")
}

// RADIUSClients returns the clients of --radius-clients, or none when the
// front door is off.
func (c *Config) RADIUSClients() ([]radius.Client, error) {
	if c.RADIUSAddr == "" {
		return nil, nil
	}
	return radius.LoadClients(c.RADIUSClientsFile)
}

// checkRADIUS returns every problem of the RADIUS settings, those of the
// clients file included (which name no secret).
func (c *Config) checkRADIUS() []string {
	if c.RADIUSAddr == "" {
		if c.RADIUSClientsFile != "" {
			return []string{"--radius-clients is set but --radius-addr is not: the RADIUS " +
				"front door is off"}
		}
		return nil
	}
	var problems []string
	if _, _, err := net.SplitHostPort(c.RADIUSAddr); err != nil {
		problems = append(problems, fmt.Sprintf("--radius-addr %q is not host:port, such as "+
			":1812", c.RADIUSAddr))
	}
	if c.RADIUSClientsFile == "" {
		return append(problems, "--radius-addr needs --radius-clients: the file naming "+
			"the clients and their secrets")
	}
	if _, err := radius.LoadClients(c.RADIUSClientsFile); err != nil {
		var ce *radius.ClientsError
		if !errors.As(err, &ce) {
			return append(problems, "--radius-clients: "+err.Error())
		}
		for _, p := range ce.Problems {
			problems = append(problems, fmt.Sprintf("--radius-clients %s: %s", ce.Path, p))
		}
	}
	return problems
}
