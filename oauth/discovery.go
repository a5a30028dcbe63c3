package oauth

import (
	"github.com/authd/authd/storage"

	"encoding/json"
	"net/http"
	"sort"
)

// discoveryDocument is built once: it advertises exactly what this server
// composes (see New), nothing more.
func (s *Server) discoveryDocument() ([]byte, error) {
	iss := s.cfg.Issuer
	scopes := make([]string, 0, len(knownScopes))
	for k := range knownScopes {
		scopes = append(scopes, k)
	}
	sort.Strings(scopes)
	doc := map[string]any{
		"issuer":                        iss,
		"authorization_endpoint":        iss + "/oauth2/auth",
		"token_endpoint":                iss + "/oauth2/token",
		"jwks_uri":                      iss + "/.well-known/jwks.json",
		"userinfo_endpoint":             iss + "/userinfo",
		"revocation_endpoint":           iss + "/oauth2/revoke",
		"introspection_endpoint":        iss + "/oauth2/introspect",
		"device_authorization_endpoint": iss + "/oauth2/device/auth",
		"scopes_supported":              scopes,
		"response_types_supported":      []string{"code"},
		"response_modes_supported":      []string{"query", "fragment", "form_post"},
		// RFC 9207: every authorization response carries iss (response.go).
		"authorization_response_iss_parameter_supported":   true,
		"grant_types_supported":                            []string{"authorization_code", "refresh_token", "client_credentials", storage.DeviceCodeGrantType},
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{"RS256", "ES256"},
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "ES256"},
		// Not registered in RFC 8414: clients registered with
		// --access-token-format jwt get RFC 9068 access tokens signed with
		// this algorithm; the others get opaque tokens.
		"access_token_signing_alg_values_supported":     []string{AccessTokenJWTAlg},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"code_challenge_methods_supported":              []string{"S256"},
		"claims_supported":                              append([]string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr"}, append(profileClaims, emailClaims...)...),
		"prompt_values_supported":                       promptValues,
		"request_parameter_supported":                   false,
		"request_uri_parameter_supported":               false,
		"claims_parameter_supported":                    true,

		// RP-Initiated, Back-Channel and Front-Channel Logout 1.0 (package logout).
		"end_session_endpoint":                  iss + "/oauth2/logout",
		"backchannel_logout_supported":          true,
		"backchannel_logout_session_supported":  true,
		"frontchannel_logout_supported":         true,
		"frontchannel_logout_session_supported": true,
	}
	if s.cfg.RegistrationEndpoint != "" {
		doc["registration_endpoint"] = s.cfg.RegistrationEndpoint // RFC 8414, RFC 7591
	}
	if s.cfg.ClientIDMetadataDocuments {
		doc["client_id_metadata_document_supported"] = true // draft-ietf-oauth-client-id-metadata-document §5
	}
	return json.MarshalIndent(doc, "", "  ")
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.discovery)
}
