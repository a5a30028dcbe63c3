package oauth

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/authd/authd/token"
)

// TestJWTSignatureGrant: a JWT access token is keyed by its grant_id claim;
// one issued before grant_id existed (the grant in sid) keys the same way,
// and a token's sid (the browser session) never stands in for its grant.
func TestJWTSignatureGrant(t *testing.T) {
	opaque, err := token.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenStrategy{Strategy: opaque}
	jwt := func(payload string) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	now := jwt(`{"grant_id":"g1","sid":"browser-session"}`)
	old := jwt(`{"sid":"g1"}`)
	if got, want := ts.jwtSignature(now), opaque.JWTSignature("g1", now); got == "" || got != want {
		t.Errorf("grant_id token keyed %q, want %q", got, want)
	}
	if got, want := ts.jwtSignature(old), opaque.JWTSignature("g1", old); got == "" || got != want {
		t.Errorf("old token keyed %q, want %q", got, want)
	}
	if !strings.HasPrefix(ts.jwtSignature(now), "g1") {
		t.Errorf("token keyed %q, not by its grant", ts.jwtSignature(now))
	}
}
