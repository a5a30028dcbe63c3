package clientdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/go-jose/go-jose/v3"

	"github.com/authd/authd/clients"
	"github.com/authd/authd/storage"
)

// DefaultScope is what a document without a scope may ask for: the
// sign-in and profile scopes, and refresh tokens (not the grants scope,
// which reaches a user's list of devices: a document must ask for it).
const DefaultScope = "openid profile email offline_access"

// maxNameRunes bounds the client_name pages show.
const maxNameRunes = 60

// Parse turns the document fetched from id into the client it describes,
// or says why it is refused: not a JSON object, a client_id other than id,
// a shared secret (a document client is public, token_endpoint_auth_method
// none, or authenticates with private_key_jwt and the public keys of its
// jwks or jwks_uri), private key material, authd's introspect, or anything
// the registration policy refuses (clients.Check). A jwks_uri is left for
// the Resolver to fetch.
func Parse(id string, body []byte) (storage.Client, error) {
	var m clients.Metadata
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return storage.Client{}, fmt.Errorf("the document is not a JSON object of client metadata: %w", err)
	}
	if dec.More() {
		return storage.Client{}, errors.New("the document has data after its JSON object")
	}
	if m.ClientID != id {
		return storage.Client{}, fmt.Errorf("the document's client_id %.300q is not its URL", m.ClientID)
	}
	if err := refusals(m); err != nil {
		return storage.Client{}, err
	}
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = "none" // RFC 7591's default (a secret) cannot apply
	}
	if m.Scope == "" {
		m.Scope = DefaultScope
	}
	c, err := m.Client()
	if err != nil {
		return storage.Client{}, err
	}
	// The policy's id rule is for ids authd issues (no colons); the URL
	// was checked by ValidateURL.
	c.ID = "client-id-metadata-document"
	if err := clients.Check(c, ""); err != nil {
		return storage.Client{}, err
	}
	c.ID, c.Name = id, cleanName(m.ClientName)
	return c, nil
}

// refusals: what a document may not say (draft §4.1: no shared secret, no
// private keys; authd: a public client or private_key_jwt, no
// introspection).
func refusals(m clients.Metadata) error {
	var problems []string
	if m.ClientSecret != "" || m.ClientSecretExpiresAt != nil {
		problems = append(problems, "a Client ID Metadata Document must not contain client_secret or client_secret_expires_at")
	}
	jwks := len(m.JWKS) > 0 && !bytes.Equal(bytes.TrimSpace(m.JWKS), []byte("null"))
	switch m.TokenEndpointAuthMethod {
	case "", "none":
		if jwks || m.JWKSURI != "" {
			problems = append(problems, "jwks and jwks_uri need token_endpoint_auth_method private_key_jwt")
		}
	case "private_key_jwt":
		if jwks {
			if err := publicKeys(m.JWKS); err != nil {
				problems = append(problems, "jwks: "+err.Error())
			}
		}
	default:
		problems = append(problems, `a Client ID Metadata Document client authenticates with token_endpoint_auth_method "none" (public) or "private_key_jwt"`)
	}
	if m.Introspect {
		problems = append(problems, "introspect is not accepted in a Client ID Metadata Document")
	}
	if len(problems) > 0 {
		return &clients.Error{Code: clients.InvalidClientMetadata, Problems: problems}
	}
	return nil
}

// cleanName is client_name as pages may show it: control and format
// characters (bidirectional overrides among them) dropped, spaces
// collapsed, at most maxNameRunes runes.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxNameRunes {
		s = string(r[:maxNameRunes-1]) + "…"
	}
	return s
}

// publicKeys: set is a JWK Set of asymmetric public keys only.
func publicKeys(set []byte) error {
	var ks jose.JSONWebKeySet
	if err := json.Unmarshal(set, &ks); err != nil {
		return fmt.Errorf("not a JWK Set: %w", err)
	}
	if len(ks.Keys) == 0 {
		return errors.New("the JWK Set has no keys")
	}
	for _, k := range ks.Keys {
		if _, symmetric := k.Key.([]byte); symmetric || !k.IsPublic() {
			return errors.New("the JWK Set must hold public keys only")
		}
	}
	return nil
}
