package storage

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestClientValidate(t *testing.T) {
	ok := Client{ID: "app", GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{"http://127.0.0.1/cb"},
		AccessTokenFormat: "opaque", IDTokenAlg: "RS256", TokenEndpointAuthMethod: "client_secret_post"}
	before := ok
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid client: %v", err)
	}
	if !reflect.DeepEqual(ok, before) {
		t.Errorf("Validate changed its receiver: %+v", ok)
	}
	bad := Client{ID: "a b", Public: true, SecretHash: []byte("h"), GrantTypes: []string{"client_credentials", "password"},
		AccessTokenFormat: "paseto", IDTokenAlg: "RS256", TokenEndpointAuthMethod: "private_key_jwt", JWKS: []byte(`{`)}
	err := bad.Validate()
	var invalid *InvalidClientError
	if !errors.As(err, &invalid) {
		t.Fatalf("invalid client: %v", err)
	}
	for _, want := range []string{"--id is required", `unknown grant type "password"`, "--public and --secret exclude each other",
		"cannot use client_credentials", "--access-token-format", "neither --public nor --secret", "unreadable JWKS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q not reported: %v", want, err)
		}
	}
}

// Resource indicators (RFC 8707 §2): absolute URIs without a fragment, for
// --audience (each) and --resource.
func TestValidateResources(t *testing.T) {
	base := Client{ID: "svc", GrantTypes: []string{"client_credentials"}, SecretHash: []byte("h"),
		AccessTokenFormat: "opaque", IDTokenAlg: "RS256"}
	good := base
	good.Audience = []string{"https://api.example/", "https://api.example/v2?x=1", "urn:example:api", "http://127.0.0.1:8080"}
	good.Resource = "https://api.example/"
	if err := good.Validate(); err != nil {
		t.Errorf("valid resources refused: %v", err)
	}
	for _, bad := range []string{"api", "/relative", "https://api.example/#frag", "https://api.example/#", "https://", "https://a b.example",
		"https://api.example/\x00", ""} {
		for _, flag := range []string{"--audience", "--resource"} {
			c := base
			if flag == "--audience" {
				c.Audience = []string{bad}
			} else {
				c.Resource = bad
				if bad == "" { // "" means none
					continue
				}
			}
			var inv *InvalidClientError
			if err := c.Validate(); !errors.As(err, &inv) || len(inv.Problems) != 1 || !strings.Contains(inv.Problems[0], flag) {
				t.Errorf("%s %q: %v, want one problem naming %s", flag, bad, err, flag)
			}
		}
	}
}
