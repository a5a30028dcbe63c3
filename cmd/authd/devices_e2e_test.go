package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/storage"
)

const (
	devAdminToken = "admin-token-0123456789abcdef-0123456789"
	devClientID   = "devices-app"
	devClientName = "Devices App"
)

// devUAs are the three devices one user signs in from.
var devUAs = []struct{ UA, Label string }{
	{"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "Firefox on Linux"},
	{"okhttp/4.9.3 (Linux; Android 13)", "okhttp on Android"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "Safari on iOS"},
}

// uaTransport sets the User-Agent of every request.
type uaTransport struct{ ua string }

func (t uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", t.ua)
	return http.DefaultTransport.RoundTrip(r)
}

// newDevicesE2E starts authd with the admin API on (cfgFn may adjust more)
// and a public client that may ask for the grants scope.
func newDevicesE2E(t *testing.T, cfgFn ...func(*Config)) *e2e {
	t.Helper()
	e := newE2E(t, append([]func(*Config){func(c *Config) { c.AdminToken = devAdminToken }}, cfgFn...)...)
	e.srv.addClient(t, storage.Client{
		ID: devClientID, Name: devClientName, RedirectURIs: []string{e2eRedirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile", "offline_access", "grants"},
	}, "")
	return e
}

func (e *e2e) devConfig(scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "offline_access", "grants"}
	}
	return &oauth2.Config{ClientID: devClientID, Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect, Scopes: scopes}
}

// deviceLogin signs in from a fresh browser on a device with User-Agent ua
// and exchanges the code from there (same User-Agent), as a native app on
// that device would.
func (e *e2e) deviceLogin(ua string, scopes ...string) *oauth2.Token {
	e.t.Helper()
	return e.deviceLoginIn(e.newBrowser(), ua, scopes...)
}

// deviceLoginIn is deviceLogin in a given browser (signed in already or
// not), which from now on sends User-Agent ua.
func (e *e2e) deviceLoginIn(b *browser, ua string, scopes ...string) *oauth2.Token {
	e.t.Helper()
	b.header = http.Header{"User-Agent": {ua}}
	cfg := e.devConfig(scopes...)
	v := oauth2.GenerateVerifier()
	state := randString(e.t)
	q := b.authorize(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(v)))
	if q.Get("code") == "" {
		e.t.Fatalf("callback without code: %v", q)
	}
	ctx := context.WithValue(e.ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second, Transport: uaTransport{ua}})
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// devRefresh presents a refresh token as the devices client.
func (e *e2e) devRefresh(rt string) apiResp {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {devClientID}})
}

// bearerCall sends a request with a bearer token.
func (e *e2e) bearerCall(method, path, token string) apiResp {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	out := apiResp{Status: resp.StatusCode, Header: resp.Header, Raw: buf.String()}
	_ = json.Unmarshal(buf.Bytes(), &out.JSON)
	return out
}

func decodeGrants(t *testing.T, r apiResp) []grants.View {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("grants: %v", r)
	}
	var body struct {
		Grants []grants.View `json:"grants"` // /api/me/grants
		Items  []grants.View `json:"items"`  // the admin API's paginated lists
	}
	if err := json.Unmarshal([]byte(r.Raw), &body); err != nil {
		t.Fatalf("grants body: %v: %s", err, r.Raw)
	}
	return append(body.Grants, body.Items...)
}

func (e *e2e) myGrants(t *testing.T, access string) []grants.View {
	t.Helper()
	return decodeGrants(t, e.bearerCall(http.MethodGet, "/api/me/grants", access))
}

func (e *e2e) adminCount(t *testing.T, sub string) int {
	t.Helper()
	r := e.bearerCall(http.MethodGet, "/admin/subjects/"+url.PathEscape(sub)+"/grants/count?active=true", devAdminToken)
	if r.Status != http.StatusOK {
		t.Fatalf("admin count: %v", r)
	}
	n, ok := r.JSON["count"].(float64)
	if !ok {
		t.Fatalf("admin count: %v", r)
	}
	return int(n)
}

