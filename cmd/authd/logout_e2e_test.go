package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/storage"
)

// RP-Initiated Logout 1.0 end to end: a browser signed in through the
// public client, its ID token as id_token_hint, the confirmation page
// without one, and what a redirect may and may not do.

const e2eLogoutRedirect = "http://127.0.0.1:53682/signed-out"

// logoutE2E is newE2E with the public client's post-logout redirect URI
// registered.
func logoutE2E(t *testing.T, cfgFn ...func(*Config)) *e2e {
	t.Helper()
	e := newE2E(t, cfgFn...)
	uris := []string{e2eLogoutRedirect}
	if _, err := e.srv.DB.UpdateClient(context.Background(), e2ePubID, storage.ClientUpdate{PostLogoutRedirectURIs: &uris}); err != nil {
		t.Fatal(err)
	}
	return e
}

// logoutURL is the end_session_endpoint with params.
func (e *e2e) logoutURL(params url.Values) string {
	return e.srv.URL + "/oauth2/logout?" + params.Encode()
}

// wantSignedOut checks this browser is signed out: prompt=none is
// login_required.
func (e *e2e) wantSignedOut(b *browser) {
	e.t.Helper()
	run, p := e.startAuth(b, url.Values{"prompt": {"none"}})
	run.wantError(p, "login_required")
}

// wantReturn checks p sends the browser to the registered post-logout
// redirect URI with state.
func wantReturn(t *testing.T, p page, state string) {
	t.Helper()
	if p.Status != http.StatusSeeOther {
		t.Fatalf("want 303 to the post-logout redirect URI, got %d: %.600s", p.Status, p.Body)
	}
	u := p.location(t)
	if got := u.Scheme + "://" + u.Host + u.Path; got != e2eLogoutRedirect || u.Query().Get("state") != state {
		t.Fatalf("redirected to %s, want %s with state %q", u, e2eLogoutRedirect, state)
	}
}

func TestLogoutDiscovery(t *testing.T) {
	e := newE2E(t)
	var doc struct {
		EndSession     string `json:"end_session_endpoint"`
		BackChannel    bool   `json:"backchannel_logout_supported"`
		BackChannelSID bool   `json:"backchannel_logout_session_supported"`
		FrontChannel   bool   `json:"frontchannel_logout_supported"`
		FrontChannelSI bool   `json:"frontchannel_logout_session_supported"`
	}
	if err := e.provider().Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.EndSession != e.srv.URL+"/oauth2/logout" || !doc.BackChannel || !doc.BackChannelSID || !doc.FrontChannel || !doc.FrontChannelSI {
		t.Fatalf("discovery: %+v", doc)
	}
}

// TestRPLogoutWithHint: the session's own ID token as hint signs out at
// once and returns to the registered URI with state; prompt=none is then
// login_required. The same request by POST works alike.
func TestRPLogoutWithHint(t *testing.T) {
	e := logoutE2E(t)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		b, hint, _ := e.signedIn()
		params := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {e2eLogoutRedirect}, "state": {"st-" + method}, "ui_locales": {"de en"}}
		var p page
		if method == http.MethodGet {
			p = b.get(e.logoutURL(params))
		} else {
			p = b.post(e.srv.URL+"/oauth2/logout", params)
			if p.Status != http.StatusSeeOther {
				t.Fatalf("POST /oauth2/logout: %d", p.Status)
			}
			p = b.get(p.location(t).String())
		}
		wantReturn(t, p, "st-"+method)
		e.wantSignedOut(b)
	}
}

