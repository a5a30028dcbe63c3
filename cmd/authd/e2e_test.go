package main

// End-to-end tests: a real authd (real Redis, real Postgres) driven over HTTP
// the way real clients drive it, with golang.org/x/oauth2 and go-oidc.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ory/fosite"

	"github.com/authd/authd/oauth"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/token"
)

// ---------------------------------------------------------------------------
// 1. Discovery

func TestE2EDiscovery(t *testing.T) {
	e := newE2E(t)
	base := e.srv.URL

	provider := e.provider()
	if ep := provider.Endpoint(); ep.AuthURL != base+"/oauth2/auth" || ep.TokenURL != base+"/oauth2/token" {
		t.Errorf("provider endpoint = %+v", ep)
	}
	if got := provider.UserInfoEndpoint(); got != base+"/userinfo" {
		t.Errorf("userinfo endpoint = %q", got)
	}

	wantEndpoints := map[string]string{
		"issuer":                 base,
		"authorization_endpoint": base + "/oauth2/auth",
		"token_endpoint":         base + "/oauth2/token",
		"jwks_uri":               base + "/.well-known/jwks.json",
		"userinfo_endpoint":      base + "/userinfo",
		"revocation_endpoint":    base + "/oauth2/revoke",
		"introspection_endpoint": base + "/oauth2/introspect",
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(strings.TrimPrefix(path, "/.well-known/"), func(t *testing.T) {
			r := e.call(http.MethodGet, path, "", "")
			if r.Status != http.StatusOK || r.JSON == nil {
				t.Fatalf("GET %s: %v", path, r)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			for k, want := range wantEndpoints {
				if got := r.str(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := strList(r.JSON["code_challenge_methods_supported"]); !slices.Equal(got, []string{"S256"}) {
				t.Errorf("code_challenge_methods_supported = %v, want [S256]", got)
			}
			gt := strList(r.JSON["grant_types_supported"])
			slices.Sort(gt)
			if want := []string{"authorization_code", "client_credentials", "refresh_token", storage.DeviceCodeGrantType}; !slices.Equal(gt, want) {
				t.Errorf("grant_types_supported = %v, want exactly %v", gt, want)
			}
			if rt := strList(r.JSON["response_types_supported"]); !slices.Equal(rt, []string{"code"}) {
				t.Errorf("response_types_supported = %v, want [code]", rt)
			}
		})
	}

	jwks := e.jwks()
	if len(jwks) == 0 {
		t.Fatal("JWKS has no keys")
	}
}

func strList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// jwks returns the published keys by kid.
func (e *e2e) jwks() map[string]map[string]any {
	e.t.Helper()
	r := e.call(http.MethodGet, "/.well-known/jwks.json", "", "")
	if r.Status != http.StatusOK {
		e.t.Fatalf("jwks: %v", r)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &set); err != nil {
		e.t.Fatalf("jwks: %v", err)
	}
	out := map[string]map[string]any{}
	for _, k := range set.Keys {
		kid, _ := k["kid"].(string)
		out[kid] = k
	}
	return out
}

// ---------------------------------------------------------------------------
// 2. Authorization code + PKCE, ID token, remembered consent

func TestE2EAuthorizationCodePKCE(t *testing.T) {
	e := newE2E(t)
	ctx := e.oauthCtx()
	provider := e.provider()
	cfg := e.pubConfig(oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess)
	cfg.Endpoint = provider.Endpoint()
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams

	verifier, state, nonce := oauth2.GenerateVerifier(), randString(t), randString(t)
	authURL := cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))

	b := e.newBrowser()
	// The authorization request shows the sign-in form.
	p := b.get(authURL)
	if p.Status != http.StatusOK {
		t.Fatalf("GET auth URL: %d %.300s", p.Status, p.Body)
	}
	if !strings.Contains(p.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("sign-in page Cache-Control %q, want no-store", p.Header.Get("Cache-Control"))
	}
	f := onlyForm(t, p)
	for _, in := range []string{"username", "password"} {
		if _, ok := f.Inputs[in]; !ok {
			t.Fatalf("sign-in page has no %s input; inputs %v", in, inputNames(f.Inputs))
		}
	}
	// Signing in returns to the authorization request...
	next := b.login(p)
	if next.Path != "/oauth2/auth" || next.Query().Get("state") != state || next.Query().Get("client_id") != e2ePubID {
		t.Fatalf("after sign-in: redirected to %s", next)
	}
	// ...which now asks for consent.
	p = b.get(next.String())
	if p.Status != http.StatusOK {
		t.Fatalf("consent page: %d %.300s", p.Status, p.Body)
	}
	for _, sc := range []string{"openid", "profile", "offline_access"} {
		if !strings.Contains(p.Body, sc) {
			t.Errorf("consent page does not mention scope %s", sc)
		}
	}
	q := callback(t, b.consent(p, "allow"))
	if q.Get("state") != state {
		t.Fatalf("state %q, want %q", q.Get("state"), state)
	}
	if q.Get("code") == "" || q.Get("error") != "" {
		t.Fatalf("callback %v", q)
	}
	if iss := q.Get("iss"); iss != "" && iss != e.srv.URL {
		t.Errorf("iss in callback = %q", iss)
	}

	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
		t.Fatalf("token response %+v", tok)
	}
	if got := strings.Fields(tokenScope(tok)); !sameSet(got, []string{"openid", "profile", "offline_access"}) {
		t.Errorf("granted scope %v", got)
	}
	if d := time.Until(tok.Expiry); d < 55*time.Minute || d > 61*time.Minute {
		t.Errorf("access token expires in %v, want ~1h", d)
	}

	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		t.Fatal("no id_token in the token response")
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: e2ePubID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce %q, want %q", idt.Nonce, nonce)
	}
	if idt.Subject != e.sub {
		t.Errorf("sub %q, want %q", idt.Subject, e.sub)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		AuthTime int64    `json:"auth_time"`
		AMR      []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.AuthTime == 0 || time.Since(time.Unix(claims.AuthTime, 0)) > time.Minute {
		t.Errorf("auth_time %d", claims.AuthTime)
	}
	kid := jwtHeader(t, rawID)["kid"]
	if kid == nil || kid == "" {
		t.Fatalf("ID token header has no kid: %v", jwtHeader(t, rawID))
	}
	if _, ok := e.jwks()[kid.(string)]; !ok {
		t.Errorf("kid %v is not in the JWKS", kid)
	}

	// A second authorization for the same client and scopes: signed in and
	// consent remembered, so authd redirects straight back.
	verifier2, state2 := oauth2.GenerateVerifier(), randString(t)
	p = b.get(cfg.AuthCodeURL(state2, oidc.Nonce(randString(t)), oauth2.S256ChallengeOption(verifier2)))
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		t.Fatalf("second authorization: status %d, want a redirect; body %.300s", p.Status, p.Body)
	}
	q2 := callback(t, p.location(t))
	if q2.Get("state") != state2 || q2.Get("code") == "" {
		t.Fatalf("second callback %v", q2)
	}
	tok2, err := cfg.Exchange(ctx, q2.Get("code"), oauth2.VerifierOption(verifier2))
	if err != nil {
		t.Fatalf("second exchange: %v", err)
	}
	if grantOf(t, tok2.AccessToken) == grantOf(t, tok.AccessToken) {
		t.Error("a second authorization must be a new grant")
	}

	// A denied consent (another client, never allowed) goes back to the
	// client as access_denied.
	confCfg := e.confConfig()
	state3 := randString(t)
	p = b.get(confCfg.AuthCodeURL(state3))
	q3 := callback(t, b.consent(p, "deny"))
	if q3.Get("error") != "access_denied" || q3.Get("state") != state3 || q3.Get("code") != "" {
		t.Errorf("denied consent: callback %v", q3)
	}
}