// cliGrants runs `authd grants ...` against the test server's schema and
// Redis prefix and returns its output.
func cliGrants(t *testing.T, e *e2e, args ...string) string {
	t.Helper()
	out, err := cli(t, e.srv, append([]string{"grants"}, args...)...)
	if err != nil {
		t.Fatalf("authd grants %v: %v\n%s", args, err, out)
	}
	return out
}

func TestDevicesThreeDevicesRevokeAndLogoutOthers(t *testing.T) {
	e := newDevicesE2E(t)
	toks := make([]*oauth2.Token, len(devUAs))
	for i, d := range devUAs {
		toks[i] = e.deviceLogin(d.UA)
		if toks[i].RefreshToken == "" {
			t.Fatalf("device %d: no refresh token", i)
		}
	}

	gs := e.myGrants(t, toks[0].AccessToken)
	if len(gs) != 3 {
		t.Fatalf("want 3 grants, got %d: %+v", len(gs), gs)
	}
	byLabel := map[string]grants.View{}
	current := 0
	for _, g := range gs {
		byLabel[g.Device] = g
		if g.Current {
			current++
			if g.Device != devUAs[0].Label {
				t.Errorf("current grant is %q, want the caller's %q", g.Device, devUAs[0].Label)
			}
		}
		if g.ClientID != devClientID || g.ClientName != devClientName || g.Flow != "authorization_code" ||
			g.FirstIP != "127.0.0.1" || g.RevokedAt != nil || g.ExpiresAt.Before(time.Now()) || !slices.Contains(g.Scopes, "grants") {
			t.Errorf("grant fields: %+v", g)
		}
	}
	if current != 1 {
		t.Errorf("%d grants marked current, want 1", current)
	}
	for _, d := range devUAs {
		if _, ok := byLabel[d.Label]; !ok {
			t.Errorf("no grant labelled %q in %v", d.Label, gs)
		}
	}
	if n := e.adminCount(t, e.sub); n != 3 {
		t.Errorf("admin count %d, want 3", n)
	}

	// Another subject's grant is invisible: 404, and it stays untouched.
	other := &storage.Grant{ID: "other-subjects-grant", Subject: "someone-else", ClientID: devClientID,
		Flow: "authorization_code", ExpiresAt: time.Now().Add(time.Hour)}
	if err := e.srv.DB.CreateGrant(e.ctx, other); err != nil {
		t.Fatal(err)
	}
	if r := e.bearerCall(http.MethodDelete, "/api/me/grants/"+other.ID, toks[0].AccessToken); r.Status != http.StatusNotFound {
		t.Errorf("revoking another subject's grant: %v, want 404", r)
	}
	if g, err := e.srv.DB.GetGrant(e.ctx, other.ID); err != nil || g.RevokedAt != nil {
		t.Errorf("other subject's grant touched: %+v %v", g, err)
	}
	if r := e.bearerCall(http.MethodDelete, "/api/me/grants/no-such-grant", toks[0].AccessToken); r.Status != http.StatusNotFound {
		t.Errorf("revoking an unknown grant: %v, want 404", r)
	}

	// Device 1 revokes device 2.
	victim := byLabel[devUAs[1].Label].ID
	if r := e.bearerCall(http.MethodDelete, "/api/me/grants/"+victim, toks[0].AccessToken); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %v", r)
	}
	wantOAuthError(t, e.devRefresh(toks[1].RefreshToken), http.StatusBadRequest, "invalid_grant")
	if e.active(toks[1].AccessToken) {
		t.Error("revoked device's access token still introspects active")
	}
	if r := e.bearerCall(http.MethodDelete, "/api/me/grants/"+victim, toks[0].AccessToken); r.Status != http.StatusNoContent {
		t.Errorf("revoking twice: %v, want 204", r)
	}
	for _, i := range []int{0, 2} {
		if !e.active(toks[i].AccessToken) {
			t.Errorf("device %d's access token went inactive", i)
		}
		r := e.devRefresh(toks[i].RefreshToken)
		if r.Status != http.StatusOK {
			t.Fatalf("device %d refresh after another device's revocation: %v", i, r)
		}
		toks[i] = &oauth2.Token{AccessToken: r.str("access_token"), RefreshToken: r.str("refresh_token")}
	}
	if n := e.adminCount(t, e.sub); n != 2 {
		t.Errorf("admin count %d after one revocation, want 2", n)
	}
	all := decodeGrants(t, e.bearerCall(http.MethodGet, "/admin/subjects/"+e.sub+"/grants", devAdminToken))
	for _, g := range all {
		if g.ID == victim && (g.RevokedAt == nil || g.RevokeReason != storage.RevokedByUser) {
			t.Errorf("revoked grant on record: %+v", g)
		}
	}

	// Device 3 signs out every other device.
	r := e.bearerCall(http.MethodPost, "/api/me/grants/revoke-others", toks[2].AccessToken)
	if r.Status != http.StatusOK {
		t.Fatalf("revoke-others: %v", r)
	}
	left := e.myGrants(t, toks[2].AccessToken)
	if len(left) != 1 || !left[0].Current || left[0].Device != devUAs[2].Label {
		t.Fatalf("after revoke-others: %+v, want only the caller's grant", left)
	}
	wantOAuthError(t, e.devRefresh(toks[0].RefreshToken), http.StatusBadRequest, "invalid_grant")
	if e.active(toks[0].AccessToken) {
		t.Error("device 1's access token still active after revoke-others")
	}
	if !e.active(toks[2].AccessToken) {
		t.Error("the caller's own access token went inactive")
	}
	if n := e.adminCount(t, e.sub); n != 1 {
		t.Errorf("admin count %d, want 1", n)
	}
	out := cliGrants(t, e, "list", "--subject", e.sub)
	if !strings.Contains(out, "1 active of 3 listed") || !strings.Contains(out, "revoked (logout_all)") || !strings.Contains(out, "revoked (user)") {
		t.Errorf("CLI list disagrees:\n%s", out)
	}
	out = cliGrants(t, e, "list", "--subject", e.sub, "--active")
	if !strings.Contains(out, "1 active of 1 listed") || !strings.Contains(out, left[0].ID) {
		t.Errorf("CLI list --active disagrees:\n%s", out)
	}

	// The CLI revokes the last one; the API and Redis agree at once.
	out = cliGrants(t, e, "revoke", "--subject", e.sub)
	if !strings.Contains(out, "1 grant(s)") {
		t.Errorf("CLI revoke: %s", out)
	}
	if e.active(toks[2].AccessToken) {
		t.Error("access token active after CLI revocation")
	}
	if n := e.adminCount(t, e.sub); n != 0 {
		t.Errorf("admin count %d after CLI revoke, want 0", n)
	}
	// Admin deletion of one grant is idempotent and says 404 for unknown ids.
	if r := e.bearerCall(http.MethodDelete, "/admin/grants/"+victim, devAdminToken); r.Status != http.StatusNoContent {
		t.Errorf("admin revoke of a revoked grant: %v", r)
	}
	if r := e.bearerCall(http.MethodDelete, "/admin/grants/nope", devAdminToken); r.Status != http.StatusNotFound {
		t.Errorf("admin revoke of an unknown grant: %v", r)
	}
}

