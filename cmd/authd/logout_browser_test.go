package main

// A real headless Chromium signs in through an app, is sent to the
// end_session_endpoint by that app without an id_token_hint, confirms on
// authd's page, loads the app's front-channel logout page (with iss and
// the session's sid) in the signed-out page's iframe, and moves on to the
// app's registered post-logout redirect URI with its state; prompt=none
// afterwards is login_required.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

func TestBrowserRPInitiatedLogout(t *testing.T) {
	bctx := headlessChrome(t)
	got := make(chan url.Values, 4)
	frontChannel := make(chan url.Values, 4)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		ch := got
		if r.URL.Path == "/fcl" {
			ch = frontChannel
		}
		select {
		case ch <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>app</title><p id="at">%s</p>`, r.URL.Path)
	}))
	defer app.Close()

	srv, cfg := startBrowserApp(t, storage.Client{
		ID: "browser-app", Name: "Browser App", RedirectURIs: []string{app.URL + "/callback"},
		PostLogoutRedirectURIs: []string{app.URL + "/signed-out"}, FrontchannelLogoutURI: app.URL + "/fcl",
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile"},
	})
	verifier := oauth2.GenerateVerifier()
	authURL := func(extra ...oauth2.AuthCodeOption) string {
		return cfg.AuthCodeURL("state-of-the-app", append(extra, oauth2.S256ChallengeOption(verifier))...)
	}
	fail := func(err error) {
		t.Helper()
		browserFatal(t, bctx, "browser", err)
	}
	err := signInToConsent(bctx, authURL())
	if err == nil {
		err = chromedp.Do(bctx, chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("at")))
	}
	if err != nil {
		fail(err)
	}
	q := <-got
	if q.Get("code") == "" {
		t.Fatalf("sign-in: callback %v", q)
	}
	tok, err := cfg.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second}),
		q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	sid := jwtClaims(t, tok.Extra("id_token").(string))["sid"]

	// The app sends the browser to the logout endpoint (no hint): authd asks.
	logoutURL := srv.URL + "/oauth2/logout?" + url.Values{
		"client_id": {"browser-app"}, "post_logout_redirect_uri": {app.URL + "/signed-out"}, "state": {"bye-state"},
	}.Encode()
	if err := chromedp.Do(bctx, chromedp.Navigate(logoutURL), chromedp.WaitVisible(chromedp.ID("logout"))); err != nil {
		fail(err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "Sign out · authd" {
		t.Fatalf("confirmation page title %q", title)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("at"))); err != nil {
		fail(err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	q = <-got
	if u, _ := url.Parse(loc); u.Path != "/signed-out" || q.Get("state") != "bye-state" {
		t.Fatalf("after confirming: at %s with %v, want /signed-out with the state", loc, q)
	}
	select {
	case fc := <-frontChannel:
		if fc.Get("iss") != srv.URL || fc.Get("sid") != sid || sid == "" {
			t.Fatalf("front-channel logout page loaded with %v, want iss %s and sid %v", fc, srv.URL, sid)
		}
	default:
		t.Fatal("the browser never loaded the app's front-channel logout page")
	}

	// Signed out for real: prompt=none now answers login_required.
	if err := chromedp.Do(bctx, chromedp.Navigate(authURL(oauth2.SetAuthURLParam("prompt", "none"))), chromedp.WaitVisible(chromedp.ID("at"))); err != nil {
		fail(err)
	}
	if q := <-got; q.Get("error") != "login_required" {
		t.Fatalf("prompt=none after logout: %v", q)
	}
}