// TestRPLogoutConfirm: without a hint the person confirms on a
// CSRF-protected page; nothing ends before. A forged confirmation (no CSRF
// token) is refused; "Stay signed in" returns without signing out.
func TestRPLogoutConfirm(t *testing.T) {
	e := logoutE2E(t)
	b, _, _ := e.signedIn()
	params := url.Values{"client_id": {e2ePubID}, "post_logout_redirect_uri": {e2eLogoutRedirect}, "state": {"s1"}}
	p := b.get(e.logoutURL(params))
	f := onlyForm(t, p)
	if p.Status != http.StatusOK || f.Action != "/oauth2/logout/confirm" || !strings.Contains(p.Body, "CLI") || !strings.Contains(p.Body, e2eUser) {
		t.Fatalf("want the confirmation page naming the app and the user, got %d: %.800s", p.Status, p.Body)
	}
	e.wantSignedIn(b, "this browser") // the page alone ended nothing

	forged := b.post(e.srv.URL+"/oauth2/logout/confirm", url.Values{"decision": {"logout"}, "client_id": {e2ePubID}})
	if forged.Status != http.StatusForbidden {
		t.Fatalf("confirmation without a CSRF token: %d, want 403", forged.Status)
	}
	e.wantSignedIn(b, "this browser")

	stay := formValues(f)
	stay.Set("decision", "stay")
	wantReturn(t, b.post(e.srv.URL+f.Action, stay), "s1")
	e.wantSignedIn(b, "this browser")

	p = b.get(e.logoutURL(params))
	f = onlyForm(t, p)
	yes := formValues(f)
	yes.Set("decision", "logout")
	wantReturn(t, b.post(e.srv.URL+f.Action, yes), "s1")
	e.wantSignedOut(b)
}

// formValues is a form's named fields with their values.
func formValues(f htmlForm) url.Values {
	v := url.Values{}
	for _, fl := range f.Fields {
		if fl.Input {
			v.Set(fl.Name, fl.Value)
		}
	}
	return v
}

