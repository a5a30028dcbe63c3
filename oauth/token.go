package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/authd/authd/internal/httpx"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// supportedGrantTypes are the grant types the composed handlers implement.
var supportedGrantTypes = map[string]bool{"authorization_code": true, "refresh_token": true, "client_credentials": true, storage.DeviceCodeGrantType: true}

// checkGrantType refuses a token request fosite need not see: no grant
// type, or one authd does not implement.
func checkGrantType(form interface{ Get(string) string }) error {
	switch gt := form.Get("grant_type"); {
	case gt == "":
		return fosite.ErrInvalidRequest.WithHint("The grant_type parameter is missing.")
	case !supportedGrantTypes[gt]:
		return fosite.ErrUnsupportedGrantType
	}
	return nil
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := fositestore.WithTokenRequest(storage.WithRequestMeta(r.Context(), requestMeta(r)))
	if err := checkGrantType(r.PostForm); err != nil {
		s.writeAccessError(ctx, w, nil, err)
		return
	}
	if err := resourcesAsAudience(r.PostForm); err != nil { // resource.go
		s.writeAccessError(ctx, w, nil, err)
		return
	}
	if s.retryRefresh(ctx, w, r) {
		return
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, NewSession())
	if err != nil {
		s.writeAccessError(ctx, w, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		for _, sc := range ar.GetRequestedScopes() {
			ar.GrantScope(sc)
		}
	}
	if ar, err = bindAudience(ar, r.PostForm); err != nil {
		s.writeAccessError(ctx, w, ar, err)
		return
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.writeAccessError(ctx, w, ar, err)
		return
	}
	s.metrics.tokensIssued.WithLabelValues(strings.Join(ar.GetGrantTypes(), " ")).Inc()
	s.recordUsage(ctx, ar)
	s.keepRefreshResponse(ctx, ar, resp)
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// tokenFormError answers a token request whose form was refused.
func (s *Server) tokenFormError(w http.ResponseWriter, r *http.Request, err error) {
	basicChallenge(w, err)
	s.provider.WriteAccessError(r.Context(), w, fosite.NewAccessRequest(NewSession()), err)
}

// writeAccessError writes a failed token (or device authorization) request
// as RFC 6749 §5.2 says, after the funnel mapped err.
func (s *Server) writeAccessError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	err = protocolError(err)
	if errors.Is(err, fosite.ErrInactiveToken) { // fosite's refresh reuse error wraps it
		s.metrics.reuse.Inc()
	}
	s.logError(ctx, "token request failed", err)
	var e *fosite.RFC6749Error
	if errors.As(err, &e) {
		retryAfter(w, e)
	}
	basicChallenge(w, err)
	if ar == nil {
		ar = fosite.NewAccessRequest(NewSession())
	}
	s.provider.WriteAccessError(ctx, w, ar, err)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := fositestore.WithRevocation(r.Context())
	if r.PostForm.Get("token") == "" {
		s.provider.WriteRevocationResponse(ctx, w, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
		return
	}
	err := s.provider.NewRevocationRequest(ctx, r)
	if err != nil {
		s.logError(ctx, "revocation failed", err)
	}
	if isUnavailable(err) {
		// fosite's WriteRevocationResponse answers 200 to anything but
		// invalid_request/invalid_client: a revocation that could not be
		// carried out must not look done (RFC 7009 §2.2.1: 503, retry).
		writeError(w, unavailable(err))
		return
	}
	basicChallenge(w, err)
	s.provider.WriteRevocationResponse(ctx, w, err)
}

// revocationFormError answers a revocation whose form was refused.
func (s *Server) revocationFormError(w http.ResponseWriter, r *http.Request, err error) {
	basicChallenge(w, err)
	s.provider.WriteRevocationResponse(r.Context(), w, err)
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	ar, ok := s.accessTokenCaller(w, r, "openid")
	if !ok {
		return
	}
	sess := ar.GetSession()
	out := map[string]any{"sub": sess.GetSubject()}
	var asked []string
	if as, ok := sess.(*Session); ok {
		asked = as.UserinfoClaims
	}
	names := scopeClaims(ar.GetGrantedScopes(), asked)
	if len(names) == 0 {
		httpx.WriteJSON(w, http.StatusOK, out)
		return
	}
	u, err := s.users.GetUser(r.Context(), sess.GetSubject())
	switch {
	case err == nil:
		addUserClaims(out, u, names)
	case isUnavailable(err):
		// Postgres down: userinfo keeps working with what the token's
		// session holds (the username), as it did before users had a
		// profile; the record's claims are left out until it is back.
		s.logError(r.Context(), "userinfo: user record unavailable, answering with the session's claims", err)
		if slices.Contains(names, "preferred_username") {
			out["preferred_username"] = sess.GetUsername()
		}
	case errors.Is(err, storage.ErrNotFound):
		const desc = "The user of the access token no longer exists."
		w.Header().Set("WWW-Authenticate", `Bearer realm="authd", error="invalid_token", error_description="`+desc+`"`)
		httpx.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": desc})
		return
	default:
		s.logError(r.Context(), "userinfo: user lookup", err)
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
