package main

// Dynamic client registration (RFC 7591) and management (RFC 7592), end
// to end against the real services: who may register in token and open
// mode, the policy's errors, a registered client signing a user in with
// code + PKCE (its ID token verified with go-oidc), reading, updating and
// deleting the registration, and the per-source limit.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	dynreg "github.com/authd/authd/registration"
)

// regInitialToken is the initial access token of the token-mode tests.
const regInitialToken = "initial-access-token-0123456789abcdef"

func tokenMode(c *Config) {
	c.Registration, c.RegistrationToken = dynreg.Token, regInitialToken
}

func openMode(c *Config) { c.Registration = dynreg.Open }

// regDo sends a registration request: body as JSON (no body when ""),
// token as Bearer ("" sends none), and extra headers in pairs.
func (e *e2e) regDo(method, path, token, body string, headers ...string) apiResp {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return mustFetch(e.t, e.hc, req)
}

// register registers metadata with token and expects 201.
func (e *e2e) register(token, metadata string, headers ...string) apiResp {
	e.t.Helper()
	r := e.regDo(http.MethodPost, dynreg.Path, token, metadata, headers...)
	if r.Status != http.StatusCreated {
		e.t.Fatalf("register %s: %v", metadata, r)
	}
	return r
}

// regPath is the path of a registration's registration_client_uri.
func (e *e2e) regPath(r apiResp) string {
	e.t.Helper()
	uri := r.str("registration_client_uri")
	if want := e.srv.URL + dynreg.Path + "/" + r.str("client_id"); uri != want {
		e.t.Fatalf("registration_client_uri %q, want %q", uri, want)
	}
	return strings.TrimPrefix(uri, e.srv.URL)
}

// wantChallenge asserts a 401 with an RFC 6750 Bearer challenge (with
// error="invalid_token" when withError).
func wantChallenge(t *testing.T, r apiResp, withError bool) {
	t.Helper()
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_token")
	ch := r.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, "Bearer ") || strings.Contains(ch, `error="invalid_token"`) != withError {
		t.Errorf("WWW-Authenticate %q (want the error attribute: %v)", ch, withError)
	}
}

const webMetadata = `{"client_name":"Registered Web App","redirect_uris":["` + e2eRedirect + `"],
	"grant_types":["authorization_code","refresh_token"],"response_types":["code"],
	"scope":"openid profile offline_access","token_endpoint_auth_method":"client_secret_basic"}`

