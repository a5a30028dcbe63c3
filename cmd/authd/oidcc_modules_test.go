package main

// The OpenID Foundation's conformance modules (oidcc-basic, oidcc-formpost
// and oidcc-config plans) that the other files do not already cover under
// their own names (README "OpenID conformance" lists them all). Each test
// is named after its module and drives a real server as the suite does: a
// confidential client with client_secret_basic (the plan's variant), a
// browser that signs in and consents, go-oidc verifying every ID token.
// Where the authorization response matters the test runs in both response
// modes of the plans: the default (query) and form_post.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

const (
	suiteID      = "oidcc-client" // confidential: code, refresh; openid profile email offline_access
	suiteSecret  = "oidcc-client-secret-0123456789abcdef"
	suiteID2     = "oidcc-client2" // the second client of the multiple-client modules
	suiteSecret2 = "oidcc-client2-secret-0123456789abcdef"
)

// newSuiteE2E is newE2E with alice's whole profile and the suite's two
// confidential clients.
func newSuiteE2E(t *testing.T, cfgFn ...func(*Config)) *e2e {
	t.Helper()
	e := newE2E(t, cfgFn...)
	if _, err := cli(t, e.srv, "users", "update", "--username", e2eUser, "--email", "alice@example.com", "--email-verified",
		"--name", "Alice Liddell", "--given-name", "Alice", "--family-name", "Liddell"); err != nil {
		t.Fatal(err)
	}
	for id, secret := range map[string]string{suiteID: suiteSecret, suiteID2: suiteSecret2} {
		e.srv.addClient(t, storage.Client{
			ID: id, Name: "Conformance RP", RedirectURIs: []string{e2eRedirect},
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			Scopes: []string{"openid", "profile", "email", "offline_access"},
		}, secret)
	}
	return e
}

// suiteConfig is the suite client's x/oauth2 config (client_secret_basic).
func (e *e2e) suiteConfig(scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: suiteID, ClientSecret: suiteSecret, Endpoint: e.endpoint(oauth2.AuthStyleInHeader),
		RedirectURL: e2eRedirect, Scopes: scopes}
}

// responseModes are the plans' response modes: oidcc-basic's default
// (query) and oidcc-formpost's form_post.
var responseModes = []string{"default", "form_post"}

// withMode is extra plus response_mode for mode.
func withMode(mode string, extra url.Values) url.Values {
	out := url.Values{}
	for k, v := range extra {
		out[k] = v
	}
	if mode == "form_post" {
		out.Set("response_mode", "form_post")
	}
	return out
}

// suiteFlow runs one whole authorization (fresh browser) of the suite
// client with scopes and extra parameters in mode, and returns the run
// (its token in run.tok) and the verified ID token's claims.
func (e *e2e) suiteFlow(mode string, scopes []string, extra url.Values) (*oidcRun, map[string]any) {
	e.t.Helper()
	run, p := e.startAuthWith(e.newBrowser(), e.suiteConfig(scopes...), false, withMode(mode, extra))
	_, claims := run.idToken(run.finish(p))
	return run, claims
}

// formPostFields checks p is authd's form_post page and returns the fields
// it posts.
func formPostFields(t testing.TB, p page) url.Values {
	t.Helper()
	wantFormPost(t, p, nil)
	got := url.Values{}
	for _, fl := range onlyForm(t, p).Fields {
		if fl.Input && fl.Type == "hidden" {
			got.Set(fl.Name, fl.Value)
		}
	}
	return got
}

// userinfoClaims calls userinfo with tok as the RFC 6750 style how says
// ("get", "post-header", "post-body") and returns its claims.
func (e *e2e) userinfoClaims(tok *oauth2.Token, how string) map[string]any {
	e.t.Helper()
	method, body := http.MethodGet, ""
	switch how {
	case "post-header":
		method = http.MethodPost
	case "post-body":
		method, body = http.MethodPost, url.Values{"access_token": {tok.AccessToken}}.Encode()
	}
	req, err := http.NewRequest(method, e.srv.URL+"/userinfo", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	r := mustFetch(e.t, e.hc, req)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		e.t.Fatalf("userinfo (%s): %s (Content-Type %q)", how, r, r.Header.Get("Content-Type"))
	}
	return r.JSON
}