// TestE2EAuthorizationRequestByPOST: OpenID Connect Core §3.1.2.1 — the
// authorization endpoint must support POST (a relying party's auto-submitted
// form). The sign-in page it shows must be usable like the GET one.
func TestE2EAuthorizationRequestByPOST(t *testing.T) {
	e := newE2E(t)
	cfg := e.pubConfig()
	verifier, state := oauth2.GenerateVerifier(), randString(t)
	u, err := url.Parse(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	b := e.newBrowser()
	p := b.post(e.srv.URL+"/oauth2/auth", u.Query())
	if p.Status != http.StatusSeeOther {
		t.Fatalf("POST /oauth2/auth: %d, want 303 to the equivalent GET", p.Status)
	}
	if loc := p.location(t); loc.Path != "/oauth2/auth" || loc.Query().Get("code_challenge") != u.Query().Get("code_challenge") {
		t.Fatalf("POST /oauth2/auth redirected to %v, want the same request as a GET", loc)
	}
	p = b.get(p.location(t).String())
	if p.Status != http.StatusOK {
		t.Fatalf("POST /oauth2/auth: %d %.300s", p.Status, p.Body)
	}
	next := b.login(p) // fails if the page has no CSRF token
	p = b.get(next.String())
	q := callback(t, b.consent(p, "allow"))
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	if _, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
}

func tokenScope(tok *oauth2.Token) string {
	s, _ := tok.Extra("scope").(string)
	return s
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func jwtHeader(t testing.TB, jwt string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return m
}

// grantOf returns the grant id inside an authd token.
func grantOf(t testing.TB, token string) string {
	t.Helper()
	if len(token) < 10 || !strings.HasPrefix(token, "authd_") {
		t.Fatalf("not an authd token: %q", token)
	}
	g, _, ok := strings.Cut(token[9:], ".")
	if !ok {
		t.Fatalf("not an authd token: %q", token)
	}
	return g
}

// ---------------------------------------------------------------------------
// 3. UserInfo

func TestE2EUserInfo(t *testing.T) {
	e := newE2E(t)
	ctx := e.oauthCtx()
	provider := e.provider()
	tok := e.pkceLogin()

	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != e.sub {
		t.Errorf("sub %q, want %q", ui.Subject, e.sub)
	}
	var claims struct {
		PreferredUsername string `json:"preferred_username"`
	}
	if err := ui.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.PreferredUsername != e2eUser {
		t.Errorf("preferred_username %q, want %q", claims.PreferredUsername, e2eUser)
	}

	for _, tc := range []struct{ name, auth string }{
		{"no token", ""},
		{"bad token", "Bearer authd_at_00000000-0000-0000-0000-000000000000.0.AAAA.BBBB"},
		{"garbage", "Bearer not-a-token"},
		{"refresh token as access token", "Bearer " + tok.RefreshToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp := mustFetch(t, e.hc, req)
			if resp.Status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", resp.Status)
			}
			if wa := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", wa)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 4. Refresh rotation

func TestE2ERefreshRotation(t *testing.T) {
	e := newE2E(t)
	cfg := e.pubConfig()
	tok := e.pkceLogin()

	// x/oauth2 refreshes an expired token by itself.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	tok2, err := cfg.TokenSource(e.oauthCtx(), &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate the refresh token: %q", tok2.RefreshToken)
	}
	if tok2.AccessToken == "" || tok2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh did not issue a new access token")
	}
	if grantOf(t, tok2.RefreshToken) != grantOf(t, tok.RefreshToken) {
		t.Error("a refresh must stay in its grant")
	}
	if e.active(tok.AccessToken) {
		t.Error("the access token of the rotated refresh token is still active")
	}
	if !e.active(tok2.AccessToken) {
		t.Error("the new access token is not active")
	}

	// Another round, by hand: the response carries no-store and the scope.
	r := e.refresh(tok2.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("second refresh: %v", r)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token response Cache-Control %q", cc)
	}
	if got := strings.Fields(r.str("scope")); !sameSet(got, []string{"openid", "profile", "offline_access"}) {
		t.Errorf("refreshed scope %v", got)
	}
	at3, rt3 := r.str("access_token"), r.str("refresh_token")
	if at3 == "" || rt3 == "" || rt3 == tok2.RefreshToken {
		t.Fatalf("second refresh response %v", r)
	}
	if e.active(tok2.AccessToken) || !e.active(at3) {
		t.Error("after the second refresh only the newest access token may be active")
	}
	// The refreshed ID token still names the user.
	if id := r.str("id_token"); id != "" {
		provider := e.provider()
		idt, err := provider.Verifier(&oidc.Config{ClientID: e2ePubID}).Verify(e.oauthCtx(), id)
		if err != nil {
			t.Errorf("refreshed ID token: %v", err)
		} else if idt.Subject != e.sub {
			t.Errorf("refreshed ID token sub %q", idt.Subject)
		}
	}
}

// ---------------------------------------------------------------------------
// 5. Refresh token reuse revokes the family

func TestE2ERefreshReuse(t *testing.T) {
	e := newE2E(t)
	tok := e.pkceLogin()
	grant := grantOf(t, tok.RefreshToken)

	r1 := e.refresh(tok.RefreshToken)
	if r1.Status != http.StatusOK {
		t.Fatalf("refresh: %v", r1)
	}
	at1, rt1 := r1.str("access_token"), r1.str("refresh_token")
	if !e.active(at1) {
		t.Fatal("fresh access token inactive")
	}

	// Replay the rotated-away refresh token.
	wantOAuthError(t, e.refresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	// The whole family is revoked now: the current refresh token too...
	wantOAuthError(t, e.refresh(rt1), http.StatusBadRequest, "invalid_grant")
	// ...and its access token.
	if r := e.introspect(at1); r.Raw != "{\"active\":false}\n" && r.Raw != `{"active":false}` {
		t.Errorf("introspection of the revoked family's access token: %s", r.Raw)
	}
	g, err := e.srv.DB.GetGrant(e.ctx, grant)
	if err != nil {
		t.Fatalf("grant row: %v", err)
	}
	if g.RevokedAt == nil || g.RevokeReason != storage.RevokedReuse {
		t.Errorf("grant row after reuse: revoked_at %v reason %q, want reason %q", g.RevokedAt, g.RevokeReason, storage.RevokedReuse)
	}
}

// ---------------------------------------------------------------------------
// 6. Revocation (RFC 7009)

func TestE2ERevocation(t *testing.T) {
	e := newE2E(t)
	tok := e.pkceLogin()

	// Another client may not revoke the public client's token.
	r := e.post("/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, confBasic)
	if r.Status >= 500 {
		t.Errorf("cross-client revocation: %v", r)
	}
	if !e.active(tok.AccessToken) {
		t.Fatal("another client's revocation request revoked the token")
	}

	r = e.post("/oauth2/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {e2ePubID}})
	if r.Status != http.StatusOK {
		t.Fatalf("revoke: %v", r)
	}
	if e.active(tok.AccessToken) {
		t.Error("access token still active after its refresh token was revoked")
	}
	wantOAuthError(t, e.refresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	g, err := e.srv.DB.GetGrant(e.ctx, grantOf(t, tok.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	if g.RevokedAt == nil || g.RevokeReason != storage.RevokedByClient {
		t.Errorf("grant row: revoked_at %v reason %q, want %q", g.RevokedAt, g.RevokeReason, storage.RevokedByClient)
	}

	// Revoking an access token revokes its grant too.
	tok2 := e.pkceLogin()
	r = e.post("/oauth2/revoke", url.Values{"token": {tok2.AccessToken}, "client_id": {e2ePubID}})
	if r.Status != http.StatusOK {
		t.Fatalf("revoke access token: %v", r)
	}
	if e.active(tok2.AccessToken) {
		t.Error("revoked access token still active")
	}

	// Unknown and garbage tokens: 200, as RFC 7009 §2.2 requires.
	for _, tokStr := range []string{
		"authd_rt_00000000-0000-0000-0000-000000000000.0.AAAA.BBBB",
		"authd_at_" + grantOf(t, tok2.AccessToken) + ".0.forged.mac",
		"garbage",
	} {
		r := e.post("/oauth2/revoke", url.Values{"token": {tokStr}, "client_id": {e2ePubID}})
		if r.Status != http.StatusOK {
			t.Errorf("revoke unknown %q: %v", tokStr, r)
		}
		r = e.post("/oauth2/revoke", url.Values{"token": {tokStr}}, confBasic)
		if r.Status != http.StatusOK {
			t.Errorf("revoke unknown %q (confidential): %v", tokStr, r)
		}
	}
}

// ---------------------------------------------------------------------------
// 7. Introspection (RFC 7662)

func TestE2EIntrospection(t *testing.T) {
	e := newE2E(t)
	tok := e.pkceLogin()

	r := e.introspect(tok.AccessToken)
	if a, _ := r.JSON["active"].(bool); !a {
		t.Fatalf("live token: %s", r.Raw)
	}
	if got := r.str("client_id"); got != e2ePubID {
		t.Errorf("client_id %q", got)
	}
	if got := r.str("sub"); got != e.sub {
		t.Errorf("sub %q, want %q", got, e.sub)
	}
	if got := strings.Fields(r.str("scope")); !sameSet(got, []string{"openid", "profile", "offline_access"}) {
		t.Errorf("scope %v", got)
	}
	exp, _ := r.JSON["exp"].(float64)
	if d := time.Until(time.Unix(int64(exp), 0)); d < 55*time.Minute || d > 61*time.Minute {
		t.Errorf("exp %v is %v away, want ~1h", exp, d)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("introspection Cache-Control %q", cc)
	}
	if iss, tt, use := r.str("iss"), r.str("token_type"), r.str("token_use"); iss != e.srv.URL || tt != "Bearer" || use != "access_token" {
		t.Errorf("iss %q token_type %q token_use %q, want %q Bearer access_token", iss, tt, use, e.srv.URL)
	}
	if iat, _ := r.JSON["iat"].(float64); time.Since(time.Unix(int64(iat), 0)) > time.Minute || iat > float64(time.Now().Unix()+1) {
		t.Errorf("iat %v", iat)
	}
	if _, ok := r.JSON["username"]; !ok {
		t.Errorf("no username for a user's token: %s", r.Raw)
	}
	// A refresh token is reported active only to the client holding it
	// (issue 16; TestIntrospectRefreshTokenOnlyHolder has the holder's view):
	// to the resource server it is inactive.
	if e.active(tok.RefreshToken) {
		t.Errorf("the resource server sees another client's refresh token active")
	}

	// Unknown tokens: exactly {"active":false}.
	for _, tk := range []string{"garbage", "authd_at_00000000-0000-0000-0000-000000000000.0.AAAA.BBBB", tok.AccessToken + "x"} {
		r := e.introspect(tk)
		var m map[string]any
		if json.Unmarshal([]byte(r.Raw), &m) != nil || len(m) != 1 || m["active"] != false {
			t.Errorf("introspect %q: %s, want {\"active\":false}", tk, r.Raw)
		}
	}

	form := url.Values{"token": {tok.AccessToken}}
	noLeak := func(t *testing.T, r apiResp) {
		t.Helper()
		if _, ok := r.JSON["active"]; ok || strings.Contains(r.Raw, e.sub) || strings.Contains(r.Raw, "offline_access") {
			t.Errorf("refused introspection leaks token data: %s", r.Raw)
		}
	}
	t.Run("no credentials", func(t *testing.T) {
		r := e.post("/oauth2/introspect", form)
		wantOAuthError(t, r, http.StatusUnauthorized)
		noLeak(t, r)
	})
	t.Run("bearer token", func(t *testing.T) {
		req, _ := formRequest(e.ctx, e.srv.URL+"/oauth2/introspect", form, "")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if resp := mustFetch(t, e.hc, req); resp.Status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.Status)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		r := e.post("/oauth2/introspect", form, e2eRSID+":wrong-secret")
		wantOAuthError(t, r, http.StatusUnauthorized)
		noLeak(t, r)
	})
	t.Run("unknown client", func(t *testing.T) {
		r := e.post("/oauth2/introspect", form, "nobody:secret")
		wantOAuthError(t, r, http.StatusUnauthorized)
		noLeak(t, r)
	})
	t.Run("client not allowed to introspect", func(t *testing.T) {
		r := e.post("/oauth2/introspect", form, confBasic)
		wantOAuthError(t, r, http.StatusForbidden)
		noLeak(t, r)
	})
	t.Run("client not allowed to introspect, inactive token", func(t *testing.T) {
		// The refusal must not depend on the token: otherwise any client
		// learns whether a token is live (403) or not.
		active := e.post("/oauth2/introspect", form, confBasic)
		for _, tk := range []string{"garbage", e.mintToken("at")} {
			r := e.post("/oauth2/introspect", url.Values{"token": {tk}}, confBasic)
			wantOAuthError(t, r, http.StatusForbidden)
			if r.Status != active.Status || r.Raw != active.Raw {
				t.Errorf("refusal for an inactive token (%v) differs from the refusal for a live one (%v): a token-liveness oracle", r, active)
			}
		}
	})
	t.Run("public client", func(t *testing.T) {
		r := e.post("/oauth2/introspect", url.Values{"token": {tok.AccessToken}, "client_id": {e2ePubID}})
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("public client introspection: %v", r)
		}
		noLeak(t, r)
	})
	t.Run("client_secret_post", func(t *testing.T) {
		r := e.post("/oauth2/introspect", url.Values{"token": {tok.AccessToken}, "client_id": {e2eRSID}, "client_secret": {e2eRSSecret}})
		if r.Status != http.StatusOK || r.JSON["active"] != true || r.str("sub") != e.sub {
			t.Errorf("client_secret_post: %v", r)
		}
	})
}

// ---------------------------------------------------------------------------
// 8. Client credentials

func TestE2EClientCredentials(t *testing.T) {
	e := newE2E(t)
	cc := clientcredentials.Config{
		ClientID: e2eConfID, ClientSecret: e2eConfSecret, TokenURL: e.srv.URL + "/oauth2/token",
		Scopes: []string{"api:read"}, AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cc.Token(e.oauthCtx())
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" {
		t.Errorf("token %+v: want an access token and no refresh token", tok)
	}
	if s := tokenScope(tok); s != "api:read" {
		t.Errorf("scope %q, want api:read", s)
	}
	r := e.introspect(tok.AccessToken)
	if r.JSON["active"] != true || r.str("client_id") != e2eConfID || r.str("scope") != "api:read" {
		t.Errorf("introspection: %s", r.Raw)
	}

	// client_secret_post works too.
	r = e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {e2eConfID}, "client_secret": {e2eConfSecret}})
	if r.Status != http.StatusOK || r.str("access_token") == "" || r.str("refresh_token") != "" {
		t.Errorf("client_secret_post: %v", r)
	}
	// The resource server is a client_credentials client too.
	r = e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, rsBasic)
	if r.Status != http.StatusOK {
		t.Errorf("resource server client_credentials: %v", r)
	}

	t.Run("public client", func(t *testing.T) {
		r := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {e2ePubID}})
		if r.Status != http.StatusBadRequest && r.Status != http.StatusUnauthorized {
			t.Errorf("status %d, want 400 or 401: %s", r.Status, r.Raw)
		}
		wantOAuthError(t, r, r.Status, "invalid_client", "unauthorized_client", "invalid_grant")
		if r.str("access_token") != "" {
			t.Error("a public client got a client_credentials token")
		}
	})
	t.Run("scope not allowed", func(t *testing.T) {
		r := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:write"}}, confBasic)
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_scope")
		r = e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, rsBasic)
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_scope")
	})
	t.Run("client without the grant type", func(t *testing.T) {
		// The public client is not registered for client_credentials; the
		// resource server is not registered for authorization_code.
		r := e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {e2eRedirect}}, rsBasic)
		wantOAuthError(t, r, http.StatusBadRequest, "unauthorized_client", "invalid_grant")
	})
}

