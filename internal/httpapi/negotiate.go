package httpapi

import (
	"mime"
	"strconv"
	"strings"
)

// mediaRange is one element of an Accept header: a type, a subtype (either
// may be "*") and its weight.
type mediaRange struct {
	typ, sub string
	q        float64
}

// negotiate picks the one of offers that the Accept header values rank
// highest (RFC 9110 §12.5.1), preferring earlier offers when the client
// ranks several the same. A request without Accept takes the first offer.
// It reports false when the client accepts none of offers.
func negotiate(accept, offers []string) (string, bool) {
	ranges, present := parseAccept(accept)
	if !present {
		return offers[0], true
	}
	best, bestQ := "", 0.0
	for _, o := range offers {
		if q := quality(ranges, o); q > bestQ {
			best, bestQ = o, q
		}
	}
	return best, bestQ > 0
}

// parseAccept parses Accept header values into media ranges. It reports
// whether the header names anything at all; an element that does not parse
// is left out, so a header of nothing but such elements accepts nothing.
//
// NOTE: parameters other than q are ignored, so "text/plain;charset=latin1"
// is taken as text/plain: mfad offers each type in one form only. A comma
// inside a quoted parameter value would split the element; no parameter
// mfad cares about holds one.
func parseAccept(values []string) (ranges []mediaRange, present bool) {
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			if strings.TrimSpace(elem) == "" {
				continue
			}
			present = true
			if r, ok := parseRange(elem); ok {
				ranges = append(ranges, r)
			}
		}
	}
	return ranges, present
}

func parseRange(elem string) (mediaRange, bool) {
	mt, params, err := mime.ParseMediaType(elem)
	if err != nil {
		return mediaRange{}, false
	}
	// A lone "*" is not RFC 9110, but old HTTP clients send it for */*.
	if mt == "*" {
		mt = "*/*"
	}
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || (typ == "*" && sub != "*") {
		return mediaRange{}, false
	}
	r := mediaRange{typ: typ, sub: sub, q: 1}
	if s, ok := params["q"]; ok {
		// Looser than the qvalue grammar (RFC 9110 §12.4.2), which some
		// clients break with "q=.5"; the range still has to be 0 to 1, and
		// the comparison is false for NaN.
		q, err := strconv.ParseFloat(s, 64)
		if err != nil || !(q >= 0 && q <= 1) {
			return mediaRange{}, false
		}
		r.q = q
	}
	return r, true
}

// quality returns the weight that the most specific range matching offer
// gives it, or 0 when none matches: "text/plain" outranks "text/*", which
// outranks "*/*".
func quality(ranges []mediaRange, offer string) float64 {
	typ, sub, _ := strings.Cut(offer, "/")
	q, best := 0.0, -1
	for _, r := range ranges {
		spec := -1
		switch {
		case r.typ == typ && r.sub == sub:
			spec = 2
		case r.typ == typ && r.sub == "*":
			spec = 1
		case r.typ == "*":
			spec = 0
		}
		if spec > best {
			q, best = r.q, spec
		}
	}
	return q
}