// wantHas checks every claim of want is in got with that value, and none
// of absent is.
func wantHas(t testing.TB, what string, got, want map[string]any, absent ...string) {
	t.Helper()
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s: %s = %#v, want %#v (all: %v)", what, k, got[k], v, got)
		}
	}
	for _, k := range absent {
		if v, ok := got[k]; ok {
			t.Errorf("%s: has %s = %#v, want it absent", what, k, v)
		}
	}
}

var aliceProfile = map[string]any{"name": "Alice Liddell", "given_name": "Alice", "family_name": "Liddell", "preferred_username": e2eUser}
var aliceEmail = map[string]any{"email": "alice@example.com", "email_verified": true}

// TestOIDCServer (oidcc-server): the code flow with client_secret_basic,
// nonce and state; the ID token is signed by a published key, names
// authd, the client and alice, and has iat, exp and auth_time; the
// response carries state and iss.
func TestOIDCServer(t *testing.T) {
	e := newSuiteE2E(t)
	for _, mode := range responseModes {
		t.Run(mode, func(t *testing.T) {
			before := time.Now().Add(-2 * time.Second).Unix()
			run, claims := e.suiteFlow(mode, []string{"openid"}, nil)
			if !strings.EqualFold(run.tok.TokenType, "Bearer") || run.tok.AccessToken == "" { // case-insensitive (RFC 6749 §5.1)
				t.Errorf("token response type %q access token %q", run.tok.TokenType, run.tok.AccessToken)
			}
			wantHas(t, "ID token", claims, map[string]any{"iss": e.srv.URL, "sub": e.sub, "aud": []any{suiteID}})
			for _, c := range []string{"iat", "exp", "auth_time"} {
				if n, _ := claims[c].(float64); int64(n) < before {
					t.Errorf("ID token %s = %v, want a time after %d", c, claims[c], before)
				}
			}
		})
	}
}

// TestOIDCServerClientSecretPost (oidcc-server-client-secret-post): the
// same with the client authenticating in the token request's body.
func TestOIDCServerClientSecretPost(t *testing.T) {
	e := newSuiteE2E(t)
	cfg := e.suiteConfig("openid")
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	run, p := e.startAuthWith(e.newBrowser(), cfg, false, nil)
	_, claims := run.idToken(run.finish(p))
	wantHas(t, "ID token", claims, map[string]any{"sub": e.sub, "aud": []any{suiteID}})
}

// TestOIDCResponseTypeMissing (oidcc-response-type-missing): without
// response_type the error goes to the redirect URI (with state and iss),
// never a code.
func TestOIDCResponseTypeMissing(t *testing.T) {
	e := newSuiteE2E(t)
	q := url.Values{"client_id": {suiteID}, "redirect_uri": {e2eRedirect}, "scope": {"openid"}, "state": {"state-0123456789"}, "nonce": {"nonce-0123456789"}}
	p := e.newBrowser().get(e.srv.URL + "/oauth2/auth?" + q.Encode())
	if p.Status != http.StatusSeeOther {
		t.Fatalf("no response_type: status %d, want a redirect with the error; body %.300s", p.Status, p.Body)
	}
	got := callback(t, p.location(t))
	if e := got.Get("error"); e != "unsupported_response_type" && e != "invalid_request" {
		t.Errorf("error %q, want unsupported_response_type or invalid_request (%v)", e, got)
	}
	if got.Get("code") != "" || got.Get("state") != "state-0123456789" || got.Get("iss") != e.srv.URL {
		t.Errorf("callback %v: want no code, the state and iss", got)
	}
}

