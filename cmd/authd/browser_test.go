package main

// A real headless Chromium signs in and allows access; the authorization
// code it delivers to the client's redirect URI is exchanged with x/oauth2.

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

func TestBrowserAuthorizationCode(t *testing.T) {
	bctx := headlessChrome(t)
	ctx := bctx

	// The client's redirect URI: records what it receives, shows "done".
	redirect, got := startCallback(t, false)

	_, cfg := startBrowserApp(t, storage.Client{
		ID: "browser-app", Name: "Browser App", RedirectURIs: []string{redirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile", "offline_access"},
	})
	verifier, state := oauth2.GenerateVerifier(), randString(t)
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	// The sign-in must lead to the consent page; wait for it, but report a
	// page that can never turn into it (an error page) at once instead of
	// at the deadline.
	err := signInToConsent(bctx, authURL)
	if err == nil {
		err = chromedp.Do(bctx, chromedp.Click(chromedp.ID("allow")))
	}
	if err != nil {
		browserFatal(t, bctx, "browser", err)
	}
	var q url.Values
	select {
	case q = <-got:
	case <-ctx.Done():
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		t.Fatalf("the callback never received the code (browser at %s)", loc)
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		t.Fatalf("callback got error %q, code %q", q.Get("error"), q.Get("code"))
	}
	if q.Get("state") != state {
		t.Fatalf("callback state %q, want %q", q.Get("state"), state)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Errorf("the browser did not land on the callback page: %v", err)
	}

	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second}),
		q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Errorf("token response lacks tokens: %+v", tok)
	}
	t.Log("a real browser signed in and allowed; the code exchanged for access, refresh and ID tokens")
}
