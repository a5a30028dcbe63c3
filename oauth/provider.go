package oauth

import (
	"context"
	"crypto"
	"errors"
	"log/slog"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/keys"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/token"
	"github.com/authd/authd/web"
)

// Config is the provider's configuration.
type Config struct {
	Issuer          string
	Secret          []byte
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	AuthCodeTTL     time.Duration
	IDTokenTTL      time.Duration
	// DeviceCodeTTL is how long a device code (RFC 8628) lives (default 10m).
	DeviceCodeTTL time.Duration
	// MaxBodyBytes bounds request bodies at the protocol endpoints.
	MaxBodyBytes int64
	// RefreshRetryWindow (AUTHD_REFRESH_RETRY_WINDOW): see retry.go. 0: off.
	RefreshRetryWindow time.Duration
	// RegistrationEndpoint is advertised in discovery when set (dynamic
	// client registration is on; package registration serves it).
	RegistrationEndpoint string
	// ClientIDMetadataDocuments: https client ids are resolved as Client ID
	// Metadata Documents (discovery says so).
	ClientIDMetadataDocuments bool
}

// Keys is what the provider needs from the key manager.
type Keys interface {
	Signer(alg string) (kid string, key crypto.Signer, err error)
	JWKS() (body []byte, etag string)
	ServeJWKS(w http.ResponseWriter, r *http.Request)
	// PublicKey is the published key kid (verifying id_token_hint).
	PublicKey(kid string) (jwk jose.JSONWebKey, ok bool)
}

// Consents remembers what a user allowed a client.
type Consents interface {
	GetConsent(ctx context.Context, subject, clientID string) ([]string, error)
	SaveConsent(ctx context.Context, subject, clientID string, scopes []string) error
}

// Clients reads client records (names and flags for pages and introspection).
type Clients interface {
	Get(ctx context.Context, id string) (*fositestore.Client, error)
}

// Server is authd's protocol front: the composed fosite provider plus the
// HTTP handlers around it.
type Server struct {
	cfg       Config
	provider  fosite.OAuth2Provider
	store     *fositestore.Store
	clients   Clients
	keys      Keys
	pages     *web.Pages
	consents  Consents
	once      OnceMarker
	users     Users
	health    []HealthCheck
	log       *slog.Logger
	metrics   *metrics
	discovery []byte
	usage     UsageRecorder
	device    *deviceGrant
	// fosite is the composed provider's concrete type (client
	// authentication outside fosite's own endpoints).
	fosite   *fosite.Fosite
	strategy *tokenStrategy
	retry    *keys.Sealer // nil: no refresh retry window
	devices  deviceStore
	limiter  ClientLimiter
	guesses  web.FailureCounter
	// idTokens verifies id_token_hint; carry seals an authorization
	// request's arrival time across its sign-in (authorize.go).
	idTokens *kidSigner
	carry    *keys.Sealer
}

// Users looks users up for UserInfo (the claims of scopes profile and email).
type Users interface {
	GetUser(ctx context.Context, id string) (*storage.User, error)
}

// Deps are the stores and collaborators the Server is built from.
type Deps struct {
	Store    *fositestore.Store
	Clients  Clients
	Keys     Keys
	Pages    *web.Pages
	Consents Consents
	Users    Users
	Health   []HealthCheck
	Logger   *slog.Logger
	// Metrics is where the server registers its collectors (a
	// prometheus.Registry; no global default registry).
	Metrics prometheus.Registerer
	// Usage records each refresh's time, IP and User-Agent (optional).
	Usage UsageRecorder
	// DeviceStates keeps the device flow's state (RFC 8628).
	DeviceStates DeviceStates
	// Limiter throttles failed client authentications (optional).
	Limiter ClientLimiter
	// UserCodeGuesses counts wrong user codes on the device page.
	UserCodeGuesses web.FailureCounter
	// Once makes a carried authorization request single-use (optional:
	// nil, a carried request may be replayed within its lifetime).
	Once OnceMarker
}

// OnceMarker records one-time ids (redisstore.Store.MarkOnce): MarkOnce
// returns false when id was already marked within ttl.
type OnceMarker interface {
	MarkOnce(ctx context.Context, id string, ttl time.Duration) (bool, error)
}

