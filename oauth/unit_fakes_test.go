package oauth

// Fixtures of the service-free protocol tests (*_unit_test.go): fakes of
// the small interfaces, request builders and assertions. Nothing here
// dials Redis or Postgres.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// outage is an error as the stores return it when a backend is down: marked
// with storage.ErrUnavailable, the driver's cause kept in the chain.
func outage(cause error) error {
	return fmt.Errorf("%w: %w", storage.ErrUnavailable, cause)
}

// fakeClients is a fosite.Storage (fosite.ClientManager) over a map of
// authd clients; err, when set, is what every lookup returns instead.
type fakeClients struct {
	clients map[string]*fositestore.Client
	err     error
	calls   atomic.Int32
}

var _ fosite.Storage = (*fakeClients)(nil)

func (f *fakeClients) GetClient(_ context.Context, id string) (fosite.Client, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	if c, ok := f.clients[id]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("fake clients: %q: %w", id, storage.ErrNotFound)
}

func (f *fakeClients) ClientAssertionJWTValid(context.Context, string) error { return nil }

func (f *fakeClients) SetClientAssertionJWT(context.Context, string, time.Time) error { return nil }

// fakeClient is a stored authd client with secret (hashed as the CLI does;
// "" for none).
func fakeClient(t *testing.T, id, secret string, public, introspect bool) *fositestore.Client {
	t.Helper()
	c := storage.Client{ID: id, Public: public, Introspect: introspect,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"openid"}}
	if secret != "" {
		h, err := storage.HashClientSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		c.SecretHash = h
	}
	fc, err := fositestore.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

// fositeOver is a real *fosite.Fosite over store, configured for client
// authentication as New configures it.
func fositeOver(store fosite.Storage) *fosite.Fosite {
	return &fosite.Fosite{Store: store, Config: &fosite.Config{
		TokenURL:            "https://authd.test/oauth2/token",
		ClientSecretsHasher: storage.NewVerifiedSecretCache(100, time.Minute),
	}}
}

// serverWith is a Server with only what the tested method reads.
func serverWith(cfg Config, f *fosite.Fosite) *Server {
	return &Server{cfg: cfg, fosite: f}
}

// formRequest is a POST with a form-encoded body.
func formRequest(target, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// wantRFC6749 checks that err is an RFC 6749 error with this error code and
// HTTP status, and returns it.
func wantRFC6749(t *testing.T, err error, code string, status int) *fosite.RFC6749Error {
	t.Helper()
	var e *fosite.RFC6749Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an RFC 6749 error; want %s", err, err, code)
	}
	if e.ErrorField != code || e.CodeField != status {
		t.Fatalf("error = %s/%d (hint %q), want %s/%d", e.ErrorField, e.CodeField, e.HintField, code, status)
	}
	return e
}
