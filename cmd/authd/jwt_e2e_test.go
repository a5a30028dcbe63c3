package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

const (
	jwtCCID     = "jwt-service" // client_credentials, JWT access tokens
	jwtCCSecret = "jwt-service-secret-0123456789"
	pkjID       = "rs-pkj" // resource server authenticating with private_key_jwt
)

// fetchJWKS reads the published key set with go-jose v4.
func fetchJWKS(t *testing.T, e *e2e) jose.JSONWebKeySet {
	t.Helper()
	r := e.call(http.MethodGet, "/.well-known/jwks.json", "", "")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.Raw), &set); err != nil {
		t.Fatalf("jwks: %v (%s)", err, r.Raw)
	}
	return set
}

// verifyAccessJWT verifies an RFC 9068 access token against the JWKS the
// way a resource server would, and returns its claims.
func verifyAccessJWT(t *testing.T, e *e2e, token string) map[string]any {
	t.Helper()
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("not a JWS: %v", err)
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt", h.ExtraHeaders["typ"])
	}
	set := fetchJWKS(t, e)
	keys := set.Key(h.KeyID)
	if h.KeyID == "" || len(keys) != 1 {
		t.Fatalf("kid %q is not (uniquely) in the JWKS", h.KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify against the JWKS: %v", err)
	}
	var std josejwt.Claims
	_ = tok.Claims(keys[0].Key, &std)
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: e.srv.URL, Time: time.Now()}, 0); err != nil {
		t.Errorf("standard claims: %v", err)
	}
	for _, c := range []string{"iss", "sub", "aud", "client_id", "iat", "exp", "jti", "grant_id"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("claim %s missing: %v", c, claims)
		}
	}
	return claims
}

func newJWTE2E(t *testing.T) *e2e {
	e := newE2E(t)
	e.srv.addClient(t, storage.Client{
		ID: jwtCCID, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}, AccessTokenFormat: "jwt",
	}, jwtCCSecret)
	e.srv.addClient(t, storage.Client{
		ID: "jwt-app", Name: "JWT App", RedirectURIs: []string{e2eRedirect}, ResponseTypes: []string{"code"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "offline_access"},
		AccessTokenFormat: "jwt",
	}, "")
	return e
}

func TestJWTAccessTokenClientCredentials(t *testing.T) {
	e := newJWTE2E(t)
	r := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, jwtCCID+":"+jwtCCSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("token: %v", r)
	}
	at := r.str("access_token")
	claims := verifyAccessJWT(t, e, at)
	if claims["sub"] != jwtCCID || claims["client_id"] != jwtCCID || claims["scope"] != "api:read" {
		t.Errorf("claims %v", claims)
	}
	if sid, ok := claims["sid"]; ok { // no browser session behind it
		t.Errorf("client_credentials JWT carries sid %v", sid)
	}
	if !e.active(at) {
		t.Fatal("JWT access token does not introspect active")
	}
	// A JWT whose payload was altered (a wider scope, say) is not one we
	// issued: its session is not found.
	parts := strings.Split(at, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "api:read", "api:admin", 1))) + "." + parts[2]
	if e.active(forged) {
		t.Error("a JWT with an altered payload introspects active")
	}
	// Revocation works on the JWT itself; introspection answers from live
	// state although exp has not passed.
	if rv := e.post("/oauth2/revoke", url.Values{"token": {at}}, jwtCCID+":"+jwtCCSecret); rv.Status != http.StatusOK {
		t.Fatalf("revoke: %v", rv)
	}
	if e.active(at) {
		t.Error("revoked JWT access token still introspects active")
	}
	// An opaque client is unaffected.
	o := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, confBasic)
	if o.Status != http.StatusOK || !strings.HasPrefix(o.str("access_token"), "authd_at_") || !e.active(o.str("access_token")) {
		t.Fatalf("opaque client: %v", o)
	}
}

func TestJWTAccessTokenTrackedByGrant(t *testing.T) {
	e := newJWTE2E(t)
	cfg := e.pubConfig("openid", "offline_access")
	cfg.ClientID = "jwt-app"
	tok := e.loginWith(cfg)
	claims := verifyAccessJWT(t, e, tok.AccessToken)
	if claims["sub"] != e.sub || claims["client_id"] != "jwt-app" {
		t.Errorf("claims %v", claims)
	}
	grants, err := e.srv.DB.ListGrants(context.Background(), e.sub)
	if err != nil || len(grants) != 1 || claims["grant_id"] != grants[0].ID {
		t.Fatalf("grant_id %v does not name the grant %+v (%v)", claims["grant_id"], grants, err)
	}
	// sid is the browser session the grant was authorized in.
	ss, err := e.srv.App.Sessions.List(context.Background(), e.sub)
	if err != nil || len(ss) != 1 || claims["sid"] != ss[0].ID {
		t.Fatalf("sid %v is not the browser session %+v (%v)", claims["sid"], ss, err)
	}
	// Refresh gives a new JWT; the previous one is dead.
	r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"jwt-app"}})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %v", r)
	}
	next := r.str("access_token")
	if c := verifyAccessJWT(t, e, next); c["sid"] != claims["sid"] || c["grant_id"] != claims["grant_id"] {
		t.Errorf("refreshed JWT: sid %v grant_id %v, want %v %v", c["sid"], c["grant_id"], claims["sid"], claims["grant_id"])
	}
	if e.active(tok.AccessToken) || !e.active(next) {
		t.Fatal("rotation: old JWT must be inactive, new one active")
	}
	// Revoking the grant flips its JWT to inactive at once.
	if rv := e.post("/oauth2/revoke", url.Values{"token": {r.str("refresh_token")}, "client_id": {"jwt-app"}}); rv.Status != http.StatusOK {
		t.Fatalf("revoke: %v", rv)
	}
	if e.active(next) {
		t.Error("JWT access token of a revoked grant introspects active")
	}
}

