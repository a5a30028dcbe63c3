package main

// Faults: a backend dies under a running authd, or authd itself is told to
// stop. authd must answer promptly with an honest error (503
// temporarily_unavailable, never a hang, a 500 or a false "active"), recover
// by itself when the backend comes back, and shut down gracefully on SIGTERM.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/storagetest"
)

// timed runs f and returns its response and how long it took.
func timed(f func() apiResp) (apiResp, time.Duration) {
	start := time.Now()
	r := f()
	return r, time.Since(start)
}

// wantUnavailable asserts a prompt 503 temporarily_unavailable JSON error.
// signInUnavailable signs in with the demo user while backend is down and
// wants the readable 503 page; it returns the browser, that page and how
// long the POST took.
func signInUnavailable(t *testing.T, e *e2e, backend string) (*browser, page, time.Duration) {
	t.Helper()
	b := e.newBrowser()
	p := b.get(e.srv.URL + "/login")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /login with %s down: %d", backend, p.Status)
	}
	f := onlyForm(t, p)
	start := time.Now()
	p = b.post(e.srv.URL+"/login", url.Values{
		"username": {e2eUser}, "password": {e2ePassword}, "next": {f.Inputs["next"]}, "csrf_token": {csrfToken(t, f)},
	})
	took := time.Since(start)
	t.Logf("POST /login with %s down: %d in %v", backend, p.Status, took.Round(time.Millisecond))
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "temporarily unavailable") {
		t.Errorf("POST /login with %s down: %d %.300s", backend, p.Status, p.Body)
	}
	return b, p, took
}

func wantUnavailable(t *testing.T, what string, r apiResp, took, limit time.Duration) {
	t.Helper()
	t.Logf("%s: %d in %v", what, r.Status, took.Round(time.Millisecond))
	if took > limit {
		t.Errorf("%s took %v, want under %v", what, took, limit)
	}
	if a, _ := r.JSON["active"].(bool); a {
		t.Errorf("%s answered active:true with the backend down: %s", what, r.Raw)
	}
	wantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
}

// TestFaultRedisKilled: authd on its own redis-server; SIGKILL it, check every
// token-state endpoint fails fast and honestly, restart it on the same port
// and directory, and check authd recovers without a restart and the tokens
// issued before the crash survive (appendonly).
func TestFaultRedisKilled(t *testing.T) {
	rs := startOwnRedis(t)
	e := newE2E(t, func(c *Config) { c.RedisURL = rs.URL() })
	tok := e.pkceLogin()
	cc := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, confBasic)
	if cc.Status != http.StatusOK {
		t.Fatalf("client_credentials: %v", cc)
	}
	if !e.active(tok.AccessToken) {
		t.Fatal("fresh access token inactive")
	}

	rs.Kill()
	const limit = time.Second
	for round := 0; round < 2; round++ { // the second round runs on a pool that already saw the failure
		r, d := timed(func() apiResp { return e.refresh(tok.RefreshToken) })
		wantUnavailable(t, "refresh", r, d, limit)
		r, d = timed(func() apiResp {
			return e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, confBasic)
		})
		wantUnavailable(t, "client_credentials", r, d, limit)
		r, d = timed(func() apiResp { return e.introspect503(tok.AccessToken) })
		wantUnavailable(t, "introspection", r, d, limit)
		r, d = timed(func() apiResp {
			return e.post("/oauth2/revoke", url.Values{"token": {cc.str("access_token")}}, confBasic)
		})
		wantUnavailable(t, "revocation", r, d, limit)
		r, d = timed(func() apiResp { return e.call(http.MethodGet, "/readyz", "", "") })
		t.Logf("/readyz: %d in %v: %s", r.Status, d.Round(time.Millisecond), strings.TrimSpace(r.Raw))
		if r.Status != http.StatusServiceUnavailable || r.str("redis") != "unavailable" {
			t.Errorf("/readyz with Redis down: %v", r)
		}
		if d > 3*time.Second {
			t.Errorf("/readyz took %v", d)
		}
	}

	// Sign-in needs Redis for the session: a readable 503 page, promptly.
	b, _, _ := signInUnavailable(t, e, "Redis")
	if p := b.get(e.pubConfig().AuthCodeURL(randString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); p.Status >= 500 && p.Status != http.StatusServiceUnavailable {
		t.Errorf("authorization request with Redis down: %d", p.Status)
	}

	rs.Start()
	// authd reconnects by itself: the first requests may still meet a dead
	// pooled connection (one retry covers it), so poll /readyz briefly.
	deadline := time.Now().Add(5 * time.Second)
	for e.call(http.MethodGet, "/readyz", "", "").Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("authd did not recover after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !e.active(tok.AccessToken) {
		t.Error("the access token issued before the crash did not survive the restart")
	}
	if !e.active(cc.str("access_token")) {
		t.Error("the client_credentials token issued before the crash did not survive (or a failed revocation took effect)")
	}
	r := e.refresh(tok.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh after recovery (refresh token issued before the crash): %v", r)
	}
	if !e.active(r.str("access_token")) || e.active(tok.AccessToken) {
		t.Error("after recovery the refresh must rotate as usual")
	}
}

