package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/ratelimit"
)

func wantRateLimited(t *testing.T, what string, r apiResp, minWait int) int {
	t.Helper()
	if r.Status != http.StatusTooManyRequests || r.str("error") != "invalid_client" || !strings.Contains(r.str("error_description"), "retry after") {
		t.Errorf("%s: %v, want 429 invalid_client", what, r)
		return 0
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < minWait {
		t.Errorf("%s: Retry-After %q, want at least %d", what, r.Header.Get("Retry-After"), minWait)
	}
	return secs
}

func ccRequest(e *e2e, basic string) apiResp {
	return e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basic)
}

func TestRateLimitFailedClientAuthentication(t *testing.T) {
	e := newE2E(t, func(c *Config) {
		c.RateLimit = ratelimit.Config{Failures: 10, IPFailures: 1000, Window: time.Minute}
	})
	wrong := e2eConfID + ":wrong-secret"
	for i := 1; i <= 10; i++ {
		wantOAuthError(t, ccRequest(e, wrong), http.StatusUnauthorized, "invalid_client")
	}
	wantRateLimited(t, "11th wrong secret", ccRequest(e, wrong), 30)
	wantRateLimited(t, "right secret while blocked", ccRequest(e, confBasic), 30)
	wantRateLimited(t, "client_secret_post while blocked", e.post("/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {e2eConfID}, "client_secret": {e2eConfSecret},
	}), 30)
	wantRateLimited(t, "revocation while blocked", e.post("/oauth2/revoke", url.Values{"token": {"x"}}, confBasic), 30)

	// Other clients are not affected.
	if r := ccRequest(e, rsBasic); r.Status != http.StatusOK {
		t.Errorf("another client while the first is blocked: %v", r)
	}
	if r := e.refresh("garbage"); r.Status == http.StatusTooManyRequests {
		t.Errorf("public client throttled: %v", r)
	}

	// Redis: counters under the App's prefix, each with a TTL, and no
	// client id in any key.
	rdb := redisFor(t, e)
	keys, err := rdb.Keys(e.ctx, e.srv.App.Config.RedisPrefix+"rl:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("rate limit keys: %v %v", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(k, e2eConfID) || strings.Contains(k, "127.0.0.1") {
			t.Errorf("key %q names the client or address", k)
		}
		if ttl := rdb.PTTL(e.ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %q has no TTL (%v)", k, ttl)
		}
	}
}

// TestRateLimitWindowAndBackoff: with a short window, the block ends when
// the window has passed; failures that continue get a block twice as long.
func TestRateLimitWindowAndBackoff(t *testing.T) {
	const window = 3 * time.Second
	e := newE2E(t, func(c *Config) {
		c.RateLimit = ratelimit.Config{Failures: 3, IPFailures: 1000, Window: window, MaxWindow: 30 * time.Second}
	})
	wrong := e2eConfID + ":wrong-secret"
	for i := 1; i <= 3; i++ {
		wantOAuthError(t, ccRequest(e, wrong), http.StatusUnauthorized, "invalid_client")
	}
	secs := wantRateLimited(t, "4th attempt", ccRequest(e, confBasic), 1)
	if secs > int(window/time.Second) {
		t.Errorf("first block: Retry-After %d, want at most %v", secs, window)
	}
	time.Sleep(time.Duration(secs)*time.Second + 100*time.Millisecond)
	if r := ccRequest(e, confBasic); r.Status != http.StatusOK {
		t.Fatalf("right secret after the block: %v", r)
	}
	for i := 1; i <= 3; i++ {
		wantOAuthError(t, ccRequest(e, wrong), http.StatusUnauthorized, "invalid_client")
	}
	secs = wantRateLimited(t, "second block", ccRequest(e, confBasic), int(2*window/time.Second)-1)
	t.Logf("first block %v, second block: Retry-After %ds", window, secs)
}

