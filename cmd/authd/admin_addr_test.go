package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/storage/storagetest"
)

// freeAddr is a loopback address nothing listens on (just now).
func freeAddr(t *testing.T) string {
	t.Helper()
	l := testListener(t)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// getStatus GETs u (with a bearer token when given) and returns the status
// and the start of the body.
func getStatus(t *testing.T, u, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b)
}

// TestAdminAddr: with AUTHD_ADMIN_ADDR, `authd serve` serves /metrics and
// /admin/* on that listener only (404 on the public one), and nothing else
// there.
func TestAdminAddr(t *testing.T) {
	origPct, origLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(origPct); debug.SetMemoryLimit(origLimit) })
	_, prefix := storagetest.Redis(t)
	l := testListener(t)
	cfg := testConfig(l, storagetest.Schema(t), storagetest.RedisURL(), prefix)
	l.Close()
	cfg.AdminToken, cfg.AdminAddr = devAdminToken, freeAddr(t)
	migratedDB(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	public, admin := "http://"+cfg.Addr, "http://"+cfg.AdminAddr
	waitHealthy(t, public)
	count := "/admin/subjects/nobody/grants/count"
	for _, tc := range []struct {
		base, path string
		want       int
	}{
		{public, "/metrics", http.StatusNotFound},
		{public, count, http.StatusNotFound},
		{public, "/.well-known/openid-configuration", http.StatusOK},
		{admin, "/metrics", http.StatusOK},
		{admin, count, http.StatusOK},
		{admin, "/.well-known/openid-configuration", http.StatusNotFound},
		{admin, "/login", http.StatusNotFound},
	} {
		if got, body := getStatus(t, tc.base+tc.path, devAdminToken); got != tc.want {
			t.Errorf("GET %s%s: %d, want %d; %.200s", tc.base, tc.path, got, tc.want, body)
		} else if tc.path == "/metrics" && got == http.StatusOK && !strings.Contains(body, "go_goroutines") {
			t.Errorf("admin /metrics: %.200s", body)
		}
	}
}

// waitHealthy polls base/healthz until it answers 200 (at most 10 s).
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not healthy within 10 s", base)
}

// TestValidateServeNewSettings: the admin listener is not the public one,
// the idle timeout is not longer than the session, and the proxy settings
// parse only what they say.
func TestValidateServeNewSettings(t *testing.T) {
	c := defaultConfig()
	c.Secret = []byte(strings.Repeat("s", 32))
	if err := c.ValidateServe(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := c
	bad.AdminAddr = c.Addr
	bad.SessionIdleTimeout = c.SessionTTL + time.Second
	err := bad.ValidateServe()
	if err == nil || !strings.Contains(err.Error(), "AUTHD_ADMIN_ADDR") || !strings.Contains(err.Error(), "AUTHD_SESSION_IDLE_TIMEOUT") {
		t.Errorf("ValidateServe: %v", err)
	}
	for name, v := range map[string]string{"AUTHD_TRUSTED_PROXIES": "10.0.0.0/8,proxy", "AUTHD_TRUSTED_PROXY_HEADER": "X-Real-IP"} {
		t.Setenv(name, v)
	}
	if _, err := envConfig(); err == nil || !strings.Contains(err.Error(), "AUTHD_TRUSTED_PROXIES") || !strings.Contains(err.Error(), "AUTHD_TRUSTED_PROXY_HEADER") {
		t.Errorf("envConfig: %v", err)
	}
	t.Setenv("AUTHD_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1")
	t.Setenv("AUTHD_TRUSTED_PROXY_HEADER", "forwarded")
	got, err := envConfig()
	if err != nil || len(got.Proxies.Nets) != 2 || got.Proxies.Header != "Forwarded" {
		t.Errorf("envConfig: %+v %v", got.Proxies, err)
	}
}
