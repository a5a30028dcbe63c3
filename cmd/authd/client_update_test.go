package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// cliSecret is the secret a clients create or rotate-secret printed.
func cliSecret(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(l, "client_secret: "); ok {
			return s
		}
	}
	t.Fatalf("no client_secret in %q", out)
	return ""
}

// ccStatus is the status of a client_credentials request as basic.
func ccStatus(t *testing.T, e *e2e, basic string) int {
	t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, basic).Status
}

// TestRotateSecretOverlap: `clients rotate-secret --overlap` prints a new
// secret once; during the overlap the old and the new secret both
// authenticate, after it only the new one. Public and private_key_jwt
// clients have no secret to rotate.
func TestRotateSecretOverlap(t *testing.T) {
	e := newE2E(t, shortClientCache)
	const oldSecret = "rot-svc-secret-0123456789abcdef" // operator-chosen: argon2id
	if out, err := cli(t, e.srv, "clients", "create", "--id", "rot-svc", "--secret", oldSecret,
		"--grant-types", "client_credentials", "--scopes", "api:read"); err != nil {
		t.Fatalf("clients create: %v %s", err, out)
	}
	if ccStatus(t, e, "rot-svc:"+oldSecret) != http.StatusOK { // cached now, with the old secret only
		t.Fatal("the secret does not work before the rotation")
	}
	const overlap = 2 * time.Second
	out, err := cli(t, e.srv, "clients", "rotate-secret", "--id", "rot-svc", "--overlap", overlap.String())
	rotated := time.Now()
	if err != nil {
		t.Fatalf("rotate-secret: %v %s", err, out)
	}
	newSecret := cliSecret(t, out)
	if newSecret == oldSecret || strings.Count(out, newSecret) != 1 {
		t.Fatalf("rotate-secret output: %q", out)
	}
	time.Sleep(2 * lifecycleCacheTTL) // the cached copy has the new secret now
	if got := ccStatus(t, e, "rot-svc:"+newSecret); got != http.StatusOK {
		t.Errorf("new secret during the overlap: %d", got)
	}
	if got := ccStatus(t, e, "rot-svc:"+oldSecret); got != http.StatusOK {
		t.Errorf("old secret during the overlap: %d", got)
	}
	time.Sleep(time.Until(rotated.Add(overlap + 2*lifecycleCacheTTL)))
	if got := ccStatus(t, e, "rot-svc:"+oldSecret); got != http.StatusUnauthorized {
		t.Errorf("old secret after the overlap: %d, want 401", got)
	}
	if got := ccStatus(t, e, "rot-svc:"+newSecret); got != http.StatusOK {
		t.Errorf("new secret after the overlap: %d", got)
	}
	// Without --overlap the old secret ends at once.
	out, err = cli(t, e.srv, "clients", "rotate-secret", "--id", "rot-svc")
	if err != nil {
		t.Fatalf("rotate-secret: %v %s", err, out)
	}
	third := cliSecret(t, out)
	time.Sleep(2 * lifecycleCacheTTL)
	if ccStatus(t, e, "rot-svc:"+newSecret) != http.StatusUnauthorized || ccStatus(t, e, "rot-svc:"+third) != http.StatusOK {
		t.Error("a rotation without overlap: the replaced secret must stop, the new one work")
	}
	pkjClient(t, e, pkjID, false)
	for _, id := range []string{e2ePubID, pkjID} {
		if out, err := cli(t, e.srv, "clients", "rotate-secret", "--id", id); err == nil || strings.Contains(out, "client_secret") {
			t.Errorf("rotate-secret of %s (no secret): %v %q", id, err, out)
		}
	}
	if _, err := cli(t, e.srv, "clients", "rotate-secret", "--id", "nobody"); err == nil {
		t.Error("rotate-secret of an unknown client succeeded")
	}
	if _, err := cli(t, e.srv, "clients", "rotate-secret", "--id", "rot-svc", "--overlap", "-1h"); exitCode(err) != 2 {
		t.Errorf("a negative overlap: %v, want a usage error", err)
	}
}

// clientJSONOf is the client id's element of `clients list --json`.
func clientJSONOf(t *testing.T, s *testServer, id string) map[string]any {
	t.Helper()
	out, err := cli(t, s, "clients", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []map[string]any
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c["id"] == id {
			return c
		}
	}
	t.Fatalf("client %s not listed: %s", id, out)
	return nil
}

