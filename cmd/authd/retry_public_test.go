package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestRefreshRetryWindowPublicClientBoundToAddress: a public client proves
// nothing but its client_id, so the refresh retry window answers its retry
// only from the address the refresh came from. A replay of the just-rotated
// token from another machine gets invalid_grant (not the successor, nothing
// revoked); the retry from the client's own address still gets the very same
// successor.
func TestRefreshRetryWindowPublicClientBoundToAddress(t *testing.T) {
	e := newE2E(t, func(c *Config) { c.RefreshRetryWindow = 5 * time.Second })
	tok := e.pkceLogin()
	first := e.refresh(tok.RefreshToken) // from 127.0.0.1
	if first.Status != http.StatusOK {
		t.Fatalf("refresh: %v", first)
	}

	res, err := clientFrom("127.0.0.2").PostForm(e.srv.URL+"/oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {e2ePubID},
	})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || body["access_token"] != nil {
		t.Fatalf("retry from another address: %d %v, want 400 invalid_grant and no tokens", res.StatusCode, body)
	}
	if !e.active(first.str("access_token")) {
		t.Fatal("the replay from another address revoked the grant")
	}

	retry := e.refresh(tok.RefreshToken) // the client itself, again from 127.0.0.1
	if retry.Status != http.StatusOK || retry.str("refresh_token") != first.str("refresh_token") {
		t.Fatalf("retry from the client's own address: %v, want the same successor", retry)
	}
}
