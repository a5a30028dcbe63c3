package main

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
)

const profileClient = "profile-app" // public (PKCE), may ask for email

// newProfileE2E starts authd with alice created by `users create` with
// every profile flag, and a public client allowed openid, profile and email.
func newProfileE2E(t *testing.T) *e2e {
	t.Helper()
	srv := startServer(t)
	e := &e2e{t: t, srv: srv, ctx: context.Background(), hc: noRedirectClient(nil)}
	if _, err := cli(t, srv, "users", "create", "--username", e2eUser, "--password", e2ePassword,
		"--email", "alice@example.com", "--email-verified", "--name", "Alice Liddell",
		"--given-name", "Alice", "--family-name", "Liddell"); err != nil {
		t.Fatal(err)
	}
	e.sub = profileUser(t, e).ID
	srv.addClient(t, storage.Client{
		ID: profileClient, Name: "Profile App", RedirectURIs: []string{e2eRedirect},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile", "email"},
	}, "")
	return e
}

func profileUser(t *testing.T, e *e2e) *storage.User {
	t.Helper()
	u, err := e.srv.DB.GetUserByUsername(context.Background(), e2eUser)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// profileUserinfo signs in with scope and returns the userinfo answer.
func profileUserinfo(t *testing.T, e *e2e, scopes ...string) (apiResp, *oauth2.Token) {
	t.Helper()
	cfg := &oauth2.Config{ClientID: profileClient, Endpoint: e.endpoint(oauth2.AuthStyleInParams),
		RedirectURL: e2eRedirect, Scopes: scopes}
	v := oauth2.GenerateVerifier()
	q := e.authorize(cfg.AuthCodeURL("profile-state", oauth2.S256ChallengeOption(v)))
	tok, err := cfg.Exchange(e.oauthCtx(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return userinfoWith(t, e, tok), tok
}

func userinfoWith(t *testing.T, e *e2e, tok *oauth2.Token) apiResp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	r := mustFetch(t, e.hc, req)
	if r.Status != http.StatusOK {
		t.Fatalf("userinfo: %s", r)
	}
	return r
}

// wantClaims checks every claim in want and that none of absent is there.
func wantClaims(t *testing.T, r apiResp, want map[string]any, absent ...string) {
	t.Helper()
	for k, v := range want {
		if r.JSON[k] != v {
			t.Errorf("userinfo %s = %#v, want %#v (%s)", k, r.JSON[k], v, r.Raw)
		}
	}
	for _, k := range absent {
		if _, ok := r.JSON[k]; ok {
			t.Errorf("userinfo has %s without its scope: %s", k, r.Raw)
		}
	}
}

// TestE2EUserInfoProfileClaims: scope profile gives name, given_name,
// family_name, preferred_username and updated_at; scope email gives email
// and email_verified; users update shows at the next userinfo call.
func TestE2EUserInfoProfileClaims(t *testing.T) {
	e := newProfileE2E(t)
	u := profileUser(t, e)
	r, tok := profileUserinfo(t, e, "openid", "profile", "email")
	wantClaims(t, r, map[string]any{
		"sub": e.sub, "preferred_username": e2eUser, "name": "Alice Liddell", "given_name": "Alice",
		"family_name": "Liddell", "updated_at": float64(u.UpdatedAt.Unix()),
		"email": "alice@example.com", "email_verified": true,
	})

	if _, err := cli(t, e.srv, "users", "update", "--username", e2eUser, "--email", "alice@wonderland.example",
		"--email-verified=false", "--name", "Alice Pleasance Liddell"); err != nil {
		t.Fatal(err)
	}
	u = profileUser(t, e)
	wantClaims(t, userinfoWith(t, e, tok), map[string]any{
		"name": "Alice Pleasance Liddell", "given_name": "Alice", "family_name": "Liddell",
		"updated_at": float64(u.UpdatedAt.Unix()), "email": "alice@wonderland.example", "email_verified": false,
	})
}

// TestE2EUserInfoWithoutEmailScope: without scope email no email claims;
// with only openid no profile claims either.
func TestE2EUserInfoWithoutEmailScope(t *testing.T) {
	e := newProfileE2E(t)
	r, _ := profileUserinfo(t, e, "openid", "profile")
	wantClaims(t, r, map[string]any{"name": "Alice Liddell", "preferred_username": e2eUser}, "email", "email_verified")
	r, _ = profileUserinfo(t, e, "openid")
	wantClaims(t, r, map[string]any{"sub": e.sub}, "email", "email_verified", "name", "given_name",
		"family_name", "preferred_username", "updated_at")
}

// TestDiscoveryProfileClaims: discovery lists the email scope and the
// profile and email claims userinfo returns.
func TestDiscoveryProfileClaims(t *testing.T) {
	e := newProfileE2E(t)
	p := e.provider()
	var doc struct {
		Scopes []string `json:"scopes_supported"`
		Claims []string `json:"claims_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(doc.Scopes, "email") || !slices.Contains(doc.Scopes, "profile") {
		t.Errorf("scopes_supported %v lacks email or profile", doc.Scopes)
	}
	for _, c := range []string{"name", "given_name", "family_name", "preferred_username", "updated_at", "email", "email_verified"} {
		if !slices.Contains(doc.Claims, c) {
			t.Errorf("claims_supported %v lacks %s", doc.Claims, c)
		}
	}
}
