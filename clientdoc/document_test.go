package clientdoc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v3"

	"github.com/authd/authd/clients"
)

const docID = "https://app.example.com/client.json"

// TestParse: a document becomes a public client limited to its redirect
// URIs (defaults: the code grant, DefaultScope); what it may not say is
// refused with invalid_client_metadata (or invalid_redirect_uri).
func TestParse(t *testing.T) {
	c, err := Parse(docID, []byte(`{"client_id":"`+docID+`","client_name":"  Example\u202e App\n ","redirect_uris":["https://app.example.com/cb","http://127.0.0.1/cb"],
		"grant_types":["authorization_code","refresh_token"],"logo_uri":"https://evil.example/logo.png","client_uri":"https://bank.example"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != docID || !c.Public || c.Name != "Example App" || len(c.RedirectURIs) != 2 || len(c.SecretHash) != 0 ||
		strings.Join(c.Scopes, " ") != DefaultScope || strings.Join(c.GrantTypes, ",") != "authorization_code,refresh_token" {
		t.Errorf("client %+v", c)
	}
	long, err := Parse(docID, []byte(`{"client_id":"`+docID+`","client_name":"`+strings.Repeat("é", 100)+`","redirect_uris":["https://a.example/cb"],"scope":"openid"}`))
	if err != nil || len([]rune(long.Name)) != maxNameRunes || strings.Join(long.Scopes, " ") != "openid" {
		t.Errorf("long name %q (%d runes), scopes %v: %v", long.Name, len([]rune(long.Name)), long.Scopes, err)
	}
	// private_key_jwt: with a jwks_uri (left for the resolver) or public
	// keys inline, a confidential client.
	for _, keys := range []string{`"jwks_uri":"https://app.example.com/jwks.json"`, `"jwks":` + string(publicSet)} {
		c, err := Parse(docID, []byte(pkj(keys)))
		if err != nil || c.Public || c.TokenEndpointAuthMethod != "private_key_jwt" || (c.JWKSURI == "") == (len(c.JWKS) == 0) {
			t.Errorf("private_key_jwt with %s: %+v %v", keys, c, err)
		}
	}
	for _, tc := range []struct{ name, doc, code, says string }{
		{"client_id differs", `{"client_id":"https://other.example/c","redirect_uris":["https://a.example/cb"]}`, "", "not its URL"},
		{"client_id missing", `{"redirect_uris":["https://a.example/cb"]}`, "", "not its URL"},
		{"not an object", `["x"]`, "", "JSON object"},
		{"trailing data", `{"client_id":"` + docID + `"} {}`, "", "after"},
		{"secret", `{"client_id":"` + docID + `","redirect_uris":["https://a.example/cb"],"client_secret":"s3cret-s3cret-s3cret"}`, clients.InvalidClientMetadata, "client_secret"},
		{"secret method", `{"client_id":"` + docID + `","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, clients.InvalidClientMetadata, `"none" (public) or "private_key_jwt"`},
		{"keys of a public client", `{"client_id":"` + docID + `","redirect_uris":["https://a.example/cb"],"jwks_uri":"https://a.example/jwks"}`, clients.InvalidClientMetadata, "need token_endpoint_auth_method private_key_jwt"},
		{"private key", pkj(`"jwks":` + string(privateSet)), clients.InvalidClientMetadata, "public keys only"},
		{"symmetric key", pkj(`"jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQ"}]}`), clients.InvalidClientMetadata, "public keys only"},
		{"jwks and jwks_uri", pkj(`"jwks":` + string(publicSet) + `,"jwks_uri":"https://a.example/jwks"`), clients.InvalidClientMetadata, "exactly one"},
		{"private_key_jwt without keys", pkj(`"scope":"openid"`), clients.InvalidClientMetadata, "exactly one"},
		{"introspect", `{"client_id":"` + docID + `","redirect_uris":["https://a.example/cb"],"introspect":true}`, clients.InvalidClientMetadata, "introspect"},
		{"client_credentials", `{"client_id":"` + docID + `","grant_types":["client_credentials"]}`, clients.InvalidClientMetadata, "client_credentials"},
		{"http redirect", `{"client_id":"` + docID + `","redirect_uris":["http://a.example/cb"]}`, clients.InvalidRedirectURI, "https"},
		{"no redirect", `{"client_id":"` + docID + `"}`, clients.InvalidClientMetadata, "redirect"},
	} {
		_, err := Parse(docID, []byte(tc.doc))
		var e *clients.Error
		switch {
		case err == nil:
			t.Errorf("%s: accepted", tc.name)
		case tc.code != "" && (!errors.As(err, &e) || e.Code != tc.code):
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		case !strings.Contains(err.Error(), tc.says):
			t.Errorf("%s: %v, want it to mention %q", tc.name, err, tc.says)
		}
	}
}

// Key sets for the private_key_jwt cases: one EC key, public and private.
var publicSet, privateSet = func() ([]byte, []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256"}}})
	priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k, KeyID: "k1", Algorithm: "ES256"}}})
	return pub, priv
}()

// pkj is a private_key_jwt document with the extra members given.
func pkj(extra string) string {
	return `{"client_id":"` + docID + `","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt",` + extra + `}`
}
