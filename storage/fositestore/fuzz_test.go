package fositestore

import (
	"context"
	"strings"
	"testing"

	"github.com/ory/fosite"

	"github.com/authd/authd/storage"
)

// FuzzTokenSignature: whatever a client sends as a token, computing its
// signature never panics, and only tokens this strategy issued (the seed)
// get one.
func FuzzTokenSignature(f *testing.F) {
	s, err := NewTokenStrategy([]byte(strings.Repeat("k", 32)))
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	valid, _, err := s.generate(kindRefresh, "7d1c2a64-0000-4000-8000-000000000001", 3)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{valid, "", "authd_", "authd_rt_", "authd_rt_a.b.c.d", "authd_at_x.1.r.m", "ory_at_x.y", strings.Repeat("a", 600), "authd_rt_\xff.1.2.3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		sig := s.RefreshTokenSignature(ctx, token)
		if sig != "" && token != valid {
			t.Fatalf("token %q that this strategy did not issue got signature %q", token, sig)
		}
		if sig != "" {
			if _, ok := parseSig(sig); !ok {
				t.Fatalf("signature %q does not parse", sig)
			}
		}
		_ = s.AccessTokenSignature(ctx, token)
		_ = s.AuthorizeCodeSignature(ctx, token)
		_, _ = parseSig(token)
	})
}

// FuzzDecodeStoredRequest: a corrupt value in Redis yields an error, never
// a panic.
func FuzzDecodeStoredRequest(f *testing.F) {
	for _, seed := range []string{
		`{"v":1,"i":"g","t":1,"c":"app","x":{"s":"u","e":{"a":1}}}`,
		`{"v":2}`, `{`, ``, `null`, `{"v":1,"x":"not an object"}`, `{"v":1,"f":{"a":"b"}}`,
	} {
		f.Add([]byte(seed))
	}
	st := New(Config{NewSession: func() fosite.Session { return &fosite.DefaultSession{} }, Clients: NewClientCache(missingClients{}, 10, 0)})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := st.decode(context.Background(), b, nil)
		if err == nil && r == nil {
			t.Fatal("nil request without error")
		}
	})
}

// missingClients is a loader that knows no client (pure logic: decoding is
// what is under test, not client lookup).
type missingClients struct{}

func (missingClients) GetClient(context.Context, string) (*storage.Client, error) {
	return nil, storage.ErrNotFound
}
