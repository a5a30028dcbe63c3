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
