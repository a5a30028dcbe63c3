package oauth

import (
	"context"
	"net/http"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/ory/fosite"

	"github.com/authd/authd/storage/fositestore"
)

// introspect answers RFC 7662 requests. The caller is authenticated and
// authorised (introspectionCaller) before the token is looked at, so a
// caller without permission learns nothing about any token, not even
// whether it is live. A live token the caller may not see (visibleTo: a
// refresh token of another client, an access token for another resource
// than a resource server's --resource) is {"active":false} to it.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	caller, err := s.introspectionCaller(r)
	if err != nil {
		s.logError(ctx, "introspection refused", err)
		writeError(w, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		s.provider.WriteIntrospectionError(ctx, w, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
		return
	}
	use, ar, err := s.lookupToken(ctx, token, r.PostForm.Get("token_type_hint"))
	if isUnavailable(err) {
		s.logError(ctx, "introspection failed", err)
		writeError(w, errUnavailable)
		return
	}
	if err != nil || !visibleTo(caller, use, ar.GetClient().GetID(), ar.GetGrantedAudience()) { // resource.go
		s.metrics.introspections.WithLabelValues("false").Inc()
		writeIntrospection(w, introspection{})
		return
	}
	s.metrics.introspections.WithLabelValues("true").Inc()
	writeIntrospection(w, s.introspectionOf(use, ar))
}

// Introspection callers that may not ask.
var (
	errIntrospectAuth = fosite.ErrInvalidClient.WithHint(
		"Authenticate as a client allowed to introspect (client_secret_basic, client_secret_post or private_key_jwt).")
	errIntrospectBadClient = fosite.ErrInvalidClient.WithHint("Client authentication failed.")
	errIntrospectForbidden = &fosite.RFC6749Error{ErrorField: fosite.ErrUnauthorizedClient.ErrorField,
		DescriptionField: "This client is not allowed to introspect tokens.", CodeField: http.StatusForbidden}
)

// introspectionCaller authenticates and authorises the caller before any
// token is looked at: a client with credentials (HTTP Basic, which
// client_secret_post became when the form was parsed, or a client
// assertion), registered with --introspect and confidential. The errors are
// invalid_client (401) and unauthorized_client (403); an unavailable
// backend is temporarily_unavailable. It returns the caller's record.
func (s *Server) introspectionCaller(r *http.Request) (*fositestore.Client, error) {
	if !hasBasicAuth(r) && r.PostForm.Get("client_assertion") == "" {
		return nil, errIntrospectAuth
	}
	client, err := s.fosite.AuthenticateClient(r.Context(), r, r.PostForm)
	if err != nil {
		if isUnavailable(err) {
			return nil, unavailable(err)
		}
		return nil, errIntrospectBadClient
	}
	return mayIntrospect(client)
}

// mayIntrospect: only confidential clients registered with --introspect.
func mayIntrospect(client fosite.Client) (*fositestore.Client, error) {
	if c, ok := storedClient(client); ok && c.Introspect && !c.Public {
		return c, nil
	}
	return nil, errIntrospectForbidden
}

// introspectionFormError answers an introspection whose form was refused.
func (s *Server) introspectionFormError(w http.ResponseWriter, r *http.Request, err error) {
	s.provider.WriteIntrospectionError(r.Context(), w, err)
}

// lookupToken finds a live token. An access token (what resource servers
// send on every call) goes straight to storage: its MAC, one Redis read, its
// expiry, exactly what fosite's access-token validator checks, without
// building and merging a second request around it. Anything else (refresh
// tokens, garbage) goes through fosite's introspection handlers.
func (s *Server) lookupToken(ctx context.Context, token, hint string) (fosite.TokenUse, fosite.Requester, error) {
	if sig := s.strategy.AccessTokenSignature(ctx, token); sig != "" {
		r, err := s.store.LookupAccessToken(ctx, sig)
		if err != nil {
			return "", nil, err
		}
		if exp := r.GetSession().GetExpiresAt(fosite.AccessToken); !exp.IsZero() && exp.Before(time.Now()) {
			return "", nil, fosite.ErrTokenExpired
		}
		return fosite.AccessToken, r, nil
	}
	return s.provider.IntrospectToken(ctx, token, fosite.TokenType(hint), NewSession())
}

// introspection is an RFC 7662 §2.2 response. An inactive token gets
// exactly {"active":false}: nothing about why.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	// TokenUse says which kind of token this is ("access_token" or
	// "refresh_token", as Hydra reports it): a resource server must not
	// accept a refresh token as an access token.
	TokenUse string `json:"token_use,omitempty"`
}

// introspectionOf describes a live token. Unlike fosite's writer, a refresh
// token's exp is the refresh token's own expiry, not its access token's.
func (s *Server) introspectionOf(use fosite.TokenUse, ar fosite.Requester) introspection {
	sess := ar.GetSession()
	out := introspection{
		Active: true, Scope: strings.Join(ar.GetGrantedScopes(), " "), ClientID: ar.GetClient().GetID(),
		Username: sess.GetUsername(), Sub: sess.GetSubject(), Aud: ar.GetGrantedAudience(), Iss: s.cfg.Issuer,
		TokenUse: string(use),
	}
	exp := sess.GetExpiresAt(fosite.AccessToken)
	if use == fosite.RefreshToken {
		exp = sess.GetExpiresAt(fosite.RefreshToken)
	} else {
		out.TokenType = "Bearer" // as registered by RFC 6750 (token types are case-insensitive)
	}
	if !exp.IsZero() {
		out.Exp = exp.Unix()
	}
	if t := ar.GetRequestedAt(); !t.IsZero() {
		out.Iat = t.Unix()
	}
	return out
}

// hasBasicAuth: the request carries HTTP Basic credentials (well formed or
// not: client authentication judges them).
func hasBasicAuth(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return len(a) > len("Basic ") && strings.EqualFold(a[:len("Basic ")], "Basic ")
}

// Header values shared by every introspection response (never appended to:
// a one-element literal has no spare capacity, so an Add would copy).
var (
	jsonContentType = []string{"application/json;charset=UTF-8"}
	noStore         = []string{"no-store"}
	noCache         = []string{"no-cache"}
)

func writeIntrospection(w http.ResponseWriter, v introspection) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen: strings and numbers only
		b = []byte(`{"active":false}`)
	}
	h := w.Header()
	h["Content-Type"], h["Cache-Control"], h["Pragma"] = jsonContentType, noStore, noCache
	_, _ = w.Write(b) // net/http adds Content-Length: the body fits its buffer
}
