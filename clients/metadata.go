package clients

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/authd/authd/storage"
)

// Metadata is a client as RFC 7591 §2 and §3.2.1 (and OpenID Connect
// Dynamic Client Registration) name its fields, plus authd's own:
// introspect, allowed_cors_origins, access_token_format, audiences and
// resource (and OpenID Connect's logout fields). It is what the
// registration endpoint and the admin API read and answer.
type Metadata struct {
	ClientID         string `json:"client_id,omitempty"`
	ClientSecret     string `json:"client_secret,omitempty"`
	ClientIDIssuedAt int64  `json:"client_id_issued_at,omitempty"`
	// ClientSecretExpiresAt is present for a client with a secret: 0, the
	// secret does not expire.
	ClientSecretExpiresAt    *int64          `json:"client_secret_expires_at,omitempty"`
	ClientName               string          `json:"client_name,omitempty"`
	RedirectURIs             []string        `json:"redirect_uris,omitempty"`
	GrantTypes               []string        `json:"grant_types,omitempty"`
	ResponseTypes            []string        `json:"response_types,omitempty"`
	Scope                    string          `json:"scope,omitempty"`
	TokenEndpointAuthMethod  string          `json:"token_endpoint_auth_method,omitempty"`
	PostLogoutRedirectURIs   []string        `json:"post_logout_redirect_uris,omitempty"`
	JWKS                     json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                  string          `json:"jwks_uri,omitempty"`
	IDTokenSignedResponseAlg string          `json:"id_token_signed_response_alg,omitempty"`
	Introspect               bool            `json:"introspect,omitempty"`
	AllowedCORSOrigins       []string        `json:"allowed_cors_origins,omitempty"`
	AccessTokenFormat        string          `json:"access_token_format,omitempty"`
	// Audiences are the resources (RFC 8707) the client may ask tokens
	// for; Resource is the API a resource server's client protects.
	Audiences []string `json:"audiences,omitempty"`
	Resource  string   `json:"resource,omitempty"`
	// OpenID Connect Back-Channel and Front-Channel Logout 1.0.
	BackchannelLogoutURI             string `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required,omitempty"`
	FrontchannelLogoutURI            string `json:"frontchannel_logout_uri,omitempty"`
}

// Defaults of fields a registration leaves out (RFC 7591 §2; the scope is
// authd's choice).
var (
	DefaultGrantTypes = []string{storage.AuthorizationCodeGrantType}
	DefaultScope      = "openid"
)

// ToMetadata is c as metadata, without secrets (ClientSecret stays empty).
func ToMetadata(c storage.Client) Metadata {
	m := Metadata{
		ClientID: c.ID, ClientName: c.Name, RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes,
		ResponseTypes: c.ResponseTypes, Scope: strings.Join(c.Scopes, " "), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, JWKS: json.RawMessage(c.JWKS), JWKSURI: c.JWKSURI,
		IDTokenSignedResponseAlg: c.IDTokenAlg, Introspect: c.Introspect, AllowedCORSOrigins: c.CORSOrigins,
		AccessTokenFormat: c.AccessTokenFormat, Audiences: c.Audience, Resource: c.Resource,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI: c.FrontchannelLogoutURI,
	}
	if !c.CreatedAt.IsZero() {
		m.ClientIDIssuedAt = c.CreatedAt.Unix()
	}
	if m.ResponseTypes == nil {
		m.ResponseTypes = storage.ResponseTypesFor(c.GrantTypes)
	}
	switch {
	case c.Public:
		m.TokenEndpointAuthMethod = "none"
	case c.TokenEndpointAuthMethod == "":
		m.TokenEndpointAuthMethod = "client_secret_basic"
	}
	if usesSecret(c) {
		never := int64(0)
		m.ClientSecretExpiresAt = &never
	}
	return m
}