// TestRegistrationTokenMode: with AUTHD_REGISTRATION=token, registration
// needs the initial access token; the policy refuses bad metadata with
// RFC 7591's errors; a registered confidential client signs a user in
// with code + PKCE and an ID token go-oidc verifies; it is an ordinary
// client (clients list); registration and its logs keep secrets out.
func TestRegistrationTokenMode(t *testing.T) {
	logs := &lockedBuffer{}
	e := newE2ELog(t, logs, tokenMode)
	if got := e.provider(); got.Endpoint().TokenURL == "" {
		t.Fatal("no discovery")
	}
	disc := e.call(http.MethodGet, "/.well-known/openid-configuration", "", "")
	if got := disc.str("registration_endpoint"); got != e.srv.URL+"/oauth2/register" {
		t.Errorf("registration_endpoint %q", got)
	}
	wantChallenge(t, e.regDo(http.MethodPost, dynreg.Path, "", webMetadata), false)
	wantChallenge(t, e.regDo(http.MethodPost, dynreg.Path, regInitialToken+"x", webMetadata), true)
	wantChallenge(t, e.regDo(http.MethodPost, dynreg.Path, regInitialToken[:32], webMetadata), true)

	for _, tc := range []struct{ name, body, code string }{
		{"http redirect off loopback", `{"redirect_uris":["http://app.example/cb"]}`, "invalid_redirect_uri"},
		{"fragment", `{"redirect_uris":["https://app.example/cb#x"]}`, "invalid_redirect_uri"},
		{"custom scheme, confidential", `{"redirect_uris":["com.example.app:/cb"]}`, "invalid_redirect_uri"},
		{"unknown grant type", `{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","implicit"]}`, "invalid_client_metadata"},
		{"token response type", `{"redirect_uris":["https://app.example/cb"],"response_types":["token"]}`, "invalid_client_metadata"},
		{"public client_credentials (no user, no PKCE)", `{"token_endpoint_auth_method":"none","grant_types":["client_credentials"]}`, "invalid_client_metadata"},
		{"unknown auth method", `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_jwt"}`, "invalid_client_metadata"},
		{"code grant without redirect URI", `{"grant_types":["authorization_code"]}`, "invalid_client_metadata"},
		{"introspect", `{"grant_types":["client_credentials"],"introspect":true}`, "invalid_client_metadata"},
		{"jwks_uri", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://keys.example/jwks"}`, "invalid_client_metadata"},
		{"not JSON", `redirect_uris=x`, "invalid_client_metadata"},
		{"wrong type", `{"redirect_uris":"https://app.example/cb"}`, "invalid_client_metadata"},
	} {
		r := e.regDo(http.MethodPost, dynreg.Path, regInitialToken, tc.body)
		wantOAuthError(t, r, http.StatusBadRequest, tc.code)
		if strings.Contains(r.str("error_description"), "--") {
			t.Errorf("%s: the description names a flag: %s", tc.name, r.Raw)
		}
	}

	before := time.Now().Add(-2 * time.Second).Unix()
	reg := e.register(regInitialToken, webMetadata)
	id, secret, rat := reg.str("client_id"), reg.str("client_secret"), reg.str("registration_access_token")
	if id == "" || len(secret) < 32 || len(rat) < 32 || reg.JSON["client_secret_expires_at"] != float64(0) ||
		reg.JSON["client_id_issued_at"].(float64) < float64(before) || reg.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("registration response: %v", reg)
	}
	if reg.str("client_name") != "Registered Web App" || reg.str("token_endpoint_auth_method") != "client_secret_basic" ||
		fmt.Sprint(reg.JSON["grant_types"]) != "[authorization_code refresh_token]" || reg.str("scope") != "openid profile offline_access" {
		t.Errorf("registered metadata: %v", reg)
	}
	e.regPath(reg)
	if got := clientJSONOf(t, e.srv, id); got["name"] != "Registered Web App" || got["public"] != false {
		t.Errorf("clients list --json: %v", got)
	}

	tok := e.registeredLogin(id, secret, e2eRedirect)
	if tok.RefreshToken == "" || !e.active(tok.AccessToken) {
		t.Errorf("the registered client's tokens: %+v", tok)
	}
	for _, s := range []string{secret, rat, regInitialToken} {
		if strings.Contains(logs.String(), s) {
			t.Error("a secret or token is in the logs")
		}
	}
	if !strings.Contains(logs.String(), `"msg":"client registered"`) || !strings.Contains(logs.String(), id) {
		t.Error("the registration is not logged")
	}
}

// registeredLogin runs code + PKCE for a registered confidential client
// with redirect, verifies the ID token with go-oidc, and returns the
// tokens.
func (e *e2e) registeredLogin(id, secret, redirect string) *oauth2.Token {
	e.t.Helper()
	cfg := &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: e.endpoint(oauth2.AuthStyleInHeader),
		RedirectURL: redirect, Scopes: []string{"openid", "profile", "offline_access"}}
	v, state, nonce := oauth2.GenerateVerifier(), randString(e.t), randString(e.t)
	q := e.authorize(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(v), oidc.Nonce(nonce)))
	if q.Get("state") != state || q.Get("code") == "" {
		e.t.Fatalf("callback %v", q)
	}
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider().Verifier(&oidc.Config{ClientID: id}).Verify(e.oauthCtx(), raw)
	if err != nil {
		e.t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != e.sub || idt.Nonce != nonce {
		e.t.Errorf("ID token sub %q nonce %q", idt.Subject, idt.Nonce)
	}
	return tok
}

