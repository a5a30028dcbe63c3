package storage

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestClientUpdateApply(t *testing.T) {
	c := Client{ID: "web", Name: "Web", GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		RedirectURIs: []string{"https://a.example/cb"}, Scopes: []string{"openid"}, SecretHash: []byte("h"),
		AccessTokenFormat: "opaque", IDTokenAlg: "RS256"}
	name, none := "Renamed", []string{}
	got := ClientUpdate{Name: &name, Scopes: &none}.Apply(c)
	if got.Name != "Renamed" || len(got.Scopes) != 0 || fmt.Sprint(got.GrantTypes, got.RedirectURIs, got.ResponseTypes) != fmt.Sprint(c.GrantTypes, c.RedirectURIs, c.ResponseTypes) ||
		string(got.SecretHash) != "h" {
		t.Errorf("Apply changed what was not given or missed what was: %+v", got)
	}
	cc := []string{"client_credentials"}
	if got := (ClientUpdate{GrantTypes: &cc}).Apply(c); got.ResponseTypes != nil {
		t.Errorf("response types after dropping the code grant: %v", got.ResponseTypes)
	}
	aud, res := []string{"https://api.example/"}, "https://rs.example/"
	if got := (ClientUpdate{Audience: &aud, Resource: &res}).Apply(c); len(got.Audience) != 1 || got.Resource != res || got.Name != "Web" {
		t.Errorf("audience and resource not applied: %+v", got)
	}
	if c.Name != "Web" || len(c.Scopes) != 1 {
		t.Error("Apply modified its argument")
	}
}

func TestValidateBrowserLists(t *testing.T) {
	base := Client{ID: "web", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://a.example/cb"},
		SecretHash: []byte("h"), AccessTokenFormat: "opaque", IDTokenAlg: "RS256"}
	good := base
	good.PostLogoutRedirectURIs = []string{"https://a.example/bye", "http://127.0.0.1:8080/bye"}
	good.CORSOrigins = []string{"https://a.example", "http://localhost:3000"}
	if err := good.Validate(); err != nil {
		t.Errorf("valid lists refused: %v", err)
	}
	for _, bad := range []struct{ logout, origin string }{
		{"http://a.example/bye", ""}, {"https://a.example/bye#x", ""}, {"", "https://a.example/path"},
		{"", "http://a.example"}, {"", "a.example"}, {"", "https://u@a.example"},
	} {
		c := base
		if bad.logout != "" {
			c.PostLogoutRedirectURIs = []string{bad.logout}
		}
		if bad.origin != "" {
			c.CORSOrigins = []string{bad.origin}
		}
		var inv *InvalidClientError
		if err := c.Validate(); !errors.As(err, &inv) || len(inv.Problems) != 1 {
			t.Errorf("%+v: %v, want one problem", bad, err)
		}
	}
	c := base
	c.GrantTypes, c.RedirectURIs = []string{"client_credentials"}, nil
	c.PostLogoutRedirectURIs = []string{"https://a.example/bye"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "post-logout") {
		t.Errorf("post-logout URI without the code grant: %v", err)
	}
}
