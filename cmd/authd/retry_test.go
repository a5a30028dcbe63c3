package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRefreshRetryWindow: within AUTHD_REFRESH_RETRY_WINDOW a retry with the
// just-rotated refresh token by the same client gets the same successor
// tokens (no new tokens, no revocation); another client gets invalid_grant
// and revokes nothing; after the window, reuse revokes the grant.
func TestRefreshRetryWindow(t *testing.T) {
	const window = 2 * time.Second
	e := newE2E(t, func(c *Config) { c.RefreshRetryWindow = window })
	tok := e.pkceLogin()

	first := e.refresh(tok.RefreshToken)
	if first.Status != http.StatusOK {
		t.Fatalf("refresh: %v", first)
	}
	retry := e.refresh(tok.RefreshToken) // the client lost the first response
	if retry.Status != http.StatusOK {
		t.Fatalf("retry within the window: %v", retry)
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if retry.str(k) != first.str(k) {
			t.Errorf("retry returned a different %s: minted new tokens instead of the same successor", k)
		}
	}
	if retry.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("retry response Cache-Control = %q", retry.Header.Get("Cache-Control"))
	}
	if !e.active(first.str("access_token")) {
		t.Fatal("the successor access token is not active after a retry")
	}

	// Another client presenting the token inside the window: refused, and
	// nothing is revoked.
	other := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, confBasic)
	wantOAuthError(t, other, http.StatusBadRequest, "invalid_grant")
	if !e.active(first.str("access_token")) {
		t.Fatal("a foreign client's attempt inside the window revoked the grant")
	}

	// The successor keeps working and rotates normally.
	second := e.refresh(first.str("refresh_token"))
	if second.Status != http.StatusOK {
		t.Fatalf("refresh with the successor: %v", second)
	}

	// After the window, presenting a rotated token is reuse: the grant dies.
	time.Sleep(window + 300*time.Millisecond)
	late := e.refresh(first.str("refresh_token"))
	wantOAuthError(t, late, http.StatusBadRequest, "invalid_grant")
	if e.active(second.str("access_token")) {
		t.Error("reuse after the window did not revoke the grant")
	}
	if r := e.refresh(second.str("refresh_token")); r.Status != http.StatusBadRequest {
		t.Errorf("current refresh token after reuse: %v", r)
	}
}

// TestRefreshRetryWindowOff: by default a retry with the rotated token is
// reuse and revokes the grant at once.
func TestRefreshRetryWindowOff(t *testing.T) {
	e := newE2E(t)
	tok := e.pkceLogin()
	first := e.refresh(tok.RefreshToken)
	if first.Status != http.StatusOK {
		t.Fatalf("refresh: %v", first)
	}
	wantOAuthError(t, e.refresh(tok.RefreshToken), http.StatusBadRequest, "invalid_grant")
	if e.active(first.str("access_token")) {
		t.Error("without a retry window, the replay did not revoke the grant")
	}
	// Presenting a token of the revoked grant again is refused but is not
	// another reuse detection: the metric counts exactly one.
	wantOAuthError(t, e.refresh(first.str("refresh_token")), http.StatusBadRequest, "invalid_grant")
	m := e.call(http.MethodGet, "/metrics", "", "")
	if !strings.Contains(m.Raw, "\nauthd_refresh_reuse_detected_total 1\n") {
		t.Errorf("reuse metric: want exactly 1 detection in\n%s", grepLines(m.Raw, "authd_refresh_reuse"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