// TestFaultRedisHung: a Redis that accepts connections but never answers
// (SIGSTOP) must not hang authd either: the 500 ms read timeout turns into a
// 503 within about a second.
func TestFaultRedisHung(t *testing.T) {
	rs := startOwnRedis(t)
	e := newE2E(t, func(c *Config) { c.RedisURL = rs.URL() })
	tok := e.pkceLogin()
	if err := rs.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.cmd.Process.Signal(syscall.SIGCONT) }()
	// Reads time out after 500 ms; go-redis retries once, so the budget is
	// about 1 s plus scheduling (and the rate limiter waits at most 500 ms).
	const limit = 3 * time.Second // generous: the suite runs in parallel on small machines
	r, d := timed(func() apiResp { return e.refresh(tok.RefreshToken) })
	wantUnavailable(t, "refresh (Redis stopped)", r, d, limit)
	r, d = timed(func() apiResp { return e.introspect503(tok.AccessToken) })
	wantUnavailable(t, "introspection (Redis stopped)", r, d, limit)
	r, d = timed(func() apiResp {
		return e.post("/oauth2/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {e2ePubID}})
	})
	wantUnavailable(t, "revocation (Redis stopped)", r, d, limit)

	if err := rs.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.call(http.MethodGet, "/readyz", "", "").Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("authd did not recover after Redis resumed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A request that timed out may or may not have reached Redis before it
	// stopped; either way the grant is in a consistent state now: the
	// original refresh token works, or it was rotated/revoked and is refused
	// as invalid_grant; never a 5xx.
	if r := e.refresh(tok.RefreshToken); r.Status != http.StatusOK {
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		t.Logf("refresh after resume: %v (a timed-out request had reached Redis)", r)
	}
}

// TestFaultPostgresDown: with Postgres gone, everything that needs only Redis
// and the client cache keeps working (refresh, introspection); what needs
// Postgres fails with a clear error, never a 500 or a hang.
func TestFaultPostgresDown(t *testing.T) {
	pg := startOwnPostgres(t)
	e := newE2E(t, func(c *Config) {
		c.DatabaseURL = pg.URL()
		c.ClientCacheTTL = time.Hour // the cache is what carries us through
	})
	e.srv.addClient(t, storage.Client{ID: "uncached", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}}, "uncached-secret-0123456789abcdef")
	tok := e.pkceLogin()
	if !e.active(tok.AccessToken) { // caches the resource server's client
		t.Fatal("fresh access token inactive")
	}
	code := e.confCode(e.newBrowser(), "openid", "offline_access") // redeemed after Postgres is gone

	pg.Stop()

	// Refresh and introspection: Redis and the cache only.
	r, d := timed(func() apiResp { return e.refresh(tok.RefreshToken) })
	t.Logf("refresh with Postgres down: %d in %v", r.Status, d.Round(time.Millisecond))
	if r.Status != http.StatusOK {
		t.Fatalf("refresh with Postgres down: %v", r)
	}
	r2, d := timed(func() apiResp { return e.introspect503(r.str("access_token")) })
	t.Logf("introspection with Postgres down: %d in %v", r2.Status, d.Round(time.Millisecond))
	if a, _ := r2.JSON["active"].(bool); r2.Status != http.StatusOK || !a {
		t.Errorf("introspection with Postgres down: %v", r2)
	}
	r3 := e.refresh(r.str("refresh_token"))
	if r3.Status != http.StatusOK {
		t.Errorf("second refresh with Postgres down: %v", r3)
	}

	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+r3.str("access_token"))
	if resp, err := e.hc.Do(req); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("userinfo with Postgres down: %d", resp.StatusCode)
		}
	}

	// A code exchange writes the grant's row: 503, and the code is not
	// burnt by the failure... or if it is, it fails closed.
	r, d = timed(func() apiResp {
		return e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e2eRedirect}}, confBasic)
	})
	wantUnavailable(t, "code exchange", r, d, 3*time.Second)

	// A client not in the cache: the lookup fails; 503, not 500.
	r, d = timed(func() apiResp {
		return e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, "uncached:uncached-secret-0123456789abcdef")
	})
	wantUnavailable(t, "client_credentials for an uncached client", r, d, 3*time.Second)

	// Sign-in needs the users table: a readable 503 page.
	_, p, took := signInUnavailable(t, e, "Postgres")
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("login error page Content-Type %q", ct)
	}
	if took > 3*time.Second {
		t.Errorf("POST /login took %v", took)
	}
	if r := e.call(http.MethodGet, "/readyz", "", ""); r.Status != http.StatusServiceUnavailable || r.str("postgres") != "unavailable" {
		t.Errorf("/readyz with Postgres down: %v", r)
	}
}