// Scopes authd knows and shows on the consent page.
var knownScopes = map[string]string{
	"openid":         "Sign you in (your user id)",
	"profile":        "See your name and username",
	"email":          "See your email address",
	"offline_access": "Stay signed in (keep access while you are away)",
	"grants":         "See and revoke the devices and apps signed in to your account",
}

// RefreshScopes are the scopes that make a code exchange issue a refresh token.
var RefreshScopes = []string{"offline_access", "offline"}

// New composes fosite with exactly the handlers authd supports: the
// authorization code grant with PKCE and OpenID Connect, refresh tokens
// (rotating), client credentials, introspection and revocation. The
// implicit, hybrid and password grants are deliberately not enabled.
func New(cfg Config, d Deps) (*Server, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.IDTokenTTL <= 0 {
		cfg.IDTokenTTL = time.Hour
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	opaque, err := token.New(cfg.Secret)
	if err != nil {
		return nil, err
	}
	strategy := &tokenStrategy{Strategy: opaque, keys: d.Keys, issuer: cfg.Issuer}
	var composed *fosite.Fosite // set below, once composed
	fc := &fosite.Config{
		AccessTokenLifespan:   cfg.AccessTokenTTL,
		RefreshTokenLifespan:  cfg.RefreshTokenTTL,
		AuthorizeCodeLifespan: cfg.AuthCodeTTL,
		IDTokenLifespan:       cfg.IDTokenTTL,
		IDTokenIssuer:         cfg.Issuer,
		AccessTokenIssuer:     cfg.Issuer,
		TokenURL:              cfg.Issuer + "/oauth2/token",
		// private_key_jwt clients registered with a jwks_uri: cached,
		// fetched rarely and quickly (jwksfetch.go).
		JWKSFetcherStrategy:          newJWKSFetcher(),
		ClientAuthenticationStrategy: assertionAuthentication(&composed),
		ScopeStrategy:                fosite.ExactScopeStrategy,
		// Resource indicators (resource.go): exact, invalid_target.
		AudienceMatchingStrategy:       resourceMatching,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             RefreshScopes,
		SanitationWhiteList:            []string{"redirect_uri"},
		// Operator-chosen (argon2id) secrets: verified once, then remembered
		// briefly (storage.VerifiedSecretCache documents the argument).
		ClientSecretsHasher:        storage.NewVerifiedSecretCache(10000, 5*time.Minute),
		SendDebugMessagesToClients: false,
		MinParameterEntropy:        fosite.MinParameterEntropy,
		OmitRedirectScopeParam:     false,
		RedirectSecureChecker:      fosite.IsRedirectURISecure,
	}
	signer := &kidSigner{keys: d.Keys, alg: "RS256", clients: d.Clients, issuer: cfg.Issuer}
	provider := compose.Compose(fc, d.Store, &compose.CommonStrategy{
		CoreStrategy:               strategy,
		OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: signer, Config: fc},
		Signer:                     signer,
	},
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
	)
	s := &Server{
		cfg: cfg, provider: &authorizeResponses{OAuth2Provider: provider, issuer: cfg.Issuer, pages: d.Pages}, store: d.Store, clients: d.Clients, keys: d.Keys,
		pages: d.Pages, consents: d.Consents, once: d.Once, users: d.Users, health: d.Health, log: d.Logger,
		usage: d.Usage, strategy: strategy, limiter: d.Limiter, guesses: d.UserCodeGuesses,
		devices: deviceStore{d.DeviceStates},
	}
	f, ok := provider.(*fosite.Fosite)
	if !ok {
		return nil, errors.New("oauth: compose returned an unexpected provider type")
	}
	s.fosite, composed, s.idTokens = f, f, signer
	if err := s.newSealers(); err != nil {
		return nil, err
	}
	s.enableDeviceFlow(fc, provider, strategy, signer)
	s.metrics = newMetrics(d.Metrics)
	if s.discovery, err = s.discoveryDocument(); err != nil {
		return nil, err
	}
	return s, nil
}

// newSealers makes the sealers: the authorization request's carried
// arrival time, and the refresh retry window's kept responses (when on).
func (s *Server) newSealers() (err error) {
	if s.carry, err = keys.NewSealer(s.cfg.Secret, "authd authorize carry v1"); err != nil {
		return err
	}
	if s.cfg.RefreshRetryWindow > 0 {
		s.retry, err = keys.NewSealer(s.cfg.Secret, "authd refresh retry v1")
	}
	return err
}

