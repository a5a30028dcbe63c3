package storage

// Grant types authd implements, as clients register them (Client.GrantTypes)
// and as the token endpoint's grant_type names them.
const (
	AuthorizationCodeGrantType = "authorization_code"
	RefreshTokenGrantType      = "refresh_token"
	ClientCredentialsGrantType = "client_credentials"
	// DeviceCodeGrantType is RFC 8628's device authorization grant.
	DeviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"
)