// TestOIDCIDTokenSignature (oidcc-idtoken-signature): the ID token is
// signed with RS256 by a key the JWKS publishes under the header's kid.
func TestOIDCIDTokenSignature(t *testing.T) {
	e := newSuiteE2E(t)
	run, p := e.startAuthWith(e.newBrowser(), e.suiteConfig("openid"), false, nil)
	raw, _ := run.idToken(run.finish(p))
	h := jwtHeader(t, raw)
	kid, _ := h["kid"].(string)
	if h["alg"] != "RS256" || kid == "" {
		t.Fatalf("ID token header %v, want alg RS256 and a kid", h)
	}
	if k, ok := e.jwks()[kid]; !ok || k["alg"] != "RS256" {
		t.Errorf("JWKS has no RS256 key %q: %v", kid, e.jwks())
	}
}

// TestOIDCIDTokenUnsigned (oidcc-idtoken-unsigned): the suite skips the
// module when discovery does not list "none"; authd never signs with none
// (and discovery says so), and refuses an unsigned id_token_hint.
func TestOIDCIDTokenUnsigned(t *testing.T) {
	e := newSuiteE2E(t)
	var doc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := e.provider().Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(doc.Algs, "none") || !slices.Contains(doc.Algs, "RS256") {
		t.Errorf("id_token_signing_alg_values_supported %v: want RS256 and never none", doc.Algs)
	}
	b, _, _ := e.signedIn()
	unsigned := requestObject(e2ePubID, map[string]any{"sub": e.sub}) // alg none
	run, p := e.startAuth(b, url.Values{"prompt": {"none"}, "id_token_hint": {unsigned}})
	run.wantError(p, "invalid_request")
}

// TestOIDCUserInfoGet, TestOIDCUserInfoPostHeader, TestOIDCUserInfoPostBody
// (oidcc-userinfo-get, -post-header, -post-body): userinfo answers the
// access token in the header (GET and POST) and in a form body, with the
// ID token's sub.
func TestOIDCUserInfoGet(t *testing.T)        { userinfoModule(t, "get") }
func TestOIDCUserInfoPostHeader(t *testing.T) { userinfoModule(t, "post-header") }
func TestOIDCUserInfoPostBody(t *testing.T)   { userinfoModule(t, "post-body") }

func userinfoModule(t *testing.T, how string) {
	e := newSuiteE2E(t)
	run, claims := e.suiteFlow("default", []string{"openid", "profile"}, nil)
	wantHas(t, "userinfo", e.userinfoClaims(run.tok, how), map[string]any{"sub": claims["sub"], "name": "Alice Liddell"})
}

// TestOIDCEnsureRequestWithoutNonceSucceedsForCodeFlow
// (oidcc-ensure-request-without-nonce-succeeds-for-code-flow): nonce is
// optional in the code flow; the ID token then has none.
func TestOIDCEnsureRequestWithoutNonceSucceedsForCodeFlow(t *testing.T) {
	e := newSuiteE2E(t)
	for _, mode := range responseModes {
		t.Run(mode, func(t *testing.T) {
			_, claims := e.suiteFlow(mode, []string{"openid"}, url.Values{"nonce": {""}})
			wantHas(t, "ID token", claims, map[string]any{"sub": e.sub}, "nonce")
		})
	}
}

// scopeModule runs the flow with scopes and checks userinfo has want and
// lacks absent; the ID token carries none of the scope claims (OIDC Core
// 5.4: for response_type=code they are userinfo's). It returns the
// token response's scope.
func scopeModule(t *testing.T, scopes []string, want map[string]any, absent ...string) []string {
	t.Helper()
	e := newSuiteE2E(t)
	var granted []string
	for _, mode := range responseModes {
		t.Run(mode, func(t *testing.T) {
			run, claims := e.suiteFlow(mode, scopes, nil)
			wantHas(t, "userinfo", e.userinfoClaims(run.tok, "get"), want, absent...)
			wantHas(t, "ID token", claims, nil, append([]string{"name", "email", "address", "phone_number"}, absent...)...)
			granted = strings.Fields(tokenScope(run.tok))
		})
	}
	return granted
}

