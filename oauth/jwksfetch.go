package oauth

import (
	"github.com/authd/authd/storage/fositestore"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/ory/fosite"
)

// jwksFetcher is fosite's JWKSFetcherStrategy for private_key_jwt clients
// registered with a jwks_uri. fosite's default fetched again on every
// assertion whose kid it did not know, with retries for up to 30 s, and
// answered a failure 500 (which the limiter does not count). This one:
//
//   - keeps each key set for jwksTTL;
//   - fetches one location at most once every jwksMinInterval, whatever
//     the request asks (an unknown kid forces a refetch only when the last
//     fetch is older than that), and concurrent requests for one location
//     share a fetch;
//   - fetches with a short timeout (jwksFetchTimeout), no retries, at most
//     jwksMaxBody bytes;
//   - when a fetch fails, keeps using the last set it got, and without one
//     answers invalid_client (401: a failed client authentication, counted
//     by the limiter), remembering the failure until the next fetch is
//     allowed.
type jwksFetcher struct {
	client *http.Client
	sets   *expirable.LRU[string, *jwksEntry]
	mu     sync.Mutex // guards sets' get-or-add
	now    func() time.Time
}

const (
	jwksTTL          = time.Hour
	jwksMinInterval  = 5 * time.Second
	jwksFetchTimeout = 3 * time.Second
	jwksMaxBody      = 1 << 20
)

// jwksEntry is one location's key set; its mutex serialises fetches.
type jwksEntry struct {
	mu      sync.Mutex
	set     *jose.JSONWebKeySet
	fetched time.Time // of set
	tried   time.Time // last fetch attempt
	err     error     // of the last attempt, when it failed
}

func newJWKSFetcher() *jwksFetcher {
	return &jwksFetcher{
		client: &http.Client{Timeout: jwksFetchTimeout},
		// Entries outlive their set's TTL so the fetch interval still
		// holds for a set that expired.
		sets: expirable.NewLRU[string, *jwksEntry](10000, nil, 2*jwksTTL),
		now:  time.Now,
	}
}

func (f *jwksFetcher) entry(location string) *jwksEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.sets.Get(location)
	if !ok {
		e = &jwksEntry{}
		f.sets.Add(location, e)
	}
	return e
}

// Resolve returns location's key set: the cached one unless it is older
// than jwksTTL or ignoreCache asks for a fresh one, and only as fresh as
// jwksMinInterval allows.
func (f *jwksFetcher) Resolve(ctx context.Context, location string, ignoreCache bool) (*jose.JSONWebKeySet, error) {
	e := f.entry(location)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.now()
	stale := e.set == nil || ignoreCache || now.Sub(e.fetched) >= jwksTTL
	if stale && now.Sub(e.tried) >= jwksMinInterval {
		e.tried = now
		set, err := f.fetch(ctx, location)
		if err == nil {
			e.set, e.fetched, e.err = set, now, nil
		} else {
			e.err = err
		}
	}
	if e.set != nil {
		return e.set, nil
	}
	return nil, fosite.ErrInvalidClient.WithHint("The client's JSON Web Key Set could not be fetched from its jwks_uri.").WithWrap(e.err).WithDebug(e.err.Error())
}

// fetch GETs one key set: no retries, bounded in time and size.
func (f *jwksFetcher) fetch(ctx context.Context, location string) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oauth: jwks_uri %s answered %s", location, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, jwksMaxBody)).Decode(&set); err != nil {
		return nil, fmt.Errorf("oauth: jwks_uri %s: %w", location, err)
	}
	return &set, nil
}

// assertionAuthentication is fosite's client authentication, except that a
// client assertion refused as invalid_request (fosite's answer when no key
// of the client's set matches the assertion's kid, or the set has no
// usable key) is invalid_client: RFC 7523 §3.2 makes every invalid client
// JWT invalid_client, and a 401 is what the limiter counts. The context
// marks a client authentication, so that client assertion ids are
// remembered per client (fositestore.WithClientAuthentication). f is read
// at the first request (the provider is composed after its config).
func assertionAuthentication(f **fosite.Fosite) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		c, err := (*f).DefaultClientAuthenticationStrategy(fositestore.WithClientAuthentication(ctx), r, form)
		var e *fosite.RFC6749Error
		if err != nil && form.Get("client_assertion") != "" && errors.As(err, &e) &&
			e.ErrorField == fosite.ErrInvalidRequest.ErrorField {
			return nil, fosite.ErrInvalidClient.WithHint(e.HintField).WithWrap(err)
		}
		return c, err
	}
}
