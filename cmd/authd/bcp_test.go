package main

// RFC 9700 (OAuth 2.0 Security Best Current Practice), the parts that apply to
// an authorization server with the code grant, PKCE, refresh tokens and
// client credentials, as one table of checks over a real authd.
//
// Not applicable, and so not tested here: the implicit and password grants
// (not composed: tested below only as refused), mix-up defence with several
// ASes (authd is one issuer; RFC 9207 "iss" is checked only if discovery
// announces it), sender-constrained access tokens with mTLS/DPoP (not
// implemented: refresh tokens of confidential clients are bound by client
// authentication and those of public clients by rotation with reuse
// detection), and PAR/JAR.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

const bcpRedirect = "https://app.example.com/cb"

// authorizeQuery is an authorization request for client with the usual
// parameters; over adds or replaces parameters ("" deletes one).
func authorizeQuery(client, redirect string, over map[string]string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect},
		"scope": {"openid offline_access"}, "state": {"state-0123456789abcdef"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"},
	}
	for k, v := range over {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return "/oauth2/auth?" + q.Encode()
}

// signedIn returns a browser signed in as the e2e user.
func signedIn(t *testing.T, e *e2e) *browser {
	t.Helper()
	b := e.newBrowser()
	if u := b.login(b.get(e.srv.URL + "/login")); u.Path != "/login" {
		t.Fatalf("after sign-in: %s", u)
	}
	return b
}

// authorizeAllow sends the authorization request at path (signed in) and
// allows the consent page if one is shown; it returns the final response.
func authorizeAllow(t *testing.T, b *browser, path string) page {
	t.Helper()
	p := b.get(b.e.srv.URL + path)
	if p.Status == http.StatusOK && len(parseForms(t, p.Body)) == 1 {
		if _, ok := onlyForm(t, p).Inputs["consent"]; ok {
			f := onlyForm(t, p)
			action, _ := p.URL.Parse(f.Action)
			p = b.post(action.String(), url.Values{"consent": {"allow"}, "csrf_token": {csrfToken(t, f)}})
		}
	}
	return p
}

func TestBCPExactRedirectURIMatching(t *testing.T) {
	e := newE2E(t)
	e.srv.addClient(t, storage.Client{
		ID: "bcp-web", RedirectURIs: []string{bcpRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "offline_access"},
	}, "bcp-web-secret-0123456789abcdef")
	b := signedIn(t, e)

	rejected := []struct{ name, client, uri string }{
		{"prefix", "bcp-web", "https://app.example.com/c"},
		{"suffix: trailing slash", "bcp-web", bcpRedirect + "/"},
		{"suffix: sub-path", "bcp-web", bcpRedirect + "/evil"},
		{"suffix: path traversal", "bcp-web", bcpRedirect + "/../evil"},
		{"suffix: query", "bcp-web", bcpRedirect + "?next=https://evil.example"},
		{"suffix: fragment", "bcp-web", bcpRedirect + "#x"},
		{"suffix: host", "bcp-web", "https://app.example.com.evil.example/cb"},
		{"case: host", "bcp-web", "https://APP.example.com/cb"},
		{"case: path", "bcp-web", "https://app.example.com/CB"},
		{"case: scheme", "bcp-web", "HTTPS://app.example.com/cb"},
		{"scheme downgrade", "bcp-web", "http://app.example.com/cb"},
		{"port: explicit default", "bcp-web", "https://app.example.com:443/cb"},
		{"port: other", "bcp-web", "https://app.example.com:8443/cb"},
		{"userinfo", "bcp-web", "https://app.example.com@evil.example/cb"},
		{"percent-encoded path", "bcp-web", "https://app.example.com/c%62"},
		{"another client's URI", "bcp-web", e2eRedirect},
		{"loopback: other host spelling", e2ePubID, "http://localhost:53682/callback"},
		{"loopback: other path", e2ePubID, "http://127.0.0.1:53682/callback/x"},
		{"loopback: https", e2ePubID, "https://127.0.0.1:53682/callback"},
	}
	for _, c := range rejected {
		t.Run("rejected/"+c.name, func(t *testing.T) {
			p := b.get(e.srv.URL + authorizeQuery(c.client, c.uri, nil))
			if loc := p.Header.Get("Location"); loc != "" {
				t.Fatalf("redirected to %q (status %d)", loc, p.Status)
			}
			if p.Status != http.StatusBadRequest {
				t.Errorf("status %d, want 400 (an error page); body %.300s", p.Status, p.Body)
			}
			if !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
				t.Errorf("error page Content-Type %q", p.Header.Get("Content-Type"))
			}
		})
	}

	// The exact URI works.
	p := authorizeAllow(t, b, authorizeQuery("bcp-web", bcpRedirect, nil))
	if u := p.location(t); u.Scheme+"://"+u.Host+u.Path != bcpRedirect || u.Query().Get("code") == "" {
		t.Errorf("exact redirect URI: redirected to %s", u)
	}
	// RFC 8252 §7.3 (and RFC 9700 §2.1): a native app's loopback redirect
	// URI may use any port; everything else must match exactly.
	p = authorizeAllow(t, b, authorizeQuery(e2ePubID, "http://127.0.0.1:40000/callback", nil))
	if u := p.location(t); u.Host != "127.0.0.1:40000" || u.Query().Get("code") == "" {
		t.Errorf("loopback redirect URI with another port: redirected to %s", u)
	}
}

