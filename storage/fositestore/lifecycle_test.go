package fositestore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
)

// TestClientAssertionJTIScopedByClient: a jti is remembered for the client
// fosite loaded in the same authentication; outside an authentication the
// store refuses to judge (fails closed) rather than fall back to one
// namespace for everyone.
func TestClientAssertionJTIScopedByClient(t *testing.T) {
	e := newEnv(t)
	exp := time.Now().Add(time.Minute)
	if err := e.store.ClientAssertionJWTValid(context.Background(), "j1"); err == nil {
		t.Error("a jti check outside a client authentication passed")
	}
	auth := func(client string) context.Context {
		ctx := fositestore.WithClientAuthentication(context.Background())
		_, _ = e.store.GetClient(ctx, client) // what fosite does before looking at the jti
		return ctx
	}
	if err := e.store.SetClientAssertionJWT(auth("app"), "j1", exp); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ClientAssertionJWTValid(auth("app"), "j1"); !errors.Is(err, fosite.ErrJTIKnown) {
		t.Errorf("app's own jti again: %v, want ErrJTIKnown", err)
	}
	if err := e.store.SetClientAssertionJWT(auth("app"), "j1", exp); !errors.Is(err, fosite.ErrJTIKnown) {
		t.Errorf("app's own jti recorded twice: %v, want ErrJTIKnown", err)
	}
	if err := e.store.ClientAssertionJWTValid(auth("other"), "j1"); err != nil {
		t.Errorf("another client's jti: %v", err)
	}
	if err := e.store.SetClientAssertionJWT(auth("other"), "j1", exp); err != nil {
		t.Errorf("another client's jti: %v", err)
	}
}

// TestRotatedSecretUntilExpiry: the previous secret is offered to fosite
// only until its overlap ends.
func TestRotatedSecretUntilExpiry(t *testing.T) {
	c, err := fositestore.NewClient(storage.Client{ID: "c", SecretHash: []byte("new"),
		PreviousSecretHash: []byte("old"), PreviousSecretExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if h := c.GetRotatedHashes(); len(h) != 1 || string(h[0]) != "old" {
		t.Errorf("during the overlap: %q", h)
	}
	c.PreviousSecretExpiresAt = time.Now().Add(-time.Second)
	if h := c.GetRotatedHashes(); len(h) != 0 {
		t.Errorf("after the overlap: %q", h)
	}
}
