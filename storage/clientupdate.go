package storage

import (
	"errors"
	"slices"
)

// ErrNoSecret: the client authenticates without a secret (a public or a
// private_key_jwt client), so it has none to rotate.
var ErrNoSecret = errors.New("storage: the client has no secret")

// ClientUpdate is a change to a registered client, as `authd clients
// update` asks for it: a nil field stays as it is; a list given replaces
// the whole list (an empty list clears it). It never touches the client's
// id, secret, authentication method, keys or creation time — nor its
// grants, which live elsewhere.
type ClientUpdate struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	// BackchannelLogoutURI "" clears it.
	BackchannelLogoutURI             *string
	BackchannelLogoutSessionRequired *bool
	FrontchannelLogoutURI            *string
	Scopes                           *[]string
	GrantTypes                       *[]string
	CORSOrigins                      *[]string
	AccessTokenFormat                *string
	IDTokenAlg                       *string
	Introspect                       *bool
	Audience                         *[]string
	Resource                         *string
}

// Apply returns c with u applied, the response types following the grant
// types (ResponseTypesFor). The result is not validated: callers run
// Validate on it, exactly as on a new registration.
func (u ClientUpdate) Apply(c Client) Client {
	set(&c.Name, u.Name)
	set(&c.RedirectURIs, u.RedirectURIs)
	set(&c.PostLogoutRedirectURIs, u.PostLogoutRedirectURIs)
	set(&c.BackchannelLogoutURI, u.BackchannelLogoutURI)
	set(&c.BackchannelLogoutSessionRequired, u.BackchannelLogoutSessionRequired)
	set(&c.FrontchannelLogoutURI, u.FrontchannelLogoutURI)
	set(&c.Scopes, u.Scopes)
	set(&c.GrantTypes, u.GrantTypes)
	set(&c.CORSOrigins, u.CORSOrigins)
	set(&c.AccessTokenFormat, u.AccessTokenFormat)
	set(&c.IDTokenAlg, u.IDTokenAlg)
	set(&c.Introspect, u.Introspect)
	set(&c.Audience, u.Audience)
	set(&c.Resource, u.Resource)
	if u.GrantTypes != nil {
		c.ResponseTypes = ResponseTypesFor(c.GrantTypes)
	}
	return c
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// ResponseTypesFor is the response types a client with grantTypes
// registers: "code" with the authorization code grant, none otherwise.
func ResponseTypesFor(grantTypes []string) []string {
	if slices.Contains(grantTypes, AuthorizationCodeGrantType) {
		return []string{"code"}
	}
	return nil
}