func merged(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestOIDCScopeProfile (oidcc-scope-profile).
func TestOIDCScopeProfile(t *testing.T) {
	scopeModule(t, []string{"openid", "profile"}, aliceProfile, "email", "email_verified")
}

// TestOIDCScopeEmail (oidcc-scope-email).
func TestOIDCScopeEmail(t *testing.T) {
	scopeModule(t, []string{"openid", "email"}, aliceEmail, "name", "preferred_username")
}

// TestOIDCScopeAddress (oidcc-scope-address): authd keeps no address and
// does not list the scope; a request for it still succeeds, without the
// claim, and the granted scope says so.
func TestOIDCScopeAddress(t *testing.T) {
	if got := scopeModule(t, []string{"openid", "address"}, nil, "address"); slices.Contains(got, "address") || !slices.Contains(got, "openid") {
		t.Errorf("granted scope %v: want openid without address", got)
	}
}

// TestOIDCScopePhone (oidcc-scope-phone): as for address.
func TestOIDCScopePhone(t *testing.T) {
	if got := scopeModule(t, []string{"openid", "phone"}, nil, "phone_number", "phone_number_verified"); slices.Contains(got, "phone") {
		t.Errorf("granted scope %v: want it without phone", got)
	}
}

// TestOIDCScopeAll (oidcc-scope-all): every standard scope at once.
func TestOIDCScopeAll(t *testing.T) {
	scopeModule(t, []string{"openid", "profile", "email", "address", "phone"}, merged(aliceProfile, aliceEmail), "address", "phone_number")
}

// TestOIDCEnsureOtherScopeOrderSucceeds
// (oidcc-ensure-other-scope-order-succeeds): openid need not come first.
func TestOIDCEnsureOtherScopeOrderSucceeds(t *testing.T) {
	scopeModule(t, []string{"email", "openid"}, aliceEmail)
}

// paramModule: a request with extra (sign-in form first) succeeds.
func paramModule(t *testing.T, extra url.Values) {
	t.Helper()
	e := newSuiteE2E(t)
	for _, mode := range responseModes {
		t.Run(mode, func(t *testing.T) {
			run, p := e.startAuthWith(e.newBrowser(), e.suiteConfig("openid"), false, withMode(mode, extra))
			if !isSignIn(t, p) {
				t.Fatalf("%v: want the sign-in form, got %d %.300s", extra, p.Status, p.Body)
			}
			_, claims := run.idToken(run.finish(p))
			wantHas(t, "ID token", claims, map[string]any{"sub": e.sub}, "acr")
		})
	}
}

// TestOIDCDisplayPage (oidcc-display-page).
func TestOIDCDisplayPage(t *testing.T) { paramModule(t, url.Values{"display": {"page"}}) }

// TestOIDCDisplayPopup (oidcc-display-popup).
func TestOIDCDisplayPopup(t *testing.T) { paramModule(t, url.Values{"display": {"popup"}}) }

// TestOIDCUILocales (oidcc-ui-locales).
func TestOIDCUILocales(t *testing.T) { paramModule(t, url.Values{"ui_locales": {"se"}}) }

// TestOIDCClaimsLocales (oidcc-claims-locales).
func TestOIDCClaimsLocales(t *testing.T) { paramModule(t, url.Values{"claims_locales": {"se"}}) }

// TestOIDCEnsureRequestWithUnknownParameterSucceeds
// (oidcc-ensure-request-with-unknown-parameter-succeeds).
func TestOIDCEnsureRequestWithUnknownParameterSucceeds(t *testing.T) {
	paramModule(t, url.Values{"extra_param": {"foobar"}})
}

// TestOIDCEnsureRequestWithACRValuesSucceeds
// (oidcc-ensure-request-with-acr-values-succeeds): acr_values is a
// voluntary request and succeeds; authd establishes no acr, so the ID
// token claims none (no fosite "0"), and discovery lists no
// acr_values_supported. An acr asked as essential (claims parameter)
// cannot be met: unmet_authentication_requirements, before any page.
func TestOIDCEnsureRequestWithACRValuesSucceeds(t *testing.T) {
	paramModule(t, url.Values{"acr_values": {"1 2"}})

	e := newSuiteE2E(t)
	var doc map[string]any
	if err := e.provider().Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if v, ok := doc["acr_values_supported"]; ok {
		t.Errorf("discovery acr_values_supported %v: authd establishes no acr", v)
	}
	_, claims := e.suiteFlow("default", []string{"openid"}, url.Values{"claims": {`{"id_token":{"acr":{"values":["urn:mace:incommon:iap:silver"]}}}`}})
	wantHas(t, "ID token (voluntary acr)", claims, nil, "acr")
	for _, mode := range responseModes {
		run, p := e.startAuthWith(e.newBrowser(), e.suiteConfig("openid"), false,
			withMode(mode, url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"values":["urn:mace:incommon:iap:silver"]}}}`}}))
		run.wantError(p, "unmet_authentication_requirements")
	}
}

// codeExchange signs in with the suite client and returns the code and
// its first exchange's response.
func (e *e2e) codeExchange() (string, *oauth2.Token) {
	e.t.Helper()
	cfg := e.suiteConfig("openid", "offline_access")
	run, p := e.startAuthWith(e.newBrowser(), cfg, false, url.Values{"prompt": {"consent"}})
	q := run.finish(p)
	run.idToken(q)
	return q.Get("code"), run.tok
}

// codeReuseModule: a second exchange of a code, after wait, is
// invalid_grant and revokes what the first one issued.
func codeReuseModule(t *testing.T, wait time.Duration) {
	e := newSuiteE2E(t)
	code, tok := e.codeExchange()
	if !e.active(tok.AccessToken) {
		t.Fatal("the first exchange's access token is not active")
	}
	time.Sleep(wait)
	r := e.postNoFatal("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}, suiteID+":"+suiteSecret)
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if e.active(tok.AccessToken) {
		t.Error("after the code's reuse its access token is still active")
	}
	if rr := e.postNoFatal("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, suiteID+":"+suiteSecret); rr.Status == http.StatusOK {
		t.Errorf("after the code's reuse its refresh token still works: %s", rr)
	}
}

// TestOIDCCodeReuse (oidcc-codereuse).
func TestOIDCCodeReuse(t *testing.T) { codeReuseModule(t, 0) }

// TestOIDCCodeReuse30Seconds (oidcc-codereuse-30seconds): the same after a
// pause (3 s here, not the suite's 30: the code's state in Redis is what
// is tested, and it does not change with the clock before the code's TTL).
func TestOIDCCodeReuse30Seconds(t *testing.T) { codeReuseModule(t, 3*time.Second) }

// TestOIDCEnsureRegisteredRedirectURI (oidcc-ensure-registered-redirect-uri):
// an unregistered redirect_uri gets an error page, never a redirect.
func TestOIDCEnsureRegisteredRedirectURI(t *testing.T) {
	e := newSuiteE2E(t)
	for _, mode := range responseModes {
		cfg := e.suiteConfig("openid")
		cfg.RedirectURL = "http://127.0.0.1:53682/callback/not-registered"
		_, p := e.startAuthWith(e.newBrowser(), cfg, false, withMode(mode, nil))
		if p.Status != http.StatusBadRequest || p.Header.Get("Location") != "" || strings.Contains(p.Body, "not-registered\"") {
			t.Errorf("%s: unregistered redirect_uri: status %d Location %q; want a 400 page that posts nowhere", mode, p.Status, p.Header.Get("Location"))
		}
	}
}

// TestOIDCEnsureRequestWithValidPKCESucceeds
// (oidcc-ensure-request-with-valid-pkce-succeeds): a confidential client
// may use PKCE (S256) too; a wrong verifier fails.
func TestOIDCEnsureRequestWithValidPKCESucceeds(t *testing.T) {
	e := newSuiteE2E(t)
	run, p := e.startAuthWith(e.newBrowser(), e.suiteConfig("openid"), true, nil)
	_, claims := run.idToken(run.finish(p))
	wantHas(t, "ID token", claims, map[string]any{"sub": e.sub})

	run, p = e.startAuthWith(e.newBrowser(), e.suiteConfig("openid"), true, nil)
	q := run.finish(p)
	if _, err := run.cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("exchange with another verifier succeeded")
	}
}

// TestOIDCRefreshToken (oidcc-refresh-token): the refresh works, rotates,
// is bound to its client, and the new ID token keeps iss, sub, aud and
// auth_time with a newer iat (OIDC Core 12.2), verified by go-oidc.
func TestOIDCRefreshToken(t *testing.T) {
	e := newSuiteE2E(t)
	run, p := e.startAuthWith(e.newBrowser(), e.suiteConfig("openid", "offline_access"), false, url.Values{"prompt": {"consent"}})
	_, first := run.idToken(run.finish(p))
	rt := run.tok.RefreshToken
	if rt == "" || strings.ContainsFunc(rt, func(r rune) bool { return r <= ' ' || r > '~' }) {
		t.Fatalf("refresh token %q: want one of visible ASCII", rt)
	}
	other := e.postNoFatal("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, suiteID2+":"+suiteSecret2)
	wantOAuthError(t, other, http.StatusBadRequest, "invalid_grant")

	time.Sleep(1100 * time.Millisecond) // a later iat, in whole seconds
	r := e.postNoFatal("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, suiteID+":"+suiteSecret)
	if r.Status != http.StatusOK || r.str("refresh_token") == "" || r.str("refresh_token") == rt {
		t.Fatalf("refresh: %s; want a new refresh token", r)
	}
	second := verifiedClaims(t, e, suiteID, r.str("id_token"))
	wantHas(t, "refreshed ID token", second, map[string]any{
		"iss": first["iss"], "sub": first["sub"], "aud": first["aud"], "auth_time": first["auth_time"],
	}, "rat", "acr")
	if second["iat"].(float64) <= first["iat"].(float64) {
		t.Errorf("refreshed iat %v, want after the first's %v", second["iat"], first["iat"])
	}
	if n, ok := second["nonce"]; ok && n != first["nonce"] {
		t.Errorf("refreshed nonce %v, want absent or the first's %v", n, first["nonce"])
	}
}

// verifiedClaims verifies raw with go-oidc for client and returns its claims.
func verifiedClaims(t testing.TB, e *e2e, client, raw string) map[string]any {
	t.Helper()
	idt, err := e.provider().Verifier(&oidc.Config{ClientID: client}).Verify(e.ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestOIDCDiscoveryEndpointVerification (oidcc-discovery-endpoint-verification,
// the oidcc-config plan): the document's issuer is authd's, its endpoints
// answer, its JWKS holds signing keys with kid and alg, and it states what
// the Basic profile needs (code, public subjects, RS256, openid, the
// claims parameter) and nothing authd does not do.
func TestOIDCDiscoveryEndpointVerification(t *testing.T) {
	e := newSuiteE2E(t)
	r := e.call(http.MethodGet, "/.well-known/openid-configuration", "", "")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.Raw), &doc); err != nil || r.Status != http.StatusOK {
		t.Fatalf("discovery: %s", r)
	}
	if doc["issuer"] != e.srv.URL {
		t.Errorf("issuer %v, want %s", doc["issuer"], e.srv.URL)
	}
	for _, ep := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"} {
		if u, _ := doc[ep].(string); !strings.HasPrefix(u, e.srv.URL+"/") {
			t.Errorf("%s %v: want an endpoint of %s", ep, doc[ep], e.srv.URL)
		}
	}
	for kid, k := range e.jwks() {
		if k["alg"] == nil || k["use"] != "sig" || kid == "" {
			t.Errorf("JWKS key %q: %v, want kid, alg and use sig", kid, k)
		}
	}
	for field, want := range map[string]string{"response_types_supported": "code", "subject_types_supported": "public",
		"id_token_signing_alg_values_supported": "RS256", "scopes_supported": "openid", "claims_supported": "sub"} {
		if !slices.Contains(strList(doc[field]), want) {
			t.Errorf("%s %v lacks %s", field, doc[field], want)
		}
	}
	wantHas(t, "discovery", doc, map[string]any{"claims_parameter_supported": true, "request_parameter_supported": false,
		"request_uri_parameter_supported": false}, "acr_values_supported", "request_object_signing_alg_values_supported")
	for _, sc := range strList(doc["scopes_supported"]) {
		if slices.Contains(unofferedScopesForTest, sc) {
			t.Errorf("scopes_supported lists %s, which authd keeps no data for", sc)
		}
	}
}

var unofferedScopesForTest = []string{"address", "phone"}

// TestOIDCClaimsEssential (oidcc-claims-essential): name asked as an
// essential userinfo claim with scope openid alone: the consent page asks
// for what releases it (profile), and userinfo then has name but nothing
// else of the profile scope; the ID token has none of it (it was asked at
// userinfo).
func TestOIDCClaimsEssential(t *testing.T) {
	claimsParam := url.Values{"claims": {`{"userinfo":{"name":{"essential":true}}}`}}
	for _, mode := range responseModes {
		t.Run(mode, func(t *testing.T) {
			e := newSuiteE2E(t) // no consent remembered
			run, p := e.startAuthWith(e.newBrowser(), e.suiteConfig("openid"), false, withMode(mode, claimsParam))
			p = run.b.get(run.b.login(p).String())
			if !isConsent(t, p) || !strings.Contains(p.Body, "See your name") {
				t.Fatalf("want the consent page naming what releases name, got %d %.600s", p.Status, p.Body)
			}
			_, claims := run.idToken(run.finish(p))
			wantHas(t, "ID token", claims, nil, "name")
			wantHas(t, "userinfo", e.userinfoClaims(run.tok, "get"), map[string]any{"sub": e.sub, "name": "Alice Liddell"},
				"given_name", "family_name", "preferred_username", "email")
		})
	}
}

// TestOIDCClaimsInIDToken: claims asked in the id_token member are in the
// ID token from the code exchange on (values of the user record at the
// authorization) and in every refreshed one, from the grant's stored
// session: a later change of the record does not show there (no Postgres
// read on refresh) while userinfo shows it. Claims the client's scopes do
// not allow are not released; null, value and values are accepted.
func TestOIDCClaimsInIDToken(t *testing.T) {
	e := newSuiteE2E(t)
	req := `{"id_token":{"name":null,"email":{"essential":true},"email_verified":{"value":true},` +
		`"given_name":{"values":["Alice","Al"]},"phone_number":null,"acr":{"values":["x"]}},"userinfo":{"family_name":null}}`
	run, claims := e.suiteFlow("default", []string{"openid", "offline_access"}, url.Values{"claims": {req}, "prompt": {"consent"}})
	want := map[string]any{"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true, "given_name": "Alice"}
	wantHas(t, "ID token", claims, want, "family_name", "preferred_username", "phone_number", "acr")
	wantHas(t, "userinfo", e.userinfoClaims(run.tok, "get"), map[string]any{"family_name": "Liddell"}, "name", "email")

	if _, err := cli(t, e.srv, "users", "update", "--username", e2eUser, "--name", "Alice Pleasance Liddell", "--family-name", "L."); err != nil {
		t.Fatal(err)
	}
	r := e.postNoFatal("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {run.tok.RefreshToken}}, suiteID+":"+suiteSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %s", r)
	}
	wantHas(t, "refreshed ID token", verifiedClaims(t, e, suiteID, r.str("id_token")), want, "family_name")
	r2 := e.postNoFatal("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, suiteID+":"+suiteSecret)
	wantHas(t, "second refreshed ID token", verifiedClaims(t, e, suiteID, r2.str("id_token")), want)
	tok := &oauth2.Token{AccessToken: r2.str("access_token")}
	wantHas(t, "userinfo after the update", e.userinfoClaims(tok, "get"), map[string]any{"family_name": "L."})

	// The public client may not ask for email: not released, even asked.
	cfg := e.pubConfig("openid")
	run, p := e.startAuthWith(e.newBrowser(), cfg, true, url.Values{"claims": {`{"id_token":{"email":null,"name":null}}`}})
	_, claims = run.idToken(run.finish(p))
	wantHas(t, "public client's ID token", claims, map[string]any{"name": "Alice Pleasance Liddell"}, "email")
}

// TestOIDCClaimsParameterErrors: a claims parameter that is not JSON of
// the right shape is invalid_request at the redirect URI (with state and
// iss); a sub value naming another user than the signed-in one is
// login_required with prompt=none and needs a new sign-in otherwise, and a
// sign-in as someone else still gets no code.
func TestOIDCClaimsParameterErrors(t *testing.T) {
	e := newSuiteE2E(t)
	for _, bad := range []string{`{`, `[]`, `{"userinfo":5}`, `{"id_token":{"name":{"essential":"yes"}}}`} {
		for _, mode := range responseModes {
			run, p := e.startAuthWith(e.newBrowser(), e.suiteConfig("openid"), false, withMode(mode, url.Values{"claims": {bad}}))
			run.wantError(p, "invalid_request")
		}
	}
	b, _, _ := e.signedIn()
	bob := e.srv.addUser(t, "bob", "bob's password is long enough")
	forBob := url.Values{"claims": {`{"id_token":{"sub":{"value":"` + bob + `"}}}`}}
	run, p := e.startAuth(b, url.Values{"prompt": {"none"}, "claims": forBob["claims"]})
	run.wantError(p, "login_required")
	run, p = e.startAuth(b, forBob)
	if !isSignIn(t, p) {
		t.Fatalf("sub of another user: want the sign-in form, got %d", p.Status)
	}
	run.wantError(run.b.get(run.b.login(p).String()), "access_denied") // signed in as alice again
	run, p = e.startAuth(b, url.Values{"prompt": {"none"}, "claims": {`{"id_token":{"sub":{"value":"` + e.sub + `"}}}`}})
	_, claims := run.idToken(run.finish(p))
	wantHas(t, "ID token", claims, map[string]any{"sub": e.sub})
}

// TestFaultPostgresDownIDTokenClaims: the ID token claims the claims
// parameter asked for come from the grant's session in Redis: with
// Postgres stopped a refresh still issues them.
func TestFaultPostgresDownIDTokenClaims(t *testing.T) {
	pg := startOwnPostgres(t)
	e := newSuiteE2E(t, func(c *Config) {
		c.DatabaseURL = pg.URL()
		c.ClientCacheTTL = time.Hour // the client comes from the cache
	})
	run, claims := e.suiteFlow("default", []string{"openid", "offline_access"},
		url.Values{"claims": {`{"id_token":{"name":null,"email":null}}`}, "prompt": {"consent"}})
	want := map[string]any{"name": "Alice Liddell", "email": "alice@example.com"}
	wantHas(t, "ID token", claims, want)

	pg.Stop()
	r := e.postNoFatal("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {run.tok.RefreshToken}}, suiteID+":"+suiteSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh with Postgres down: %s", r)
	}
	wantHas(t, "refreshed ID token with Postgres down", verifiedClaims(t, e, suiteID, r.str("id_token")), want)
}
