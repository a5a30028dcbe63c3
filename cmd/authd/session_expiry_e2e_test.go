package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

// loginThrough authorizes client (public, PKCE, e2eRedirect) with scopes in
// browser b and returns its tokens and the ID token's claims.
func (e *e2e) loginThrough(b *browser, client string, scopes ...string) (*oauth2.Token, map[string]any) {
	e.t.Helper()
	cfg := &oauth2.Config{ClientID: client, Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect, Scopes: scopes}
	v := oauth2.GenerateVerifier()
	q := b.authorize(cfg.AuthCodeURL(randString(e.t), oauth2.S256ChallengeOption(v)))
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		e.t.Fatalf("exchange for %s: %v", client, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider().Verifier(&oidc.Config{ClientID: client}).Verify(context.Background(), raw)
	if err != nil {
		e.t.Fatalf("ID token of %s: %v", client, err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		e.t.Fatal(err)
	}
	return tok, claims
}

// TestSessionExpirySweep: a browser session that idles out is ended by the
// session sweep within its interval, as a logout would end it: its grant
// without offline_access is revoked (reason expired, its access token
// inactive), its offline grant still refreshes, and the client's
// back-channel endpoint gets a verified logout token with the session's
// sid and sub. Another browser kept in use past the idle timeout is not
// swept: it stays signed in, its grant live, and no token names it.
func TestSessionExpirySweep(t *testing.T) {
	const idle = 1500 * time.Millisecond
	e := newE2E(t, func(c *Config) {
		c.SessionIdleTimeout, c.SessionTTL, c.sessionSweepInterval = idle, time.Minute, 200*time.Millisecond
	})
	rp := newTestRP(t, e.srv.URL, "rp-expiry")
	e.srv.addClient(t, storage.Client{
		ID: rp.client, Name: rp.client, RedirectURIs: []string{e2eRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "offline_access"}, BackchannelLogoutURI: rp.srv.URL + "/backchannel",
	}, "")
	idleB, activeB := e.newBrowser(), e.newBrowser()
	online, claims := e.loginThrough(idleB, rp.client, "openid")
	offline, _ := e.loginThrough(idleB, rp.client, "openid", "offline_access")
	kept, keptClaims := e.loginThrough(activeB, rp.client, "openid")
	if claims["sid"] == keptClaims["sid"] || online.RefreshToken != "" || offline.RefreshToken == "" {
		t.Fatalf("sids %v %v, refresh tokens %q %q", claims["sid"], keptClaims["sid"], online.RefreshToken, offline.RefreshToken)
	}
	// activeB is used every 300 ms (each use moves its expiry) while
	// idleB's session times out and the sweep ends it.
	start := time.Now()
	for len(rp.got()) == 0 || time.Since(start) < 2*idle {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no logout token %v after the idle timeout (%d calls)", time.Since(start), rp.calls.Load())
		}
		if !activeB.signedIn() {
			t.Fatalf("the session in use ended after %v", time.Since(start))
		}
		time.Sleep(300 * time.Millisecond)
	}
	wantLogoutToken(t, rp, claims)
	if got := rp.got(); len(got) != 1 {
		t.Fatalf("%d logout tokens, want one (the idle session's): %v", len(got), got)
	}
	if e.active(online.AccessToken) {
		t.Error("the idle session's grant without offline_access survived its expiry")
	}
	r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {offline.RefreshToken}, "client_id": {rp.client}})
	if r.Status != http.StatusOK {
		t.Errorf("the offline grant ended with the session: %v", r)
	}
	if !e.active(kept.AccessToken) || !activeB.signedIn() {
		t.Error("the session in use was swept")
	}
	e.wantLoginRequired(idleB, "the idle browser")
	left, err := e.srv.App.Sessions.List(e.ctx, e.sub)
	if err != nil || len(left) != 1 || left[0].ID != keptClaims["sid"] {
		t.Fatalf("sessions left: %+v %v, want only %v", left, err, keptClaims["sid"])
	}
	wantExpiredGrants(t, e, 1)
}

// wantExpiredGrants checks the user has n grants revoked for reason
// expired, none of them offline.
func wantExpiredGrants(t *testing.T, e *e2e, n int) {
	t.Helper()
	vs, err := e.srv.App.Grants.List(e.ctx, e.sub, false)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, v := range vs {
		if v.RevokeReason != storage.RevokedExpired {
			continue
		}
		got++
		if slices.Contains(v.Scopes, "offline_access") {
			t.Errorf("offline grant %s revoked as expired", v.ID)
		}
	}
	if got != n {
		t.Errorf("%d grants revoked as expired, want %d", got, n)
	}
}

// TestJanitorSweepsSessions: `authd janitor` ends expired sessions too
// (serve's sweep off here): the idled-out session's grant is revoked and
// its client told, through the serving replica's back-channel worker.
func TestJanitorSweepsSessions(t *testing.T) {
	const idle = time.Second
	e := newE2E(t, func(c *Config) {
		c.SessionIdleTimeout, c.SessionTTL, c.sessionSweepInterval = idle, time.Minute, -1
	})
	rp := newTestRP(t, e.srv.URL, "rp-janitor")
	registerRP(t, e.srv, rp, "ES256")
	b := e.newBrowser()
	_, claims := e.loginThrough(b, rp.client, "openid")
	time.Sleep(idle + 300*time.Millisecond)
	if len(rp.got()) != 0 {
		t.Fatal("a logout token before any sweep")
	}
	out, err := cli(t, e.srv, "janitor")
	if err != nil || !strings.Contains(out, "expired sessions ended: 1") {
		t.Fatalf("authd janitor: %v %s", err, out)
	}
	wantLogoutToken(t, rp, claims)
	wantExpiredGrants(t, e, 1)
	if out, err := cli(t, e.srv, "janitor"); err != nil || !strings.Contains(out, "expired sessions ended: 0") {
		t.Fatalf("authd janitor again: %v %s", err, out)
	}
}
