package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/token"
)

// AccessTokenJWTAlg signs JWT access tokens: ES256 signs about 25x faster
// than RSA-2048 (keys package benchmarks), which matters on the refresh and
// client_credentials paths, and verifies fast enough for resource servers.
const AccessTokenJWTAlg = "ES256"

// tokenStrategy is authd's fosite CoreStrategy: opaque tokens from
// package token, except that clients registered with --access-token-format
// jwt get RFC 9068 JWT access tokens. A JWT access token is still tracked
// like an opaque one: its session lives in Redis under its grant, so
// introspection and revocation answer from live state (a revoked grant's
// JWT introspects inactive although its exp has not passed).
type tokenStrategy struct {
	*token.Strategy
	keys   Keys
	issuer string
}

var _ oauth2.CoreStrategy = (*tokenStrategy)(nil)

func wantsJWT(r fosite.Requester) bool {
	c, ok := storedClient(r.GetClient())
	return ok && c.AccessTokenFormat == "jwt"
}

// storedClient is authd's record behind a client fosite resolved: the store
// hands fosite *fositestore.Client values (from the client cache), so the
// record needs no second lookup.
func storedClient(c fosite.Client) (*fositestore.Client, bool) {
	sc, ok := c.(*fositestore.Client)
	return sc, ok
}

// looksJWT: three base64url segments, the first a JSON object ("eyJ").
func looksJWT(token string) bool {
	return strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2 && len(token) < 8192
}

func (t *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	if !wantsJWT(r) {
		return t.Strategy.GenerateAccessToken(ctx, r)
	}
	kid, key, err := t.keys.Signer(AccessTokenJWTAlg)
	if err != nil {
		return "", "", fmt.Errorf("oauth: JWT access token signing key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: AccessTokenJWTAlg, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		return "", "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", "", err
	}
	now := time.Now().UTC()
	exp := r.GetSession().GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		exp = now.Add(time.Hour)
	}
	clientID := r.GetClient().GetID()
	sub := r.GetSession().GetSubject()
	if sub == "" {
		sub = clientID // RFC 9068 §2.2: a client acting for itself
	}
	aud := []string(r.GetGrantedAudience())
	if len(aud) == 0 {
		aud = []string{clientID}
	}
	claims := map[string]any{
		"iss": t.issuer, "sub": sub, "aud": aud, "client_id": clientID,
		"iat": now.Unix(), "exp": exp.Unix(), "jti": base64.RawURLEncoding.EncodeToString(jti),
		"grant_id": r.GetID(),
	}
	if s, ok := r.GetSession().(*Session); ok && s.SID != "" {
		claims["sid"] = s.SID // the browser session, as in the ID token
	}
	if sc := r.GetGrantedScopes(); len(sc) > 0 {
		claims["scope"] = strings.Join(sc, " ")
	}
	token, err := josejwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", "", err
	}
	sig := t.jwtSignature(token)
	if sig == "" {
		return "", "", fmt.Errorf("oauth: request id %q cannot key a JWT access token", r.GetID())
	}
	return token, sig, nil
}

// jwtSignature keys a JWT access token by its grant (the grant_id claim;
// tokens issued before it existed carried the grant in sid) and a MAC of
// the whole token. The claims are not trusted for anything else: what
// introspection reports comes from the session in Redis.
func (t *tokenStrategy) jwtSignature(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Grant string `json:"grant_id"`
		SID   string `json:"sid"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	if c.Grant == "" {
		c.Grant = c.SID
	}
	return t.Strategy.JWTSignature(c.Grant, token)
}

func (t *tokenStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if looksJWT(token) {
		return t.jwtSignature(token)
	}
	return t.Strategy.AccessTokenSignature(ctx, token)
}

func (t *tokenStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if !looksJWT(token) {
		return t.Strategy.ValidateAccessToken(ctx, r, token)
	}
	if t.jwtSignature(token) == "" {
		return fosite.ErrInvalidTokenFormat
	}
	if exp := r.GetSession().GetExpiresAt(fosite.AccessToken); !exp.IsZero() && exp.Before(time.Now().UTC()) {
		return fosite.ErrTokenExpired.WithHintf("The access token expired at %s.", exp)
	}
	return nil
}
