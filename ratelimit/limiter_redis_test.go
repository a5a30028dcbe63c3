package ratelimit_test

import (
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