// TestRegistrationManagement: RFC 7592 with the registration access
// token: read; update, after which the new redirect URI works and the old
// one is refused; delete, after which the client's refresh and access
// tokens fail. Wrong or missing tokens, and another client's, are 401.
func TestRegistrationManagement(t *testing.T) {
	logs := &lockedBuffer{}
	e := newE2ELog(t, logs, tokenMode)
	reg := e.register(regInitialToken, webMetadata)
	other := e.register(regInitialToken, webMetadata)
	id, secret, rat, path := reg.str("client_id"), reg.str("client_secret"), reg.str("registration_access_token"), e.regPath(reg)
	tok := e.registeredLogin(id, secret, e2eRedirect)

	wantChallenge(t, e.regDo(http.MethodGet, path, "", ""), false)
	wantChallenge(t, e.regDo(http.MethodGet, path, rat+"x", ""), true)
	wantChallenge(t, e.regDo(http.MethodGet, path, other.str("registration_access_token"), ""), true)
	wantChallenge(t, e.regDo(http.MethodGet, dynreg.Path+"/"+e2eConfID, rat, ""), true) // not registered here
	wantChallenge(t, e.regDo(http.MethodGet, path, regInitialToken, ""), true)          // the initial token manages nothing
	read := e.regDo(http.MethodGet, path, rat, "")
	if read.Status != http.StatusOK || read.str("client_id") != id || read.str("client_secret") != "" ||
		read.str("client_name") != "Registered Web App" || read.str("registration_access_token") != rat ||
		read.JSON["client_id_issued_at"] != reg.JSON["client_id_issued_at"] {
		t.Fatalf("read: %v", read)
	}

	// Update: another redirect URI, name and scope; the client_id must
	// match, the authentication method stays.
	newRedirect := "http://127.0.0.1:53682/other-callback"
	update := `{"client_id":"` + id + `","client_name":"Renamed App","redirect_uris":["` + newRedirect + `"],
		"grant_types":["authorization_code","refresh_token"],"scope":"openid profile offline_access"}`
	wantOAuthError(t, e.regDo(http.MethodPut, path, rat, strings.Replace(update, id, other.str("client_id"), 1)), http.StatusBadRequest, "invalid_client_metadata")
	wantOAuthError(t, e.regDo(http.MethodPut, path, rat, strings.Replace(update, `"scope"`, `"token_endpoint_auth_method":"none","scope"`, 1)),
		http.StatusBadRequest, "invalid_client_metadata")
	wantOAuthError(t, e.regDo(http.MethodPut, path, rat, strings.Replace(update, newRedirect, "http://evil.example/cb", 1)), http.StatusBadRequest, "invalid_redirect_uri")
	wantOAuthError(t, e.regDo(http.MethodPut, path, rat, strings.Replace(update, `"scope"`, `"client_secret":"chosen-by-the-client-0123456789","scope"`, 1)),
		http.StatusBadRequest, "invalid_client_metadata")
	wantOAuthError(t, e.regDo(http.MethodPut, path, rat, strings.Replace(update, `"scope"`, `"introspect":true,"scope"`, 1)),
		http.StatusBadRequest, "invalid_client_metadata")
	// What an operator gave stays through the registrant's updates.
	if out, err := cli(t, e.srv, "clients", "update", "--id", id, "--introspect"); err != nil {
		t.Fatalf("clients update --introspect: %v %s", err, out)
	}
	up := e.regDo(http.MethodPut, path, rat, update)
	if up.Status != http.StatusOK || up.str("client_name") != "Renamed App" || fmt.Sprint(up.JSON["redirect_uris"]) != "["+newRedirect+"]" ||
		up.JSON["introspect"] != true {
		t.Fatalf("update: %v", up)
	}
	if r := e.refreshWith(tok.RefreshToken, id+":"+secret); r.Status != http.StatusOK { // updates never revoke grants
		t.Errorf("refresh after the update: %v", r)
	} else {
		tok.AccessToken, tok.RefreshToken = r.str("access_token"), r.str("refresh_token")
	}
	if got := e.redirectOf(id, e2eRedirect); got != "" {
		t.Errorf("the old redirect URI is still accepted: redirected to %s", got)
	}
	if got := e.redirectOf(id, newRedirect); !strings.HasPrefix(got, newRedirect+"?") {
		t.Errorf("the new redirect URI: redirected to %q", got)
	}

	// Delete: 204, then the registration and the tokens are gone.
	if r := e.regDo(http.MethodDelete, path, rat, ""); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %v", r)
	}
	wantChallenge(t, e.regDo(http.MethodGet, path, rat, ""), true)
	if e.active(tok.AccessToken) {
		t.Error("the deleted client's access token is active")
	}
	wantOAuthError(t, e.refreshWith(tok.RefreshToken, id+":"+secret), http.StatusUnauthorized, "invalid_client")
	if !strings.Contains(logs.String(), `"msg":"registered client deleted"`) {
		t.Error("the deletion is not logged")
	}
	if r := e.regDo(http.MethodGet, e.regPath(other), other.str("registration_access_token"), ""); r.Status != http.StatusOK {
		t.Errorf("the other registration after a deletion: %v", r)
	}
}

