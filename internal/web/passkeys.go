package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mfad/mfad/internal/mfa"
)

// Security keys and passkeys need the browser: the page's script asks the
// server to begin a ceremony, hands the options to
// navigator.credentials.create or .get, and sends the answer back to
// finish it. The service keeps the challenge (single use, with an expiry)
// and checks the answer; these endpoints only carry JSON both ways.

// passkeys says whether security keys and passkeys can work on the page
// being drawn.
type passkeys struct {
	On      bool   // configured, and the page's address is one of the origins
	Off     bool   // not configured on this server
	Problem string // why they cannot work at this address
	// Origins are the allowed origins, space-separated, for the script's
	// own check of the scheme the server cannot see behind a proxy.
	Origins string
	Use     string // the address to use instead
}

// passkeys compares the address the page was opened at with the relying
// party's origins. A browser refuses a ceremony whose origin is not under
// the relying party ID, with an error nobody understands; saying which
// address to use is better.
func (h *Handler) passkeys(r *http.Request) passkeys {
	if len(h.origins) == 0 {
		return passkeys{Off: true}
	}
	p := passkeys{Origins: strings.Join(h.origins, " "), Use: h.origins[0]}
	host := canonicalHost(r.Host)
	for _, o := range h.origins {
		if u, err := url.Parse(o); err == nil && canonicalHost(u.Host) == host {
			p.On = true
			return p
		}
	}
	p.Problem = fmt.Sprintf("Security keys and passkeys work only at %s. This page was "+
		"opened at %s, where your browser would refuse them.", p.Use, r.Host)
	return p
}

// why is the message for a script that asked for a ceremony that cannot
// work.
func (p passkeys) why() string {
	if p.Off {
		return "Security keys and passkeys are not set up on this server."
	}
	return p.Problem + " Open " + p.Use + " instead."
}

// canonicalHost lower-cases a host and drops a default port, which
// browsers leave out of an origin.
func canonicalHost(h string) string {
	h = strings.ToLower(h)
	for _, port := range []string{":443", ":80"} {
		h = strings.TrimSuffix(h, port)
	}
	return h
}

// keysWithoutScript answers the registration form when the script did not
// take it over: the browser runs no JavaScript.
func (h *Handler) keysWithoutScript(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	h.securityWith(w, r, req, http.StatusBadRequest, "Registering a security key or passkey "+
		"needs JavaScript, which this browser did not run. Turn it on for this site and try "+
		"again; everything else here works without it.")
}

func (h *Handler) beginKey(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var call scriptCall
	if !readCall(w, r, &call) {
		return
	}
	if pk := h.passkeys(r); !pk.On {
		writeJSON(w, http.StatusConflict, scriptAnswer{Error: pk.why()})
		return
	}
	c, err := h.svc.BeginWebAuthnRegistration(r.Context(), req, req.Actor.UserName, call.Name)
	if err != nil {
		h.failScript(w, r, req, err)
		return
	}
	writeJSON(w, http.StatusOK, scriptAnswer{Ceremony: c.ID, Options: c.Options})
}

func (h *Handler) finishKey(w http.ResponseWriter, r *http.Request, req mfa.Request) {
	var call scriptCall
	if !readCall(w, r, &call) {
		return
	}
	_, err := h.svc.FinishWebAuthnRegistration(r.Context(), req, req.Actor.UserName,
		call.Ceremony, call.Credential)
	if err != nil {
		h.failScript(w, r, req, err)
		return
	}
	next, key := h.afterFactorAdded(r, req, flashKeyAdded)
	h.setFlash(w, key)
	writeJSON(w, http.StatusOK, scriptAnswer{Redirect: next})
}