func TestBCPPKCE(t *testing.T) {
	e := newE2E(t)
	b := signedIn(t, e)
	exchange := func(client, code string, verifier string, basic string) apiResp {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}
		if basic == "" {
			form.Set("client_id", client)
		}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		return e.post("/oauth2/token", form, basic)
	}
	codeFor := func(t *testing.T, client string, over map[string]string) url.Values {
		t.Helper()
		return callback(t, authorizeAllow(t, b, authorizeQuery(client, e2eRedirect, over)).location(t))
	}

	t.Run("challenge at authorize, no verifier at token (public client)", func(t *testing.T) {
		q := codeFor(t, e2ePubID, nil)
		wantOAuthError(t, exchange(e2ePubID, q.Get("code"), "", ""), http.StatusBadRequest, "invalid_request", "invalid_grant")
	})
	t.Run("challenge at authorize, no verifier at token (confidential client)", func(t *testing.T) {
		q := codeFor(t, e2eConfID, nil)
		wantOAuthError(t, exchange(e2eConfID, q.Get("code"), "", confBasic), http.StatusBadRequest, "invalid_request", "invalid_grant")
	})
	t.Run("challenge at authorize, wrong verifier", func(t *testing.T) {
		q := codeFor(t, e2ePubID, nil)
		wantOAuthError(t, exchange(e2ePubID, q.Get("code"), oauth2.GenerateVerifier(), ""), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("no challenge at authorize (public client): refused at the authorization endpoint", func(t *testing.T) {
		q := codeFor(t, e2ePubID, map[string]string{"code_challenge": "", "code_challenge_method": ""})
		if q.Get("code") != "" || q.Get("error") != "invalid_request" {
			t.Errorf("authorization response %v, want error=invalid_request and no code", q)
		}
	})
	t.Run("no challenge at authorize, verifier at token (confidential client)", func(t *testing.T) {
		// RFC 9700 §2.1.1: a code_verifier without a code_challenge in the
		// authorization request is refused (PKCE downgrade).
		q := codeFor(t, e2eConfID, map[string]string{"code_challenge": "", "code_challenge_method": ""})
		if q.Get("code") == "" {
			t.Fatalf("authorization without PKCE (confidential client): %v", q)
		}
		wantOAuthError(t, exchange(e2eConfID, q.Get("code"), oauth2.GenerateVerifier(), confBasic), http.StatusBadRequest, "invalid_request", "invalid_grant")
	})
	t.Run("plain challenge method refused", func(t *testing.T) {
		for _, client := range []string{e2ePubID, e2eConfID} {
			v := oauth2.GenerateVerifier()
			q := codeFor(t, client, map[string]string{"code_challenge": v, "code_challenge_method": "plain"})
			if q.Get("code") != "" || q.Get("error") != "invalid_request" {
				t.Errorf("%s: plain PKCE: authorization response %v, want error=invalid_request", client, q)
			}
		}
	})
	t.Run("discovery announces S256 only", func(t *testing.T) {
		r := e.call(http.MethodGet, "/.well-known/openid-configuration", "", "")
		if m := strList(r.JSON["code_challenge_methods_supported"]); len(m) != 1 || m[0] != "S256" {
			t.Errorf("code_challenge_methods_supported %v", m)
		}
	})
}

func TestBCPAuthorizationCodeLifetime(t *testing.T) {
	e := newE2E(t, func(c *Config) { c.AuthCodeTTL = 2 * time.Second })
	b := signedIn(t, e)
	cfg := e.pubConfig()
	v := oauth2.GenerateVerifier()
	q := b.authorize(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(v)))
	time.Sleep(3 * time.Second)
	r := e.post("/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {e2ePubID},
		"redirect_uri": {e2eRedirect}, "code_verifier": {v},
	})
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")

	// Single use (a second redemption revokes the first one's tokens) is in
	// TestE2EBadInput/code_used_twice and TestRaceCodeRedemptionHTTP.
	v = oauth2.GenerateVerifier()
	q = b.authorize(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(v)))
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {e2ePubID},
		"redirect_uri": {e2eRedirect}, "code_verifier": {v},
	}
	if r := e.post("/oauth2/token", form); r.Status != http.StatusOK {
		t.Fatalf("fresh code: %v", r)
	}
	wantOAuthError(t, e.post("/oauth2/token", form), http.StatusBadRequest, "invalid_grant")
}

