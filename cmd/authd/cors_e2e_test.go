package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

// CORS for browser apps (issue 13): the token, revocation and userinfo
// endpoints answer a client's web origins (its redirect URIs' origins plus
// --allowed-cors-origin); discovery and JWKS answer "*"; introspection,
// pages, the admin and account APIs never allow a cross-origin call.

const (
	corsAppOrigin   = "http://127.0.0.1:53682" // the origin of e2eRedirect
	corsOtherOrigin = "https://evil.example"
	corsAddedOrigin = "http://localhost:5173"
	corsAdminToken  = "cors-admin-token-0123456789abcdef0123"
)

// corsCall sends method path with an Origin header (none when origin is
// ""), extra headers as "Name: value", and body as a form.
func (e *e2e) corsCall(method, path, origin, body string, headers ...string) apiResp {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	return mustFetch(e.t, e.hc, req)
}

// preflight is a browser's CORS preflight for method with the request
// headers asked for.
func (e *e2e) preflight(path, origin, method, reqHeaders string) apiResp {
	e.t.Helper()
	h := []string{"Access-Control-Request-Method: " + method}
	if reqHeaders != "" {
		h = append(h, "Access-Control-Request-Headers: "+reqHeaders)
	}
	return e.corsCall(http.MethodOptions, path, origin, "", h...)
}

func wantACAO(t *testing.T, what string, r apiResp, want string) {
	t.Helper()
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != want {
		t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q (status %d)", what, got, want, r.Status)
	}
	if r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("%s: Access-Control-Allow-Credentials must not be sent", what)
	}
}

func wantVaryOrigin(t *testing.T, what string, r apiResp) {
	t.Helper()
	for _, v := range r.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Origin") {
				return
			}
		}
	}
	t.Errorf("%s: no Vary: Origin (Vary %q)", what, r.Header.Values("Vary"))
}

// wantPreflight checks an accepted preflight: 204, the origin, the methods
// and both request headers allowed, a modest Max-Age.
func wantPreflight(t *testing.T, what string, r apiResp, origin string, methods ...string) {
	t.Helper()
	if r.Status != http.StatusNoContent {
		t.Errorf("%s: preflight status %d, want 204", what, r.Status)
	}
	wantACAO(t, what, r, origin)
	wantVaryOrigin(t, what, r)
	allowed := strings.ToLower(r.Header.Get("Access-Control-Allow-Methods"))
	for _, m := range methods {
		if !strings.Contains(allowed, strings.ToLower(m)) {
			t.Errorf("%s: Access-Control-Allow-Methods %q lacks %s", what, allowed, m)
		}
	}
	if origin != "*" {
		hdrs := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
		if !strings.Contains(hdrs, "authorization") || !strings.Contains(hdrs, "content-type") {
			t.Errorf("%s: Access-Control-Allow-Headers %q, want Authorization and Content-Type", what, hdrs)
		}
	}
	if r.Header.Get("Access-Control-Max-Age") == "" {
		t.Errorf("%s: no Access-Control-Max-Age", what)
	}
}

func TestE2ECORSToken(t *testing.T) {
	e := newE2E(t)
	wantPreflight(t, "token preflight", e.preflight("/oauth2/token", corsAppOrigin, "POST", "content-type"), corsAppOrigin, "POST")

	tok := e.pkceLogin()
	refresh := func(rt, origin string) apiResp {
		return e.corsCall(http.MethodPost, "/oauth2/token", origin, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {e2ePubID}}.Encode())
	}
	r := refresh(tok.RefreshToken, corsAppOrigin)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh from the app's origin: %v", r)
	}
	wantACAO(t, "token from the client's origin", r, corsAppOrigin)
	wantVaryOrigin(t, "token from the client's origin", r)

	r = refresh(r.str("refresh_token"), corsOtherOrigin)
	wantACAO(t, "token from an unrelated origin", r, "")
	wantVaryOrigin(t, "token from an unrelated origin", r)

	// The confidential client authenticates with HTTP Basic: the client is
	// the one named there.
	r = e.corsCall(http.MethodPost, "/oauth2/token", corsAppOrigin, url.Values{
		"grant_type": {"client_credentials"}, "scope": {"api:read"}}.Encode(), "Authorization: Basic "+basicValue(confBasic))
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials: %v", r)
	}
	wantACAO(t, "token with Basic from the client's origin", r, corsAppOrigin)

	// Without Origin (a server-side client) nothing CORS is added but Vary.
	r = refresh(r.str("refresh_token"), "")
	wantACAO(t, "token without Origin", r, "")
}

