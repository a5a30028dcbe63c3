package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
)

func TestJWKSFetcherCachesAndThrottles(t *testing.T) {
	var fetches atomic.Int32
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0"}]}`))
	}))
	defer srv.Close()
	f := newJWKSFetcher()
	now := time.Unix(1_800_000_000, 0)
	f.now = func() time.Time { return now }
	ctx := context.Background()
	resolve := func(ignore bool) error {
		set, err := f.Resolve(ctx, srv.URL, ignore)
		if err == nil && len(set.Key("k1")) != 1 {
			t.Fatalf("set %+v", set)
		}
		return err
	}

	// Concurrent first requests share one fetch; the cache serves the rest,
	// and a forced refresh (unknown kid) within the interval fetches nothing.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _ = resolve(i%2 == 0) }()
	}
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Errorf("20 resolves fetched %d times", n)
	}
	now = now.Add(jwksMinInterval)
	_ = resolve(true)
	_ = resolve(true)
	if n := fetches.Load(); n != 2 {
		t.Errorf("a forced refresh after the interval: %d fetches, want 2", n)
	}
	// A failing jwks_uri: the last set keeps serving; the TTL refetches.
	fail.Store(true)
	now = now.Add(jwksTTL)
	if err := resolve(false); err != nil {
		t.Errorf("stale set not served while the jwks_uri fails: %v", err)
	}
	if n := fetches.Load(); n != 3 {
		t.Errorf("expired set: %d fetches, want 3", n)
	}

	// Without any set, a failure is invalid_client, remembered until the
	// next fetch is allowed.
	g := newJWKSFetcher()
	g.now = f.now
	for i := 0; i < 5; i++ {
		_, err := g.Resolve(ctx, srv.URL, true)
		if !errors.Is(err, fosite.ErrInvalidClient) {
			t.Fatalf("failed fetch: %v, want invalid_client", err)
		}
	}
	if n := fetches.Load(); n != 4 {
		t.Errorf("5 resolves of a failing jwks_uri: %d fetches in total, want 4", n)
	}
}
