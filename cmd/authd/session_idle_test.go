package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// signedIn reports whether the browser's GET /login shows the signed-in
// page (a page view that uses the login session).
func (b *browser) signedIn() bool {
	b.t.Helper()
	p := b.get(b.e.srv.URL + "/login")
	if p.Status != http.StatusOK {
		b.t.Fatalf("GET /login: %d", p.Status)
	}
	return !strings.Contains(p.Body, `name="password"`)
}

// TestSessionIdleTimeout: a sign-in not used for AUTHD_SESSION_IDLE_TIMEOUT
// ends; one in use stays signed in, but not past AUTHD_SESSION_TTL.
func TestSessionIdleTimeout(t *testing.T) {
	const idle, ttl = 1200 * time.Millisecond, 4 * time.Second
	e := newE2E(t, func(c *Config) { c.SessionIdleTimeout, c.SessionTTL = idle, ttl })
	idleB, activeB := e.newBrowser(), e.newBrowser()
	start := time.Now()
	for _, b := range []*browser{idleB, activeB} {
		b.login(b.get(e.srv.URL + "/login"))
		if !b.signedIn() {
			t.Fatal("not signed in after signing in")
		}
	}
	// The active browser uses its session every 300 ms until the absolute
	// end; the idle one is looked at once, after the idle timeout.
	for time.Since(start) < ttl-500*time.Millisecond {
		if !activeB.signedIn() {
			t.Fatalf("active session ended after %v, before the absolute end (%v)", time.Since(start), ttl)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if idleB.signedIn() {
		t.Errorf("idle session still signed in after %v (idle timeout %v)", time.Since(start), idle)
	}
	time.Sleep(time.Until(start.Add(ttl + 700*time.Millisecond)))
	if activeB.signedIn() {
		t.Errorf("active session still signed in after %v, past the absolute end (%v)", time.Since(start), ttl)
	}
}