// TestClientsUpdate: `clients update` changes what it is given, keeps the
// rest, validates like create (an invalid change changes nothing), keeps
// the client's grants and secret working, and prints with --json the
// client as `clients list --json` shows it.
func TestClientsUpdate(t *testing.T) {
	e := newE2E(t, shortClientCache)
	user := e.loginWith(e.confConfig())
	before := clientJSONOf(t, e.srv, e2eConfID)
	out, err := cli(t, e.srv, "clients", "update", "--id", e2eConfID, "--name", "Renamed",
		"--redirect-uri", e2eRedirect, "--redirect-uri", "https://app.example/cb",
		"--post-logout-redirect-uri", "https://app.example/bye", "--allowed-cors-origin", "https://app.example",
		"--scopes", "openid profile offline_access api:read api:write", "--access-token-format", "jwt", "--json")
	if err != nil {
		t.Fatalf("clients update: %v %s", err, out)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("update --json: %v %s", err, out)
	}
	after := clientJSONOf(t, e.srv, e2eConfID)
	if fmt.Sprint(got) != fmt.Sprint(after) {
		t.Errorf("update --json differs from list --json:\n%v\n%v", got, after)
	}
	want := map[string]string{
		"name": "Renamed", "redirect_uris": "[" + e2eRedirect + " https://app.example/cb]",
		"post_logout_redirect_uris": "[https://app.example/bye]", "cors_origins": "[https://app.example]",
		"scopes": "[openid profile offline_access api:read api:write]", "access_token_format": "jwt",
		"grant_types": fmt.Sprint(before["grant_types"]), "introspect": "false", "created_at": fmt.Sprint(before["created_at"]),
		"id_token_signed_response_alg": "RS256",
	}
	for k, v := range want {
		if fmt.Sprint(after[k]) != v {
			t.Errorf("after update %s = %v, want %s", k, after[k], v)
		}
	}
	time.Sleep(2 * lifecycleCacheTTL)
	// The grant and the secret are untouched; the new format applies.
	if r := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {user.RefreshToken}}, confBasic); r.Status != http.StatusOK {
		t.Errorf("refresh after update: %v", r)
	} else if !strings.HasPrefix(r.str("access_token"), "eyJ") {
		t.Errorf("access token after --access-token-format jwt: %.20s", r.str("access_token"))
	}
	if !strings.HasPrefix(ccToken(t, e.hc, e.srv.URL, confBasic, "api:write"), "eyJ") {
		t.Error("client_credentials after update: not a JWT (or the new scope refused)")
	}
	// Invalid changes are refused whole, with create's checks.
	for _, args := range [][]string{
		{"--access-token-format", "xml"}, {"--grant-types", "client_credentials"}, {"--redirect-uri", "http://evil.example/cb"},
		{"--allowed-cors-origin", "https://app.example/path"}, {"--id-token-alg", "HS256", "--name", "Half"},
	} {
		_, err := cli(t, e.srv, append([]string{"clients", "update", "--id", e2eConfID}, args...)...)
		if exitCode(err) != 2 {
			t.Errorf("update %v: %v, want a usage error", args, err)
		}
	}
	if now := clientJSONOf(t, e.srv, e2eConfID); fmt.Sprint(now) != fmt.Sprint(after) {
		t.Errorf("a refused update changed the client:\n%v\n%v", after, now)
	}
	// A list flag given once with "" clears it; booleans and the ID token
	// algorithm change; nothing else moves.
	if _, err := cli(t, e.srv, "clients", "update", "--id", e2eConfID, "--allowed-cors-origin", "", "--post-logout-redirect-uri", "",
		"--introspect", "--id-token-alg", "ES256"); err != nil {
		t.Fatal(err)
	}
	now := clientJSONOf(t, e.srv, e2eConfID)
	if fmt.Sprintf("%v %v %v %v %v", now["cors_origins"], now["post_logout_redirect_uris"], now["introspect"], now["id_token_signed_response_alg"], now["name"]) !=
		"[] [] true ES256 Renamed" {
		t.Errorf("after clearing: %v", now)
	}
	if _, err := cli(t, e.srv, "clients", "update", "--id", "nobody", "--name", "x"); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("update of an unknown client: %v", err)
	}
	if _, err := cli(t, e.srv, "clients", "update", "--id", e2eConfID); exitCode(err) != 2 {
		t.Errorf("update without a change: %v, want a usage error", err)
	}
}
