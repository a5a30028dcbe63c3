package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authd/authd/clientdoc"
	"github.com/authd/authd/clientdoc/clientdoctest"
	"github.com/authd/authd/internal/testclock"
)

// appDocument is a valid document: a public app redirecting to e2eRedirect,
// with a logo and client_uri authd must not show.
const appDocument = `{"client_id":%q,"client_name":"Example App","redirect_uris":["` + e2eRedirect + `"],
	"grant_types":["authorization_code","refresh_token"],"scope":"openid profile offline_access",
	"token_endpoint_auth_method":"none","logo_uri":"https://logo.evil.example/l.png","client_uri":"https://bank.evil.example"}`

// cimdOn turns Client ID Metadata Documents on, trusting m's certificate
// and on clk's time; allowPrivate is the test setting.
func cimdOn(m *clientdoctest.Server, clk *testclock.Clock, allowPrivate bool) func(*Config) {
	return func(c *Config) {
		c.ClientIDMetadataDocuments, c.ClientIDMetadataAllowPrivate = true, allowPrivate
		c.clientDocs = clientDocTesting{roots: m.Roots(), now: clk.Now}
	}
}

// cimdConfig is x/oauth2 for a document client (public: client_id in the
// form, PKCE).
func (e *e2e) cimdConfig(id string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect,
		Scopes: []string{"openid", "profile", "offline_access"}}
}

// cimdAuthorize runs one authorization in b (signing in when needed),
// checks that the consent page names the app with its host and shows
// nothing from the document but its name, and returns the code.
func (e *e2e) cimdAuthorize(b *browser, cfg *oauth2.Config, verifier, nonce string) string {
	e.t.Helper()
	state := randString(e.t)
	p := b.get(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	want := "Example App (" + clientdoc.Host(cfg.ClientID) + ")"
	if _, ok := onlyForm(e.t, p).Inputs["password"]; ok {
		if !strings.Contains(p.Body, want) {
			e.t.Errorf("sign-in page does not name %q: %.800s", want, p.Body)
		}
		p = b.get(b.login(p).String())
	}
	if !strings.Contains(p.Body, want) || !strings.Contains(p.Body, `id="client-host"`) {
		e.t.Errorf("consent page does not show %q and the host notice: %.1500s", want, p.Body)
	}
	if strings.Contains(p.Body, "evil.example") {
		e.t.Errorf("consent page shows the document's logo_uri or client_uri: %.1500s", p.Body)
	}
	q := callback(e.t, b.consent(p, "allow"))
	if q.Get("state") != state || q.Get("code") == "" {
		e.t.Fatalf("callback %v", q)
	}
	return q.Get("code")
}

// TestClientIDMetadataDocumentFlow: with the setting on, an https client_id
// is resolved from its document: discovery says so; the sign-in and consent
// pages name "Example App (host)" and never show its logo or client_uri; a
// code + PKCE flow completes, its ID token verified with go-oidc for the
// URL as audience; the refresh and a second authorization are served from
// the cache (one fetch in all within max-age); consent is asked every time
// (never remembered); the devices page names the app with its host; past
// max-age the next authorization fetches the document again, and a refresh
// is answered from the stale copy while it is fetched in the background.
func TestClientIDMetadataDocumentFlow(t *testing.T) {
	m := clientdoctest.NewServer(t)
	clk := testclock.New(time.Now())
	id := m.Handle("/app/client.json", clientdoctest.Document("public, max-age=120", appDocument))
	e := newE2E(t, cimdOn(m, clk, true))

	if r := e.call(http.MethodGet, "/.well-known/oauth-authorization-server", "", ""); r.JSON["client_id_metadata_document_supported"] != true {
		t.Errorf("discovery lacks client_id_metadata_document_supported: %s", r.Raw)
	}
	cfg := e.cimdConfig(id)
	b := e.newBrowser()
	v, nonce := oauth2.GenerateVerifier(), randString(t)
	code := e.cimdAuthorize(b, cfg, v, nonce)
	tok, err := cfg.Exchange(e.oauthCtx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider().Verifier(&oidc.Config{ClientID: id}).Verify(e.oauthCtx(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != e.sub || idt.Nonce != nonce || len(idt.Audience) != 1 || idt.Audience[0] != id {
		t.Errorf("ID token sub %q nonce %q aud %v", idt.Subject, idt.Nonce, idt.Audience)
	}
	r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {id}})
	if r.Status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("refresh: %v", r)
	}
	if !e.active(r.str("access_token")) {
		t.Error("the refreshed access token is not active")
	}
	// A second authorization in the same browser: consent again, no fetch.
	v2 := oauth2.GenerateVerifier()
	if _, err := cfg.Exchange(e.oauthCtx(), e.cimdAuthorize(b, cfg, v2, nonce), oauth2.VerifierOption(v2)); err != nil {
		t.Fatalf("second exchange: %v", err)
	}
	if n := m.Count("/app/client.json"); n != 1 {
		t.Errorf("document fetched %d times within max-age, want 1", n)
	}
	devices := b.get(e.srv.URL + "/account/devices")
	if want := "Example App (" + strings.TrimPrefix(m.URL, "https://") + ")"; devices.Status != http.StatusOK || !strings.Contains(devices.Body, want) {
		t.Errorf("devices page does not name %q: %d %.1500s", want, devices.Status, devices.Body)
	}
	clk.Add(121 * time.Second)
	e.cimdAuthorize(b, cfg, oauth2.GenerateVerifier(), nonce)
	if n := m.Count("/app/client.json"); n != 2 {
		t.Errorf("after max-age the authorization fetched %d times in all, want 2", n)
	}
	// Past max-age again, a refresh (the hot path) is answered from the
	// stale copy while the document is fetched in the background: the
	// document host now hangs until the refresh has its answer.
	release := make(chan struct{})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	m.Handle("/app/client.json", func(w http.ResponseWriter, r *http.Request) {
		<-release
		clientdoctest.Document("max-age=120", appDocument)(w, r)
	})
	clk.Add(121 * time.Second)
	r = e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}, "client_id": {id}})
	close(release)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh past max-age: %v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Count("/app/client.json") != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := m.Count("/app/client.json"); n != 1 {
		t.Errorf("a stale document was not fetched again in the background (%d fetches, want 1)", n)
	}
}