// ---------------------------------------------------------------------------
// 9. Bad input

// confCode gets an authorization code for the confidential client (no PKCE).
func (e *e2e) confCode(b *browser, scopes ...string) string {
	e.t.Helper()
	q := b.authorize(e.confConfig(scopes...).AuthCodeURL(randString(e.t)))
	if q.Get("code") == "" {
		e.t.Fatalf("no code: %v", q)
	}
	return q.Get("code")
}

func TestE2EBadInput(t *testing.T) {
	e := newE2E(t)
	b := e.newBrowser()
	big := strings.Repeat("a", 1<<20)

	// Codes for the exchanges below.
	codeRedirect := e.confCode(b)
	pubCfg := e.pubConfig()
	pubVerifier := oauth2.GenerateVerifier()
	pubCode := b.authorize(pubCfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(pubVerifier))).Get("code")

	type tc struct {
		name        string
		path        string
		contentType string
		body        string
		basic       string
		status      int
		codes       []string
	}
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const ctForm = "application/x-www-form-urlencoded"
	cases := []tc{
		{"unknown grant type", "/oauth2/token", ctForm, form("grant_type", "password", "username", "alice", "password", "x"), confBasic, 400, []string{"unsupported_grant_type"}},
		{"made-up grant type", "/oauth2/token", ctForm, form("grant_type", "urn:example:nope"), confBasic, 400, []string{"unsupported_grant_type"}},
		{"implicit grant type", "/oauth2/token", ctForm, form("grant_type", "implicit"), confBasic, 400, []string{"unsupported_grant_type"}},
		{"missing grant type", "/oauth2/token", ctForm, form("scope", "api:read"), confBasic, 400, []string{"invalid_request"}},
		{"wrong client secret", "/oauth2/token", ctForm, form("grant_type", "client_credentials"), e2eConfID + ":wrong", 401, []string{"invalid_client"}},
		{"wrong client secret (post)", "/oauth2/token", ctForm, form("grant_type", "client_credentials", "client_id", e2eConfID, "client_secret", "wrong"), "", 401, []string{"invalid_client"}},
		{"unknown client", "/oauth2/token", ctForm, form("grant_type", "client_credentials"), "nobody:secret", 401, []string{"invalid_client"}},
		{"no client authentication", "/oauth2/token", ctForm, form("grant_type", "client_credentials", "client_id", e2eConfID), "", 401, []string{"invalid_client"}},
		{"two client authentication methods", "/oauth2/token", ctForm, form("grant_type", "client_credentials", "client_id", e2eConfID, "client_secret", e2eConfSecret), confBasic, 400, []string{"invalid_request"}},
		{"code exchange with another redirect_uri", "/oauth2/token", ctForm, form("grant_type", "authorization_code", "code", codeRedirect, "redirect_uri", "http://127.0.0.1:53682/other"), confBasic, 400, []string{"invalid_grant"}},
		{"code exchange without redirect_uri", "/oauth2/token", ctForm, form("grant_type", "authorization_code", "code", codeRedirect), confBasic, 400, []string{"invalid_grant", "invalid_request"}},
		{"code of another client", "/oauth2/token", ctForm, form("grant_type", "authorization_code", "code", pubCode, "redirect_uri", e2eRedirect), confBasic, 400, []string{"invalid_grant"}},
		{"public client without code_verifier", "/oauth2/token", ctForm, form("grant_type", "authorization_code", "code", pubCode, "redirect_uri", e2eRedirect, "client_id", e2ePubID), "", 400, []string{"invalid_request", "invalid_grant"}},
		{"public client with a wrong code_verifier", "/oauth2/token", ctForm, form("grant_type", "authorization_code", "code", pubCode, "redirect_uri", e2eRedirect, "client_id", e2ePubID, "code_verifier", oauth2.GenerateVerifier()), "", 400, []string{"invalid_grant"}},
		{"unknown code", "/oauth2/token", ctForm, form("grant_type", "authorization_code", "code", "authd_ac_00000000-0000-0000-0000-000000000000.0.AAAA.BBBB", "redirect_uri", e2eRedirect), confBasic, 400, []string{"invalid_grant"}},
		{"garbage code", "/oauth2/token", ctForm, form("grant_type", "authorization_code", "code", "garbage", "redirect_uri", e2eRedirect), confBasic, 400, []string{"invalid_grant"}},
		{"garbage refresh token", "/oauth2/token", ctForm, form("grant_type", "refresh_token", "refresh_token", "garbage", "client_id", e2ePubID), "", 400, []string{"invalid_grant"}},
		{"forged refresh token", "/oauth2/token", ctForm, form("grant_type", "refresh_token", "refresh_token", "authd_rt_00000000-0000-0000-0000-000000000000.0.AAAA.BBBB", "client_id", e2ePubID), "", 400, []string{"invalid_grant"}},
		{"JSON body", "/oauth2/token", "application/json", `{"grant_type":"client_credentials"}`, confBasic, 400, []string{"invalid_request"}},
		{"garbage body", "/oauth2/token", ctForm, "%zz%%&&==\x00\xff", confBasic, 400, []string{"invalid_request"}},
		{"no content type", "/oauth2/token", "", form("grant_type", "client_credentials"), confBasic, 400, []string{"invalid_request"}},
		{"invalid UTF-8", "/oauth2/token", ctForm, "grant_type=client_credentials&scope=%ff%fe", confBasic, 400, []string{"invalid_request"}},
		{"1 MB parameter", "/oauth2/token", ctForm, "grant_type=client_credentials&scope=" + big, confBasic, 400, []string{"invalid_request"}},
		{"1 MB client_id", "/oauth2/token", ctForm, "grant_type=client_credentials&client_id=" + big, "", 400, []string{"invalid_request"}},
		{"duplicated grant_type", "/oauth2/token", ctForm, "grant_type=client_credentials&grant_type=client_credentials", confBasic, 400, []string{"invalid_request"}},
		{"duplicated scope", "/oauth2/token", ctForm, "grant_type=client_credentials&scope=api:read&scope=api:read", confBasic, 400, []string{"invalid_request"}},
		{"duplicated client_id", "/oauth2/token", ctForm, form("grant_type", "refresh_token", "refresh_token", "x", "client_id", e2ePubID, "client_id", e2eConfID), "", 400, []string{"invalid_request"}},

		{"revoke: no token", "/oauth2/revoke", ctForm, form("client_id", e2ePubID), "", 400, []string{"invalid_request"}},
		{"revoke: wrong secret", "/oauth2/revoke", ctForm, form("token", "x"), e2eConfID + ":wrong", 401, []string{"invalid_client"}},
		{"revoke: JSON body", "/oauth2/revoke", "application/json", `{"token":"x"}`, confBasic, 400, []string{"invalid_request"}},
		{"revoke: 1 MB token", "/oauth2/revoke", ctForm, "token=" + big, confBasic, 400, []string{"invalid_request"}},
		{"revoke: duplicated token", "/oauth2/revoke", ctForm, "token=a&token=b", confBasic, 400, []string{"invalid_request"}},

		{"introspect: no token", "/oauth2/introspect", ctForm, "", rsBasic, 400, []string{"invalid_request"}},
		{"introspect: JSON body", "/oauth2/introspect", "application/json", `{"token":"x"}`, rsBasic, 400, []string{"invalid_request"}},
		{"introspect: 1 MB token", "/oauth2/introspect", ctForm, "token=" + big, rsBasic, 400, []string{"invalid_request"}},
		{"introspect: duplicated token", "/oauth2/introspect", ctForm, "token=a&token=b", rsBasic, 400, []string{"invalid_request"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := e.call(http.MethodPost, c.path, c.contentType, c.body, c.basic)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			wantOAuthError(t, r, c.status, c.codes...)
			if c.path == "/oauth2/token" {
				if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
					t.Errorf("token error response Cache-Control %q, want no-store", cc)
				}
			}
		})
	}

	// The confidential code was not consumed by the failed exchanges above
	// (redirect_uri mismatch, missing redirect_uri, wrong client).
	t.Run("valid exchanges after the failures", func(t *testing.T) {
		r := e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {codeRedirect}, "redirect_uri": {e2eRedirect}}, confBasic)
		if r.Status != http.StatusOK {
			t.Errorf("confidential exchange: %v", r)
		}
		// A failed PKCE attempt may burn the code (fosite deletes the PKCE
		// data before checking the verifier): then it fails closed.
		r = e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {pubCode}, "redirect_uri": {e2eRedirect}, "client_id": {e2ePubID}, "code_verifier": {pubVerifier}})
		if r.Status != http.StatusOK {
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
			t.Logf("public code after failed PKCE attempts: %s (fails closed)", r.str("error"))
		}
	})

	t.Run("code used twice", func(t *testing.T) {
		code := e.confCode(b)
		exchange := func() apiResp {
			return e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}, confBasic)
		}
		r1 := exchange()
		if r1.Status != http.StatusOK {
			t.Fatalf("first exchange: %v", r1)
		}
		at, rt := r1.str("access_token"), r1.str("refresh_token")
		if !e.active(at) {
			t.Fatal("first exchange's access token inactive")
		}
		wantOAuthError(t, exchange(), http.StatusBadRequest, "invalid_grant")
		if e.active(at) {
			t.Error("access token from a replayed code is still active")
		}
		r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, confBasic)
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		g, err := e.srv.DB.GetGrant(e.ctx, grantOf(t, at))
		if err != nil {
			t.Fatal(err)
		}
		if g.RevokedAt == nil {
			t.Error("grant row of a replayed code not revoked")
		}
	})

	// Authorization endpoint: an untrusted redirect URI or client is never
	// redirected to; the user sees an error page.
	authCases := []struct {
		name  string
		query url.Values
	}{
		{"unregistered redirect_uri", url.Values{"client_id": {e2ePubID}, "redirect_uri": {"http://evil.example/cb"}}},
		{"redirect_uri on another loopback path", url.Values{"client_id": {e2ePubID}, "redirect_uri": {"http://127.0.0.1:53682/evil"}}},
		{"unknown client", url.Values{"client_id": {"nobody"}, "redirect_uri": {e2eRedirect}}},
		{"no client", url.Values{"redirect_uri": {e2eRedirect}}},
		{"duplicated redirect_uri", url.Values{"client_id": {e2ePubID}, "redirect_uri": {e2eRedirect, "http://evil.example/cb"}}},
	}
	for _, c := range authCases {
		t.Run("authorize: "+c.name, func(t *testing.T) {
			q := c.query
			q.Set("response_type", "code")
			q.Set("scope", "openid")
			q.Set("state", randString(t))
			q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
			q.Set("code_challenge_method", "S256")
			p := b.get(e.srv.URL + "/oauth2/auth?" + q.Encode())
			if p.Status < 400 || p.Status >= 500 {
				t.Errorf("status %d, want 4xx; body %.300s", p.Status, p.Body)
			}
			if loc := p.Header.Get("Location"); loc != "" {
				t.Errorf("redirected to %q", loc)
			}
		})
	}
	t.Run("authorize: errors a client can be told are redirected", func(t *testing.T) {
		q := url.Values{"client_id": {e2ePubID}, "redirect_uri": {e2eRedirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"st4te-st4te-st4te"}}
		// A public client without PKCE.
		p := b.get(e.srv.URL + "/oauth2/auth?" + q.Encode())
		if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
			t.Fatalf("status %d; body %.300s", p.Status, p.Body)
		}
		cb := callback(t, p.location(t))
		if cb.Get("error") == "" || cb.Get("state") != "st4te-st4te-st4te" || cb.Get("code") != "" {
			t.Errorf("callback %v", cb)
		}
	})
	t.Run("authorize: 1 MB query", func(t *testing.T) {
		p := b.get(e.srv.URL + "/oauth2/auth?client_id=" + e2ePubID + "&state=" + big)
		if p.Status < 400 || p.Status >= 500 {
			t.Errorf("status %d, want 4xx", p.Status)
		}
	})
	t.Run("authorize: 1 MB POST body", func(t *testing.T) {
		p := b.post(e.srv.URL+"/oauth2/auth", url.Values{"client_id": {e2ePubID}, "state": {big}})
		if p.Status < 400 || p.Status >= 500 {
			t.Errorf("status %d, want 4xx", p.Status)
		}
		if loc := p.Header.Get("Location"); loc != "" {
			t.Errorf("redirected to %.200q", loc)
		}
	})
}