func TestBCPRefreshTokenBoundToClient(t *testing.T) {
	e := newE2E(t)
	b := signedIn(t, e)
	// A's refresh tokens: the public client's and the confidential client's.
	pub := e.pkceLogin()
	code := e.confCode(b, "openid", "offline_access")
	conf := e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}, confBasic)
	if conf.Status != http.StatusOK || conf.str("refresh_token") == "" {
		t.Fatalf("confidential exchange: %v", conf)
	}

	// Client B presenting client A's refresh token.
	r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pub.RefreshToken}}, confBasic)
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	r = e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {conf.str("refresh_token")}, "client_id": {e2ePubID}})
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	// ...or without the secret.
	r = e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {conf.str("refresh_token")}, "client_id": {e2eConfID}})
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")

	// The attempts did not burn the tokens for their rightful clients.
	if r := e.refresh(pub.RefreshToken); r.Status != http.StatusOK {
		t.Errorf("the public client's own refresh: %v", r)
	}
	if r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {conf.str("refresh_token")}}, confBasic); r.Status != http.StatusOK {
		t.Errorf("the confidential client's own refresh: %v", r)
	}
}

func TestBCPNoTokensInURLs(t *testing.T) {
	e := newE2E(t)
	b := signedIn(t, e)
	v := oauth2.GenerateVerifier()
	p := authorizeAllow(t, b, strings.TrimPrefix(e.pubConfig().AuthCodeURL("state-0123456789abcdef", oauth2.S256ChallengeOption(v)), e.srv.URL))
	u := p.location(t)
	if u.Fragment != "" {
		t.Errorf("authorization response has a fragment: %s", u)
	}
	allowed := map[string]bool{"code": true, "state": true, "scope": true, "iss": true}
	for k := range u.Query() {
		if !allowed[k] {
			t.Errorf("authorization response carries %q: %s", k, u)
		}
	}
	disc := e.call(http.MethodGet, "/.well-known/openid-configuration", "", "")
	if iss, _ := disc.JSON["authorization_response_iss_parameter_supported"].(bool); iss {
		if got := u.Query().Get("iss"); got != e.srv.URL {
			t.Errorf("RFC 9207: iss %q, want %q", got, e.srv.URL)
		}
	} else {
		t.Log("RFC 9207 iss in the authorization response: not announced, not checked (authd is a single issuer)")
	}

	r := e.post("/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "client_id": {e2ePubID},
		"redirect_uri": {e2eRedirect}, "code_verifier": {v},
	})
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %v", r)
	}
	wantNoStore := func(what string, r apiResp) {
		t.Helper()
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
		}
		if pr := r.Header.Get("Pragma"); pr != "no-cache" {
			t.Errorf("%s: Pragma %q, want no-cache", what, pr)
		}
	}
	wantNoStore("code exchange", r)
	r2 := e.refresh(r.str("refresh_token"))
	wantNoStore("refresh", r2)
	wantNoStore("client_credentials", e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, confBasic))
	wantNoStore("token error", e.refresh("garbage"))
	if r := e.introspect(r2.str("access_token")); !strings.Contains(r.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("introspection: Cache-Control %q", r.Header.Get("Cache-Control"))
	}

	// Access tokens are not accepted in the query string (RFC 6750 §2.3 is
	// discouraged by RFC 9700 §4.3.2).
	g := e.call(http.MethodGet, "/userinfo?access_token="+url.QueryEscape(r2.str("access_token")), "", "")
	if g.Status == http.StatusOK {
		t.Error("userinfo accepted an access token in the query string")
	}
}

func TestBCPRefusedGrantsAndOpenRedirects(t *testing.T) {
	e := newE2E(t)
	b := signedIn(t, e)
	// Implicit (tokens in the URL) and ROPC are not composed.
	p := authorizeAllow(t, b, authorizeQuery(e2eConfID, e2eRedirect, map[string]string{"response_type": "token"}))
	if loc := p.Header.Get("Location"); strings.Contains(loc, "access_token") {
		t.Errorf("implicit grant issued a token: %s", loc)
	}
	if p.Status == http.StatusOK || p.Status >= 500 {
		t.Errorf("response_type=token: %d", p.Status)
	}
	r := e.post("/oauth2/token", url.Values{"grant_type": {"password"}, "username": {e2eUser}, "password": {e2ePassword}}, confBasic)
	wantOAuthError(t, r, http.StatusBadRequest, "unsupported_grant_type")

	// The sign-in page's "next" is never an open redirector.
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
		b := e.newBrowser()
		p := b.get(e.srv.URL + "/login?next=" + url.QueryEscape(next))
		f := onlyForm(t, p)
		resp := b.post(e.srv.URL+"/login", url.Values{
			"username": {e2eUser}, "password": {e2ePassword}, "next": {next}, "csrf_token": {csrfToken(t, f)},
		})
		if u := resp.location(t); u.Host != p.URL.Host || u.Path != "/login" {
			t.Errorf("next=%q: signed in and sent to %s", next, u)
		}
	}
}
