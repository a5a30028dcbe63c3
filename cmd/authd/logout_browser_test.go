package main

// A real headless Chromium signs in through an app, is sent to the
// end_session_endpoint by that app without an id_token_hint, confirms on
// authd's page, and lands on the app's registered post-logout redirect URI
// with its state; prompt=none afterwards is login_required.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

func TestBrowserRPInitiatedLogout(t *testing.T) {
	bctx := headlessChrome(t)
	got := make(chan url.Values, 4)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		select {
		case got <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>app</title><p id="at">%s</p>`, r.URL.Path)
	}))
	defer app.Close()

	srv := startServer(t)
	srv.addUser(t, e2eUser, e2ePassword)
	srv.addClient(t, storage.Client{
		ID: "browser-app", Name: "Browser App", RedirectURIs: []string{app.URL + "/callback"},
		PostLogoutRedirectURIs: []string{app.URL + "/signed-out"},
		GrantTypes:             []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile"},
	}, "")
	cfg := &oauth2.Config{ClientID: "browser-app", RedirectURL: app.URL + "/callback", Scopes: []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/oauth2/auth"}}
	authURL := func(extra ...oauth2.AuthCodeOption) string {
		return cfg.AuthCodeURL("state-of-the-app", append(extra, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))...)
	}
	fail := func(err error) {
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		body, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("browser: %v (at %s)\n%.1500s", err, loc, body)
	}
	err := chromedp.Do(bctx,
		chromedp.Navigate(authURL()),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), e2eUser),
		chromedp.SendKeys(chromedp.ID("password"), e2ePassword),
		chromedp.Click(chromedp.ID("signin")),
	)
	if err == nil {
		err = waitForConsent(bctx)
	}
	if err == nil {
		err = chromedp.Do(bctx, chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("at")))
	}
	if err != nil {
		fail(err)
	}
	if q := <-got; q.Get("code") == "" {
		t.Fatalf("sign-in: callback %v", q)
	}

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
	q := <-got
	if u, _ := url.Parse(loc); u.Path != "/signed-out" || q.Get("state") != "bye-state" {
		t.Fatalf("after confirming: at %s with %v, want /signed-out with the state", loc, q)
	}

	// Signed out for real: prompt=none now answers login_required.
	if err := chromedp.Do(bctx, chromedp.Navigate(authURL(oauth2.SetAuthURLParam("prompt", "none"))), chromedp.WaitVisible(chromedp.ID("at"))); err != nil {
		fail(err)
	}
	if q := <-got; q.Get("error") != "login_required" {
		t.Fatalf("prompt=none after logout: %v", q)
	}
}
