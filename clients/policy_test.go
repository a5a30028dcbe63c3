package clients

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/authd/authd/storage"
)

// code is the RFC 7591 error code Check gives, "" when it accepts.
func code(t *testing.T, c storage.Client, secret string) (string, string) {
	t.Helper()
	err := Check(Normalize(c), secret)
	if err == nil {
		return "", ""
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Check: %v, not an *Error", err)
	}
	return e.Code, e.Description()
}

// TestPolicy is the registration policy as a table: what it accepts, and
// the RFC 7591 error of what it refuses.
func TestPolicy(t *testing.T) {
	web := func(redirects ...string) storage.Client {
		return storage.Client{ID: "web", SecretHash: []byte("h"), GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: redirects}
	}
	native := func(redirects ...string) storage.Client {
		c := web(redirects...)
		c.Public, c.SecretHash = true, nil
		return c
	}
	for _, tc := range []struct {
		name   string
		c      storage.Client
		secret string
		want   string // "" accepted, else the error code
		says   string // in the description
	}{
		{"https web app", web("https://app.example/cb"), "", "", ""},
		{"loopback http", web("http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost/cb"), "", "", ""},
		{"http elsewhere", web("http://app.example/cb"), "", InvalidRedirectURI, "https unless on loopback"},
		{"fragment", web("https://app.example/cb#frag"), "", InvalidRedirectURI, "without fragment"},
		{"empty fragment", web("https://app.example/cb#"), "", InvalidRedirectURI, "redirect URI"},
		{"relative", web("/cb"), "", InvalidRedirectURI, "absolute"},
		{"wildcard host", web("https://*.app.example/cb"), "", InvalidRedirectURI, "redirect URI"},
		{"user info", web("https://user:pw@app.example/cb"), "", InvalidRedirectURI, "redirect URI"},
		{"https without host", web("https:/cb"), "", InvalidRedirectURI, "redirect URI"},
		{"private-use scheme, native", native("com.example.app:/oauth2/cb"), "", "", ""},
		{"private-use scheme, confidential", web("com.example.app:/oauth2/cb"), "", InvalidRedirectURI, "native app"},
		{"javascript scheme, native", native("javascript:alert(1)"), "", InvalidRedirectURI, "redirect URI"},
		{"scheme without a dot, native", native("myapp:/cb"), "", InvalidRedirectURI, "redirect URI"},
		{"post-logout fragment", func() storage.Client {
			c := web("https://app.example/cb")
			c.PostLogoutRedirectURIs = []string{"https://app.example/bye#x"}
			return c
		}(), "", InvalidClientMetadata, "post-logout redirect URI"},
		{"code grant without redirect URI", web(), "", InvalidClientMetadata, "at least one redirect_uris"},
		{"unknown grant type", func() storage.Client {
			c := web("https://app.example/cb")
			c.GrantTypes = append(c.GrantTypes, "implicit")
			return c
		}(), "", InvalidClientMetadata, `unknown grant type "implicit"`},
		{"password grant", func() storage.Client {
			c := web("https://app.example/cb")
			c.GrantTypes = []string{"password"}
			return c
		}(), "", InvalidClientMetadata, "password"},
		{"public client_credentials (no PKCE, no secret)", func() storage.Client {
			c := native()
			c.GrantTypes = []string{"client_credentials"}
			return c
		}(), "", InvalidClientMetadata, "public client cannot use client_credentials"},
		{"unknown auth method", func() storage.Client {
			c := web("https://app.example/cb")
			c.TokenEndpointAuthMethod = "client_secret_jwt"
			return c
		}(), "", InvalidClientMetadata, "token_endpoint_auth_method must be"},
		{"short chosen secret", web("https://app.example/cb"), "short", InvalidClientMetadata, "client_secret must be at least 16"},
		{"bad redirect and bad grant: redirect wins", func() storage.Client {
			c := web("http://app.example/cb")
			c.GrantTypes = append(c.GrantTypes, "implicit")
			return c
		}(), "", InvalidRedirectURI, "implicit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, desc := code(t, tc.c, tc.secret)
			if got != tc.want {
				t.Fatalf("code %q (%s), want %q", got, desc, tc.want)
			}
			if !strings.Contains(desc, tc.says) {
				t.Errorf("description %q lacks %q", desc, tc.says)
			}
			if strings.Contains(desc, "--") {
				t.Errorf("description names a flag: %q", desc)
			}
		})
	}
}

