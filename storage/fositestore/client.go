package fositestore

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v3"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// Client adapts a storage.Client to fosite's client interfaces.
type Client struct {
	storage.Client
	// DocumentHost is set for a client described by a Client ID Metadata
	// Document (its id is the document's URL): the URL's host, which pages
	// show beside the name the document gives.
	DocumentHost string
	// jwks is Client.JWKS parsed once, when the client is loaded.
	jwks *jose.JSONWebKeySet
}

// DisplayName is how pages name the client: its name, else its id; for a
// Client ID Metadata Document client the name with the URL's host, as
// "Example App (app.example.com)", or the host alone.
func (c *Client) DisplayName() string {
	switch {
	case c.DocumentHost != "" && c.Name != "":
		return c.Name + " (" + c.DocumentHost + ")"
	case c.DocumentHost != "":
		return c.DocumentHost
	case c.Name != "":
		return c.Name
	}
	return c.ID
}

// NewClient adapts c, parsing its registered key set.
func NewClient(c storage.Client) (*Client, error) {
	cl := &Client{Client: c}
	if len(c.JWKS) > 0 {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(c.JWKS, &set); err != nil {
			return nil, fmt.Errorf("fositestore: client %s has an unreadable JWKS: %w", c.ID, err)
		}
		cl.jwks = &set
	}
	return cl, nil
}

var (
	_ fosite.Client                   = (*Client)(nil)
	_ fosite.OpenIDConnectClient      = (*Client)(nil)
	_ fosite.ClientWithSecretRotation = (*Client)(nil)
	_ fosite.ResponseModeClient       = (*Client)(nil)
)

// responseModes are the response modes every client may ask for (the
// authorization endpoint writes them; discovery lists them).
var responseModes = []fosite.ResponseModeType{fosite.ResponseModeQuery, fosite.ResponseModeFragment, fosite.ResponseModeFormPost}

// GetResponseModes: query, fragment and form_post, for every client.
func (c *Client) GetResponseModes() []fosite.ResponseModeType { return responseModes }

// GetRotatedHashes is the secret `authd clients rotate-secret` replaced,
// while its overlap lasts (fosite tries it when the current secret does
// not match). The expiry is checked on every call, so a cached client stops
// accepting the old secret on time.
func (c *Client) GetRotatedHashes() [][]byte {
	if len(c.PreviousSecretHash) > 0 && time.Now().Before(c.PreviousSecretExpiresAt) {
		return [][]byte{c.PreviousSecretHash}
	}
	return nil
}

// Epoch identifies this registration of the client id: its creation time
// in microseconds (Postgres' precision), 0 when unknown. A client deleted
// and registered again under the same id has another epoch.
func (c *Client) Epoch() int64 {
	if c.CreatedAt.IsZero() {
		return 0
	}
	return c.CreatedAt.UnixMicro()
}

func (c *Client) GetID() string             { return c.ID }
func (c *Client) GetHashedSecret() []byte   { return c.SecretHash }
func (c *Client) GetRedirectURIs() []string { return c.RedirectURIs }
func (c *Client) GetGrantTypes() fosite.Arguments {
	return c.GrantTypes
}
func (c *Client) GetResponseTypes() fosite.Arguments {
	if len(c.ResponseTypes) == 0 {
		return fosite.Arguments{"code"}
	}
	return c.ResponseTypes
}
func (c *Client) GetScopes() fosite.Arguments   { return c.Scopes }
func (c *Client) IsPublic() bool                { return c.Public }
func (c *Client) GetAudience() fosite.Arguments { return c.Audience }

// GetTokenEndpointAuthMethod: "none" for public clients, otherwise the
// registered method (client_secret_basic by default).
func (c *Client) GetTokenEndpointAuthMethod() string {
	if c.Public {
		return "none"
	}
	if c.TokenEndpointAuthMethod != "" {
		return c.TokenEndpointAuthMethod
	}
	return "client_secret_basic"
}
func (c *Client) GetRequestURIs() []string                 { return nil }
func (c *Client) GetJSONWebKeys() *jose.JSONWebKeySet      { return c.jwks }
func (c *Client) GetJSONWebKeysURI() string                { return c.JWKSURI }
func (c *Client) GetRequestObjectSigningAlgorithm() string { return "" }

// GetTokenEndpointAuthSigningAlgorithm is the algorithm of the client's
// registered key (ES256 for an EC key, RS256 otherwise): fosite accepts
// client assertions signed with exactly this algorithm.
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.jwks != nil {
		for _, k := range c.jwks.Keys {
			if k.Algorithm != "" {
				return k.Algorithm
			}
			if _, ec := k.Key.(*ecdsa.PublicKey); ec {
				return "ES256"
			}
		}
	}
	return "RS256"
}

// ClientLoader loads a client from durable storage.
type ClientLoader interface {
	GetClient(ctx context.Context, id string) (*storage.Client, error)
}