// wantErrorPage: the response is an error page of authd's, not a redirect
// to the client.
func wantErrorPage(t *testing.T, p page, what string) {
	t.Helper()
	if p.Status < 400 || p.Status >= 500 || p.Header.Get("Location") != "" {
		t.Errorf("%s: status %d, Location %q, want an error page (4xx, no redirect); body %.300s", what, p.Status, p.Header.Get("Location"), p.Body)
	}
}

// authURL is an authorization request for id with PKCE, to redirect.
func (e *e2e) authURL(id, redirect string) string {
	return e.srv.URL + "/oauth2/auth?" + url.Values{
		"client_id": {id}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"state-0123456789"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}.Encode()
}

// TestClientIDMetadataDocumentRefused: a document whose client_id is not
// its URL, one over 5 KiB and a redirect are refused with an error page
// (invalid_client at the token endpoint), never cached; a redirect_uri not
// in a valid document gets an error page, not a redirect.
func TestClientIDMetadataDocumentRefused(t *testing.T) {
	m := clientdoctest.NewServer(t)
	logs := &lockedBuffer{}
	e := newE2ELog(t, logs, cimdOn(m, testclock.New(time.Now()), true))
	refused := map[string]string{
		"client_id differs": m.Handle("/other.json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, appDocument, "https://app.example/other.json")
		}),
		"over 5 KiB": m.Handle("/big.json", clientdoctest.Document("max-age=600",
			strings.Replace(appDocument, `"client_name"`, `"padding":"`+strings.Repeat("x", 5<<10)+`","client_name"`, 1))),
		"redirect": m.Handle("/moved.json", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/app/client.json", http.StatusFound)
		}),
	}
	m.Handle("/app/client.json", clientdoctest.Document("max-age=600", appDocument))
	b := e.newBrowser()
	for name, id := range refused {
		wantErrorPage(t, b.get(e.authURL(id, e2eRedirect)), name)
		r := e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {id},
			"redirect_uri": {e2eRedirect}, "code_verifier": {oauth2.GenerateVerifier()}})
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		path := strings.TrimPrefix(id, m.URL)
		if n := m.Count(path); n != 2 {
			t.Errorf("%s: fetched %d times for two requests (a refused document must not be cached)", name, n)
		}
	}
	if n := m.Count("/app/client.json"); n != 0 {
		t.Errorf("the redirect was followed (%d fetches of its target)", n)
	}
	for _, why := range []string{"is not its URL", "larger than 5120 bytes", "redirects are not followed"} {
		if !strings.Contains(logs.String(), why) {
			t.Errorf("no refusal logged saying %q", why)
		}
	}
	good := m.URL + "/app/client.json"
	wantErrorPage(t, b.get(e.authURL(good, "http://127.0.0.1:53682/elsewhere")), "redirect_uri not in the document")
	// Without PKCE: refused at once (to the redirect URI: it is the
	// document's).
	p := b.get(e.srv.URL + "/oauth2/auth?" + url.Values{"client_id": {good}, "redirect_uri": {e2eRedirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"state-0123456789"}}.Encode())
	if q := callback(t, p.location(t)); q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description")+q.Get("error_hint"), "PKCE") {
		t.Errorf("without PKCE: callback %v, want invalid_request naming PKCE", q)
	}
}

