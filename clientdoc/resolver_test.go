package clientdoc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/clientdoc/clientdoctest"
	"github.com/authd/authd/internal/testclock"
	"github.com/authd/authd/storage"
)

// doc answers a valid document with the given Cache-Control.
func doc(cacheControl string) http.HandlerFunc {
	return clientdoctest.Document(cacheControl, `{"client_id":%q,"client_name":"Example App","redirect_uris":["https://app.example/cb"]}`)
}

func newTestResolver(s *clientdoctest.Server, allowPrivate bool) (*Resolver, *testclock.Clock) {
	c := testclock.New(time.Now())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return New(Config{AllowPrivate: allowPrivate, RootCAs: s.Roots(), Timeout: 2 * time.Second, Now: c.Now, Logger: quiet}), c
}

// TestResolverRefusals: over 5 KiB, a redirect, another status, a non-JSON
// content type, a client_id that is not the URL: each is storage.ErrNotFound,
// and none is cached (asking again fetches again).
func TestResolverRefusals(t *testing.T) {
	s := clientdoctest.NewServer(t)
	r, _ := newTestResolver(s, true)
	ctx := context.Background()
	big := s.Handle("/big", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":"https://%s/big","redirect_uris":["https://app.example/cb"],"x":"%s"}`, req.Host, strings.Repeat("a", 5<<10))
	})
	for name, tc := range map[string]struct {
		url, says string
	}{
		"too large": {big, "larger than 5120 bytes"},
		"redirect": {s.Handle("/moved", func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, "/ok", http.StatusFound)
		}), "redirects are not followed"},
		"not found": {s.URL + "/missing", "status 404"},
		"html": {s.Handle("/html", func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>")
		}), "not JSON"},
		"jwks_uri not found": {s.Handle("/pkj", func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"client_id":"https://%s/pkj","redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://%s/nokeys"}`, req.Host, req.Host)
		}), "jwks_uri: status 404"},
		"client_id differs": {s.Handle("/other", func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"client_id":"https://app.example/other","redirect_uris":["https://app.example/cb"]}`)
		}), "not its URL"},
	} {
		_, err := r.Client(ctx, tc.url)
		if !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want ErrNotFound saying %q", name, err, tc.says)
		}
		before := r.Fetches()
		if _, err := r.Client(ctx, tc.url); err == nil || r.Fetches() <= before {
			t.Errorf("%s: a failure was cached (%v, fetches %d -> %d)", name, err, before, r.Fetches())
		}
	}
	if _, err := r.Client(ctx, "https://app.example/c?q=1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a URL with a query: %v", err)
	}
}

// TestResolverGuard: without the allow-private setting a document on
// loopback is never requested.
func TestResolverGuard(t *testing.T) {
	s := clientdoctest.NewServer(t)
	id := s.Handle("/client.json", doc("max-age=60"))
	r, _ := newTestResolver(s, false)
	_, err := r.Client(context.Background(), id)
	if !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("loopback document: %v", err)
	}
	if n := s.Count("/client.json"); n != 0 {
		t.Errorf("the loopback server was asked %d times", n)
	}
}

// TestResolverCache: within its lifetime a document is not fetched again;
// past it, an authorization (RequireFresh) fetches it first, any other
// lookup gets the stale copy while it is fetched in the background; past
// the stale bound every lookup waits for a fetch.
func TestResolverCache(t *testing.T) {
	s := clientdoctest.NewServer(t)
	id := s.Handle("/client.json", doc("max-age=120"))
	r, clk := newTestResolver(s, true)
	ctx := context.Background()
	c, err := r.Client(ctx, id)
	if err != nil || c.Name != "Example App" || !c.Public {
		t.Fatalf("%+v %v", c, err)
	}
	for range 5 {
		if _, err := r.Client(RequireFresh(ctx), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count("/client.json"); n != 1 {
		t.Fatalf("fetched %d times within max-age", n)
	}
	clk.Add(121 * time.Second)
	if _, err := r.Client(RequireFresh(ctx), id); err != nil || s.Count("/client.json") != 2 {
		t.Fatalf("authorization past max-age: %v, fetches %d", err, s.Count("/client.json"))
	}
	clk.Add(121 * time.Second)
	if _, err := r.Client(ctx, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Count("/client.json") != 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.Count("/client.json"); n != 3 {
		t.Fatalf("stale lookup: %d fetches, want a background one (3)", n)
	}
	clk.Add(DefaultStale + 3*time.Minute)
	s.Handle("/client.json", func(w http.ResponseWriter, req *http.Request) { http.Error(w, "gone", http.StatusGone) })
	if _, err := r.Client(ctx, id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("past the stale bound, a gone document: %v", err)
	}
}

// TestResolverSingleFlight: concurrent lookups of one URL share one fetch.
func TestResolverSingleFlight(t *testing.T) {
	s := clientdoctest.NewServer(t)
	release := make(chan struct{})
	id := s.Handle("/slow.json", func(w http.ResponseWriter, req *http.Request) {
		<-release
		doc("max-age=60")(w, req)
	})
	r, _ := newTestResolver(s, true)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := r.Client(context.Background(), id)
			errs <- err
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Count("/slow.json") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue behind the fetch
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count("/slow.json"); n != 1 {
		t.Errorf("20 concurrent lookups fetched %d times", n)
	}
}

// TestResolverRevalidation: a stale document whose background fetch fails
// on the way (503) is kept and not tried again before the shortest
// lifetime has passed; one whose fetch is refused (404) is dropped, and the
// next lookup fails.
func TestResolverRevalidation(t *testing.T) {
	s := clientdoctest.NewServer(t)
	id := s.Handle("/client.json", doc("max-age=120"))
	r, clk := newTestResolver(s, true)
	ctx := context.Background()
	if _, err := r.Client(ctx, id); err != nil {
		t.Fatal(err)
	}
	// settled waits for the background fetch to end.
	settled := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if e, ok := r.cache.Peek(id); !ok || !e.revalidating.Load() {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("the background fetch did not end")
	}
	stale := func() {
		t.Helper()
		if c, err := r.Client(ctx, id); err != nil || c.Name != "Example App" {
			t.Fatalf("stale lookup: %+v %v", c, err)
		}
	}
	s.Handle("/client.json", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	clk.Add(121 * time.Second)
	stale()
	settled()
	stale() // within the shortest lifetime of the failure: no new fetch
	settled()
	if n := s.Count("/client.json"); n != 1 {
		t.Fatalf("%d background fetches after a 503, want 1", n)
	}
	clk.Add(61 * time.Second)
	stale()
	settled()
	if n := s.Count("/client.json"); n != 2 {
		t.Fatalf("%d background fetches a minute after the 503, want 2", n)
	}
	s.Handle("/client.json", func(w http.ResponseWriter, req *http.Request) { http.NotFound(w, req) })
	clk.Add(61 * time.Second)
	stale()
	settled()
	if _, ok := r.cache.Peek(id); ok {
		t.Fatal("a refused revalidation kept the stale document")
	}
	if _, err := r.Client(ctx, id); !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("after the refusal: %v", err)
	}
}
