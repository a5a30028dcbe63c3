package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// The OpenID Foundation's oidcc-basic prompt, max_age and id_token_hint
// modules, driven as the suite drives them: a browser (cookie jar, no
// automatic redirects) against the real server, go-oidc verifying every
// ID token.

// oidcRun is one authorization request of the public client with its PKCE
// verifier and state.
type oidcRun struct {
	e        *e2e
	b        *browser
	cfg      *oauth2.Config
	verifier string // "": no PKCE
	state    string
	nonce    string        // "": none sent
	tok      *oauth2.Token // the code exchange's response (idToken)
}

// start sends an authorization request with extra parameters and returns
// the first response (a page or a redirect).
func (e *e2e) startAuth(b *browser, extra url.Values) (*oidcRun, page) {
	e.t.Helper()
	return e.startAuthWith(b, e.pubConfig("openid", "profile"), true, extra)
}

// startAuthWith is startAuth for client cfg, with PKCE (S256) or without;
// a nonce is sent unless extra sets "nonce" to "".
func (e *e2e) startAuthWith(b *browser, cfg *oauth2.Config, pkce bool, extra url.Values) (*oidcRun, page) {
	e.t.Helper()
	run := &oidcRun{e: e, b: b, cfg: cfg, state: randString(e.t), nonce: randString(e.t)}
	if n, ok := extra["nonce"]; ok {
		run.nonce = n[0]
	}
	var opts []oauth2.AuthCodeOption
	if run.nonce != "" {
		opts = append(opts, oauth2.SetAuthURLParam("nonce", run.nonce))
	}
	if pkce {
		run.verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(run.verifier))
	}
	for k := range extra {
		if k != "nonce" {
			opts = append(opts, oauth2.SetAuthURLParam(k, extra.Get(k)))
		}
	}
	return run, b.get(run.cfg.AuthCodeURL(run.state, opts...))
}

// isFormWith: p is a page whose form has the input name.
func isFormWith(t testing.TB, p page, name string) bool {
	t.Helper()
	if p.Status != http.StatusOK {
		return false
	}
	_, ok := onlyForm(t, p).Inputs[name]
	return ok
}

// isSignIn: p is the sign-in form.
func isSignIn(t testing.TB, p page) bool { t.Helper(); return isFormWith(t, p, "password") }

// isConsent: p is the consent form.
func isConsent(t testing.TB, p page) bool { t.Helper(); return isFormWith(t, p, "consent") }

// finish takes p (sign-in form, consent form or redirect) to the callback
// and returns its query.
func (run *oidcRun) finish(p page) url.Values {
	t := run.e.t
	t.Helper()
	if isSignIn(t, p) {
		next := run.b.login(p)
		p = run.b.get(next.String())
	}
	if isConsent(t, p) {
		consented := run.b.consentPage(p, "allow")
		if consented.Status == http.StatusOK {
			return run.checkState(formPostFields(t, consented))
		}
		return run.checkState(callback(t, consented.location(t)))
	}
	if p.Status == http.StatusOK { // a form_post page
		return run.checkState(formPostFields(t, p))
	}
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		t.Fatalf("want a redirect to the client, got %d: %.800s", p.Status, p.Body)
	}
	return run.checkState(callback(t, p.location(t)))
}

// checkState checks the authorization response q carries the request's
// state and authd's iss (RFC 9207).
func (run *oidcRun) checkState(q url.Values) url.Values {
	t := run.e.t
	t.Helper()
	if q.Get("state") != run.state || q.Get("iss") != run.e.srv.URL {
		t.Fatalf("authorization response state %q iss %q, want %q and %q (%v)", q.Get("state"), q.Get("iss"), run.state, run.e.srv.URL, q)
	}
	return q
}

