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
