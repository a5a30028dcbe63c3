package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

// TestE2EIDTokenAlgPerClient: a client registered with
// id_token_signed_response_alg ES256 gets ES256 ID tokens, at the code
// exchange and at every refresh, verifiable through discovery and the JWKS
// by go-oidc; a client registered without one keeps RS256 (OpenID Connect's
// default). The CLI refuses other algorithms.
func TestE2EIDTokenAlgPerClient(t *testing.T) {
	e := newE2E(t)
	const esID = "es-app"
	e.srv.addClient(t, storage.Client{
		ID: esID, Name: "ES256 app", RedirectURIs: []string{e2eRedirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile", "offline_access"}, IDTokenAlg: "ES256",
	}, "")
	provider := e.provider()
	var disc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&disc); err != nil || strings.Join(disc.Algs, ",") != "RS256,ES256" {
		t.Fatalf("id_token_signing_alg_values_supported %v (%v)", disc.Algs, err)
	}
	jwks := e.jwks()

	check := func(what, clientID, raw, wantAlg string) {
		t.Helper()
		if raw == "" {
			t.Fatalf("%s: no id_token", what)
		}
		h := jwtHeader(t, raw)
		kid, _ := h["kid"].(string)
		if h["alg"] != wantAlg || jwks[kid] == nil || jwks[kid]["alg"] != wantAlg {
			t.Fatalf("%s: header %v, JWKS entry %v; want alg %s and its key published", what, h, jwks[kid], wantAlg)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(e.ctx, raw)
		if err != nil {
			t.Fatalf("%s: verify: %v", what, err)
		}
		if idt.Subject != e.sub {
			t.Errorf("%s: sub %q, want %q", what, idt.Subject, e.sub)
		}
	}

	cfg := &oauth2.Config{ClientID: esID, Endpoint: e.endpoint(oauth2.AuthStyleInParams), RedirectURL: e2eRedirect,
		Scopes: []string{"openid", "profile", "offline_access"}}
	v, state := oauth2.GenerateVerifier(), randString(t)
	q := e.authorize(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(v)))
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	check("code exchange", esID, raw, "ES256")
	rt := tok.RefreshToken
	for i := 0; i < 2; i++ {
		r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {esID}})
		check("refresh", esID, r.str("id_token"), "ES256")
		rt = r.str("refresh_token")
	}

	def := e.pkceLogin()
	raw, _ = def.Extra("id_token").(string)
	check("default client", e2ePubID, raw, "RS256")

	if _, err := cli(t, e.srv, "clients", "create", "--id", "hs-app", "--public", "--grant-types", "authorization_code",
		"--redirect-uri", e2eRedirect, "--scopes", "openid", "--id-token-alg", "HS256"); err == nil || !strings.Contains(err.Error(), "--id-token-alg") {
		t.Errorf("clients create --id-token-alg HS256: %v, want a usage error", err)
	}
	out, err := cli(t, e.srv, "clients", "create", "--id", "es-cli", "--public", "--grant-types", "authorization_code",
		"--redirect-uri", e2eRedirect, "--scopes", "openid", "--id-token-alg", "ES256")
	if err != nil {
		t.Fatalf("clients create --id-token-alg ES256: %v %s", err, out)
	}
	if c, err := e.srv.App.DB.GetClient(e.ctx, "es-cli"); err != nil || c.IDTokenAlg != "ES256" {
		t.Errorf("stored client %+v (%v)", c, err)
	}
}