// ---------------------------------------------------------------------------
// 10. Redis and Postgres state of a grant

func TestE2ERedisState(t *testing.T) {
	e := newE2E(t)
	cfg := e.srv.App.Config
	rdb := e.srv.App.RDB
	ctx := e.ctx
	tok := e.pkceLogin()
	grant := grantOf(t, tok.RefreshToken)

	famKey, atKey := e.srv.App.Redis.Key(grant, "f"), e.srv.App.Redis.Key(grant, "at")
	if !strings.HasPrefix(famKey, cfg.RedisPrefix) || !strings.HasPrefix(atKey, cfg.RedisPrefix) {
		t.Fatalf("keys %q %q outside the test prefix %q", famKey, atKey, cfg.RedisPrefix)
	}
	checkTTLs := func(stage string) {
		t.Helper()
		for _, k := range []struct {
			key string
			max time.Duration
		}{{famKey, cfg.RefreshTokenTTL}, {atKey, cfg.AccessTokenTTL}} {
			ttl, err := rdb.PTTL(ctx, k.key).Result()
			if err != nil {
				t.Fatal(err)
			}
			// fosite rounds token expiries to whole seconds
			// (time.Now().Add(ttl).Round(time.Second)) and the keys
			// expire with their tokens, so a key may outlive the
			// configured lifetime by up to half a second.
			if ttl <= 0 || ttl > k.max+time.Second {
				t.Errorf("%s: PTTL %s = %v, want in (0, %v]", stage, k.key, ttl, k.max)
			}
		}
		// Every key of the grant, and every login session, expires by
		// itself.
		keys, err := rdb.Keys(ctx, cfg.RedisPrefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			rest := strings.TrimPrefix(k, cfg.RedisPrefix)
			if !strings.HasPrefix(rest, "{"+grant+"}") && !strings.HasPrefix(rest, "bs:") && !strings.HasPrefix(rest, "bc:") && !strings.HasPrefix(rest, "bu:") && !strings.HasPrefix(rest, "bsd:") {
				continue
			}
			if ttl, err := rdb.PTTL(ctx, k).Result(); err != nil || ttl <= 0 {
				t.Errorf("%s: key %s has PTTL %v (%v): every key must expire", stage, k, ttl, err)
			}
		}
		gs, err := e.srv.DB.ListGrants(ctx, e.sub)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range gs {
			if g.ID == grant {
				n++
				if g.ClientID != e2ePubID || g.Subject != e.sub || g.RevokedAt != nil {
					t.Errorf("%s: grant row %+v", stage, g)
				}
				if d := time.Until(g.ExpiresAt); d <= 0 || d > cfg.RefreshTokenTTL+time.Second {
					t.Errorf("%s: grant expires in %v", stage, d)
				}
			}
		}
		if n != 1 || len(gs) != 1 {
			t.Errorf("%s: %d grant rows for the family (%d for the user), want exactly 1", stage, n, len(gs))
		}
	}
	checkTTLs("after the code exchange")
	logSizes(t, rdb, "after the code exchange", famKey, atKey)

	rt := tok.RefreshToken
	for i := 0; i < 3; i++ {
		r := e.refresh(rt)
		if r.Status != http.StatusOK {
			t.Fatalf("refresh %d: %v", i, r)
		}
		rt = r.str("refresh_token")
		if grantOf(t, rt) != grant {
			t.Fatal("refresh changed the grant")
		}
	}
	checkTTLs("after 3 refreshes")
	logSizes(t, rdb, "after 3 refreshes", famKey, atKey)
	keys, _ := rdb.Keys(ctx, cfg.RedisPrefix+"*").Result()
	slices.Sort(keys)
	for _, k := range keys {
		ttl, _ := rdb.PTTL(ctx, k).Result()
		typ, _ := rdb.Type(ctx, k).Result()
		mem, _ := rdb.MemoryUsage(ctx, k).Result()
		exp := ttl.Round(time.Second).String()
		if ttl < 0 {
			exp = "none"
		}
		t.Logf("key %s: %s, PTTL %s, MEMORY USAGE %d bytes", strings.TrimPrefix(k, cfg.RedisPrefix), typ, exp, mem)
	}
}

