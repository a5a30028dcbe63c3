package clients

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/authd/authd/storage"
)

// Store keeps client records (postgres.DB).
type Store interface {
	// CreateClient stores c (storage.ErrConflict when its id is taken).
	CreateClient(ctx context.Context, c *storage.Client) error
	// CreateRegisteredClient is CreateClient for a client registered over
	// RFC 7591, storing the hash of its registration access token with it
	// in one transaction.
	CreateRegisteredClient(ctx context.Context, c *storage.Client, tokenHash []byte) error
	GetClient(ctx context.Context, id string) (*storage.Client, error)
	ListClients(ctx context.Context) ([]storage.Client, error)
	// UpdateClient applies u and stores the result when it passes
	// storage.Client.Validate (in the transaction that writes it).
	UpdateClient(ctx context.Context, id string, u storage.ClientUpdate) (*storage.Client, error)
	RotateClientSecret(ctx context.Context, id string, hash []byte, overlapUntil time.Time) error
}

// Deleter deletes a client and ends every token of it (grants.Manager:
// the grants' families in Redis first, then the client, its consents and
// its grant rows).
type Deleter interface {
	DeleteClient(ctx context.Context, id string) error
}

// Service is the client lifecycle. Its errors: *Error for a registration
// the policy refuses, storage.ErrNotFound, storage.ErrConflict (create:
// the id is taken), storage.ErrNoSecret (rotate: the client has none),
// storage.ErrUnavailable for an outage.
type Service struct {
	Store   Store
	Deleter Deleter // needed by Delete only
	// Cache, when set, hears of every change, so the replica that made it
	// uses it at once (the others within their client cache's TTL).
	Cache Cache
}

// Cache is a replica's cache of clients (the server's ClientCache).
type Cache interface {
	ClientChanged(ctx context.Context, id string)
}

func (s *Service) changed(ctx context.Context, id string) {
	if s.Cache != nil {
		s.Cache.ClientChanged(ctx, id)
	}
}

// New is the client to create: Client as given (Normalize fills its
// defaults), with a generated id when GenerateID is set (Client.ID is
// then ignored), an operator-chosen Secret (empty: one is generated for a
// client that authenticates with a secret), and, for a client registered
// over RFC 7591, the hash of its registration access token.
type New struct {
	Client     storage.Client
	GenerateID bool
	Secret     string
	TokenHash  []byte
}

// Created is a created client as stored, with the secret generated for it
// ("" when none was): shown once, only its hash is kept.
type Created struct {
	Client storage.Client
	Secret string
}

// minSecretLen bounds operator-chosen secrets.
const minSecretLen = 16

// Create checks n against the policy, generates what it lacks and stores
// the client.
func (s *Service) Create(ctx context.Context, n New) (Created, error) {
	c := Normalize(n.Client)
	if n.GenerateID {
		c.ID = GenerateID()
	}
	if n.Secret != "" {
		h, err := storage.HashClientSecret(n.Secret)
		if err != nil {
			return Created{}, err
		}
		c.SecretHash = h
	}
	if err := Check(c, n.Secret); err != nil {
		return Created{}, err
	}
	out := Created{Client: c}
	if len(c.SecretHash) == 0 && usesSecret(c) {
		out.Secret = storage.GenerateClientSecret()
		h, err := storage.HashClientSecret(out.Secret)
		if err != nil {
			return Created{}, err
		}
		out.Client.SecretHash = h
	}
	var err error
	if n.TokenHash != nil {
		err = s.Store.CreateRegisteredClient(ctx, &out.Client, n.TokenHash)
	} else {
		err = s.Store.CreateClient(ctx, &out.Client)
	}
	if err != nil {
		return Created{}, err
	}
	return out, nil
}

// Check is the registration policy: every problem of c as a registration
// (storage.Client.Validate: exact redirect URIs, https unless on loopback,
// private-use schemes for native apps only, no fragments, only the grant
// types, response types and authentication methods authd serves, no secret
// and no client_credentials for a public client, which must use PKCE), and
// of the operator-chosen secret c holds the hash of, as one *Error (nil
// when there is none). It is pure: no store is asked.
func Check(c storage.Client, secret string) error {
	var extra []string
	if secret != "" && len(secret) < minSecretLen {
		extra = append(extra, fmt.Sprintf("--secret must be at least %d characters (omit it to get a generated one)", minSecretLen))
	}
	return fromInvalid(c.Validate(), extra...)
}

// Normalize fills what a registration may leave out with its defaults:
// opaque access tokens, RS256 ID tokens, response types from the grant
// types, and client_secret_basic or client_secret_post as the default
// method "".
func Normalize(c storage.Client) storage.Client {
	if c.AccessTokenFormat == "" {
		c.AccessTokenFormat = "opaque"
	}
	if c.IDTokenAlg == "" {
		c.IDTokenAlg = "RS256"
	}
	if c.TokenEndpointAuthMethod == "client_secret_basic" || c.TokenEndpointAuthMethod == "client_secret_post" {
		c.TokenEndpointAuthMethod = ""
	}
	c.ResponseTypes = storage.ResponseTypesFor(c.GrantTypes)
	return c
}

// usesSecret: the client authenticates with a secret (neither public nor
// private_key_jwt).
func usesSecret(c storage.Client) bool {
	return !c.Public && c.TokenEndpointAuthMethod != "private_key_jwt"
}

// GenerateID returns a new client id: 16 random bytes, base64url (22
// characters).
func GenerateID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (Go 1.24+ crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Get returns the client id (storage.ErrNotFound when there is none).
func (s *Service) Get(ctx context.Context, id string) (*storage.Client, error) {
	return s.Store.GetClient(ctx, id)
}

// List returns every client, ordered by id.
func (s *Service) List(ctx context.Context) ([]storage.Client, error) {
	return s.Store.ListClients(ctx)
}

// Update applies u (a nil field stays) after checking the result against
// the policy, as Create does. It never revokes the client's grants, nor
// changes its id, secret, authentication method or keys.
func (s *Service) Update(ctx context.Context, id string, u storage.ClientUpdate) (*storage.Client, error) {
	c, err := s.Store.UpdateClient(ctx, id, u)
	if err != nil {
		return nil, fromInvalid(err)
	}
	s.changed(ctx, id)
	return c, nil
}

// Delete deletes the client and ends every token of it, at once for its
// users' grants (their Redis families) and, for client_credentials tokens,
// when every replica's client cache has forgotten it.
func (s *Service) Delete(ctx context.Context, id string) error {
	if s.Deleter == nil {
		return errors.New("clients: delete needs a Deleter")
	}
	if err := s.Deleter.DeleteClient(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, id)
	return nil
}

// RotateSecret gives a client that authenticates with a secret a new
// generated one, returned once; the replaced secret keeps working for
// overlap (0: it ends now) and until is when it stops (zero when at once).
func (s *Service) RotateSecret(ctx context.Context, id string, overlap time.Duration) (secret string, until time.Time, err error) {
	if overlap < 0 {
		return "", time.Time{}, errors.New("clients: negative overlap")
	}
	secret = storage.GenerateClientSecret()
	hash, err := storage.HashClientSecret(secret)
	if err != nil {
		return "", time.Time{}, err
	}
	if overlap > 0 {
		until = time.Now().Add(overlap)
	}
	if err := s.Store.RotateClientSecret(ctx, id, hash, until); err != nil {
		return "", time.Time{}, err
	}
	s.changed(ctx, id)
	return secret, until, nil
}