// TestRPLogoutRedirectNotRegistered: a post_logout_redirect_uri not
// registered for the client is never followed: the signed-out page.
func TestRPLogoutRedirectNotRegistered(t *testing.T) {
	e := logoutE2E(t)
	b, hint, _ := e.signedIn()
	p := b.get(e.logoutURL(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/x"}, "state": {"s"}}))
	if p.Status != http.StatusOK || p.Header.Get("Location") != "" || !strings.Contains(p.Body, `id="signed-out"`) {
		t.Fatalf("want the signed-out page, got %d %v: %.500s", p.Status, p.Header, p.Body)
	}
	e.wantSignedOut(b)
	// Nobody signed in, a registered URI: straight back with state.
	wantReturn(t, b.get(e.logoutURL(url.Values{"client_id": {e2ePubID}, "post_logout_redirect_uri": {e2eLogoutRedirect}, "state": {"s2"}})), "s2")
	// A redirect registered for another client is not this one's.
	p = b.get(e.logoutURL(url.Values{"client_id": {e2eConfID}, "post_logout_redirect_uri": {e2eLogoutRedirect}}))
	if p.Status != http.StatusOK || p.Header.Get("Location") != "" {
		t.Fatalf("another client's URI followed: %d %v", p.Status, p.Header)
	}
}

// TestRPLogoutHintOtherUser: a hint about another user than the one
// signed in here asks before ending anything.
func TestRPLogoutHintOtherUser(t *testing.T) {
	e := logoutE2E(t)
	b, _, _ := e.signedIn()
	bob := e.srv.addUser(t, "bob", "bob's password is long enough")
	kid, key, err := e.srv.App.Keys.Signer("RS256")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hint := mintIDToken(t, key, kid, map[string]any{"iss": e.srv.URL, "sub": bob, "aud": e2ePubID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	p := b.get(e.logoutURL(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {e2eLogoutRedirect}}))
	if f := onlyForm(t, p); f.Action != "/oauth2/logout/confirm" {
		t.Fatalf("want the confirmation page, got %d %.500s", p.Status, p.Body)
	}
	e.wantSignedIn(b, "this browser")
	// An expired hint of the signed-in user is accepted (and signs out).
	old := mintIDToken(t, key, kid, map[string]any{"iss": e.srv.URL, "sub": e.sub, "aud": e2ePubID, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	wantReturn(t, b.get(e.logoutURL(url.Values{"id_token_hint": {old}, "post_logout_redirect_uri": {e2eLogoutRedirect}})), "")
	e.wantSignedOut(b)
}

// TestRPLogoutBadRequests: an error page (400), never a redirect and never
// a sign-out.
func TestRPLogoutBadRequests(t *testing.T) {
	e := logoutE2E(t)
	b, hint, _ := e.signedIn()
	cases := map[string]string{
		"forged hint":       "id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.&post_logout_redirect_uri=" + url.QueryEscape(e2eLogoutRedirect),
		"client mismatch":   url.Values{"id_token_hint": {hint}, "client_id": {e2eConfID}, "post_logout_redirect_uri": {e2eLogoutRedirect}}.Encode(),
		"unknown client":    url.Values{"client_id": {"nope"}, "post_logout_redirect_uri": {e2eLogoutRedirect}}.Encode(),
		"repeated redirect": "client_id=" + e2ePubID + "&post_logout_redirect_uri=" + url.QueryEscape(e2eLogoutRedirect) + "&post_logout_redirect_uri=https://evil.example",
	}
	for name, q := range cases {
		p := b.get(e.srv.URL + "/oauth2/logout?" + q)
		if p.Status != http.StatusBadRequest || p.Header.Get("Location") != "" {
			t.Errorf("%s: %d %v, want a 400 page", name, p.Status, p.Header.Get("Location"))
		}
	}
	e.wantSignedIn(b, "this browser")
}

// TestClientsBackchannelFlags: --backchannel-logout-uri,
// --backchannel-logout-session-required and --frontchannel-logout-uri are stored, shown by clients list
// --json, changed and cleared by clients update, and checked (https unless
// loopback, no fragment).
func TestClientsBackchannelFlags(t *testing.T) {
	e := newE2E(t)
	if out, err := cli(t, e.srv, "clients", "create", "--id", "rp1", "--public", "--grant-types", "authorization_code",
		"--redirect-uri", e2eRedirect, "--backchannel-logout-uri", "https://rp.example/bcl", "--backchannel-logout-session-required",
		"--frontchannel-logout-uri", "https://rp.example/fcl?x=1"); err != nil {
		t.Fatalf("create: %v %s", err, out)
	}
	c := clientJSONOf(t, e.srv, "rp1")
	if c["backchannel_logout_uri"] != "https://rp.example/bcl" || c["backchannel_logout_session_required"] != true ||
		c["frontchannel_logout_uri"] != "https://rp.example/fcl?x=1" {
		t.Fatalf("list --json: %v", c)
	}
	if _, err := cli(t, e.srv, "clients", "update", "--id", "rp1", "--backchannel-logout-uri", "http://127.0.0.1:9/bcl",
		"--backchannel-logout-session-required=false"); err != nil {
		t.Fatal(err)
	}
	if c = clientJSONOf(t, e.srv, "rp1"); c["backchannel_logout_uri"] != "http://127.0.0.1:9/bcl" || c["backchannel_logout_session_required"] != false {
		t.Fatalf("after update: %v", c)
	}
	for _, bad := range []string{"http://rp.example/bcl", "https://rp.example/bcl#frag", "/relative", "ftp://rp.example/x"} {
		for _, flag := range []string{"--backchannel-logout-uri", "--frontchannel-logout-uri"} {
			if _, err := cli(t, e.srv, "clients", "update", "--id", "rp1", flag, bad); exitCode(err) != 2 {
				t.Errorf("%s %s: %v, want a usage error", flag, bad, err)
			}
		}
		if _, err := cli(t, e.srv, "clients", "create", "--id", "rp2", "--public", "--grant-types", "authorization_code",
			"--redirect-uri", e2eRedirect, "--backchannel-logout-uri", bad); exitCode(err) != 2 {
			t.Errorf("create --backchannel-logout-uri %s: %v, want a usage error", bad, err)
		}
	}
	if _, err := cli(t, e.srv, "clients", "update", "--id", "rp1", "--backchannel-logout-uri", "", "--frontchannel-logout-uri", ""); err != nil {
		t.Fatal(err)
	}
	if c = clientJSONOf(t, e.srv, "rp1"); c["backchannel_logout_uri"] != "" || c["frontchannel_logout_uri"] != "" {
		t.Fatalf("after clearing: %v", c)
	}
}
