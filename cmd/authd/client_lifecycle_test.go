package main

// The client lifecycle (issue 15, finding 6): deleting a client ends its
// tokens for good, even when a client is registered again under the same
// id; `clients update` changes a registration without touching its grants
// or secret; `clients rotate-secret` lets the old and the new secret work
// side by side for an overlap.

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// lifecycleCacheTTL is the client cache TTL of these tests: short, so
// waiting it out is cheap.
const lifecycleCacheTTL = 300 * time.Millisecond

func shortClientCache(c *Config) { c.ClientCacheTTL = lifecycleCacheTTL }

// ccToken gets a client_credentials access token for basic ("id:secret")
// from the server at base.
func ccToken(t *testing.T, hc *http.Client, base, basic, scope string) string {
	t.Helper()
	r := postForm(t.Context(), hc, base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, basic)
	if r.Status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("client_credentials as %s: %v", basic[:len(basic)/2], r)
	}
	return r.str("access_token")
}

// recreateWebapp deletes the e2e confidential client with the CLI and
// registers it again with the same id, secret and settings.
func recreateWebapp(t *testing.T, e *e2e) {
	t.Helper()
	if out, err := cli(t, e.srv, "clients", "delete", "--id", e2eConfID); err != nil {
		t.Fatalf("clients delete: %v %s", err, out)
	}
	out, err := cli(t, e.srv, "clients", "create", "--id", e2eConfID, "--secret", e2eConfSecret, "--name", "Web App",
		"--redirect-uri", e2eRedirect, "--grant-types", "authorization_code,refresh_token,client_credentials",
		"--scopes", "openid profile offline_access api:read")
	if err != nil {
		t.Fatalf("clients create again: %v %s", err, out)
	}
}

// TestDeletedClientTokensStayDead: a client deleted and registered again
// under the same id (with the same secret: the old way to "rotate" one)
// does not bring back any token of the old registration: not its user's
// refresh or access token, not a client_credentials token (which has no
// grant row), once the client cache has forgotten the old registration
// and at once for refresh tokens. The new registration's tokens work.
func TestDeletedClientTokensStayDead(t *testing.T) {
	e := newE2E(t, shortClientCache)
	user := e.loginWith(e.confConfig())
	cc := ccToken(t, e.hc, e.srv.URL, confBasic, "api:read")
	if !e.active(user.AccessToken) || !e.active(cc) {
		t.Fatal("tokens inactive before the deletion")
	}
	recreateWebapp(t, e)
	refresh := func() apiResp {
		return e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {user.RefreshToken}}, confBasic)
	}
	wantOAuthError(t, refresh(), http.StatusBadRequest, "invalid_grant")
	time.Sleep(2 * lifecycleCacheTTL) // every cached copy of the old registration gone
	wantOAuthError(t, refresh(), http.StatusBadRequest, "invalid_grant")
	if e.active(user.AccessToken) {
		t.Error("the old registration's user access token is active again")
	}
	if e.active(cc) {
		t.Error("the old registration's client_credentials token is active again")
	}
	bearer := e.userinfo(user.AccessToken)
	if bearer == http.StatusOK {
		t.Error("the old registration's access token is accepted at /userinfo")
	}
	// The new registration works.
	if !e.active(ccToken(t, e.hc, e.srv.URL, confBasic, "api:read")) {
		t.Error("a token of the new registration is inactive")
	}
	next := e.loginWith(e.confConfig())
	if r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.RefreshToken}}, confBasic); r.Status != http.StatusOK {
		t.Errorf("refresh of the new registration: %v", r)
	}
}

// userinfo calls /userinfo with token and returns the status.
func (e *e2e) userinfo(token string) int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, e.srv.URL+"/userinfo", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	r, err := fetch(e.hc, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Status
}

// TestRecreatedClientAcrossReplicas: three replicas with a client cache
// longer than the test. Replica 1 issued a client_credentials token and
// replica 2 has the old registration cached when the client is deleted and
// registered again. A token of the new registration (from replica 3, which
// never saw the old one) is active on replica 2 at once — it is newer than
// the cached registration, so replica 2 reloads the client — and from then
// on the old registration's token is dead there, long before the cache TTL.
func TestRecreatedClientAcrossReplicas(t *testing.T) {
	rs, db := startReplicas(t, 3, false, func(c *Config) { c.ClientCacheTTL = time.Minute })
	repFixtures(t, db)
	hc := noRedirectClient(nil)
	old := ccToken(t, hc, rs[0].URL, repSvcID+":"+repSvcSecret, "api:read")
	if !rs[1].active(t, old) {
		t.Fatal("token inactive on replica 2 before the deletion")
	}
	ts := &testServer{URL: rs[0].URL, App: rs[0].App, DB: db}
	if out, err := cli(t, ts, "clients", "delete", "--id", repSvcID); err != nil {
		t.Fatalf("clients delete: %v %s", err, out)
	}
	if out, err := cli(t, ts, "clients", "create", "--id", repSvcID, "--secret", repSvcSecret,
		"--grant-types", "client_credentials", "--scopes", "api:read"); err != nil {
		t.Fatalf("clients create: %v %s", err, out)
	}
	fresh := ccToken(t, hc, rs[2].URL, repSvcID+":"+repSvcSecret, "api:read")
	if !rs[1].active(t, fresh) {
		t.Error("the new registration's token is inactive on a replica that cached the old one")
	}
	if rs[1].active(t, old) {
		t.Error("the old registration's token is active again on replica 2")
	}
	if rs[2].active(t, old) {
		t.Error("the old registration's token is active again on replica 3")
	}
}
