package oauth

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// CORS for browser apps. The token, revocation and userinfo endpoints
// answer a client's web origins: the origins of its registered http(s)
// redirect URIs plus its registered CORS origins (`--allowed-cors-origin`).
// Discovery and JWKS are public documents and answer "*". Introspection,
// the pages, the admin and account APIs have no CORS at all. (The
// building blocks are internal/httpx's; package registration answers "*".)
//
// A preflight carries no body and no credentials, so it cannot name the
// client: a preflight for any http(s) origin is answered (as Hydra and
// node-oidc-provider's clientBasedCORS do), and the decision is made on the
// actual request, whose response carries Access-Control-Allow-Origin only
// when the origin is the client's. Without that header the browser hides
// the response from the page. Credentials (cookies) are never allowed
// cross-origin.

// clientAllowsOrigin reports whether origin is one of c's web origins.
func clientAllowsOrigin(c *storage.Client, origin string) bool {
	if c == nil || origin == "" {
		return false
	}
	for _, list := range [][]string{c.CORSOrigins, c.RedirectURIs} {
		for _, u := range list {
			if httpx.WebOrigin(u) == origin {
				return true
			}
		}
	}
	return false
}

// corsFormClient lets the web origins of the client the request names
// (HTTP Basic, else the form's client_id) read h's answer: the token and
// revocation endpoints. It runs after the form is parsed.
func (s *Server) corsFormClient(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if origin := httpx.RequestOrigin(r); origin != "" {
			if c := s.corsClient(r.Context(), requestClientID(r)); c != nil && clientAllowsOrigin(&c.Client, origin) {
				httpx.AllowOrigin(w, origin)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// requestClientID is the client a token or revocation request names: the
// HTTP Basic user (form-decoded, RFC 6749 section 2.3.1), else client_id.
func requestClientID(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if dec, err := url.QueryUnescape(id); err == nil {
			return dec
		}
		return ""
	}
	return r.PostForm.Get("client_id")
}

// corsClient is client id from the client cache, nil when there is none.
func (s *Server) corsClient(ctx context.Context, id string) *fositestore.Client {
	if id == "" || s.clients == nil {
		return nil
	}
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		return nil
	}
	return c
}

// corsOriginKey marks a request whose bearer token's client decides CORS.
type corsOriginKey struct{}

// corsTokenClient lets the web origins of the client of the request's
// access token read h's answer (userinfo). The token is only known once
// accessTokenCaller has checked it: it calls allowTokenClientOrigin.
func corsTokenClient(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if origin := httpx.RequestOrigin(r); origin != "" {
			r = r.WithContext(context.WithValue(r.Context(), corsOriginKey{}, origin))
		}
		h(w, r)
	}
}

// allowTokenClientOrigin allows the origin corsTokenClient noted when it is
// one of client's web origins; on a request corsTokenClient did not wrap
// (the account API) it does nothing.
func (s *Server) allowTokenClientOrigin(w http.ResponseWriter, r *http.Request, client fosite.Client) {
	origin, _ := r.Context().Value(corsOriginKey{}).(string)
	if origin == "" || client == nil {
		return
	}
	c, ok := client.(*fositestore.Client)
	if !ok {
		c = s.corsClient(r.Context(), client.GetID())
	}
	if c != nil && clientAllowsOrigin(&c.Client, origin) {
		httpx.AllowOrigin(w, origin)
	}
}
