package oauth

import (
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/authd/authd/internal/httpx"
)

// bearerToken reads an access token from the Authorization header (RFC 6750
// §2.1) or a form-encoded POST body (§2.2), never from the query string
// (§2.3): URLs end up in logs and browser history (RFC 9700 §4.3.2). Any
// other Authorization scheme means no bearer token.
func bearerToken(r *http.Request) string {
	if r.Header.Get("Authorization") != "" {
		tok, _ := httpx.BearerHeader(r)
		return tok
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
		if err := r.ParseForm(); err == nil {
			return r.PostForm.Get("access_token")
		}
	}
	return ""
}

// accessTokenCaller authenticates a resource request by its bearer access
// token (RFC 6750) and requires scope. Only access tokens are accepted:
// fosite's token introspection falls back to refresh tokens, which must
// never work as bearer credentials. On failure it has written the answer
// (401 with WWW-Authenticate, 403 insufficient_scope, or 503 when token
// state is unavailable) and returns false.
func (s *Server) accessTokenCaller(w http.ResponseWriter, r *http.Request, scope string) (fosite.AccessRequester, bool) {
	deny := func(code, desc string, status int) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="authd", error="`+code+`", error_description="`+desc+`", scope="`+scope+`"`)
		httpx.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	token := bearerToken(r)
	if token == "" {
		deny("invalid_request", "A bearer access token is required.", http.StatusUnauthorized)
		return nil, false
	}
	use, ar, err := s.provider.IntrospectToken(r.Context(), token, fosite.AccessToken, NewSession())
	if err == nil && use != fosite.AccessToken {
		err = fosite.ErrInvalidTokenFormat
	}
	if err != nil {
		if isUnavailable(err) {
			writeError(w, errUnavailable)
			return nil, false
		}
		deny("invalid_token", "The access token is invalid, expired or revoked.", http.StatusUnauthorized)
		return nil, false
	}
	s.allowTokenClientOrigin(w, r, ar.GetClient())
	if !ar.GetGrantedScopes().Has(scope) {
		deny("insufficient_scope", "The access token lacks the "+scope+" scope.", http.StatusForbidden)
		return nil, false
	}
	return ar, true
}

// AuthenticateBearer is accessTokenCaller for the other areas (the account
// API): the subject ("" for a client's own token) and grant of the request's
// access token with scope. On failure it has written the answer and returns
// false.
func (s *Server) AuthenticateBearer(w http.ResponseWriter, r *http.Request, scope string) (subject, grant string, ok bool) {
	ar, ok := s.accessTokenCaller(w, r, scope)
	if !ok {
		return "", "", false
	}
	return ar.GetSession().GetSubject(), ar.GetID(), true
}
