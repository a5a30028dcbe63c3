package httpx

import (
	"net/http"
	"net/url"
	"strings"
)

// CORS building blocks shared by the areas that answer browser apps
// (package oauth's token, revocation, userinfo, discovery and JWKS
// endpoints; package registration). Which origins an endpoint admits is
// each area's decision; credentials (cookies) are never allowed
// cross-origin.

// The CORS headers authd answers with.
const (
	CORSAllowHeaders  = "Authorization, Content-Type"
	CORSExposeHeaders = "WWW-Authenticate"
	CORSMaxAge        = "600" // seconds
)

// WebOrigin is the origin (RFC 6454 serialization: lowercase scheme and
// host, default port dropped) of an http or https URL; "" for any other.
func WebOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host
}

// RequestOrigin is the request's Origin header as an origin, "" when it is
// absent, "null" or anything but scheme://host[:port].
func RequestOrigin(r *http.Request) string {
	v := r.Header.Get("Origin")
	u, err := url.Parse(v)
	if err != nil || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	return WebOrigin(v)
}

// AllowOrigin writes the headers of a CORS response that origin may read.
func AllowOrigin(w http.ResponseWriter, origin string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", CORSExposeHeaders)
}

// Preflight answers OPTIONS on a CORS-enabled endpoint with methods;
// anyOrigin ("*") for the public documents. An OPTIONS that is not a
// preflight from a web origin gets 204 with Allow and no CORS headers.
func Preflight(methods string, anyOrigin bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
		h.Set("Allow", methods+", OPTIONS")
		origin := RequestOrigin(r)
		if origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			if anyOrigin {
				origin = "*"
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", CORSAllowHeaders)
			h.Set("Access-Control-Max-Age", CORSMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// AnyOrigin lets every origin read h's answers (public documents and
// endpoints that take no cookies: discovery, JWKS, registration).
func AnyOrigin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		AllowOrigin(w, "*")
		h(w, r)
	}
}