// basicValue is the Authorization: Basic credentials for "id:secret".
func basicValue(idSecret string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	setBasic(req, idSecret)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func TestE2ECORSAllowedOriginFlag(t *testing.T) {
	e := newE2E(t)
	if _, err := cli(t, e.srv, "clients", "create", "--id", "spa", "--public", "--redirect-uri", e2eRedirect,
		"--grant-types", "authorization_code,refresh_token", "--scopes", "openid offline_access",
		"--allowed-cors-origin", corsAddedOrigin); err != nil {
		t.Fatalf("clients create --allowed-cors-origin: %v", err)
	}
	cfg := &oauth2.Config{ClientID: "spa", Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect,
		Scopes: []string{"openid", "offline_access"}}
	v := oauth2.GenerateVerifier()
	q := e.authorize(cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(v)))
	r := e.corsCall(http.MethodPost, "/oauth2/token", corsAddedOrigin, url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {e2eRedirect},
		"client_id": {"spa"}, "code_verifier": {v}}.Encode())
	if r.Status != http.StatusOK {
		t.Fatalf("code exchange from the added origin: %v", r)
	}
	wantACAO(t, "code exchange from the --allowed-cors-origin origin", r, corsAddedOrigin)

	r = e.corsCall(http.MethodPost, "/oauth2/revoke", corsAddedOrigin, url.Values{
		"token": {r.str("refresh_token")}, "client_id": {"spa"}}.Encode())
	if r.Status != http.StatusOK {
		t.Fatalf("revoke from the added origin: %v", r)
	}
	wantACAO(t, "revoke from the --allowed-cors-origin origin", r, corsAddedOrigin)
	// Another client does not get spa's origin.
	r = e.corsCall(http.MethodPost, "/oauth2/revoke", corsAddedOrigin, url.Values{
		"token": {"x"}, "client_id": {e2ePubID}}.Encode())
	wantACAO(t, "revoke of another client from spa's origin", r, "")

	if _, err := cli(t, e.srv, "clients", "update", "--id", "spa", "--allowed-cors-origin", "https://app.example",
		"--allowed-cors-origin", "http://localhost:8080"); err != nil {
		t.Fatalf("clients update --allowed-cors-origin: %v", err)
	}
	out, err := cli(t, e.srv, "clients", "list", "--json")
	if err != nil || !strings.Contains(out, `"https://app.example"`) || !strings.Contains(out, `"http://localhost:8080"`) {
		t.Fatalf("clients list after update: %v %s", err, out)
	}
}

func TestE2ECORSRevocationAndUserinfo(t *testing.T) {
	e := newE2E(t)
	wantPreflight(t, "revoke preflight", e.preflight("/oauth2/revoke", corsAppOrigin, "POST", "content-type"), corsAppOrigin, "POST")
	wantPreflight(t, "userinfo preflight", e.preflight("/userinfo", corsAppOrigin, "GET", "authorization"), corsAppOrigin, "GET", "POST")

	tok := e.pkceLogin()
	bearer := "Authorization: Bearer " + tok.AccessToken
	r := e.corsCall(http.MethodGet, "/userinfo", corsAppOrigin, "", bearer)
	if r.Status != http.StatusOK {
		t.Fatalf("userinfo: %v", r)
	}
	wantACAO(t, "userinfo from the token's client's origin", r, corsAppOrigin)
	wantVaryOrigin(t, "userinfo from the token's client's origin", r)
	r = e.corsCall(http.MethodGet, "/userinfo", corsOtherOrigin, "", bearer)
	wantACAO(t, "userinfo from an unrelated origin", r, "")
	wantVaryOrigin(t, "userinfo from an unrelated origin", r)

	r = e.corsCall(http.MethodPost, "/oauth2/revoke", corsOtherOrigin, url.Values{
		"token": {tok.AccessToken}, "client_id": {e2ePubID}}.Encode())
	wantACAO(t, "revoke from an unrelated origin", r, "")
	r = e.corsCall(http.MethodPost, "/oauth2/revoke", corsAppOrigin, url.Values{
		"token": {tok.RefreshToken}, "client_id": {e2ePubID}}.Encode())
	if r.Status != http.StatusOK {
		t.Fatalf("revoke: %v", r)
	}
	wantACAO(t, "revoke from the client's origin", r, corsAppOrigin)
}

func TestE2ECORSDiscoveryAndJWKS(t *testing.T) {
	e := newE2E(t)
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
		r := e.corsCall(http.MethodGet, p, corsOtherOrigin, "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %v", p, r)
		}
		wantACAO(t, "GET "+p, r, "*")
		wantPreflight(t, "preflight "+p, e.preflight(p, corsOtherOrigin, "GET", ""), "*", "GET")
	}
}

func TestE2ECORSNeverOnIntrospectionPagesAdminAccount(t *testing.T) {
	e := newE2E(t, func(c *Config) { c.AdminToken = corsAdminToken })
	// An introspecting client with a web origin still gets no CORS.
	e.srv.addClient(t, storage.Client{ID: "rs-web", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"},
		Introspect: true, CORSOrigins: []string{corsAppOrigin}}, e2eRSSecret)
	tok := e.pkceLogin() // its client, cli, has corsAppOrigin

	pre := e.preflight("/oauth2/introspect", corsAppOrigin, "POST", "authorization,content-type")
	if pre.Status >= 200 && pre.Status < 300 {
		t.Errorf("introspection preflight accepted: %d", pre.Status)
	}
	wantACAO(t, "introspection preflight", pre, "")
	r := e.corsCall(http.MethodPost, "/oauth2/introspect", corsAppOrigin, url.Values{"token": {tok.AccessToken}}.Encode(),
		"Authorization: Basic "+basicValue("rs-web:"+e2eRSSecret))
	if r.Status != http.StatusOK {
		t.Fatalf("introspect: %v", r)
	}
	wantACAO(t, "introspection", r, "")

	checks := []struct{ method, path, header string }{
		{http.MethodGet, "/login", ""},
		{http.MethodGet, "/oauth2/auth?client_id=cli", ""},
		{http.MethodGet, "/admin/subjects/" + e.sub + "/grants", "Authorization: Bearer " + corsAdminToken},
		{http.MethodGet, "/api/me/grants", "Authorization: Bearer " + tok.AccessToken},
	}
	for _, c := range checks {
		h := []string{}
		if c.header != "" {
			h = append(h, c.header)
		}
		wantACAO(t, c.method+" "+c.path, e.corsCall(c.method, c.path, corsAppOrigin, "", h...), "")
		wantACAO(t, "preflight "+c.path, e.preflight(c.path, corsAppOrigin, c.method, "authorization"), "")
	}
}
