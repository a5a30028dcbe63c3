package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// appJSON is one app of GET /api/me/apps.
type appJSON struct {
	ClientID          string   `json:"client_id"`
	ClientName        string   `json:"client_name"`
	Scopes            []string `json:"scopes"`
	ConsentRemembered bool     `json:"consent_remembered"`
	LiveGrants        int      `json:"live_grants"`
}

// myApps lists the caller's apps by client id.
func (e *e2e) myApps(t *testing.T, access string) map[string]appJSON {
	t.Helper()
	r := e.bearerCall(http.MethodGet, "/api/me/apps", access)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/me/apps: %v", r)
	}
	var body struct {
		Apps []appJSON `json:"apps"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &body); err != nil {
		t.Fatalf("apps body: %v: %s", err, r.Raw)
	}
	out := map[string]appJSON{}
	for _, a := range body.Apps {
		out[a.ClientID] = a
	}
	return out
}

// cliLoginIn authorizes the public "cli" app in browser b (consenting when
// asked) and exchanges the code.
func (e *e2e) cliLoginIn(b *browser) *oauth2.Token {
	e.t.Helper()
	cfg := e.pubConfig()
	v := oauth2.GenerateVerifier()
	q := b.authorize(cfg.AuthCodeURL(randString(e.t), oauth2.S256ChallengeOption(v)))
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		e.t.Fatalf("cli exchange: %v", err)
	}
	return tok
}

// silent sends browser b through an authorization for cfg with prompt=none
// and returns the callback's query (a code, or an error).
func silent(t *testing.T, b *browser, cfg *oauth2.Config) url.Values {
	t.Helper()
	v := oauth2.GenerateVerifier()
	p := b.get(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "none")))
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		t.Fatalf("prompt=none: %d %.300s, want a redirect to the client", p.Status, p.Body)
	}
	return callback(t, p.location(t))
}

// asksConsent reports whether an authorization for cfg in signed-in
// browser b shows the consent page (rather than redirecting with a code).
func asksConsent(t *testing.T, b *browser, cfg *oauth2.Config) bool {
	t.Helper()
	p := b.get(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if p.Status != http.StatusOK {
		return false
	}
	_, ok := onlyForm(t, p).Inputs["consent"]
	return ok
}

// TestAppsAPIRemoveAccess: the API lists the apps a user allowed with their
// live grant counts; removing one revokes its grants (every device's) and
// forgets its consent, so the next authorization asks again and prompt=none
// gets consent_required; another app keeps its grants and its consent.
func TestAppsAPIRemoveAccess(t *testing.T) {
	e := newDevicesE2E(t)
	b := e.newBrowser()
	tokA := e.deviceLoginIn(b, devUAs[0].UA) // devices-app, consent remembered
	tokB := e.deviceLogin(devUAs[1].UA)      // devices-app from another browser
	tokCLI := e.cliLoginIn(b)                // another app in the same browser

	apps := e.myApps(t, tokA.AccessToken)
	if len(apps) != 2 {
		t.Fatalf("apps %+v, want devices-app and cli", apps)
	}
	if a := apps[devClientID]; a.ClientName != devClientName || a.LiveGrants != 2 || !a.ConsentRemembered ||
		!slices.Equal(a.Scopes, []string{"grants", "offline_access", "openid"}) {
		t.Errorf("devices-app listed as %+v", a)
	}
	if a := apps[e2ePubID]; a.ClientName != "CLI" || a.LiveGrants != 1 || !a.ConsentRemembered ||
		!slices.Equal(a.Scopes, []string{"offline_access", "openid", "profile"}) {
		t.Errorf("cli listed as %+v", a)
	}
	if q := silent(t, b, e.devConfig()); q.Get("code") == "" {
		t.Fatalf("before removal prompt=none must be silent: %v", q)
	}

	if r := e.bearerCall(http.MethodDelete, "/api/me/apps/"+devClientID, tokA.AccessToken); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE /api/me/apps/%s: %v, want 204", devClientID, r)
	}
	for i, tok := range []*oauth2.Token{tokA, tokB} {
		if e.active(tok.AccessToken) {
			t.Errorf("devices-app grant %d: access token still active", i)
		}
		wantOAuthError(t, e.devRefresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	}
	if !e.active(tokCLI.AccessToken) {
		t.Error("removing devices-app ended the cli app's access token")
	}
	cliRefreshed := e.refresh(tokCLI.RefreshToken)
	if cliRefreshed.Status != http.StatusOK {
		t.Fatalf("removing devices-app ended the cli app's grant: %v", cliRefreshed)
	}
	if q := silent(t, b, e.devConfig()); q.Get("error") != "consent_required" || q.Get("code") != "" {
		t.Errorf("prompt=none after removal: %v, want consent_required", q)
	}
	if !asksConsent(t, b, e.devConfig()) {
		t.Error("the next authorization of the removed app does not show the consent page")
	}
	if q := silent(t, b, e.pubConfig()); q.Get("code") == "" {
		t.Errorf("the cli app's consent was forgotten too: %v", q)
	}

	// Allowed again: one live grant; the removed one stays removed.
	again := e.deviceLoginIn(b, devUAs[0].UA)
	apps = e.myApps(t, again.AccessToken)
	if a := apps[devClientID]; a.LiveGrants != 1 || !a.ConsentRemembered {
		t.Errorf("devices-app after allowing again: %+v", a)
	}
	if a := apps[e2ePubID]; a.LiveGrants != 1 {
		t.Errorf("cli after: %+v", a)
	}
	all := decodeGrants(t, e.bearerCall(http.MethodGet, "/admin/subjects/"+e.sub+"/grants", devAdminToken))
	revoked := 0
	for _, g := range all {
		if g.ClientID == devClientID && g.RevokedAt != nil && g.RevokeReason == "user" {
			revoked++
		}
	}
	if revoked != 2 {
		t.Errorf("%d devices-app grants revoked (user) on record, want 2: %+v", revoked, all)
	}

	// An unknown app, and an app the user never allowed: 404.
	for _, id := range []string{"no-such-app", e2eConfID} {
		r := e.bearerCall(http.MethodDelete, "/api/me/apps/"+id, again.AccessToken)
		if r.Status != http.StatusNotFound || r.str("error") != "not_found" {
			t.Errorf("DELETE app %s: %v, want 404 not_found", id, r)
		}
	}
	// The grants scope is required.
	if r := e.bearerCall(http.MethodGet, "/api/me/apps", cliRefreshed.str("access_token")); r.Status != http.StatusForbidden ||
		!strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("apps with a token without the grants scope: %v", r)
	}
	if r := e.bearerCall(http.MethodDelete, "/api/me/apps/"+e2ePubID, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("DELETE without a token: %v, want 401", r)
	}
}

// TestAppsPageRemoveAccess: the devices page lists the allowed apps, each
// with a CSRF-protected "Remove access" form that does what the API does.
func TestAppsPageRemoveAccess(t *testing.T) {
	e := newDevicesE2E(t)
	b := e.newBrowser()
	tokA := e.deviceLoginIn(b, devUAs[0].UA)
	tokCLI := e.cliLoginIn(b)
	page := e.srv.URL + "/account/devices"

	p := b.get(page)
	forms := devicesForms(t, p)
	removeCLI := "/account/devices/apps/remove?client_id=" + e2ePubID
	f, ok := forms[removeCLI]
	if !ok {
		t.Fatalf("no Remove access form for cli; forms %v", forms)
	}
	if _, ok := forms["/account/devices/apps/remove?client_id="+devClientID]; !ok {
		t.Fatalf("no Remove access form for devices-app; forms %v", forms)
	}
	i := strings.Index(p.Body, `id="apps"`)
	if i < 0 {
		t.Fatalf("no apps section:\n%s", p.Body)
	}
	apps := p.Body[i:]
	for _, want := range []string{devClientName, "CLI", "Remove access", "1 signed-in device"} {
		if !strings.Contains(apps, want) {
			t.Errorf("apps section lacks %q:\n%s", want, apps)
		}
	}

	if r := b.post(e.srv.URL+removeCLI, url.Values{}); r.Status != http.StatusForbidden {
		t.Errorf("Remove access without the CSRF token: %d, want 403", r.Status)
	}
	if !e.active(tokCLI.AccessToken) {
		t.Fatal("a forged form removed the app")
	}
	r := b.post(e.srv.URL+removeCLI, url.Values{"csrf_token": {csrfToken(t, f)}})
	if r.Status != http.StatusSeeOther || r.location(t).Path != "/account/devices" {
		t.Fatalf("Remove access: %d %s", r.Status, r.Header.Get("Location"))
	}
	if e.active(tokCLI.AccessToken) {
		t.Error("the removed app's access token is still active")
	}
	wantOAuthError(t, e.refresh(tokCLI.RefreshToken), http.StatusBadRequest, "invalid_grant")
	if !e.active(tokA.AccessToken) {
		t.Error("removing cli ended devices-app's grant")
	}
	after := b.get(r.location(t).String())
	if _, ok := devicesForms(t, after)[removeCLI]; ok {
		t.Error("the removed app is still listed with a Remove access form")
	}
	if !strings.Contains(after.Body, "It will ask for your permission again.") {
		t.Error("no confirmation after Remove access")
	}
	if q := silent(t, b, e.pubConfig()); q.Get("error") != "consent_required" {
		t.Errorf("prompt=none for the removed app: %v, want consent_required", q)
	}
	if !asksConsent(t, b, e.pubConfig()) {
		t.Error("the removed app's next authorization does not ask for consent")
	}
	nf := b.post(e.srv.URL+removeCLI, url.Values{"csrf_token": {csrfToken(t, f)}})
	if nf.Status != http.StatusNotFound {
		t.Errorf("removing an app twice: %d, want 404", nf.Status)
	}
}