func logSizes(t *testing.T, rdb interface {
	MemoryUsage(ctx context.Context, key string, samples ...int) *redis.IntCmd
	HGetAll(ctx context.Context, key string) *redis.MapStringStringCmd
	StrLen(ctx context.Context, key string) *redis.IntCmd
}, stage, famKey, atKey string) {
	t.Helper()
	ctx := context.Background()
	fm, err := rdb.MemoryUsage(ctx, famKey).Result()
	if err != nil {
		t.Errorf("MEMORY USAGE %s: %v", famKey, err)
	}
	am, err := rdb.MemoryUsage(ctx, atKey).Result()
	if err != nil {
		t.Errorf("MEMORY USAGE %s: %v", atKey, err)
	}
	fields, _ := rdb.HGetAll(ctx, famKey).Result()
	payload := 0
	for k, v := range fields {
		payload += len(k) + len(v)
	}
	al, _ := rdb.StrLen(ctx, atKey).Result()
	t.Logf("%s: family key MEMORY USAGE %d bytes (%d bytes of fields+values, p=%d), access key MEMORY USAGE %d bytes (value %d bytes)",
		stage, fm, payload, len(fields["p"]), am, al)
}

// ---------------------------------------------------------------------------
// 11. Concurrent refreshes with the same refresh token