func TestDevicesAPIAuth(t *testing.T) {
	e := newDevicesE2E(t)
	tok := e.deviceLogin(devUAs[0].UA, "openid", "offline_access") // no grants scope

	r := e.bearerCall(http.MethodGet, "/api/me/grants", "")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %v %v", r, r.Header)
	}
	r = e.bearerCall(http.MethodGet, "/api/me/grants", "not-a-token")
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("bad token: %v", r)
	}
	r = e.bearerCall(http.MethodGet, "/api/me/grants", tok.AccessToken)
	if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("token without grants scope: %v", r)
	}
	// A refresh token is not a bearer credential, even with the grants scope.
	full := e.deviceLogin(devUAs[1].UA)
	r = e.bearerCall(http.MethodGet, "/api/me/grants", full.RefreshToken)
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("refresh token as bearer: %v", r)
	}
	if r = e.bearerCall(http.MethodGet, "/api/me/grants", full.AccessToken); r.Status != http.StatusOK {
		t.Errorf("its access token: %v", r)
	}
	for _, tk := range []string{"", "wrong-admin-token", tok.AccessToken} {
		if r := e.bearerCall(http.MethodGet, "/admin/subjects/"+e.sub+"/grants", tk); r.Status != http.StatusUnauthorized {
			t.Errorf("admin API with token %q: %v, want 401", tk, r)
		}
	}

	// Without AUTHD_ADMIN_TOKEN the admin API does not exist.
	off := newE2E(t)
	r = off.call(http.MethodGet, "/admin/subjects/x/grants/count", "", "")
	if r.Status != http.StatusNotFound {
		t.Errorf("admin API without a configured token: %v, want 404", r)
	}
}

