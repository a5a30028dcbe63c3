package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authd/authd/storage"
)

// BenchmarkIntrospectHandler measures authd's own cost of one introspection
// (client authentication, Redis lookup, response), in process: no network
// stack or load generator in the numbers.
func BenchmarkIntrospectHandler(b *testing.B) {
	e := newE2E(b)
	tok := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, confBasic).str("access_token")
	if tok == "" {
		b.Fatal("no token")
	}
	// A resource server with an authd-generated secret (the fast hash), as
	// `authd clients create` makes by default.
	rsSecret := storage.GenerateClientSecret()
	e.srv.addClient(b, storage.Client{ID: "rs-generated", GrantTypes: []string{"client_credentials"}, Introspect: true}, rsSecret)
	benchHandler(b, e, "/oauth2/introspect", url.Values{"token": {tok}}, "rs-generated", rsSecret, `"active":true`)
}

// BenchmarkClientCredentialsHandler measures authd's own cost of one
// client_credentials token (client authentication with an authd-generated
// secret, issuance, the Redis write), in process.
func BenchmarkClientCredentialsHandler(b *testing.B) {
	e := newE2E(b)
	secret := storage.GenerateClientSecret()
	e.srv.addClient(b, storage.Client{ID: "svc-generated", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}}, secret)
	benchHandler(b, e, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, "svc-generated", secret, `"access_token"`)
}

// benchHandler POSTs form to path b.N times straight into the app's
// handler, authenticated as client id with secret, and fails unless every
// answer is 200 and contains want.
func benchHandler(b *testing.B, e *e2e, path string, form url.Values, id, secret, want string) {
	body := form.Encode()
	h := e.srv.App.Handler
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
}