// es256Key is a new P-256 signing key and its public JWK set (kid, ES256,
// use sig) as JSON.
func es256Key(t testing.TB, kid string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return key, set
}

// pkjClient registers a resource server that authenticates with
// private_key_jwt and returns its private key.
func pkjClient(t *testing.T, e *e2e, id string, introspect bool) *ecdsa.PrivateKey {
	t.Helper()
	key, b := es256Key(t, id+"-k1")
	err := e.srv.DB.CreateClient(context.Background(), &storage.Client{
		ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}, Introspect: introspect,
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: b,
	})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// assertion is an RFC 7523 client assertion for id, valid until exp.
func assertion(t *testing.T, e *e2e, id string, key *ecdsa.PrivateKey, exp time.Time) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", id+"-k1"))
	if err != nil {
		t.Fatal(err)
	}
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	s, err := josejwt.Signed(signer).Claims(map[string]any{
		"iss": id, "sub": id, "aud": e.srv.URL + "/oauth2/token", "jti": base64.RawURLEncoding.EncodeToString(jti),
		"exp": exp.Unix(), "iat": time.Now().Unix(),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func withAssertion(form url.Values, a string) url.Values {
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", a)
	return form
}

func TestIntrospectionClientAuthenticationMethods(t *testing.T) {
	e := newE2E(t)
	key := pkjClient(t, e, pkjID, true)
	tok := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, confBasic).str("access_token")
	if tok == "" {
		t.Fatal("no token to introspect")
	}
	isActive := func(r apiResp) bool {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Fatalf("introspect: %v", r)
		}
		a, _ := r.JSON["active"].(bool)
		return a
	}
	// client_secret_basic
	if !isActive(e.post("/oauth2/introspect", url.Values{"token": {tok}}, rsBasic)) {
		t.Error("client_secret_basic: inactive")
	}
	// client_secret_post
	if !isActive(e.post("/oauth2/introspect", url.Values{"token": {tok}, "client_id": {e2eRSID}, "client_secret": {e2eRSSecret}})) {
		t.Error("client_secret_post: inactive")
	}
	// private_key_jwt
	a := assertion(t, e, pkjID, key, time.Now().Add(time.Minute))
	if !isActive(e.post("/oauth2/introspect", withAssertion(url.Values{"token": {tok}}, a))) {
		t.Error("private_key_jwt: inactive")
	}
	// ...and the same assertion again is a replay.
	wantOAuthError(t, e.post("/oauth2/introspect", withAssertion(url.Values{"token": {tok}}, a)), http.StatusUnauthorized, "invalid_client")
	// An expired assertion.
	old := assertion(t, e, pkjID, key, time.Now().Add(-time.Minute))
	wantOAuthError(t, e.post("/oauth2/introspect", withAssertion(url.Values{"token": {tok}}, old)), http.StatusUnauthorized, "invalid_client")
	// An assertion signed with another key.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wantOAuthError(t, e.post("/oauth2/introspect", withAssertion(url.Values{"token": {tok}}, assertion(t, e, pkjID, other, time.Now().Add(time.Minute)))), http.StatusUnauthorized, "invalid_client")
	// A wrong secret.
	wantOAuthError(t, e.post("/oauth2/introspect", url.Values{"token": {tok}}, e2eRSID+":wrong-secret-000000000000"), http.StatusUnauthorized, "invalid_client")
	// A correctly authenticated client without --introspect: 403, whatever
	// the method, and no token data.
	nkey := pkjClient(t, e, "rs-no-introspect", false)
	for name, r := range map[string]apiResp{
		"basic":           e.post("/oauth2/introspect", url.Values{"token": {tok}}, confBasic),
		"post":            e.post("/oauth2/introspect", url.Values{"token": {tok}, "client_id": {e2eConfID}, "client_secret": {e2eConfSecret}}),
		"private_key_jwt": e.post("/oauth2/introspect", withAssertion(url.Values{"token": {tok}}, assertion(t, e, "rs-no-introspect", nkey, time.Now().Add(time.Minute)))),
	} {
		if r.Status != http.StatusForbidden || strings.Contains(r.Raw, "active") {
			t.Errorf("%s: client without --introspect got %v", name, r)
		}
	}
}

func TestPrivateKeyJWTAtTokenAndRevocation(t *testing.T) {
	e := newE2E(t)
	key := pkjClient(t, e, pkjID, true)
	r := e.post("/oauth2/token", withAssertion(url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, assertion(t, e, pkjID, key, time.Now().Add(time.Minute))))
	if r.Status != http.StatusOK {
		t.Fatalf("token with private_key_jwt: %v", r)
	}
	at := r.str("access_token")
	rv := e.post("/oauth2/revoke", withAssertion(url.Values{"token": {at}}, assertion(t, e, pkjID, key, time.Now().Add(time.Minute))))
	if rv.Status != http.StatusOK {
		t.Fatalf("revoke with private_key_jwt: %v", rv)
	}
	if e.active(at) {
		t.Error("token revoked with private_key_jwt still active")
	}
}

// loginWith signs the e2e user in through cfg's public client (PKCE) and
// exchanges the code.
func (e *e2e) loginWith(cfg *oauth2.Config) *oauth2.Token {
	e.t.Helper()
	v := oauth2.GenerateVerifier()
	q := e.authorize(cfg.AuthCodeURL("state-"+randString(e.t), oauth2.S256ChallengeOption(v)))
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}