// redisFor is a client on the Redis the test server uses.
func redisFor(t *testing.T, e *e2e) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(e.srv.App.Config.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRateLimitPerIP(t *testing.T) {
	e := newE2E(t, func(c *Config) {
		c.RateLimit = ratelimit.Config{Failures: 100, IPFailures: 5, Window: time.Minute}
	})
	// Five failures, each for a different (unknown) client: the address is
	// blocked, for every client.
	for i := 0; i < 5; i++ {
		wantOAuthError(t, ccRequest(e, "nobody"+strconv.Itoa(i)+":x"), http.StatusUnauthorized, "invalid_client")
	}
	wantRateLimited(t, "good client from a blocked address", ccRequest(e, rsBasic), 1)
	wantRateLimited(t, "introspection from a blocked address", e.post("/oauth2/introspect", url.Values{"token": {"x"}}, rsBasic), 1)
}

func TestRateLimitSuccessNeverThrottled(t *testing.T) {
	e := newE2E(t, func(c *Config) {
		c.RateLimit = ratelimit.Config{Failures: 2, IPFailures: 2, Window: time.Minute}
	})
	tok := e.pkceLogin()
	for i := 0; i < 200; i++ {
		var r apiResp
		switch i % 3 {
		case 0:
			r = ccRequest(e, confBasic)
		case 1:
			r = e.post("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, rsBasic)
		case 2:
			r = e.refresh(tok.RefreshToken)
			tok.RefreshToken, tok.AccessToken = r.str("refresh_token"), r.str("access_token")
		}
		if r.Status != http.StatusOK {
			t.Fatalf("request %d: %v", i, r)
		}
	}
}

func TestRateLimitLogin(t *testing.T) {
	e := newE2E(t, func(c *Config) {
		c.RateLimit = ratelimit.Config{Failures: 3, IPFailures: 100, Window: time.Minute}
	})
	e.srv.addUser(t, "bob", "bob-password-0123")
	b := e.newBrowser()
	attempt := func(user, password string) page {
		t.Helper()
		f := onlyForm(t, b.get(e.srv.URL+"/login"))
		return b.post(e.srv.URL+"/login", url.Values{
			"username": {user}, "password": {password}, "next": {f.Inputs["next"]}, "csrf_token": {csrfToken(t, f)},
		})
	}
	for i := 0; i < 3; i++ {
		if p := attempt(e2eUser, "wrong"); p.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, p.Status)
		}
	}
	p := attempt(e2eUser, e2ePassword)
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Too many failed sign-in attempts") ||
		!strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") || p.Header.Get("Retry-After") == "" {
		t.Errorf("right password after 3 failures: %d %s %.300s", p.Status, p.Header, p.Body)
	}
	if p.Header.Get("Set-Cookie") != "" && strings.Contains(p.Header.Get("Set-Cookie"), "authd_session") {
		t.Error("a blocked sign-in started a session")
	}
	// Case does not dodge the limit; another user is not affected.
	if p := attempt(strings.ToUpper(e2eUser), e2ePassword); p.Status != http.StatusTooManyRequests {
		t.Errorf("upper-cased username: %d", p.Status)
	}
	if p := attempt("bob", "bob-password-0123"); p.Status != http.StatusSeeOther {
		t.Errorf("another user: %d %.300s", p.Status, p.Body)
	}
}

// TestRateLimitConfigFromEnv: the AUTHD_RATE_LIMIT_* variables.
func TestRateLimitConfigFromEnv(t *testing.T) {
	t.Setenv("AUTHD_SECRET", "test-secret-test-secret-test-secret-0123456789")
	t.Setenv("AUTHD_RATE_LIMIT_FAILURES", "5")
	t.Setenv("AUTHD_RATE_LIMIT_IP_FAILURES", "20")
	t.Setenv("AUTHD_RATE_LIMIT_WINDOW", "30s")
	t.Setenv("AUTHD_RATE_LIMIT_MAX_WINDOW", "2h")
	c, err := envConfig()
	if err != nil {
		t.Fatal(err)
	}
	if want := (ratelimit.Config{Failures: 5, IPFailures: 20, Window: 30 * time.Second, MaxWindow: 2 * time.Hour}); c.RateLimit != want {
		t.Errorf("RateLimit = %+v, want %+v", c.RateLimit, want)
	}
	t.Setenv("AUTHD_RATE_LIMIT_FAILURES", "0")
	if c, _ := envConfig(); c.RateLimit.Failures >= 0 {
		t.Errorf("AUTHD_RATE_LIMIT_FAILURES=0 should disable the limiter: %+v", c.RateLimit)
	}
	t.Setenv("AUTHD_RATE_LIMIT_FAILURES", "many")
	if _, err := envConfig(); err == nil {
		t.Error("AUTHD_RATE_LIMIT_FAILURES=many accepted")
	}
}
