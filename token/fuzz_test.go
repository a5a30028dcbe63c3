package token

import (
	"context"
	"strings"
	"testing"
)

// FuzzTokenSignature: whatever a client sends as a token, computing its
// signature never panics, and only tokens this strategy issued (the seed)
// get one.
func FuzzTokenSignature(f *testing.F) {
	s, err := New([]byte(strings.Repeat("k", 32)))
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
			if _, ok := ParseSignature(sig); !ok {
				t.Fatalf("signature %q does not parse", sig)
			}
		}
		_ = s.AccessTokenSignature(ctx, token)
		_ = s.AuthorizeCodeSignature(ctx, token)
		_, _ = ParseSignature(token)
	})
}
