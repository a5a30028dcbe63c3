package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage"
)

// Browser sign-in sessions end to end: two browsers (two cookie jars) of
// one user; ending one by the API, the devices page or the admin leaves the
// other as specified, and ends the grants born from it that are not offline.

// fakeListener records every session that ends.
type fakeListener struct {
	mu    sync.Mutex
	ended []sessions.Ended
}

func (l *fakeListener) SessionEnded(_ context.Context, e sessions.Ended) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ended = append(l.ended, e)
}

func (l *fakeListener) all() []sessions.Ended {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ended)
}

// wantLoginRequired: b's prompt=none authorization gets login_required.
func (e *e2e) wantLoginRequired(b *browser, who string) {
	e.t.Helper()
	run, p := e.startAuth(b, url.Values{"prompt": {"none"}})
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		e.t.Fatalf("%s: prompt=none: %d %.300s", who, p.Status, p.Body)
	}
	if q := callback(e.t, p.location(e.t)); q.Get("error") != "login_required" || q.Get("state") != run.state {
		e.t.Errorf("%s: prompt=none after its session ended: %v, want error=login_required", who, q)
	}
}

// wantSignedIn: b's prompt=none authorization gets a code.
func (e *e2e) wantSignedIn(b *browser, who string) {
	e.t.Helper()
	_, p := e.startAuth(b, url.Values{"prompt": {"none"}})
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		e.t.Fatalf("%s: prompt=none: %d %.300s", who, p.Status, p.Body)
	}
	if q := callback(e.t, p.location(e.t)); q.Get("code") == "" {
		e.t.Errorf("%s: prompt=none while signed in: %v, want a code", who, q)
	}
}

// submitDevicesForm posts the devices page's form with action, as b.
func (b *browser) submitDevicesForm(t *testing.T, action string) page {
	t.Helper()
	forms := devicesForms(t, b.get(b.e.srv.URL+"/account/devices"))
	f, ok := forms[action]
	if !ok {
		t.Fatalf("devices page has no form posting to %s: %v", action, forms)
	}
	return b.post(b.e.srv.URL+action, url.Values{"csrf_token": {csrfToken(t, f)}})
}