// idToken exchanges the callback's code and returns the verified ID
// token's claims (go-oidc verifies signature, iss, aud, exp).
func (run *oidcRun) idToken(q url.Values) (raw string, claims map[string]any) {
	t := run.e.t
	t.Helper()
	if q.Get("code") == "" {
		t.Fatalf("callback without a code: %v", q)
	}
	var opts []oauth2.AuthCodeOption
	if run.verifier != "" {
		opts = append(opts, oauth2.VerifierOption(run.verifier))
	}
	tok, err := run.cfg.Exchange(run.e.oauthCtx(), q.Get("code"), opts...)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	run.tok = tok
	raw, _ = tok.Extra("id_token").(string)
	idt, err := run.e.provider().Verifier(&oidc.Config{ClientID: run.cfg.ClientID}).Verify(run.e.ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != run.nonce {
		t.Fatalf("ID token nonce %q, want the request's %q", idt.Nonce, run.nonce)
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return raw, claims
}

// authTime is the ID token's auth_time (failing when absent).
func authTime(t testing.TB, claims map[string]any) int64 {
	t.Helper()
	at, ok := claims["auth_time"].(float64)
	if !ok || at == 0 {
		t.Fatalf("ID token has no auth_time: %v", claims)
	}
	return int64(at)
}

// signedIn returns a browser signed in (and consented) through a whole
// flow, and that flow's ID token.
func (e *e2e) signedIn() (*browser, string, map[string]any) {
	e.t.Helper()
	b := e.newBrowser()
	run, p := e.startAuth(b, nil)
	raw, claims := run.idToken(run.finish(p))
	return b, raw, claims
}

// wantError checks p redirects to the client with error code.
func (run *oidcRun) wantError(p page, code string) {
	t := run.e.t
	t.Helper()
	var q url.Values
	switch {
	case p.Status == http.StatusOK: // a form_post page
		q = formPostFields(t, p)
	case p.Status != http.StatusSeeOther && p.Status != http.StatusFound:
		t.Fatalf("want a redirect with error=%s, got %d: %.800s", code, p.Status, p.Body)
	default:
		q = callback(t, p.location(t))
	}
	if q.Get("error") != code || q.Get("state") != run.state {
		t.Fatalf("callback %v, want error=%s and state", q, code)
	}
}

// isCodeRedirect: p is the redirect to the client, no page shown.
func isCodeRedirect(_ testing.TB, p page) bool {
	return p.Status == http.StatusSeeOther || p.Status == http.StatusFound
}

// reauth sends an authorization request with extra from the signed-in
// browser b, wants the answer that is reports (named what), finishes the
// flow and returns the new ID token's claims.
func (e *e2e) reauth(b *browser, extra url.Values, is func(testing.TB, page) bool, what string) map[string]any {
	e.t.Helper()
	run, p := e.startAuth(b, extra)
	if !is(e.t, p) {
		e.t.Fatalf("%s: want %s, got %d %.500s", extra.Encode(), what, p.Status, p.Body)
	}
	_, claims := run.idToken(run.finish(p))
	return claims
}

// reauthTest signs a fresh browser in through a whole flow, then sends a
// request with extra from it (see reauth); it returns the first and the
// new ID token's claims.
func reauthTest(t *testing.T, extra url.Values, is func(testing.TB, page) bool, what string) (first, again map[string]any) {
	t.Helper()
	e := newE2E(t)
	b, _, first := e.signedIn()
	return first, e.reauth(b, extra, is, what)
}

// TestOIDCPromptLogin (oidcc-prompt-login): a signed-in browser asked with
// prompt=login sees the sign-in form, and the new ID token's auth_time is
// newer than the first one's. The next prompt=login request asks again.
// The URL the sign-in form returns to carries the request's arrival time,
// which lets that sign-in count once: replayed later by the same browser
// (no new sign-in), it shows the sign-in form instead of issuing a code.
func TestOIDCPromptLogin(t *testing.T) {
	e := newE2E(t)
	b, _, first := e.signedIn()
	time.Sleep(1100 * time.Millisecond)
	run, p := e.startAuth(b, url.Values{"prompt": {"login"}})
	if !isSignIn(t, p) {
		t.Fatalf("prompt=login: want the sign-in form, got %d %.500s", p.Status, p.Body)
	}
	next := b.login(p) // the carried URL
	_, second := run.idToken(run.finish(b.get(next.String())))
	if authTime(t, second) <= authTime(t, first) {
		t.Fatalf("auth_time %d after prompt=login, first sign-in %d: want newer", authTime(t, second), authTime(t, first))
	}
	if _, p = e.startAuth(b, url.Values{"prompt": {"login"}}); !isSignIn(t, p) {
		t.Fatalf("second prompt=login: want the sign-in form again, got %d", p.Status)
	}
	time.Sleep(1100 * time.Millisecond)
	if replay := b.get(next.String()); !isSignIn(t, replay) {
		t.Fatalf("replayed carried URL: want the sign-in form, got %d %.300s", replay.Status, replay.Body)
	}
}

// TestOIDCPromptNoneNotLoggedIn (oidcc-prompt-none-not-logged-in).
func TestOIDCPromptNoneNotLoggedIn(t *testing.T) {
	e := newE2E(t)
	run, p := e.startAuth(e.newBrowser(), url.Values{"prompt": {"none"}})
	run.wantError(p, "login_required")
}

// TestOIDCPromptNoneLoggedIn (oidcc-prompt-none-logged-in): a code without
// any page, auth_time that of the sign-in.
func TestOIDCPromptNoneLoggedIn(t *testing.T) {
	first, claims := reauthTest(t, url.Values{"prompt": {"none"}}, isCodeRedirect, "a redirect")
	if authTime(t, claims) != authTime(t, first) {
		t.Errorf("auth_time %d, want the sign-in's %d", authTime(t, claims), authTime(t, first))
	}
}

// TestOIDCPromptConsent: prompt=consent shows the consent page even when
// consent is remembered.
func TestOIDCPromptConsent(t *testing.T) {
	reauthTest(t, url.Values{"prompt": {"consent"}}, isConsent, "the consent page")
}

// TestOIDCPromptSelectAccount: select_account lets the user choose the
// account by signing in (authd keeps one account per browser).
func TestOIDCPromptSelectAccount(t *testing.T) {
	reauthTest(t, url.Values{"prompt": {"select_account"}}, isSignIn, "the sign-in form")
}

// TestOIDCMaxAge1 (oidcc-max-age-1): after 2 s, max_age=1 asks to sign in
// again and auth_time is fresh.
func TestOIDCMaxAge1(t *testing.T) {
	e := newE2E(t)
	b, _, first := e.signedIn()
	time.Sleep(2100 * time.Millisecond)
	before := time.Now().Unix()
	claims := e.reauth(b, url.Values{"max_age": {"1"}}, isSignIn, "the sign-in form after 2 s")
	if at := authTime(t, claims); at < before || at <= authTime(t, first) {
		t.Fatalf("auth_time %d, want at least %d (the request) and after %d", at, before, authTime(t, first))
	}
}

// TestOIDCMaxAge0: max_age=0 always asks to sign in, and then issues.
func TestOIDCMaxAge0(t *testing.T) {
	reauthTest(t, url.Values{"max_age": {"0"}}, isSignIn, "the sign-in form")
}

// TestOIDCMaxAge10000 (oidcc-max-age-10000): no sign-in, auth_time present.
func TestOIDCMaxAge10000(t *testing.T) {
	first, claims := reauthTest(t, url.Values{"max_age": {"10000"}}, isCodeRedirect, "a redirect with a code")
	if authTime(t, claims) != authTime(t, first) {
		t.Errorf("auth_time %d, want %d", authTime(t, claims), authTime(t, first))
	}
}

// mintIDToken signs claims as an ID token with key (kid named).
func mintIDToken(t testing.TB, key crypto.Signer, kid string, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := josejwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestOIDCIDTokenHint (oidcc-id-token-hint): prompt=none with the
// session's own ID token as hint gives a code (and the token endpoint
// accepts it); a hint for another user is login_required; an expired hint
// signed by authd is accepted; a hint authd did not sign is invalid_request.
func TestOIDCIDTokenHint(t *testing.T) {
	e := newE2E(t)
	b, hint, _ := e.signedIn()
	run, p := e.startAuth(b, url.Values{"prompt": {"none"}, "id_token_hint": {hint}})
	run.idToken(run.finish(p))

	bob := e.srv.addUser(t, "bob", "bob's password is long enough")
	kid, key, err := e.srv.App.Keys.Signer("RS256")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(sub string, exp time.Time) map[string]any {
		return map[string]any{"iss": e.srv.URL, "sub": sub, "aud": e2ePubID, "iat": exp.Add(-time.Hour).Unix(), "exp": exp.Unix()}
	}
	other := mintIDToken(t, key, kid, claims(bob, now.Add(time.Hour)))
	run, p = e.startAuth(b, url.Values{"prompt": {"none"}, "id_token_hint": {other}})
	run.wantError(p, "login_required")

	expired := mintIDToken(t, key, kid, claims(e.sub, now.Add(-time.Hour)))
	run, p = e.startAuth(b, url.Values{"prompt": {"none"}, "id_token_hint": {expired}})
	run.idToken(run.finish(p))

	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := mintIDToken(t, foreign, kid, claims(e.sub, now.Add(time.Hour)))
	run, p = e.startAuth(b, url.Values{"prompt": {"none"}, "id_token_hint": {forged}})
	run.wantError(p, "invalid_request")
	run, p = e.startAuth(e.newBrowser(), url.Values{"id_token_hint": {forged}})
	run.wantError(p, "invalid_request")
}

// TestOIDCLoginHint: login_hint pre-fills the username; display,
// ui_locales and claims_locales are accepted.
func TestOIDCLoginHint(t *testing.T) {
	e := newE2E(t)
	run, p := e.startAuth(e.newBrowser(), url.Values{"login_hint": {e2eUser}, "display": {"page"}, "ui_locales": {"de en"}, "claims_locales": {"de"}})
	if !isSignIn(t, p) {
		t.Fatalf("want the sign-in form, got %d %.500s", p.Status, p.Body)
	}
	if got := onlyForm(t, p).Inputs["username"]; got != e2eUser {
		t.Errorf("username pre-filled %q, want %q", got, e2eUser)
	}
	run.idToken(run.finish(p))
}

// TestOIDCIDTokenClaims: no unregistered rat, no made-up acr (also when
// acr_values is asked: oidcc-ensure-request-with-acr-values-succeeds).
func TestOIDCIDTokenClaims(t *testing.T) {
	e := newE2E(t)
	b, _, claims := e.signedIn()
	run, p := e.startAuth(b, url.Values{"acr_values": {"1 2"}})
	_, withACR := run.idToken(run.finish(p))
	for _, c := range []map[string]any{claims, withACR} {
		if _, ok := c["rat"]; ok {
			t.Errorf("ID token carries rat: %v", c)
		}
		if acr, ok := c["acr"]; ok {
			t.Errorf("ID token carries acr %v authd never established", acr)
		}
		authTime(t, c)
	}
}

// TestOIDCIDTokenTTL: AUTHD_ID_TOKEN_TTL sets the ID token's lifetime.
func TestOIDCIDTokenTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want int64
	}{{0, 3600}, {5 * time.Minute, 300}} {
		e := newE2E(t, func(c *Config) { c.IDTokenTTL = tc.ttl })
		_, _, claims := e.signedIn()
		exp, iat := claims["exp"].(float64), claims["iat"].(float64)
		if got := int64(exp - iat); got < tc.want-2 || got > tc.want+2 {
			t.Errorf("AUTHD_ID_TOKEN_TTL %v: exp-iat %d, want %d", tc.ttl, got, tc.want)
		}
	}
}
