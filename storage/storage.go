package storage

import (
	"errors"
	"time"
)

// Sentinel errors every store returns, so callers can branch with errors.Is.
var (
	// ErrNotFound: the record does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a record with the same unique key already exists.
	ErrConflict = errors.New("storage: already exists")
	// ErrRevoked: the grant has been revoked; nothing may be written to it.
	ErrRevoked = errors.New("storage: grant revoked")
	// ErrStale: a compare-and-set lost a race (another request rotated the
	// refresh token, redeemed the code or decided the device code first).
	ErrStale = errors.New("storage: concurrent update")
	// ErrUnavailable: a backend (Redis, Postgres) could not be reached or
	// answered "not now" (refused connection, timeout, failover in
	// progress). The drivers wrap the underlying error with it; callers
	// answer 503 temporarily_unavailable and must not treat it as a
	// verdict about the record.
	ErrUnavailable = errors.New("storage: backend unavailable")
)

// Client is a registered OAuth 2.0 client.
type Client struct {
	ID   string
	Name string
	// SecretHash is the client secret as produced by HashClientSecret; empty
	// for public clients.
	SecretHash []byte
	// PreviousSecretHash is the secret rotated away by `authd clients
	// rotate-secret`, still accepted until PreviousSecretExpiresAt (both
	// empty when there is none).
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt time.Time
	Public                  bool
	RedirectURIs            []string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// user back to (stored for the logout endpoint).
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives a logout token (Back-Channel Logout
	// 1.0) when a session the client signed in through ends; "" for none.
	// BackchannelLogoutSessionRequired: the client needs sid in it.
	BackchannelLogoutURI             string
	BackchannelLogoutSessionRequired bool
	// FrontchannelLogoutURI is loaded in an iframe, with iss and sid, when
	// a session the client signed in through ends in the browser
	// (Front-Channel Logout 1.0); "" for none.
	FrontchannelLogoutURI string
	// CORSOrigins are the browser origins allowed to call authd's
	// endpoints for this client (stored for the CORS policy).
	CORSOrigins   []string
	GrantTypes    []string
	ResponseTypes []string
	Scopes        []string
	// Audience are the resources (RFC 8707 resource indicators, absolute
	// URIs) this client may request tokens for (--audience).
	Audience []string
	// TokenEndpointAuthMethod: client_secret_basic (default; client_secret_post
	// is accepted too), private_key_jwt, or none (public clients).
	TokenEndpointAuthMethod string
	// AccessTokenFormat: "opaque" (default) or "jwt" (RFC 9068).
	AccessTokenFormat string
	// IDTokenAlg is the client's id_token_signed_response_alg: "RS256"
	// (the default, as OpenID Connect registration has it) or "ES256".
	IDTokenAlg string
	// JWKS (a JSON Web Key Set document) or JWKSURI holds the public keys of
	// a private_key_jwt client.
	JWKS    []byte
	JWKSURI string
	// Introspect allows the client (a resource server) to call introspection.
	Introspect bool
	// Resource is the API this client protects, as a resource server
	// (--resource, an RFC 8707 resource URI; "" for none): introspection
	// then reports active only the access tokens whose audience holds it.
	Resource string
	// CreatedAt is also the registration's identity: a client deleted and
	// registered again under the same id has a new CreatedAt, and tokens
	// carry the CreatedAt of the registration that issued them.
	CreatedAt time.Time
}

// User is an end user who signs in with a username and password.
type User struct {
	ID           string
	Username     string
	PasswordHash string // from HashPassword
	CreatedAt    time.Time
	// Profile and contact data (OIDC Core 5.1 standard claims); "" when unset.
	Email         string
	EmailVerified bool
	Name          string // full name
	GivenName     string
	FamilyName    string
	UpdatedAt     time.Time // last change of the record; CreatedAt at first
	// Disabled: the user cannot sign in (an operator disabled it).
	Disabled bool
}

// Consent is what a user allowed a client, remembered so that the next
// authorization does not ask again (until the user removes the app).
type Consent struct {
	Subject    string
	ClientID   string
	ClientName string
	Scopes     []string // sorted
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Revocation reasons recorded on a grant.
const (
	RevokedByUser     = "user"
	RevokedByAdmin    = "admin"
	RevokedReuse      = "reuse_detected"
	RevokedLogoutAll  = "logout_all"
	RevokedByClient   = "client" // RFC 7009 revocation request
	RevokedCodeReplay = "code_reuse"
	RevokedExpired    = "expired"
	// An operator changed the user's password, disabled or deleted the user.
	RevokedPasswordChanged = "password_changed"
	RevokedUserDisabled    = "user_disabled"
	RevokedUserDeleted     = "user_deleted"
)

// Grant is one device grant: the token family born from one authorization.
// Its ID is fosite's request ID, which stays the same across refreshes.
type Grant struct {
	ID       string
	Subject  string
	ClientID string
	Scopes   []string
	Flow     string // "authorization_code" or "device_code"
	// UserAgent and FirstIP are the grant's device: the browser that
	// authorized it (at the consent step, or on the device-verification
	// page for the device flow), whatever client then exchanged the code.
	// LastIP is where it was last used (the code exchange, then refreshes).
	UserAgent    string
	FirstIP      string
	LastIP       string
	CreatedAt    time.Time
	LastUsedAt   time.Time
	ExpiresAt    time.Time // absolute end of the refresh token family
	RevokedAt    *time.Time
	RevokeReason string
}

// SigningKey is a JWS signing key; the private part is encrypted at rest.
type SigningKey struct {
	ID  string // kid
	Alg string // RS256, ES256
	// PrivateKeyEncrypted is the PKCS#8 private key sealed by the keys package.
	PrivateKeyEncrypted []byte
	// PublicKeyPEM is the PKIX public key.
	PublicKeyPEM []byte
	CreatedAt    time.Time
	// ActiveAt: the key signs new tokens from this time on (it is published
	// in JWKS from CreatedAt).
	ActiveAt  time.Time
	RetiredAt *time.Time // no longer published once set
}

// GrantUsage records one use of a grant (a refresh), to be applied in
// batches: it moves LastUsedAt forward to At and sets LastIP when it is not
// empty, and moves ExpiresAt forward to the family's new end (refresh
// tokens slide; zero leaves it). It never changes the grant's device
// (UserAgent, FirstIP: the browser that authorized it).
type GrantUsage struct {
	ID        string
	IP        string
	At        time.Time
	ExpiresAt time.Time
}
