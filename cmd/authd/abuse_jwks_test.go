package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/authd/authd/storage"
)

// jwksServer serves one public key as a key set and counts the fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, key *rsa.PrivateKey, kid string) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	body, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// hangingServer accepts requests and never answers until the test ends.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	return s
}

// jwksURIClient registers a private_key_jwt client whose keys are at uri
// (RS256: authd cannot know a remote set's algorithm beforehand).
func jwksURIClient(t *testing.T, e *e2e, id, uri string) {
	t.Helper()
	err := e.srv.DB.CreateClient(context.Background(), &storage.Client{
		ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"},
		TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: uri,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// assertionWithKid is an RFC 7523 client assertion for id naming kid,
// valid for a minute.
func assertionWithKid(t *testing.T, e *e2e, id, kid string, key *rsa.PrivateKey) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"kid": kid}}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := josejwt.Claims{
		Issuer: id, Subject: id, Audience: josejwt.Audience{e.srv.URL + "/oauth2/token"}, ID: randString(t),
		Expiry: josejwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: josejwt.NewNumericDate(now),
	}
	a, err := josejwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ccWithAssertion(a string) url.Values {
	return withAssertion(url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, a)
}

// Finding 8 of issue 15: an assertion naming an unknown kid made authd fetch
// the client's jwks_uri on every request. Key sets are cached, refetched at
// most every few seconds per client, and a kid that is not there is
// invalid_client (401: the limiter counts it).
func TestJWKSURIUnknownKidFetchesRarely(t *testing.T) {
	e := newE2E(t, func(c *Config) { c.RateLimit.Failures = -1 })
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	ks := newJWKSServer(t, key, "k1")
	jwksURIClient(t, e, "pkj-uri", ks.URL)

	if r := e.postNoFatal("/oauth2/token", ccWithAssertion(assertionWithKid(t, e, "pkj-uri", "k1", key))); r.Status != http.StatusOK {
		t.Fatalf("known kid: %v", r)
	}
	for i := 0; i < 30; i++ {
		r := e.postNoFatal("/oauth2/token", ccWithAssertion(assertionWithKid(t, e, "pkj-uri", "unknown", key)))
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	}
	if n := ks.fetches.Load(); n > 3 {
		t.Errorf("31 requests fetched the key set %d times, want at most 3", n)
	}
	// The cached set still serves the known kid, without a fetch.
	before := ks.fetches.Load()
	if r := e.postNoFatal("/oauth2/token", ccWithAssertion(assertionWithKid(t, e, "pkj-uri", "k1", key))); r.Status != http.StatusOK {
		t.Fatalf("known kid after the burst: %v", r)
	}
	if ks.fetches.Load() != before {
		t.Error("a known kid refetched the cached key set")
	}
}

// An unreachable or hanging jwks_uri is invalid_client, answered quickly:
// no retries holding the request (fosite's default fetcher retried for up
// to 30 s and answered 500, which the limiter does not count).
func TestJWKSURIUnreachableIsFast401(t *testing.T) {
	e := newE2E(t, func(c *Config) { c.RateLimit.Failures = -1 })
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connection refused from now on
	jwksURIClient(t, e, "pkj-dead", deadURL)
	jwksURIClient(t, e, "pkj-hang", hangingServer(t).URL)
	for _, id := range []string{"pkj-dead", "pkj-hang", "pkj-hang"} {
		start := time.Now()
		r := e.postNoFatal("/oauth2/token", ccWithAssertion(assertionWithKid(t, e, id, "k1", key)))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: answered after %v", id, d)
		}
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	}
}