func TestDevicesReuseDetectedVisible(t *testing.T) {
	e := newDevicesE2E(t)
	tok := e.deviceLogin(devUAs[0].UA)
	r := e.devRefresh(tok.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %v", r)
	}
	next := r.str("refresh_token")
	// Replay the rotated token: reuse.
	wantOAuthError(t, e.devRefresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, e.devRefresh(next), http.StatusBadRequest, "invalid_grant")

	all := decodeGrants(t, e.bearerCall(http.MethodGet, "/admin/subjects/"+e.sub+"/grants", devAdminToken))
	if len(all) != 1 || all[0].RevokeReason != storage.RevokedReuse || all[0].RevokedAt == nil {
		t.Fatalf("grants after reuse: %+v, want one revoked with reason %s", all, storage.RevokedReuse)
	}
	if n := e.adminCount(t, e.sub); n != 0 {
		t.Errorf("active count %d after reuse, want 0", n)
	}
	if r := e.bearerCall(http.MethodGet, "/api/me/grants", r.str("access_token")); r.Status != http.StatusUnauthorized {
		t.Errorf("access token of a reused grant: %v, want 401", r)
	}
}

// grantOfToken returns the grant id of an access token, by introspection
// of the user API.
func (e *e2e) grantOfToken(t *testing.T, access string) string {
	t.Helper()
	for _, g := range e.myGrants(t, access) {
		if g.Current {
			return g.ID
		}
	}
	t.Fatal("no current grant")
	return ""
}

// devicesForms returns the devices page's forms by action.
func devicesForms(t *testing.T, p page) map[string]htmlForm {
	t.Helper()
	if p.Status != http.StatusOK {
		t.Fatalf("devices page: %d %.500s", p.Status, p.Body)
	}
	out := map[string]htmlForm{}
	for _, f := range parseForms(t, p.Body) {
		out[f.Action] = f
	}
	return out
}

