package oauth

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/authd/authd/internal/httpx"
)

// ClientLimiter throttles failed client authentications on the endpoints
// that authenticate clients, and bounds device authorization requests per
// client and address (ratelimit.Limiter). Its middleware runs after the
// form is parsed, so it reads the very form the endpoint uses.
type ClientLimiter interface {
	ClientAuth(h http.Handler) http.Handler
	DeviceAuthorization(h http.Handler) http.Handler
}

// Mount mounts every protocol route; the whole surface is in this block.
// gorilla/mux tries routes in order, so the hottest come first.
func (s *Server) Mount(r *mux.Router) {
	r.HandleFunc("/oauth2/introspect", s.instrument("introspect", s.parsed(s.introspectionFormError, s.limited(s.introspect)))).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/token", s.instrument("token", s.parsed(s.tokenFormError, s.corsFormClient(s.limited(s.token))))).Methods(http.MethodPost)
	r.HandleFunc("/.well-known/openid-configuration", httpx.AnyOrigin(s.serveDiscovery)).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/.well-known/oauth-authorization-server", httpx.AnyOrigin(s.serveDiscovery)).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/.well-known/jwks.json", httpx.AnyOrigin(s.keys.ServeJWKS)).Methods(http.MethodGet, http.MethodHead)
	// GET goes through the CSRF middleware only so that the sign-in and
	// consent pages it renders carry a CSRF token (and the browser gets the
	// CSRF cookie) for the POSTs to /login and /oauth2/auth/decision. GET is
	// a safe method: the middleware never rejects it. POST (an authorization
	// request sent as a form by a relying party) is not cross-site-protected.
	r.Handle("/oauth2/auth", s.pages.CSRF(http.HandlerFunc(s.authorize))).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/oauth2/auth", s.authorize).Methods(http.MethodPost)
	r.Handle("/oauth2/auth/decision", s.pages.CSRF(http.HandlerFunc(s.authorize))).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/revoke", s.instrument("revoke", s.parsed(s.revocationFormError, s.corsFormClient(s.limited(s.revoke))))).Methods(http.MethodPost)
	r.HandleFunc("/userinfo", corsTokenClient(s.userinfo)).Methods(http.MethodGet, http.MethodPost)
	// CORS preflights (cors.go): the endpoints browser apps call. None for
	// introspection, which never allows a cross-origin call.
	for _, p := range []string{"/oauth2/token", "/oauth2/revoke"} {
		r.HandleFunc(p, httpx.Preflight("POST", false)).Methods(http.MethodOptions)
	}
	r.HandleFunc("/userinfo", httpx.Preflight("GET, POST", false)).Methods(http.MethodOptions)
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
		r.HandleFunc(p, httpx.Preflight("GET, HEAD", true)).Methods(http.MethodOptions)
	}
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
}

// limited wraps h in the client-authentication limiter, if there is one.
func (s *Server) limited(h http.HandlerFunc) http.Handler {
	if s.limiter == nil {
		return h
	}
	return s.limiter.ClientAuth(h)
}