func decodeSessions(t *testing.T, r apiResp) []sessions.View {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("sessions: %v", r)
	}
	// /api/me/sessions answers {"sessions": …}, the admin API {"items": …}
	// like its other lists.
	var body struct {
		Sessions []sessions.View `json:"sessions"`
		Items    []sessions.View `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &body); err != nil || (body.Sessions == nil) == (body.Items == nil) {
		t.Fatalf("sessions body: %v: %s", err, r.Raw)
	}
	return append(body.Sessions, body.Items...)
}

// sessionOf is the id of the only session of sub whose grants include the
// access token's grant.
func (e *e2e) sessionOf(t *testing.T, access string) string {
	t.Helper()
	for _, s := range decodeSessions(t, e.bearerCall(http.MethodGet, "/api/me/sessions", access)) {
		if s.Current {
			return s.ID
		}
	}
	t.Fatal("no current session")
	return ""
}

// TestSessionsSignOutEverywhereEndsOtherBrowsers: "Sign out everywhere" in
// one browser signs the other out too: its prompt=none gets
// login_required, though consent is remembered (before, the other browser
// stayed signed in for its whole 24 h).
func TestSessionsSignOutEverywhereEndsOtherBrowsers(t *testing.T) {
	e := newDevicesE2E(t)
	a, _, _ := e.signedIn()
	b, _, _ := e.signedIn()
	e.wantSignedIn(b, "B before")
	if r := a.submitDevicesForm(t, "/account/devices/revoke-all"); r.Status != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d %.300s", r.Status, r.Body)
	}
	e.wantLoginRequired(b, "the other browser")
	e.wantLoginRequired(a, "this browser")
	if ss, err := e.srv.App.Sessions.List(e.ctx, e.sub); err != nil || len(ss) != 0 {
		t.Errorf("sessions left after sign out everywhere: %+v %v", ss, err)
	}
}

// twoBrowsers signs in browser A (an offline grant with the grants scope)
// and browser B (one grant without offline_access, one with), and returns
// the browsers, tokens and session ids.
type twoBrowsers struct {
	a, b               *browser
	tokA, tokB, tokOff *oauth2.Token
	sidA, sidB         string
}

func (e *e2e) twoBrowsers(t *testing.T) twoBrowsers {
	t.Helper()
	var s twoBrowsers
	s.a, s.b = e.newBrowser(), e.newBrowser()
	s.tokA = e.deviceLoginIn(s.a, devUAs[0].UA)
	s.tokB = e.deviceLoginIn(s.b, devUAs[1].UA, "openid", "grants")
	s.tokOff = e.deviceLoginIn(s.b, devUAs[1].UA)
	s.sidA, s.sidB = e.sessionOf(t, s.tokA.AccessToken), e.sessionOf(t, s.tokB.AccessToken)
	if s.sidA == s.sidB || e.sessionOf(t, s.tokOff.AccessToken) != s.sidB {
		t.Fatalf("sessions %s %s: want A's and B's different, B's two grants in one", s.sidA, s.sidB)
	}
	return s
}

// wantBEndedAOn checks B's session ended as specified and A's did not.
func (e *e2e) wantBEndedAOn(t *testing.T, s twoBrowsers, l *fakeListener, reason string) {
	t.Helper()
	e.wantLoginRequired(s.b, "B")
	if e.active(s.tokB.AccessToken) {
		t.Error("B's grant without offline_access survived its session")
	}
	if r := e.devRefresh(s.tokOff.RefreshToken); r.Status != http.StatusOK {
		t.Errorf("B's offline grant ended with its session: %v", r)
	}
	if !s.a.signedIn() {
		t.Error("A was signed out")
	}
	if !e.active(s.tokA.AccessToken) {
		t.Error("A's grant ended")
	}
	list := decodeSessions(t, e.bearerCall(http.MethodGet, "/api/me/sessions", s.tokA.AccessToken))
	if len(list) != 1 || list[0].ID != s.sidA {
		t.Errorf("sessions left: %+v, want only A's", list)
	}
	ended := l.all()
	if len(ended) != 1 || ended[0].Session.ID != s.sidB || ended[0].Reason != reason ||
		!slices.Equal(ended[0].Clients, []string{devClientID}) || ended[0].Session.Subject != e.sub {
		t.Errorf("listener heard %+v, want B's session ended (%s) with client %s", ended, reason, devClientID)
	}
}

func TestSessionsEndOneBrowser(t *testing.T) {
	t.Run("api", func(t *testing.T) {
		e := newDevicesE2E(t)
		l := &fakeListener{}
		e.srv.App.Sessions.Listeners = append(e.srv.App.Sessions.Listeners, l)
		s := e.twoBrowsers(t)
		list := decodeSessions(t, e.bearerCall(http.MethodGet, "/api/me/sessions", s.tokA.AccessToken))
		if len(list) != 2 {
			t.Fatalf("sessions %+v, want 2", list)
		}
		for _, x := range list {
			if x.IP != "127.0.0.1" || x.Device == "" || x.Created.IsZero() || x.LastSeen.Before(x.Created) || x.Current != (x.ID == s.sidA) {
				t.Errorf("session %+v", x)
			}
		}
		// Called from B's browser (its cookie), B's session is current too.
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.srv.URL+"/api/me/sessions", nil)
		req.Header.Set("Authorization", "Bearer "+s.tokA.AccessToken)
		for _, x := range decodeSessions(t, mustFetch(t, s.b.hc, req)) {
			if !x.Current {
				t.Errorf("from B's browser with A's token: session %s not current", x.ID)
			}
		}
		// Another user's session: 404, and it lives on.
		other := storage.BrowserSession{ID: "someone-elses", Subject: "someone-else", Created: time.Now(), LastSeen: time.Now(),
			End: time.Now().Add(time.Hour), Expires: time.Now().Add(time.Hour), CookieHash: "x"}
		if err := e.srv.App.Redis.CreateSession(e.ctx, other); err != nil {
			t.Fatal(err)
		}
		if r := e.bearerCall(http.MethodDelete, "/api/me/sessions/someone-elses", s.tokA.AccessToken); r.Status != http.StatusNotFound {
			t.Errorf("ending another user's session: %v, want 404", r)
		}
		if ss, _ := e.srv.App.Sessions.List(e.ctx, "someone-else"); len(ss) != 1 {
			t.Error("another user's session ended")
		}
		if r := e.bearerCall(http.MethodDelete, "/api/me/sessions/"+s.sidB, s.tokA.AccessToken); r.Status != http.StatusNoContent {
			t.Fatalf("DELETE session: %v", r)
		}
		e.wantBEndedAOn(t, s, l, storage.RevokedByUser)
		if r := e.bearerCall(http.MethodDelete, "/api/me/sessions/"+s.sidB, s.tokA.AccessToken); r.Status != http.StatusNotFound {
			t.Errorf("ending it again: %v, want 404", r)
		}
	})
	t.Run("page", func(t *testing.T) {
		e := newDevicesE2E(t)
		l := &fakeListener{}
		e.srv.App.Sessions.Listeners = append(e.srv.App.Sessions.Listeners, l)
		s := e.twoBrowsers(t)
		r := s.a.submitDevicesForm(t, "/account/devices/sessions/"+s.sidB+"/end")
		if r.Status != http.StatusSeeOther || r.location(t).Path != "/account/devices" {
			t.Fatalf("sign out B from A's page: %d %s", r.Status, r.Header.Get("Location"))
		}
		e.wantBEndedAOn(t, s, l, storage.RevokedByUser)
		// "Sign out" for this browser ends A's session.
		forms := devicesForms(t, s.a.get(e.srv.URL+"/account/devices"))
		if _, ok := forms["/account/devices/sessions/"+s.sidA+"/end"]; ok {
			t.Error("this browser is offered as another browser")
		}
		if r := s.a.submitDevicesForm(t, "/logout"); r.Status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", r.Status)
		}
		e.wantLoginRequired(s.a, "A after signing out")
		if r := e.devRefresh(s.tokA.RefreshToken); r.Status != http.StatusOK {
			t.Errorf("A's offline grant ended with its session: %v", r)
		}
	})
	t.Run("admin", func(t *testing.T) {
		e := newDevicesE2E(t)
		s := e.twoBrowsers(t)
		r := e.bearerCall(http.MethodGet, "/admin/subjects/"+url.PathEscape(e.sub)+"/sessions", devAdminToken)
		if list := decodeSessions(t, r); len(list) != 2 {
			t.Fatalf("admin sessions: %+v", list)
		}
		if r := e.bearerCall(http.MethodGet, "/admin/subjects/"+url.PathEscape(e.sub)+"/sessions", "wrong"); r.Status != http.StatusUnauthorized {
			t.Errorf("without the admin token: %v", r)
		}
		r = e.bearerCall(http.MethodDelete, "/admin/subjects/"+url.PathEscape(e.sub)+"/sessions", devAdminToken)
		if r.Status != http.StatusOK || r.JSON["ended"] != float64(2) {
			t.Fatalf("admin end sessions: %v", r)
		}
		e.wantLoginRequired(s.a, "A")
		e.wantLoginRequired(s.b, "B")
		if e.active(s.tokB.AccessToken) {
			t.Error("B's grant without offline_access survived its session")
		}
		if !e.active(s.tokA.AccessToken) || e.devRefresh(s.tokOff.RefreshToken).Status != http.StatusOK {
			t.Error("offline grants ended with the sessions")
		}
	})
	t.Run("sign out all other devices", func(t *testing.T) {
		e := newDevicesE2E(t)
		s := e.twoBrowsers(t)
		if r := s.a.submitDevicesForm(t, "/account/devices/revoke-others"); r.Status != http.StatusSeeOther {
			t.Fatalf("revoke others: %d", r.Status)
		}
		e.wantLoginRequired(s.b, "B")
		if !s.a.signedIn() || !e.active(s.tokA.AccessToken) {
			t.Error("this browser was signed out by signing out the others")
		}
		if ss, err := e.srv.App.Sessions.List(e.ctx, e.sub); err != nil || len(ss) != 1 || ss[0].ID != s.sidA {
			t.Errorf("sessions left: %+v %v, want only A's", ss, err)
		}
	})
	t.Run("api revoke-others", func(t *testing.T) {
		// POST /api/me/grants/revoke-others ends the other browsers too,
		// as the page's "Sign out all other devices" does: a session left
		// alive could authorize a new grant silently.
		e := newDevicesE2E(t)
		s := e.twoBrowsers(t)
		if r := e.bearerCall(http.MethodPost, "/api/me/grants/revoke-others", s.tokA.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("revoke-others: %v", r)
		}
		e.wantLoginRequired(s.b, "B")
		if !s.a.signedIn() || !e.active(s.tokA.AccessToken) {
			t.Error("the caller's browser or grant ended")
		}
		if ss, err := e.srv.App.Sessions.List(e.ctx, e.sub); err != nil || len(ss) != 1 || ss[0].ID != s.sidA {
			t.Errorf("sessions left: %+v %v, want only A's", ss, err)
		}
	})
	t.Run("cli revokes grants", func(t *testing.T) {
		e := newDevicesE2E(t)
		s := e.twoBrowsers(t)
		cliGrants(t, e, "revoke", "--subject", e.sub)
		e.wantLoginRequired(s.a, "A")
		e.wantLoginRequired(s.b, "B")
	})
	t.Run("admin revokes grants", func(t *testing.T) {
		// DELETE /admin/subjects/{sub}/grants (after a password change)
		// leaves no browser signed in.
		e := newDevicesE2E(t)
		s := e.twoBrowsers(t)
		if r := e.bearerCall(http.MethodDelete, "/admin/subjects/"+url.PathEscape(e.sub)+"/grants", devAdminToken); r.Status != http.StatusOK {
			t.Fatalf("admin revoke: %v", r)
		}
		e.wantLoginRequired(s.a, "A")
		e.wantLoginRequired(s.b, "B")
		if ss, err := e.srv.App.Sessions.List(e.ctx, e.sub); err != nil || len(ss) != 0 {
			t.Errorf("sessions left: %+v %v", ss, err)
		}
	})
}

// oidcLogin runs an authorization request of cfg in b and returns the
// verified ID token's claims and the token response.
func (e *e2e) oidcLogin(b *browser, cfg *oauth2.Config) (map[string]any, *oauth2.Token) {
	e.t.Helper()
	v := oauth2.GenerateVerifier()
	q := b.authorize(cfg.AuthCodeURL(randString(e.t), oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("nonce", randString(e.t))))
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return e.verifyID(cfg.ClientID, tok), tok
}

func (e *e2e) verifyID(clientID string, tok *oauth2.Token) map[string]any {
	e.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider().Verifier(&oidc.Config{ClientID: clientID}).Verify(e.ctx, raw)
	if err != nil {
		e.t.Fatalf("verify ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		e.t.Fatal(err)
	}
	return claims
}

// TestSessionsSIDClaim: the ID token's sid is the browser session: the
// same for two clients signed in through one session, kept by refreshed ID
// tokens, different in another browser; it is the id the sessions API
// shows.
func TestSessionsSIDClaim(t *testing.T) {
	e := newE2E(t)
	b := e.newBrowser()
	c1, tok := e.oidcLogin(b, e.pubConfig("openid", "offline_access"))
	c2, _ := e.oidcLogin(b, e.confConfig("openid"))
	sid, _ := c1["sid"].(string)
	if sid == "" || c2["sid"] != sid {
		t.Fatalf("sid %v (cli) and %v (webapp): want one non-empty sid for one browser session", c1["sid"], c2["sid"])
	}
	ss, err := e.srv.App.Sessions.List(e.ctx, e.sub)
	if err != nil || len(ss) != 1 || ss[0].ID != sid {
		t.Fatalf("sessions %+v (%v), want the one with id %s", ss, err, sid)
	}
	r := e.refresh(tok.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %v", r)
	}
	refreshed := e.verifyID(e2ePubID, (&oauth2.Token{AccessToken: "x"}).WithExtra(map[string]any{"id_token": r.str("id_token")}))
	if refreshed["sid"] != sid {
		t.Errorf("refreshed ID token sid %v, want %s", refreshed["sid"], sid)
	}
	c3, _ := e.oidcLogin(e.newBrowser(), e.pubConfig("openid"))
	if c3["sid"] == nil || c3["sid"] == sid {
		t.Errorf("another browser's sid %v, want one of its own (not %s)", c3["sid"], sid)
	}
}
