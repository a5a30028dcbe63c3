package main

import (
	"time"

	"github.com/authd/authd/keys"
	"github.com/authd/authd/storage"
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

// userJSON is a user with its profile (the OIDC claims scopes profile and
// email release; "" when unset), never the password hash.
type userJSON struct {
	Subject       string    `json:"subject"`
	Username      string    `json:"username"`
	Disabled      bool      `json:"disabled"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	GivenName     string    `json:"given_name"`
	FamilyName    string    `json:"family_name"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func userView(u storage.User) any {
	return userJSON{
		Subject: u.ID, Username: u.Username, Disabled: u.Disabled, Email: u.Email, EmailVerified: u.EmailVerified,
		Name: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
}

// keyView: keys.KeyInfo holds public facts only (kid, alg, dates, current).
func keyView(k keys.KeyInfo) any { return k }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
