package registration

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/authd/authd/clients"
	"github.com/authd/authd/storage"
)

// fakeClients creates what it is given (the service's behaviour is tested
// in package clients and end to end).
type fakeClients struct{ created []storage.Client }

func (f *fakeClients) Create(_ context.Context, n clients.New) (clients.Created, error) {
	f.created = append(f.created, n.Client)
	return clients.Created{Client: n.Client, Secret: "s"}, nil
}
func (f *fakeClients) Get(context.Context, string) (*storage.Client, error) {
	return nil, storage.ErrNotFound
}
func (f *fakeClients) Update(context.Context, string, storage.ClientUpdate) (*storage.Client, error) {
	return nil, storage.ErrNotFound
}
func (f *fakeClients) Delete(context.Context, string) error { return nil }

type fakeTokens struct{}

func (fakeTokens) RegistrationTokenHash(context.Context, string) ([]byte, error) {
	return nil, storage.ErrNotFound
}

// fakeLimit answers every Take with ok and err.
type fakeLimit struct {
	ok  bool
	err error
}

func (f fakeLimit) Take(context.Context, string) (bool, time.Duration, error) {
	return f.ok, 90 * time.Second, f.err
}

func serve(a *API, method, path, token, body string) *httptest.ResponseRecorder {
	r := mux.NewRouter()
	a.Mount(r)
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func newAPI(mode Mode, limit Limiter) (*API, *fakeClients) {
	fc := &fakeClients{}
	return &API{Mode: mode, InitialToken: strings.Repeat("t", 32), Issuer: "https://id.example", Clients: fc,
		Tokens: fakeTokens{}, Limit: limit, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, fc
}

const meta = `{"redirect_uris":["https://app.example/cb"]}`

// TestAnswers: the answers that need no store: Off mounts nothing and
// advertises nothing; token mode's 401s; the self-registration policy;
// the source limit's 429 and, when it cannot count, 503.
func TestAnswers(t *testing.T) {
	off, _ := newAPI(Off, nil)
	if w := serve(off, http.MethodPost, Path, "", meta); w.Code != http.StatusNotFound || Endpoint("https://id.example", Off) != "" {
		t.Errorf("off: %d", w.Code)
	}
	tok, fc := newAPI(Token, fakeLimit{ok: true})
	for _, bad := range []string{"", strings.Repeat("t", 31), strings.Repeat("t", 33), strings.Repeat("u", 32)} {
		if w := serve(tok, http.MethodPost, Path, bad, meta); w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("token %q: %d %q", bad, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if w := serve(tok, http.MethodPost, Path, strings.Repeat("t", 32), meta); w.Code != http.StatusCreated || len(fc.created) != 1 ||
		!strings.Contains(w.Body.String(), `"registration_client_uri":"https://id.example/oauth2/register/`+fc.created[0].ID+`"`) {
		t.Errorf("register: %d %s", w.Code, w.Body)
	}
	open, fc := newAPI(Open, fakeLimit{ok: true})
	for _, body := range []string{`{"grant_types":["client_credentials"]}`, `{"grant_types":["client_credentials"],"introspect":true}`,
		`{"redirect_uris":["https://app.example/cb"],"resource":"https://api.example/"}`,
		`{"redirect_uris":["https://app.example/cb"],"backchannel_logout_uri":"https://app.example/bcl"}`,
		`{"redirect_uris":["https://app.example/cb"],"client_name":"` + strings.Repeat("n", maxName+1) + `"}`,
		`{"token_endpoint_auth_method":"private_key_jwt","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"],"jwks_uri":"https://k.example"}`} {
		if w := serve(open, http.MethodPost, Path, "", body); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid_client_metadata") {
			t.Errorf("%s: %d %s", body, w.Code, w.Body)
		}
	}
	if len(fc.created) != 0 {
		t.Errorf("refused registrations created %d clients", len(fc.created))
	}
	limited, _ := newAPI(Open, fakeLimit{ok: false})
	if w := serve(limited, http.MethodPost, Path, "", meta); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "90" {
		t.Errorf("over the limit: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	down, _ := newAPI(Open, fakeLimit{err: errors.New("redis down")})
	if w := serve(down, http.MethodPost, Path, "", meta); w.Code != http.StatusServiceUnavailable {
		t.Errorf("limiter down: %d", w.Code)
	}
	if w := serve(open, http.MethodGet, Path+"/someone", "guess", ""); w.Code != http.StatusUnauthorized ||
		!strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("managing an unknown client: %d", w.Code)
	}
}

// TestCORS: a browser app on any origin may register and manage its
// registration (no cookies are involved): preflights name the methods,
// answers carry Access-Control-Allow-Origin "*", never credentials.
func TestCORS(t *testing.T) {
	a, _ := newAPI(Open, fakeLimit{ok: true})
	r := mux.NewRouter()
	a.Mount(r)
	do := func(method, path string, hdr map[string]string, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	for path, methods := range map[string]string{Path: "POST", Path + "/some-client": "GET, PUT, DELETE"} {
		w := do(http.MethodOptions, path, map[string]string{"Origin": "https://mcp.example", "Access-Control-Request-Method": "POST"}, "")
		if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "*" ||
			w.Header().Get("Access-Control-Allow-Methods") != methods || w.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight %s: %d %v", path, w.Code, w.Header())
		}
	}
	w := do(http.MethodPost, Path, map[string]string{"Origin": "https://mcp.example", "Content-Type": "application/json"}, meta)
	if w.Code != http.StatusCreated || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("register cross-origin: %d %v", w.Code, w.Header())
	}
	w = do(http.MethodGet, Path+"/some-client", map[string]string{"Origin": "https://mcp.example"}, "")
	if w.Code != http.StatusUnauthorized || w.Header().Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("read without token cross-origin: %d %v", w.Code, w.Header())
	}
}