// TestMetadataRoundTrip: RFC 7591 metadata becomes the client it names
// (defaults filled) and the client maps back to the same metadata.
func TestMetadataRoundTrip(t *testing.T) {
	var m Metadata
	in := `{"client_name":"App","redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","refresh_token"],
		"response_types":["code"],"scope":"openid offline_access","token_endpoint_auth_method":"client_secret_post",
		"post_logout_redirect_uris":["https://app.example/bye"],"id_token_signed_response_alg":"ES256",
		"allowed_cors_origins":["https://app.example"],"access_token_format":"jwt","audiences":["https://api.example/"],"resource":"https://rs.example/",
		"backchannel_logout_uri":"https://app.example/bcl","backchannel_logout_session_required":true,
		"frontchannel_logout_uri":"https://app.example/fcl","unknown_field":1}`
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	c, err := m.Client()
	if err != nil {
		t.Fatal(err)
	}
	c.ID = "x"
	if err := Check(c, ""); err != nil {
		t.Fatalf("valid metadata refused: %v", err)
	}
	if c.TokenEndpointAuthMethod != "" || c.Public || c.IDTokenAlg != "ES256" || c.AccessTokenFormat != "jwt" ||
		strings.Join(c.Scopes, " ") != "openid offline_access" || strings.Join(c.ResponseTypes, ",") != "code" {
		t.Errorf("client %+v", c)
	}
	back := ToMetadata(c)
	if back.TokenEndpointAuthMethod != "client_secret_basic" || back.ClientSecretExpiresAt == nil || *back.ClientSecretExpiresAt != 0 ||
		back.Scope != m.Scope || back.ClientName != "App" || back.AllowedCORSOrigins[0] != "https://app.example" ||
		strings.Join(back.Audiences, " ") != "https://api.example/" || back.Resource != "https://rs.example/" ||
		back.BackchannelLogoutURI != "https://app.example/bcl" || !back.BackchannelLogoutSessionRequired ||
		back.FrontchannelLogoutURI != "https://app.example/fcl" {
		t.Errorf("metadata %+v", back)
	}
	// Defaults: the code grant, client_secret_basic, scope openid.
	d, err := Metadata{RedirectURIs: []string{"https://app.example/cb"}}.Client()
	if err != nil || strings.Join(d.GrantTypes, ",") != "authorization_code" || strings.Join(d.Scopes, " ") != DefaultScope || d.Public {
		t.Errorf("defaults: %+v %v", d, err)
	}
	pub, err := Metadata{TokenEndpointAuthMethod: "none"}.Client()
	if err != nil || !pub.Public || ToMetadata(pub).TokenEndpointAuthMethod != "none" || ToMetadata(pub).ClientSecretExpiresAt != nil {
		t.Errorf("public: %+v %v", pub, err)
	}
}

// TestMetadataRefusals: what only metadata can get wrong.
func TestMetadataRefusals(t *testing.T) {
	for name, m := range map[string]Metadata{
		"token response type":    {ResponseTypes: []string{"token"}, RedirectURIs: []string{"https://a.example/cb"}},
		"code without its grant": {ResponseTypes: []string{"code"}, GrantTypes: []string{"client_credentials"}},
		"unknown auth method":    {TokenEndpointAuthMethod: "tls_client_auth"},
		"jwks not an object":     {TokenEndpointAuthMethod: "private_key_jwt", JWKS: json.RawMessage(`["k"]`)},
	} {
		_, err := m.Client()
		var e *Error
		if !errors.As(err, &e) || e.Code != InvalidClientMetadata {
			t.Errorf("%s: %v, want invalid_client_metadata", name, err)
		}
	}
}

// TestMetadataUpdate: an update replaces the registration; it cannot
// change the authentication method.
func TestMetadataUpdate(t *testing.T) {
	cur := storage.Client{ID: "x", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://a.example/cb"},
		Scopes: []string{"openid", "profile"}, Name: "Old"}
	u, err := Metadata{RedirectURIs: []string{"https://b.example/cb"}}.Update(cur)
	if err != nil {
		t.Fatal(err)
	}
	got := u.Apply(cur)
	if got.Name != "" || got.RedirectURIs[0] != "https://b.example/cb" || strings.Join(got.Scopes, " ") != DefaultScope {
		t.Errorf("after update: %+v", got)
	}
	if _, err := (Metadata{TokenEndpointAuthMethod: "none"}).Update(cur); err == nil {
		t.Error("an update made a confidential client public")
	}
}
