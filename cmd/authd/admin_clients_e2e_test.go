package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authd/authd/clients"
)

// decodeClient: a client answer, never a secret hash.
func decodeClient(t testing.TB, r apiResp) clients.Metadata {
	t.Helper()
	return decodeAnswer(t, r, func(c clients.Metadata) string { return c.ClientID }, "secret_hash", "sha256$")
}

// adminPKCEClient is the body registering a public PKCE client for the
// e2e redirect URI.
func adminPKCEClient(id, name string) string {
	return `{"client_id":"` + id + `","client_name":"` + name + `","token_endpoint_auth_method":"none",
		"redirect_uris":["` + e2eRedirect + `"],"grant_types":["authorization_code","refresh_token"],
		"scope":"openid offline_access"}`
}

func pkceConfig(e *e2e, id string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect,
		Scopes: []string{"openid", "offline_access"}}
}

func refreshAs(e *e2e, id, rt string) apiResp {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {id}})
}

// TestAdminClientsCRUD: the admin API registers clients with RFC 7591
// metadata (a generated secret in the creation's answer only, a generated
// id when none is given), reads, lists page by page and rotates secrets
// (with an overlap, as the CLI's --overlap); refusals carry RFC 7591's
// codes, a taken id is 409, a missing client 404, no token 401.
func TestAdminClientsCRUD(t *testing.T) {
	e := newDevicesE2E(t, shortClientCache)
	a := e.admin()
	bad := a
	bad.token = "wrong-" + devAdminToken
	for _, m := range []struct{ method, path string }{
		{http.MethodGet, "/admin/clients"}, {http.MethodPost, "/admin/clients"}, {http.MethodGet, "/admin/clients/" + e2eConfID},
		{http.MethodDelete, "/admin/clients/" + e2eConfID}, {http.MethodPost, "/admin/clients/" + e2eConfID + "/rotate-secret"},
	} {
		wantOAuthError(t, bad.do(m.method, m.path, ""), http.StatusUnauthorized, "invalid_token")
	}

	r := a.want(a.do(http.MethodPost, "/admin/clients", `{"client_id":"svc","client_name":"Service",
		"grant_types":["client_credentials"],"scope":"api:read","introspect":true}`), http.StatusCreated)
	svc := decodeClient(t, r)
	if len(svc.ClientSecret) != 43 || svc.ClientSecretExpiresAt == nil || *svc.ClientSecretExpiresAt != 0 ||
		svc.TokenEndpointAuthMethod != "client_secret_basic" || !svc.Introspect || svc.ClientIDIssuedAt == 0 ||
		r.Header.Get("Location") != "/admin/clients/svc" {
		t.Fatalf("created: %s", r.Raw)
	}
	ccToken(t, e.hc, e.srv.URL, "svc:"+svc.ClientSecret, "api:read")
	got := decodeClient(t, a.want(a.do(http.MethodGet, "/admin/clients/svc", ""), http.StatusOK))
	if got.ClientSecret != "" || got.ClientName != "Service" || !slices.Equal(got.GrantTypes, []string{"client_credentials"}) {
		t.Errorf("GET: %+v (the secret is shown once, at creation)", got)
	}
	gen := decodeClient(t, a.want(a.do(http.MethodPost, "/admin/clients", adminPKCEClient("", "Generated")), http.StatusCreated))
	if len(gen.ClientID) != 22 || gen.ClientSecret != "" || gen.TokenEndpointAuthMethod != "none" {
		t.Errorf("generated id, public client: %+v", gen)
	}

	wantOAuthError(t, a.do(http.MethodPost, "/admin/clients", `{"client_id":"svc","grant_types":["client_credentials"]}`), http.StatusConflict, "conflict")
	for body, code := range map[string]string{
		`{"client_id":"x","grant_types":["authorization_code"],"redirect_uris":["http://app.example/cb"]}`: "invalid_redirect_uri",
		`{"client_id":"x","grant_types":["password"]}`:                                                     "invalid_client_metadata",
		`{"client_id":"x","grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`:       "invalid_client_metadata",
		`{"client_id":"x","grant_types":["client_credentials"],"colour":"blue"}`:                           "invalid_request",
	} {
		wantOAuthError(t, a.do(http.MethodPost, "/admin/clients", body), http.StatusBadRequest, code)
	}
	wantOAuthError(t, a.do(http.MethodGet, "/admin/clients/nope", ""), http.StatusNotFound, "not_found")
	wantOAuthError(t, a.do(http.MethodPut, "/admin/clients/nope", adminPKCEClient("", "X")), http.StatusNotFound, "not_found")
	wantOAuthError(t, a.do(http.MethodDelete, "/admin/clients/nope", ""), http.StatusNotFound, "not_found")

	// Pages by id: every client once, in order.
	want := []string{e2ePubID, devClientID, gen.ClientID, e2eRSID, "svc", e2eConfID}
	slices.Sort(want)
	var seen []string
	for c := ""; ; {
		cs, next := items[clients.Metadata](t, a.do(http.MethodGet, "/admin/clients?limit=4&cursor="+c, ""))
		for _, cl := range cs {
			seen = append(seen, cl.ClientID)
			if cl.ClientSecret != "" {
				t.Errorf("listing shows a secret: %+v", cl)
			}
		}
		if c = next; c == "" {
			break
		}
	}
	if !slices.Equal(seen, want) {
		t.Errorf("listed %v, want %v", seen, want)
	}
	testAdminRotateSecret(t, e, svc)
}

