package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/ratelimit"
	"github.com/authd/authd/storage/storagetest"
)

// clientRequest is a token request from addr with Basic id:secret, its form
// parsed (as the oauth routes do before the limiter).
func clientRequest(t testing.TB, addr, id string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr + ":1234"
	r.SetBasicAuth(id, "pw")
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	return r
}

// answering is a handler answering status, counting its calls.
func answering(status int, calls *atomic.Int64, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(d)
		w.WriteHeader(status)
	})
}

func TestLimiterPairBlockAndOtherSource(t *testing.T) {
	rdb, prefix := storagetest.Redis(t)
	l := ratelimit.New(rdb, prefix, ratelimit.Config{Failures: 3, IPFailures: 100, Window: time.Minute, MaxDelay: time.Second}, nil, nil)
	var calls atomic.Int64
	bad := l.ClientAuth(answering(http.StatusUnauthorized, &calls, 0))
	good := l.ClientAuth(answering(http.StatusOK, &calls, 0))
	serve := func(h http.Handler, addr string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, clientRequest(t, addr, "app"))
		return w.Code
	}
	for i := 0; i < 3; i++ {
		if c := serve(bad, "10.0.0.2"); c != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, c)
		}
	}
	if c := serve(good, "10.0.0.2"); c != http.StatusTooManyRequests {
		t.Fatalf("after 3 failures, same source: %d, want 429", c)
	}
	start := time.Now()
	if c := serve(good, "10.0.0.3"); c != http.StatusOK {
		t.Fatalf("another source: %d, want 200", c)
	}
	t.Logf("another source took %v (slowdown)", time.Since(start))
}

func TestLimiterBurst(t *testing.T) {
	rdb, prefix := storagetest.Redis(t)
	l := ratelimit.New(rdb, prefix, ratelimit.Config{Failures: 5, IPFailures: 100, Window: time.Minute}, nil, nil)
	var calls atomic.Int64
	bad := l.ClientAuth(answering(http.StatusUnauthorized, &calls, 20*time.Millisecond))
	var wg sync.WaitGroup
	var notLimited atomic.Int64
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			bad.ServeHTTP(w, clientRequest(t, "10.0.0.2", "app"))
			if w.Code != http.StatusTooManyRequests {
				notLimited.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := notLimited.Load(); n > 5 || calls.Load() > 5 {
		t.Fatalf("burst of 40: %d not limited, %d ran; want at most 5", n, calls.Load())
	}
}

type publicSet map[string]bool

func (p publicSet) IsPublic(_ context.Context, id string) bool { return p[id] }

// A public client presenting a secret fails against its source only: the
// client stays usable, unslowed, from another source; successes give their
// places back (sequential successes never block).
func TestLimiterPublicClientAndSuccesses(t *testing.T) {
	rdb, prefix := storagetest.Redis(t)
	l := ratelimit.New(rdb, prefix, ratelimit.Config{Failures: 2, IPFailures: 5, Window: time.Minute, MaxDelay: 3 * time.Second},
		nil, publicSet{"cli": true})
	var calls atomic.Int64
	bad := l.ClientAuth(answering(http.StatusUnauthorized, &calls, 0))
	good := l.ClientAuth(answering(http.StatusOK, &calls, 0))
	serve := func(h http.Handler, addr, id string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, clientRequest(t, addr, id))
		return w.Code
	}
	for i := 0; i < 4; i++ {
		if c := serve(bad, "10.0.0.2", "cli"); c != http.StatusUnauthorized {
			t.Fatalf("public client failure %d: %d (the pair must not block it)", i, c)
		}
	}
	start := time.Now()
	if c := serve(good, "10.0.0.3", "cli"); c != http.StatusOK || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("public client from another source: %d in %v", c, time.Since(start))
	}
	serve(bad, "10.0.0.2", "cli")
	if c := serve(good, "10.0.0.2", "other"); c != http.StatusTooManyRequests {
		t.Fatalf("the source after 5 failures: %d, want 429", c)
	}
	for i := 0; i < 20; i++ {
		if c := serve(good, "10.0.0.4", "app"); c != http.StatusOK {
			t.Fatalf("success %d: %d", i, c)
		}
		time.Sleep(time.Millisecond)
	}
}