// Client is the registration m asks for, the omitted fields given their
// defaults (DefaultGrantTypes, DefaultScope, client_secret_basic, and
// Normalize's). It checks what only metadata can get wrong (response
// types, the authentication method's name, the JWK Set's shape); the
// policy itself is checked where the client is written (Service). It
// ignores ClientID, ClientSecret and the dates.
func (m Metadata) Client() (storage.Client, error) {
	c := storage.Client{
		Name: m.ClientName, RedirectURIs: m.RedirectURIs, GrantTypes: m.GrantTypes,
		Scopes: strings.Fields(m.Scope), TokenEndpointAuthMethod: m.TokenEndpointAuthMethod,
		PostLogoutRedirectURIs: m.PostLogoutRedirectURIs, JWKSURI: m.JWKSURI, IDTokenAlg: m.IDTokenSignedResponseAlg,
		Introspect: m.Introspect, CORSOrigins: m.AllowedCORSOrigins, AccessTokenFormat: m.AccessTokenFormat,
		Audience: m.Audiences, Resource: m.Resource,
		BackchannelLogoutURI: m.BackchannelLogoutURI, BackchannelLogoutSessionRequired: m.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI: m.FrontchannelLogoutURI,
	}
	if c.GrantTypes == nil {
		c.GrantTypes = slices.Clone(DefaultGrantTypes)
	}
	if m.Scope == "" {
		c.Scopes = strings.Fields(DefaultScope)
	}
	var problems []string
	switch m.TokenEndpointAuthMethod {
	case "none":
		c.Public, c.TokenEndpointAuthMethod = true, ""
	case "", "client_secret_basic", "client_secret_post", "private_key_jwt":
	default:
		problems = append(problems, `token_endpoint_auth_method must be none, client_secret_basic, client_secret_post or private_key_jwt`)
	}
	if j := bytes.TrimSpace(m.JWKS); len(j) > 0 && !bytes.Equal(j, []byte("null")) {
		if j[0] != '{' {
			problems = append(problems, "jwks must be a JWK Set object")
		}
		c.JWKS = j
	}
	c = Normalize(c)
	if m.ResponseTypes != nil && !slices.Equal(m.ResponseTypes, c.ResponseTypes) {
		problems = append(problems, `response_types must be ["code"] with the authorization_code grant and empty without it`)
	}
	if len(problems) > 0 {
		return storage.Client{}, metadataError(problems...)
	}
	return c, nil
}

// Update is the change that makes a client's registration what m asks for
// (an RFC 7592 update or an admin API PUT replaces the whole registration:
// an omitted field takes its default). It covers what storage.ClientUpdate
// can change: the rest of m (the authentication method and the keys) must
// be what current has, or the update is refused.
func (m Metadata) Update(current storage.Client) (storage.ClientUpdate, error) {
	c, err := m.Client()
	if err != nil {
		return storage.ClientUpdate{}, err
	}
	if c.Public != current.Public || c.TokenEndpointAuthMethod != current.TokenEndpointAuthMethod ||
		!sameJSON(c.JWKS, current.JWKS) || c.JWKSURI != current.JWKSURI {
		return storage.ClientUpdate{}, metadataError("token_endpoint_auth_method, jwks and jwks_uri cannot change; register a new client instead")
	}
	return storage.ClientUpdate{
		Name: &c.Name, RedirectURIs: orEmpty(c.RedirectURIs), PostLogoutRedirectURIs: orEmpty(c.PostLogoutRedirectURIs),
		Scopes: orEmpty(c.Scopes), GrantTypes: orEmpty(c.GrantTypes), CORSOrigins: orEmpty(c.CORSOrigins),
		AccessTokenFormat: &c.AccessTokenFormat, IDTokenAlg: &c.IDTokenAlg, Introspect: &c.Introspect,
		Audience: orEmpty(c.Audience), Resource: &c.Resource,
		BackchannelLogoutURI: &c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: &c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI: &c.FrontchannelLogoutURI,
	}, nil
}

func orEmpty(s []string) *[]string {
	if s == nil {
		s = []string{}
	}
	return &s
}

// sameJSON: a and b are the same JSON value (Postgres stores a key set as
// jsonb, which does not keep its text), or both empty.
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}