// Documents resolves client ids that are Client ID Metadata Document URLs
// (clientdoc.Resolver, which caches them itself). Its errors wrap
// storage.ErrNotFound when the document cannot be had or is refused.
type Documents interface {
	Client(ctx context.Context, id string) (*storage.Client, error)
}

// ClientCache keeps recently used clients in memory for a short TTL, so the
// token, refresh and introspection paths do not query Postgres per request.
// It is bounded (LRU) and unknown ids are cached too (briefly), so random
// client ids cannot be used to hammer the database. A client deleted or
// changed on any replica is honoured everywhere within the TTL.
type ClientCache struct {
	load  ClientLoader
	cache *expirable.LRU[string, *Client] // nil value: known not to exist
	// docs, when set, resolves https:// client ids (never Postgres);
	// wrapped is each document client as fosite's Client (its keys parsed
	// once), by the resolver's record of it (a new fetch, a new record).
	docs    Documents
	wrapped *lru.Cache[*storage.Client, *Client]
	// lookups counts what reached the cache (Lookups).
	lookups atomic.Int64
}

// UseDocuments makes the cache resolve client ids that are https URLs as
// Client ID Metadata Documents (AUTHD_CLIENT_ID_METADATA_DOCUMENTS). Call
// it before the cache is used.
func (c *ClientCache) UseDocuments(d Documents) {
	c.docs = d
	c.wrapped, _ = lru.New[*storage.Client, *Client](4096) // only a size <= 0 fails
}

// document is the client the document at id describes.
func (c *ClientCache) document(ctx context.Context, id string) (*Client, error) {
	sc, err := c.docs.Client(ctx, id)
	if err != nil {
		return nil, err
	}
	if cl, ok := c.wrapped.Get(sc); ok {
		return cl, nil
	}
	u, err := url.Parse(id)
	if err != nil { // the resolver parsed it already
		return nil, fmt.Errorf("%w: %v", storage.ErrNotFound, err)
	}
	cl, err := NewClient(*sc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", storage.ErrNotFound, err)
	}
	cl.DocumentHost = u.Host
	c.wrapped.Add(sc, cl)
	return cl, nil
}

// documentID: id is a Client ID Metadata Document URL to resolve (the
// documents are on and it starts with https://, which ids authd issues
// never do).
func (c *ClientCache) documentID(id string) bool {
	return c.docs != nil && strings.HasPrefix(id, "https://")
}

// NewClientCache returns a cache of at most size clients, each kept ttl.
func NewClientCache(load ClientLoader, size int, ttl time.Duration) *ClientCache {
	return &ClientCache{load: load, cache: expirable.NewLRU[string, *Client](size, nil, ttl)}
}

// Get returns the client or an error wrapping storage.ErrNotFound. Within a
// request marked by WithTokenRequest the client found first is returned again
// without asking the cache (fosite looks the authenticated client up, and
// the stored request names it again), and an id found to have no client is
// not looked up again (the rate limiter and fosite both ask).
func (c *ClientCache) Get(ctx context.Context, id string) (*Client, error) {
	m := tokenRequestOf(ctx)
	if m != nil && m.client != nil && m.client.ID == id {
		return m.client, nil
	}
	if m != nil && m.missing == id && id != "" {
		return nil, storage.ErrNotFound
	}
	cl, err := c.get(ctx, id)
	switch {
	case m != nil && err == nil:
		m.client = cl
	case m != nil && errors.Is(err, storage.ErrNotFound):
		m.missing = id
	}
	return cl, err
}

// Lookups is how many lookups reached the cache (tests prove with it that
// a request looks its client up once).
func (c *ClientCache) Lookups() int64 { return c.lookups.Load() }

func (c *ClientCache) get(ctx context.Context, id string) (*Client, error) {
	c.lookups.Add(1)
	if c.documentID(id) {
		return c.document(ctx, id)
	}
	if v, ok := c.cache.Get(id); ok {
		if v == nil {
			return nil, storage.ErrNotFound
		}
		return v, nil
	}
	return c.Reload(ctx, id)
}

// Reload loads the client from storage whatever the cache holds, and
// caches what it found (or that it found none).
func (c *ClientCache) Reload(ctx context.Context, id string) (*Client, error) {
	if id == "" || len(id) > 255 {
		return nil, storage.ErrNotFound
	}
	if c.documentID(id) {
		return c.document(ctx, id)
	}
	sc, err := c.load.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		c.cache.Add(id, nil)
		return nil, err
	} else if err != nil {
		return nil, err
	}
	cl, err := NewClient(*sc)
	if err != nil {
		return nil, err
	}
	c.cache.Add(id, cl)
	return cl, nil
}

// ClientName is the client's display name (the grants home's listings):
// its name, with the host for a Client ID Metadata Document client.
func (c *ClientCache) ClientName(ctx context.Context, id string) (string, error) {
	cl, err := c.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if cl.DocumentHost != "" {
		return cl.DisplayName(), nil
	}
	return cl.Name, nil
}