// TestFaultSIGTERM: the real binary, `authd serve`, stops gracefully on
// SIGTERM: a request already in flight completes, the process exits 0 within
// a few seconds and the port is closed.
func TestFaultSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "authd")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	schema := storagetest.Schema(t)
	_, prefix := storagetest.Redis(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, storagetest.PostgresURL(), postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	addr := fmt.Sprintf("127.0.0.1:%d", storagetest.FreePort(t))
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"AUTHD_ADDR="+addr, "AUTHD_ISSUER=http://"+addr,
		"AUTHD_SECRET=test-secret-test-secret-test-secret-0123456789",
		"AUTHD_REDIS_URL="+storagetest.RedisURL(), "AUTHD_REDIS_PREFIX="+prefix,
		"AUTHD_DATABASE_URL="+storagetest.PostgresURL(), "AUTHD_DATABASE_SCHEMA="+schema,
		"AUTHD_LOG_LEVEL=info",
	)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("authd serve did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A request in flight: headers and half the body sent, the rest after
	// SIGTERM. Graceful shutdown must wait for it and answer it.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "grant_type=client_credentials&client_id=nobody&client_secret=wrong-secret"
	fmt.Fprintf(conn, "POST /oauth2/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:10])
	time.Sleep(100 * time.Millisecond) // let the server start reading the request

	sigAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-exited:
		t.Fatalf("authd exited (%v) before the in-flight request completed\n%s", err, logs.String())
	default:
	}
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatalf("finish the in-flight request: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request got no response: %v", err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("in-flight request answered %d %s during shutdown", resp.StatusCode, strings.TrimSpace(string(rb)))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(rb), "invalid_client") {
		t.Errorf("in-flight request: %d %s", resp.StatusCode, rb)
	}

	select {
	case err := <-exited:
		t.Logf("exited %v after SIGTERM", time.Since(sigAt).Round(time.Millisecond))
		if err != nil {
			t.Errorf("authd serve exited with %v after SIGTERM, want 0\n%s", err, logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("authd serve still running 5s after SIGTERM\n%s", logs.String())
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the port still accepts connections after exit")
	}
}

// TestFaultRedisKilledUnderLoad: Redis dies and comes back while clients
// keep refreshing and introspecting. Every answer is a 200, an honest 4xx or
// a 503 temporarily_unavailable, promptly; none hangs, none is a 500; and
// authd serves again once Redis is back.
func TestFaultRedisKilledUnderLoad(t *testing.T) {
	rs := startOwnRedis(t)
	e := newE2E(t, func(c *Config) { c.RedisURL = rs.URL() })
	hc := raceClient()
	const workers = 6
	toks := make([]string, workers)
	b := e.newBrowser()
	for i := range toks {
		toks[i] = freshGrant(t, e, b).RefreshToken
	}
	stop := make(chan struct{})
	type result struct {
		r   apiResp
		d   time.Duration
		end time.Time
	}
	results := make(chan result, 100000)
	done := make(chan struct{})
	for i := 0; i < workers; i++ {
		go func(i int) {
			defer func() { done <- struct{}{} }()
			rt := toks[i]
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				r := racePost(hc, e.srv.URL, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {e2ePubID}}, "")
				results <- result{r, time.Since(start), time.Now()}
				if r.Status == http.StatusOK {
					rt = r.str("refresh_token")
					start = time.Now()
					ir := racePost(hc, e.srv.URL, "/oauth2/introspect", url.Values{"token": {r.str("access_token")}}, rsBasic)
					results <- result{ir, time.Since(start), time.Now()}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}(i)
	}
	time.Sleep(300 * time.Millisecond)
	rs.Kill()
	time.Sleep(700 * time.Millisecond)
	rs.Start()
	restarted := time.Now()
	time.Sleep(700 * time.Millisecond)
	close(stop)
	for i := 0; i < workers; i++ {
		<-done
	}
	close(results)
	counts := map[string]int{}
	var slowest time.Duration
	okAfterRestart := 0
	for res := range results {
		r := res.r
		key := strconv.Itoa(r.Status) + " " + r.str("error")
		counts[key]++
		if res.d > slowest {
			slowest = res.d
		}
		switch {
		case r.Status == http.StatusOK:
			if res.end.After(restarted) {
				okAfterRestart++
			}
		case r.Status == http.StatusBadRequest && r.str("error") == "invalid_grant":
		case r.Status == http.StatusServiceUnavailable && r.str("error") == "temporarily_unavailable":
		default:
			t.Errorf("unexpected answer during the outage: %v", r)
		}
		if res.d > 2*time.Second {
			t.Errorf("an answer took %v", res.d)
		}
	}
	t.Logf("answers: %v; slowest %v; %d successes after the restart", counts, slowest.Round(time.Millisecond), okAfterRestart)
	// A refresh interrupted between its rotation and the new tokens leaves
	// its grant dead (invalid_grant afterwards): that session must sign in
	// again. Fresh grants work as soon as Redis is back.
	if r := e.refresh(freshGrant(t, e, b).RefreshToken); r.Status != http.StatusOK {
		t.Errorf("a new grant after the restart: %v", r)
	}
}