func TestE2EConcurrentRefresh(t *testing.T) {
	e := newE2E(t)
	cfg := e.pubConfig()
	b := e.newBrowser()
	const rounds, workers = 20, 20
	revokedByLateDuplicate := 0
	for round := 0; round < rounds; round++ {
		// A fresh grant each round (the browser stays signed in and the
		// consent is remembered, so this is quick).
		v := oauth2.GenerateVerifier()
		q := b.authorize(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(v)))
		tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("round %d: exchange: %v", round, err)
		}
		results := burst(workers, func(int) apiResp {
			return e.postNoFatal("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {e2ePubID}})
		})
		ok, invalid := 0, 0
		var winner apiResp
		for _, r := range results {
			switch {
			case r.Status == http.StatusOK:
				ok++
				winner = r
			case r.Status == http.StatusBadRequest && r.str("error") == "invalid_grant":
				invalid++
			default:
				t.Errorf("round %d: unexpected response %v", round, r)
			}
		}
		if ok != 1 || invalid != workers-1 {
			t.Errorf("round %d: %d×200 and %d×invalid_grant, want 1 and %d", round, ok, invalid, workers-1)
			continue
		}
		// The winner's tokens are live, unless a duplicate that arrived
		// after the rotation had finished was (rightly) taken for reuse and
		// revoked the family; then everything of the grant is dead.
		at := winner.str("access_token")
		g, err := e.srv.DB.GetGrant(e.ctx, grantOf(t, at))
		if err != nil {
			t.Fatal(err)
		}
		if g.RevokedAt != nil {
			revokedByLateDuplicate++
			if g.RevokeReason != storage.RevokedReuse {
				t.Errorf("round %d: grant revoked for %q", round, g.RevokeReason)
			}
			if e.active(at) {
				t.Errorf("round %d: revoked grant's access token active", round)
			}
			continue
		}
		if !e.active(at) {
			t.Errorf("round %d: the winner's access token is inactive but the grant is not revoked", round)
		}
		if r := e.refresh(winner.str("refresh_token")); r.Status != http.StatusOK {
			t.Errorf("round %d: the winner's refresh token does not work: %v", round, r)
		}
	}
	t.Logf("%d of %d rounds: a late duplicate was treated as reuse and revoked the family", revokedByLateDuplicate, rounds)
}