// refreshWith refreshes rt as the client basic ("id:secret").
func (e *e2e) refreshWith(rt, basic string) apiResp {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic)
}

// redirectOf runs an authorization request of client id with redirect as
// a signed-in user who allows it, and returns where authd sent the browser
// ("" when it refused the request with an error page instead).
func (e *e2e) redirectOf(id, redirect string) string {
	e.t.Helper()
	cfg := &oauth2.Config{ClientID: id, Endpoint: e.endpoint(oauth2.AuthStyleInHeader), RedirectURL: redirect, Scopes: []string{"openid"}}
	b := e.newBrowser()
	p := b.get(cfg.AuthCodeURL(randString(e.t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if p.Status == http.StatusBadRequest {
		return ""
	}
	p = b.get(b.login(p).String())
	if p.Status == http.StatusSeeOther || p.Status == http.StatusFound {
		return p.location(e.t).String()
	}
	return b.consent(p, "allow").String()
}

// TestRegistrationOpenMode: with AUTHD_REGISTRATION=open anyone may
// register, without a token; a public native client signs a user in with
// PKCE and shows on the devices page under its name; open mode refuses
// client_credentials (tokens no user consented to).
func TestRegistrationOpenMode(t *testing.T) {
	e := newE2E(t, openMode)
	wantOAuthError(t, e.regDo(http.MethodPost, dynreg.Path, "", `{"grant_types":["client_credentials"]}`), http.StatusBadRequest, "invalid_client_metadata")
	reg := e.register("", `{"client_name":"Open Native App","redirect_uris":["`+e2eRedirect+`","com.example.native:/cb"],
		"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","scope":"openid offline_access"}`)
	id := reg.str("client_id")
	if reg.str("client_secret") != "" || reg.JSON["client_secret_expires_at"] != nil || reg.str("token_endpoint_auth_method") != "none" {
		t.Errorf("a public client's registration: %v", reg)
	}
	cfg := &oauth2.Config{ClientID: id, Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect, Scopes: []string{"openid", "offline_access"}}
	// PKCE is required: without it the request is refused.
	if q := e.authorize(cfg.AuthCodeURL(randString(t))); q.Get("error") != "invalid_request" {
		t.Errorf("a public client without PKCE: %v", q)
	}
	b := e.newBrowser()
	v, state := oauth2.GenerateVerifier(), randString(t)
	q := b.authorize(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(v)))
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil || q.Get("state") != state {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, err := e.provider().Verifier(&oidc.Config{ClientID: id}).Verify(e.oauthCtx(), raw); err != nil {
		t.Errorf("ID token: %v", err)
	}
	if p := b.get(e.srv.URL + "/account/devices"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Open Native App") {
		t.Errorf("devices page: %d, the registered client's name missing", p.Status)
	}
	if r := e.regDo(http.MethodGet, e.regPath(reg), reg.str("registration_access_token"), ""); r.Status != http.StatusOK {
		t.Errorf("read: %v", r)
	}
}

// TestRegistrationLimitPerSource: registrations are limited per source
// address: one address over AUTHD_REGISTRATION_RATE gets 429 with
// Retry-After, another still registers; refused metadata does not count.
func TestRegistrationLimitPerSource(t *testing.T) {
	e := newE2E(t, openMode, func(c *Config) {
		c.RegistrationRate = 2
		nets, err := parseNets("127.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		c.Proxies.Nets = nets
	})
	const meta = `{"redirect_uris":["https://app.example/cb"]}`
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	for range 3 {
		wantOAuthError(t, e.regDo(http.MethodPost, dynreg.Path, "", `{"redirect_uris":["http://bad.example/cb"]}`, from("203.0.113.7")...),
			http.StatusBadRequest, "invalid_redirect_uri")
	}
	e.register("", meta, from("203.0.113.7")...)
	e.register("", meta, from("203.0.113.7")...)
	r := e.regDo(http.MethodPost, dynreg.Path, "", meta, from("203.0.113.7")...)
	wantOAuthError(t, r, http.StatusTooManyRequests, "temporarily_unavailable")
	if s := r.Header.Get("Retry-After"); s == "" || s == "0" {
		t.Errorf("Retry-After %q", s)
	}
	e.register("", meta, from("203.0.113.8")...) // another address is not limited
	e.register("", meta, from("2001:db8:1::1")...)
	e.register("", meta, from("2001:db8:1::2")...)
	wantOAuthError(t, e.regDo(http.MethodPost, dynreg.Path, "", meta, from("2001:db8:1::3")...), http.StatusTooManyRequests) // one /64
}

// TestRegistrationOff: by default there is no registration endpoint, and
// discovery advertises none.
func TestRegistrationOff(t *testing.T) {
	e := newE2E(t)
	if r := e.regDo(http.MethodPost, dynreg.Path, "", webMetadata); r.Status != http.StatusNotFound {
		t.Errorf("POST /oauth2/register with registration off: %v", r)
	}
	if disc := e.call(http.MethodGet, "/.well-known/openid-configuration", "", ""); disc.JSON["registration_endpoint"] != nil {
		t.Errorf("registration_endpoint advertised: %v", disc.JSON["registration_endpoint"])
	}
}

// TestRegistrationConfig: token mode needs a token of at least 32
// characters, a token needs token mode, and the mode is one of three.
func TestRegistrationConfig(t *testing.T) {
	c := defaultConfig()
	c.Secret = []byte("test-secret-test-secret-test-secret-0123456789")
	for _, tc := range []struct {
		mode  dynreg.Mode
		token string
		bad   string
	}{
		{dynreg.Token, "", "AUTHD_REGISTRATION_TOKEN of at least 32"},
		{dynreg.Token, strings.Repeat("x", 31), "AUTHD_REGISTRATION_TOKEN of at least 32"},
		{dynreg.Open, regInitialToken, "AUTHD_REGISTRATION is not token"},
		{dynreg.Token, regInitialToken, ""},
		{dynreg.Open, "", ""},
		{dynreg.Off, "", ""},
	} {
		c.Registration, c.RegistrationToken = tc.mode, tc.token
		err := c.ValidateServe()
		if (tc.bad == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("%s with %d-character token: %v, want %q", tc.mode, len(tc.token), err, tc.bad)
		}
	}
	t.Setenv("AUTHD_REGISTRATION", "closed")
	if _, err := envConfig(); err == nil || !strings.Contains(err.Error(), "AUTHD_REGISTRATION") {
		t.Errorf("AUTHD_REGISTRATION=closed: %v", err)
	}
}

// TestRegistrationBackendsDown: with Postgres stopped, registering and
// reading a registration answer 503 temporarily_unavailable promptly;
// with Redis killed (the per-source count cannot be kept) so does
// registering, never a 500.
func TestRegistrationBackendsDown(t *testing.T) {
	pg, rs := startOwnPostgres(t), startOwnRedis(t)
	e := newE2E(t, openMode, func(c *Config) { c.DatabaseURL, c.RedisURL = pg.URL(), rs.URL() })
	reg := e.register("", webMetadata)
	path, rat := e.regPath(reg), reg.str("registration_access_token")

	rs.Kill()
	r, d := timed(func() apiResp { return e.regDo(http.MethodPost, dynreg.Path, "", webMetadata) })
	wantUnavailable(t, "registration with Redis down", r, d, 3*time.Second)
	rs.Start()

	pg.Stop()
	r, d = timed(func() apiResp { return e.regDo(http.MethodPost, dynreg.Path, "", webMetadata) })
	wantUnavailable(t, "registration with Postgres down", r, d, 5*time.Second)
	r, d = timed(func() apiResp { return e.regDo(http.MethodGet, path, rat, "") })
	wantUnavailable(t, "reading a registration with Postgres down", r, d, 5*time.Second)
}
