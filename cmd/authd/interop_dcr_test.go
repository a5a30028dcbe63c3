package main

// openid-client registers itself with authd (RFC 7591 dynamic client
// registration, issue 16) and signs in with the client it registered. The
// registration settings are set through the configuration table by name,
// so this file builds before registration exists; until then the test
// skips.

import (
	"fmt"
	"strings"
	"testing"
)

// registrationSettings are the rows dynamic client registration adds to
// config.go's settings table.
var registrationSettings = []string{"AUTHD_REGISTRATION", "AUTHD_REGISTRATION_TOKEN"}

// withSettings is a config function that sets rows of the settings table
// by their environment name, as authd reads them from its environment.
func withSettings(t *testing.T, kv map[string]string) func(*Config) {
	return func(c *Config) {
		for _, s := range settings(c) {
			if v, ok := kv[s.name]; ok {
				if err := s.parse(v); err != nil {
					t.Fatalf("%s=%q: %v", s.name, v, err)
				}
			}
		}
	}
}

// requireSettings skips the test when a row is not in the settings table
// (the feature is not built yet).
func requireSettings(t *testing.T, names ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, s := range settings(&Config{}) {
		have[s.name] = true
	}
	for _, n := range names {
		if !have[n] {
			t.Skipf("%s is not in the settings table: dynamic client registration is not built", n)
		}
	}
}

// TestInteropOpenIDClientDynamicRegistration: openid-client's
// dynamicClientRegistration registers a confidential client at authd's
// registration_endpoint (with the initial access token in token mode,
// without one in open mode), then signs in with it (code + PKCE, ID token
// for the registered client_id) and refreshes with the generated secret
// (client_secret_basic). A wrong initial access token is refused with 401.
func TestInteropOpenIDClientDynamicRegistration(t *testing.T) {
	requireSettings(t, registrationSettings...)
	const initial = "interop-initial-access-token-0123456789abcdef"
	t.Run("token", func(t *testing.T) {
		e := newE2E(t, withSettings(t, map[string]string{"AUTHD_REGISTRATION": "token", "AUTHD_REGISTRATION_TOKEN": initial}))
		_, err := launchNodeRP(t, e.srv.URL, "--register", "wrong-"+initial)
		if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "invalid_token") {
			t.Errorf("registration with a wrong initial access token: %v; want the RP refused with 401 invalid_token", err)
		}
		registeredSignIn(t, e, startNodeRP(t, e.srv.URL, "--register", initial))
	})
	t.Run("open", func(t *testing.T) {
		e := newE2E(t, withSettings(t, map[string]string{"AUTHD_REGISTRATION": "open"}))
		registeredSignIn(t, e, startNodeRP(t, e.srv.URL, "--register"))
	})
}

// registeredSignIn signs in and refreshes with the client rp registered.
func registeredSignIn(t *testing.T, e *e2e, rp *nodeRP) {
	t.Helper()
	for _, known := range []string{"", e2eConfID, e2ePubID, e2eRSID} {
		if rp.ClientID == known {
			t.Fatalf("registered client_id %q: want a new one", rp.ClientID)
		}
	}
	r := rp.signIn(e.newBrowser(), nil, nil).ok(t)
	if r.sub() != e.sub || fmt.Sprint(r.Claims["aud"]) != "["+rp.ClientID+"]" {
		t.Errorf("ID token sub %v aud %v, want %s and [%s]", r.Claims["sub"], r.Claims["aud"], e.sub, rp.ClientID)
	}
	if rr := rp.refresh(r.Tokens.RefreshToken).ok(t); rr.Tokens.AccessToken == "" || rr.sub() != e.sub {
		t.Errorf("refresh with the registered secret: tokens %+v claims %v", rr.Tokens, rr.Claims)
	}
}