// ---------------------------------------------------------------------------
// Storage outage: a clear 503 temporarily_unavailable, never a 500 and never
// a false success.

func TestE2ERedisUnavailable(t *testing.T) {
	// Nothing listens on port 1: every Redis call fails at once.
	e := newE2E(t, func(c *Config) { c.RedisURL = "redis://127.0.0.1:1/1" })
	// Tokens with a valid MAC (minted with the server's secret), so that
	// authd has to ask Redis about them.
	at, rt := e.mintToken("at"), e.mintToken("rt")

	// timed runs one request: an outage must be answered promptly.
	timed := func(name string, f func() apiResp) apiResp {
		t.Helper()
		start := time.Now()
		r := f()
		d := time.Since(start)
		t.Logf("%s with Redis down: %d in %v", name, r.Status, d.Round(time.Millisecond))
		if d > 3*time.Second {
			t.Errorf("%s took %v with Redis down, want a prompt answer", name, d)
		}
		return r
	}

	r := timed("client_credentials", func() apiResp {
		return e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, confBasic)
	})
	wantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")

	r = timed("refresh", func() apiResp { return e.refresh(rt) })
	wantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")

	r = timed("introspection", func() apiResp { return e.introspect503(at) })
	wantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")

	// A revocation that could not be carried out must not be reported as
	// done (RFC 7009 §2.2.1: 503 lets the client retry).
	r = timed("revocation", func() apiResp { return e.post("/oauth2/revoke", url.Values{"token": {rt}}, confBasic) })
	if r.Status == http.StatusOK {
		t.Errorf("revocation with Redis down answered 200: the client believes the token is revoked")
	}
	wantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")

	r = timed("userinfo", func() apiResp {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := e.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return apiResp{Status: resp.StatusCode}
	})
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("userinfo with Redis down: status %d, want 503", r.Status)
	}

	if r := timed("readyz", func() apiResp { return e.call(http.MethodGet, "/readyz", "", "") }); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz: %v", r)
	}
}

