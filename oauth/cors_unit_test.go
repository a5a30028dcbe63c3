package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

func TestCORSClientAllowsOrigin(t *testing.T) {
	c := &storage.Client{ID: "spa",
		RedirectURIs: []string{"https://spa.example/cb", "com.example.app:/cb", "http://127.0.0.1:8080/cb"},
		CORSOrigins:  []string{"https://other.example"}}
	for origin, want := range map[string]bool{
		"https://spa.example":    true,
		"https://other.example":  true,
		"http://127.0.0.1:8080":  true,
		"http://127.0.0.1:8081":  false, // a loopback origin is exact, port included
		"http://spa.example":     false,
		"https://evil.example":   false,
		"https://spa.example.ev": false,
		"":                       false,
	} {
		if got := clientAllowsOrigin(c, origin); got != want {
			t.Errorf("clientAllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
	if clientAllowsOrigin(nil, "https://spa.example") {
		t.Error("a nil client allows an origin")
	}
}

// mapClients is the oauth.Clients of a map.
type mapClients map[string]*fositestore.Client

func (m mapClients) Get(_ context.Context, id string) (*fositestore.Client, error) {
	if c, ok := m[id]; ok {
		return c, nil
	}
	return nil, storage.ErrNotFound
}

func corsTestServer(t *testing.T) *Server {
	t.Helper()
	c, err := fositestore.NewClient(storage.Client{ID: "spa", Public: true, RedirectURIs: []string{"https://spa.example/cb"},
		CORSOrigins: []string{"http://localhost:5173"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := fositestore.NewClient(storage.Client{ID: "other", RedirectURIs: []string{"https://other.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	return &Server{clients: mapClients{"spa": c, "other": other}}
}

func TestCORSFormClient(t *testing.T) {
	s := corsTestServer(t)
	served := 0
	h := s.corsFormClient(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	do := func(origin string, form url.Values, basicID string) string {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", origin)
		if basicID != "" {
			r.SetBasicAuth(url.QueryEscape(basicID), "secret")
		}
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if !strings.Contains(w.Header().Get("Vary"), "Origin") {
			t.Errorf("no Vary: Origin for origin %q", origin)
		}
		return w.Header().Get("Access-Control-Allow-Origin")
	}
	spa := url.Values{"client_id": {"spa"}}
	cases := []struct {
		origin string
		form   url.Values
		basic  string
		want   string
	}{
		{"https://spa.example", spa, "", "https://spa.example"},
		{"http://localhost:5173", spa, "", "http://localhost:5173"},
		{"https://evil.example", spa, "", ""},
		{"https://other.example", spa, "", ""},
		{"https://other.example", nil, "other", "https://other.example"},
		{"https://spa.example", nil, "other", ""},                            // Basic names the client, not the form
		{"https://spa.example", url.Values{"client_id": {"nobody"}}, "", ""}, // unknown client
		{"https://spa.example", nil, "", ""},                                 // no client named
	}
	for _, c := range cases {
		if got := do(c.origin, c.form, c.basic); got != c.want {
			t.Errorf("origin %q form %v basic %q: Access-Control-Allow-Origin %q, want %q", c.origin, c.form, c.basic, got, c.want)
		}
	}
	if served != len(cases) {
		t.Errorf("handler ran %d times, want %d: CORS never refuses the request itself", served, len(cases))
	}
}

func TestCORSTokenClient(t *testing.T) {
	s := corsTestServer(t)
	spa, _ := s.clients.Get(context.Background(), "spa")
	run := func(wrap bool, origin string, client fosite.Client) string {
		h := func(w http.ResponseWriter, r *http.Request) { s.allowTokenClientOrigin(w, r, client) }
		if wrap {
			h = corsTokenClient(h)
		}
		r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		h(w, r)
		return w.Header().Get("Access-Control-Allow-Origin")
	}
	if got := run(true, "https://spa.example", spa); got != "https://spa.example" {
		t.Errorf("token client's origin: %q", got)
	}
	if got := run(true, "https://spa.example", &fosite.DefaultClient{ID: "spa"}); got != "https://spa.example" {
		t.Errorf("token client's origin, client looked up by id: %q", got)
	}
	if got := run(true, "https://evil.example", spa); got != "" {
		t.Errorf("unrelated origin: %q", got)
	}
	if got := run(false, "https://spa.example", spa); got != "" {
		t.Errorf("a route without corsTokenClient (the account API) got CORS: %q", got)
	}
}
