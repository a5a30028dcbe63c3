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
	body := url.Values{"token": {tok}}.Encode()
	h := e.srv.App.Handler
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/introspect", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("rs-generated", rsSecret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"active":true`) {
			b.Fatalf("introspect: %d %s", rec.Code, rec.Body.String())
		}
	}
}

// BenchmarkClientCredentialsHandler measures authd's own cost of one
// client_credentials token (client authentication with an authd-generated
// secret, issuance, the Redis write), in process.
func BenchmarkClientCredentialsHandler(b *testing.B) {
	e := newE2E(b)
	secret := storage.GenerateClientSecret()
	e.srv.addClient(b, storage.Client{ID: "svc-generated", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}}, secret)
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}.Encode()
	h := e.srv.App.Handler
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc-generated", secret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"access_token"`) {
			b.Fatalf("token: %d %s", rec.Code, rec.Body.String())
		}
	}
}