// TestClientIDMetadataDocumentOff: with the setting off (the default) a URL
// client_id is just an unknown client and nothing is fetched; with it on
// but without the allow-private test setting, a document on loopback is
// refused before any request reaches it.
func TestClientIDMetadataDocumentOff(t *testing.T) {
	m := clientdoctest.NewServer(t)
	id := m.Handle("/app/client.json", clientdoctest.Document("max-age=600", appDocument))
	off := newE2E(t)
	if r := off.call(http.MethodGet, "/.well-known/openid-configuration", "", ""); strings.Contains(r.Raw, "client_id_metadata_document_supported") {
		t.Errorf("discovery advertises documents while off: %s", r.Raw)
	}
	wantErrorPage(t, off.newBrowser().get(off.authURL(id, e2eRedirect)), "off")
	guarded := newE2E(t, cimdOn(m, testclock.New(time.Now()), false))
	wantErrorPage(t, guarded.newBrowser().get(guarded.authURL(id, e2eRedirect)), "loopback without the test setting")
	r := guarded.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {id}})
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	if n := m.Count("/app/client.json"); n != 0 {
		t.Errorf("the document on loopback was requested %d times", n)
	}
}

// TestClientIDMetadataDocumentConfig: the allow-private test setting needs
// the documents on and a loopback issuer.
func TestClientIDMetadataDocumentConfig(t *testing.T) {
	c := defaultConfig()
	c.Secret = []byte(strings.Repeat("s", 32))
	c.ClientIDMetadataAllowPrivate = true
	if err := c.ValidateServe(); err == nil || !strings.Contains(err.Error(), "AUTHD_CLIENT_ID_METADATA_ALLOW_PRIVATE") {
		t.Errorf("allow-private without documents: %v", err)
	}
	c.ClientIDMetadataDocuments = true
	if err := c.ValidateServe(); err != nil {
		t.Errorf("allow-private with a loopback issuer: %v", err)
	}
	c.Issuer = "https://auth.example.com"
	if err := c.ValidateServe(); err == nil {
		t.Error("allow-private accepted with an https issuer")
	}
	c.ClientIDMetadataAllowPrivate = false
	if err := c.ValidateServe(); err != nil {
		t.Errorf("documents on, production issuer: %v", err)
	}
}

// TestClientIDMetadataDocumentPrivateKeyJWT: a document client with
// private_key_jwt and a jwks_uri (fetched with the document, through the
// same guard) must authenticate at the token endpoint with an assertion
// signed by that key: without one, or with another key, invalid_client; with
// it, the code + PKCE flow completes and go-oidc verifies the ID token.
func TestClientIDMetadataDocumentPrivateKeyJWT(t *testing.T) {
	m := clientdoctest.NewServer(t)
	e := newE2E(t, cimdOn(m, testclock.New(time.Now()), true))
	id := m.URL + "/pkj/client.json"
	key, set := es256Key(t, id+"-k1")
	m.Handle("/pkj/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(set)
	})
	m.Handle("/pkj/client.json", clientdoctest.Document("max-age=600", strings.Replace(appDocument, `"token_endpoint_auth_method":"none"`,
		`"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"`+m.URL+`/pkj/jwks.json"`, 1)))
	cfg := e.cimdConfig(id)
	v, nonce := oauth2.GenerateVerifier(), randString(t)
	code := e.cimdAuthorize(e.newBrowser(), cfg, v, nonce)
	form := func() url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}, "code_verifier": {v}}
	}
	noAuth := form()
	noAuth.Set("client_id", id)
	wantOAuthError(t, e.post("/oauth2/token", noAuth), http.StatusUnauthorized, "invalid_client")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wantOAuthError(t, e.post("/oauth2/token", withAssertion(form(), assertion(t, e, id, other, time.Now().Add(time.Minute)))), http.StatusUnauthorized, "invalid_client")
	r := e.post("/oauth2/token", withAssertion(form(), assertion(t, e, id, key, time.Now().Add(time.Minute))))
	if r.Status != http.StatusOK {
		t.Fatalf("exchange with the document's key: %v", r)
	}
	idt, err := e.provider().Verifier(&oidc.Config{ClientID: id}).Verify(e.oauthCtx(), r.str("id_token"))
	if err != nil || idt.Nonce != nonce || idt.Subject != e.sub {
		t.Fatalf("ID token %+v: %v", idt, err)
	}
	if m.Count("/pkj/client.json") != 1 || m.Count("/pkj/jwks.json") != 1 {
		t.Errorf("document fetched %d times, key set %d times; want once each", m.Count("/pkj/client.json"), m.Count("/pkj/jwks.json"))
	}
}
