package clientdoc

import (
	"errors"
	"strings"
	"testing"

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
	for _, tc := range []struct{ name, doc, code, says string }{
		{"client_id differs", `{"client_id":"https://other.example/c","redirect_uris":["https://a.example/cb"]}`, "", "not its URL"},
		{"client_id missing", `{"redirect_uris":["https://a.example/cb"]}`, "", "not its URL"},
		{"not an object", `["x"]`, "", "JSON object"},
		{"trailing data", `{"client_id":"` + docID + `"} {}`, "", "after"},
		{"secret", `{"client_id":"` + docID + `","redirect_uris":["https://a.example/cb"],"client_secret":"s3cret-s3cret-s3cret"}`, clients.InvalidClientMetadata, "client_secret"},
		{"secret method", `{"client_id":"` + docID + `","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, clients.InvalidClientMetadata, "public clients only"},
		{"private_key_jwt", `{"client_id":"` + docID + `","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://a.example/jwks"}`, clients.InvalidClientMetadata, "jwks"},
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