func TestDevicesPage(t *testing.T) {
	e := newDevicesE2E(t)
	b := e.newBrowser()
	page := e.srv.URL + "/account/devices"

	p := b.get(page)
	if p.Status != http.StatusSeeOther || p.location(t).String() != e.srv.URL+"/login?next=%2Faccount%2Fdevices" {
		t.Fatalf("signed out: %d %v, want 303 to the sign-in page", p.Status, p.Header.Get("Location"))
	}

	// This browser authorizes device A; two other browsers B and C.
	tokA := e.deviceLoginIn(b, devUAs[0].UA)
	tokB := e.deviceLogin(devUAs[1].UA)
	grantA, grantB := e.grantOfToken(t, tokA.AccessToken), e.grantOfToken(t, tokB.AccessToken)

	forms := devicesForms(t, b.get(page))
	for _, a := range []string{"/account/devices/" + grantA + "/revoke", "/account/devices/" + grantB + "/revoke",
		"/account/devices/revoke-others", "/account/devices/revoke-all"} {
		if _, ok := forms[a]; !ok {
			t.Fatalf("no form posting to %s; forms: %v", a, forms)
		}
		csrfToken(t, forms[a])
	}
	body := b.get(page).Body
	for _, want := range []string{devClientName, devUAs[0].Label, devUAs[1].Label, "127.0.0.1", "grants"} {
		if !strings.Contains(body, want) {
			t.Errorf("devices page lacks %q", want)
		}
	}
	if strings.Count(body, "(this browser)") != 1 || !strings.Contains(body[strings.Index(body, "device-"+grantA):], "(this browser)") {
		t.Errorf("want exactly device A marked as this browser:\n%s", body)
	}

	// A form without the CSRF token is refused.
	if r := b.post(e.srv.URL+"/account/devices/"+grantB+"/revoke", url.Values{}); r.Status != http.StatusForbidden {
		t.Errorf("revoke without CSRF token: %d, want 403", r.Status)
	}
	if !e.active(tokB.AccessToken) {
		t.Fatal("B revoked by a forged form")
	}

	// Revoke B.
	f := forms["/account/devices/"+grantB+"/revoke"]
	r := b.post(e.srv.URL+f.Action, url.Values{"csrf_token": {csrfToken(t, f)}})
	if r.Status != http.StatusSeeOther || r.location(t).Path != "/account/devices" {
		t.Fatalf("revoke: %d %s", r.Status, r.Header.Get("Location"))
	}
	wantOAuthError(t, e.devRefresh(tokB.RefreshToken), http.StatusBadRequest, "invalid_grant")
	after := b.get(r.location(t).String())
	forms = devicesForms(t, after)
	if _, ok := forms["/account/devices/"+grantB+"/revoke"]; ok {
		t.Error("revoked device still has a Revoke button")
	}
	hist := after.Body[strings.Index(after.Body, "<details"):]
	if !strings.Contains(hist, devUAs[1].Label) || !strings.Contains(hist, "(user)") {
		t.Errorf("history lacks the revoked device:\n%s", after.Body)
	}
	if !strings.Contains(after.Body, "The device was signed out.") {
		t.Error("no confirmation")
	}

	// A grant of someone else: 404.
	other := &storage.Grant{ID: "someone-elses", Subject: "someone-else", ClientID: devClientID, Flow: "authorization_code", ExpiresAt: time.Now().Add(time.Hour)}
	if err := e.srv.DB.CreateGrant(e.ctx, other); err != nil {
		t.Fatal(err)
	}
	if r := b.post(e.srv.URL+"/account/devices/someone-elses/revoke", url.Values{"csrf_token": {csrfToken(t, f)}}); r.Status != http.StatusNotFound {
		t.Errorf("revoking another subject's grant: %d, want 404", r.Status)
	}

	// C signs in elsewhere; "sign out all other devices" keeps this browser's A.
	tokC := e.deviceLogin(devUAs[2].UA)
	f = forms["/account/devices/revoke-others"]
	if r := b.post(e.srv.URL+f.Action, url.Values{"csrf_token": {csrfToken(t, f)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("revoke-others: %d %.300s", r.Status, r.Body)
	}
	if e.active(tokC.AccessToken) || !e.active(tokA.AccessToken) {
		t.Error("revoke-others must end C and keep this browser's A")
	}
	if n := e.adminCount(t, e.sub); n != 1 {
		t.Errorf("active grants %d, want 1", n)
	}

	// "Sign out everywhere" ends A and this browser's session.
	f = forms["/account/devices/revoke-all"]
	r = b.post(e.srv.URL+f.Action, url.Values{"csrf_token": {csrfToken(t, f)}})
	if r.Status != http.StatusSeeOther || r.location(t).Path != "/login" {
		t.Fatalf("revoke-all: %d %s", r.Status, r.Header.Get("Location"))
	}
	if e.active(tokA.AccessToken) {
		t.Error("A still active after sign out everywhere")
	}
	if p := b.get(page); p.Status != http.StatusSeeOther {
		t.Errorf("still signed in after sign out everywhere: %d", p.Status)
	}
}