// testAdminRotateSecret: rotate-secret returns a new secret once; with an
// overlap the old one keeps working, without one it stops (once the client
// cache has forgotten the old registration). A public client has none.
func testAdminRotateSecret(t *testing.T, e *e2e, svc clients.Metadata) {
	a := e.admin()
	r := a.want(a.do(http.MethodPost, "/admin/clients/svc/rotate-secret", `{"overlap":"1h"}`), http.StatusOK)
	second, prev := r.str("client_secret"), r.JSON["previous_secret_expires_at"]
	if len(second) != 43 || second == svc.ClientSecret || prev == nil {
		t.Fatalf("rotate with overlap: %s", r.Raw)
	}
	time.Sleep(2 * lifecycleCacheTTL)
	ccToken(t, e.hc, e.srv.URL, "svc:"+second, "api:read")
	ccToken(t, e.hc, e.srv.URL, "svc:"+svc.ClientSecret, "api:read") // the overlap
	third := a.want(a.do(http.MethodPost, "/admin/clients/svc/rotate-secret", ""), http.StatusOK).str("client_secret")
	time.Sleep(2 * lifecycleCacheTTL)
	ccToken(t, e.hc, e.srv.URL, "svc:"+third, "api:read")
	for _, old := range []string{svc.ClientSecret, second} {
		r := postForm(t.Context(), e.hc, e.srv.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc:"+old)
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	}
	wantOAuthError(t, a.do(http.MethodPost, "/admin/clients/"+e2ePubID+"/rotate-secret", ""), http.StatusBadRequest, "invalid_request")
	wantOAuthError(t, a.do(http.MethodPost, "/admin/clients/svc/rotate-secret", `{"overlap":"-1h"}`), http.StatusBadRequest, "invalid_request")
	wantOAuthError(t, a.do(http.MethodPost, "/admin/clients/nope/rotate-secret", ""), http.StatusNotFound, "not_found")
}

// TestAdminClientUpdateKeepsGrants: a PUT replaces the registration (an
// edited GET is a valid body) without ending any grant: the refresh token
// and the access token issued before keep working, and the new redirect
// URI works once the client cache has the new registration. The id, and
// the authentication method, cannot change.
func TestAdminClientUpdateKeepsGrants(t *testing.T) {
	e := newDevicesE2E(t, shortClientCache)
	a := e.admin()
	a.want(a.do(http.MethodPost, "/admin/clients", adminPKCEClient("app", "App")), http.StatusCreated)
	tok := e.loginWith(pkceConfig(e, "app"))
	body := a.do(http.MethodGet, "/admin/clients/app", "").Raw
	body = strings.Replace(body, `"App"`, `"Renamed App"`, 1)
	body = strings.Replace(body, `"redirect_uris":["`+e2eRedirect+`"]`, `"redirect_uris":["`+e2eRedirect+`","http://127.0.0.1:9999/cb"]`, 1)
	upd := decodeClient(t, a.want(a.do(http.MethodPut, "/admin/clients/app", body), http.StatusOK))
	if upd.ClientName != "Renamed App" || len(upd.RedirectURIs) != 2 || upd.ClientSecret != "" {
		t.Fatalf("after PUT: %+v", upd)
	}
	time.Sleep(2 * lifecycleCacheTTL)
	if !e.active(tok.AccessToken) {
		t.Error("access token inactive after an update")
	}
	r := refreshAs(e, "app", tok.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh after an update: %v", r)
	}
	// An omitted field takes its default (RFC 7592 replaces): no name is "".
	a.want(a.do(http.MethodPut, "/admin/clients/app", `{"token_endpoint_auth_method":"none","redirect_uris":["`+e2eRedirect+`"],
		"grant_types":["authorization_code","refresh_token"],"scope":"openid offline_access"}`), http.StatusOK)
	if c := decodeClient(t, a.do(http.MethodGet, "/admin/clients/app", "")); c.ClientName != "" || len(c.RedirectURIs) != 1 {
		t.Errorf("PUT without a name and with one redirect URI: %+v", c)
	}
	a.want(a.do(http.MethodPost, "/admin/clients", `{"client_id":"svc","grant_types":["client_credentials"],"scope":"api:read"}`), http.StatusCreated)
	a.want(a.do(http.MethodPut, "/admin/clients/svc", `{"grant_types":["client_credentials"]}`), http.StatusOK)
	if c := decodeClient(t, a.do(http.MethodGet, "/admin/clients/svc", "")); c.Scope != "openid" {
		t.Errorf("PUT without scope: %+v, want the default scope openid", c)
	}
	wantOAuthError(t, a.do(http.MethodPut, "/admin/clients/app", adminPKCEClient("other", "X")), http.StatusBadRequest, "invalid_client_metadata")
	wantOAuthError(t, a.do(http.MethodPut, "/admin/clients/app", `{"grant_types":["authorization_code"],"redirect_uris":["`+e2eRedirect+`"]}`),
		http.StatusBadRequest, "invalid_client_metadata") // client_secret_basic is not its method
	if refreshAs(e, "app", r.str("refresh_token")).Status != http.StatusOK {
		t.Error("refresh after the updates failed")
	}
}

// TestAdminClientDeleteEndsTokens: DELETE ends every token of the client
// at once (its user's refresh token fails, its access token introspects
// inactive) and for good: a client registered again under the same id
// does not bring them back, and its own tokens work.
func TestAdminClientDeleteEndsTokens(t *testing.T) {
	e := newDevicesE2E(t, shortClientCache)
	a := e.admin()
	a.want(a.do(http.MethodPost, "/admin/clients", adminPKCEClient("app", "App")), http.StatusCreated)
	tok := e.loginWith(pkceConfig(e, "app"))
	if !e.active(tok.AccessToken) {
		t.Fatal("access token inactive before the deletion")
	}
	a.want(a.do(http.MethodDelete, "/admin/clients/app", ""), http.StatusNoContent)
	if e.active(tok.AccessToken) {
		t.Error("access token active after the deletion")
	}
	if r := refreshAs(e, "app", tok.RefreshToken); r.Status != http.StatusBadRequest && r.Status != http.StatusUnauthorized ||
		r.str("error") != "invalid_grant" && r.str("error") != "invalid_client" {
		t.Errorf("refresh after the deletion: %v", r)
	}
	wantOAuthError(t, a.do(http.MethodGet, "/admin/clients/app", ""), http.StatusNotFound, "not_found")

	a.want(a.do(http.MethodPost, "/admin/clients", adminPKCEClient("app", "App again")), http.StatusCreated)
	time.Sleep(2 * lifecycleCacheTTL)
	if e.active(tok.AccessToken) {
		t.Error("the old access token came back with the re-created client")
	}
	wantOAuthError(t, refreshAs(e, "app", tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	fresh := e.loginWith(pkceConfig(e, "app"))
	if r := refreshAs(e, "app", fresh.RefreshToken); r.Status != http.StatusOK {
		t.Errorf("the new registration's refresh: %v", r)
	}
}