// mintToken issues a token of kind "at" or "rt" with the server's token
// strategy (a valid MAC) for a grant that does not exist.
func (e *e2e) mintToken(kind string) string {
	e.t.Helper()
	st, err := token.New(e.srv.App.Config.Secret)
	if err != nil {
		e.t.Fatal(err)
	}
	req := fosite.NewAccessRequest(oauth.NewSession())
	var tok string
	switch kind {
	case "at":
		tok, _, err = st.GenerateAccessToken(e.ctx, req)
	case "rt":
		tok, _, err = st.GenerateRefreshToken(e.ctx, req)
	}
	if err != nil || tok == "" {
		e.t.Fatalf("mint %s: %v", kind, err)
	}
	return tok
}

// introspect503 is introspect without the 200 check.
func (e *e2e) introspect503(token string) apiResp {
	e.t.Helper()
	return e.post("/oauth2/introspect", url.Values{"token": {token}}, rsBasic)
}

// TestE2EIntrospectionExpiry: an access token introspects active until its
// exp and {"active":false} from then on.
func TestE2EIntrospectionExpiry(t *testing.T) {
	e := newE2E(t, func(c *Config) { c.AccessTokenTTL = 2 * time.Second })
	tok := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, confBasic).str("access_token")
	r := e.introspect(tok)
	if a, _ := r.JSON["active"].(bool); !a {
		t.Fatalf("fresh token: %s", r.Raw)
	}
	exp, _ := r.JSON["exp"].(float64)
	time.Sleep(time.Until(time.Unix(int64(exp), 0)) + 200*time.Millisecond)
	if r := e.introspect(tok); r.Raw != "{\"active\":false}" {
		t.Fatalf("after exp: %s", r.Raw)
	}
}
