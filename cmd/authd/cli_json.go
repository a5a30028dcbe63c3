package main

import (
	"time"

	"github.com/authd/authd/keys"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/users"
)

// The JSON views of the list commands (--json): no secret material, so
// secret and password hashes are left out, and empty lists are [] not null.

type clientJSON struct {
	ID                      string    `json:"id"`
	Name                    string    `json:"name"`
	Public                  bool      `json:"public"`
	RedirectURIs            []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string  `json:"post_logout_redirect_uris"`
	CORSOrigins             []string  `json:"cors_origins"`
	BackchannelLogoutURI    string    `json:"backchannel_logout_uri"`
	BackchannelSession      bool      `json:"backchannel_logout_session_required"`
	FrontchannelLogoutURI   string    `json:"frontchannel_logout_uri"`
	GrantTypes              []string  `json:"grant_types"`
	ResponseTypes           []string  `json:"response_types"`
	Scopes                  []string  `json:"scopes"`
	Audience                []string  `json:"audience"`
	Resource                string    `json:"resource"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method,omitempty"`
	Introspect              bool      `json:"introspect"`
	AccessTokenFormat       string    `json:"access_token_format"`
	IDTokenAlg              string    `json:"id_token_signed_response_alg"`
	CreatedAt               time.Time `json:"created_at"`
}

func clientView(c storage.Client) any {
	return clientJSON{
		ID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs), CORSOrigins: nonNil(c.CORSOrigins),
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelSession: c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI: c.FrontchannelLogoutURI,
		GrantTypes:            nonNil(c.GrantTypes), ResponseTypes: nonNil(c.ResponseTypes), Scopes: nonNil(c.Scopes),
		Audience: nonNil(c.Audience), Resource: c.Resource, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		Introspect: c.Introspect, AccessTokenFormat: c.AccessTokenFormat, IDTokenAlg: c.IDTokenAlg,
		CreatedAt: c.CreatedAt.UTC(),
	}
}

// userView: users.View, the admin API's view of a user, never its
// password hash.
func userView(u storage.User) any { return users.ViewOf(u) }

// keyView: keys.KeyInfo holds public facts only (kid, alg, dates, current).
func keyView(k keys.KeyInfo) any { return k }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