// kidSigner signs ID tokens with the key manager's active key and names it
// in the "kid" header. fosite signs with go-jose v3, which takes the raw
// crypto key. The algorithm is the audience client's
// id_token_signed_response_alg (RS256 unless the client registered ES256).
type kidSigner struct {
	keys    Keys
	alg     string // when no client in the audience says otherwise
	clients Clients
	issuer  string // Decode accepts only tokens authd issued
}

// algFor returns the signing algorithm for claims: that of the first
// audience that is a registered client (fosite puts the client id in an ID
// token's aud), else k.alg.
func (k *kidSigner) algFor(ctx context.Context, claims jwt.MapClaims) string {
	var auds []string
	switch a := claims["aud"].(type) {
	case string:
		auds = []string{a}
	case []string:
		auds = a
	case []interface{}:
		for _, v := range a {
			if s, ok := v.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	if k.clients != nil {
		for _, id := range auds {
			if c, err := k.clients.Get(ctx, id); err == nil {
				if c.IDTokenAlg == "ES256" || c.IDTokenAlg == "RS256" {
					return c.IDTokenAlg
				}
				break
			}
		}
	}
	return k.alg
}

func (k *kidSigner) current(ctx context.Context, alg string) (string, *jwt.DefaultSigner, error) {
	kid, key, err := k.keys.Signer(alg)
	if err != nil {
		return "", nil, err
	}
	return kid, &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (interface{}, error) { return key, nil }}, nil
}

func (k *kidSigner) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	kid, s, err := k.current(ctx, k.algFor(ctx, claims))
	if err != nil {
		return "", "", err
	}
	h := &jwt.Headers{Extra: map[string]interface{}{}}
	if header != nil {
		for k, v := range header.ToMap() {
			h.Extra[k] = v
		}
	}
	h.Extra["kid"] = kid
	// Only registered claims: fosite adds its own "rat" (the request time)
	// and an "acr" of "0" when acr_values was asked; authd establishes no
	// authentication context class, so it claims none.
	delete(claims, "rat")
	delete(claims, "acr")
	return s.Generate(ctx, claims, h)
}

// Validate checks token is a JWT authd signed (Decode) and returns its
// signature.
func (k *kidSigner) Validate(ctx context.Context, token string) (string, error) {
	if _, err := k.Decode(ctx, token); err != nil {
		return "", err
	}
	return k.GetSignature(ctx, token)
}

func (k *kidSigner) Hash(ctx context.Context, in []byte) ([]byte, error) {
	return (&jwt.DefaultSigner{}).Hash(ctx, in)
}

// Decode verifies token (an id_token_hint) as a JWT authd signed: its kid
// is one of authd's published keys, its alg that key's, its iss authd.
// The error of an expired but otherwise valid token is fosite's
// ValidationErrorExpired with the token, which fosite accepts for a hint
// (OIDC Core 3.1.2.1).
func (k *kidSigner) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	t, err := jwt.Parse(token, func(t *jwt.Token) (interface{}, error) {
		kid, _ := t.Header["kid"].(string)
		jwk, ok := k.keys.PublicKey(kid)
		if !ok || t.Method == jwt.SigningMethodNone || string(t.Method) != jwk.Algorithm {
			return nil, errors.New("oauth: not signed with an authd key")
		}
		return jwk.Key, nil
	})
	if t == nil {
		return nil, err
	}
	var ve *jwt.ValidationError
	if err != nil && !(errors.As(err, &ve) && ve.Errors == jwt.ValidationErrorExpired) {
		return nil, err
	}
	if iss, _ := t.Claims["iss"].(string); iss != k.issuer {
		return nil, errors.New("oauth: the token was not issued by authd")
	}
	return t, err
}

func (k *kidSigner) GetSignature(ctx context.Context, token string) (string, error) {
	return (&jwt.DefaultSigner{}).GetSignature(ctx, token)
}

func (k *kidSigner) GetSigningMethodLength(ctx context.Context) int {
	return (&jwt.DefaultSigner{}).GetSigningMethodLength(ctx)
}
