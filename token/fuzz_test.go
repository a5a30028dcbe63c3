package token

import (
	"context"
	"strings"
	"testing"
)

// FuzzTokenSignature: whatever a client sends as a token, computing its
// signature never panics, and only tokens whose MAC verifies under this
// strategy's key get one: the same token with one character of its MAC
// changed gets none. (The check cannot be "equals the seed": the fuzzing
// workers are other processes, each with its own random seed token, all
// valid under the same key.)
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
	if s.RefreshTokenSignature(ctx, valid) == "" {
		f.Fatalf("the strategy's own token %q got no signature", valid)
	}
	for _, seed := range []string{valid, "", "authd_", "authd_rt_", "authd_rt_a.b.c.d", "authd_at_x.1.r.m", "ory_at_x.y", strings.Repeat("a", 600), "authd_rt_\xff.1.2.3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		sig := s.RefreshTokenSignature(ctx, token)
		if sig != "" {
			if _, ok := ParseSignature(sig); !ok {
				t.Fatalf("signature %q does not parse", sig)
			}
			i := strings.LastIndexByte(token, '.') + 1
			c := byte('A')
			if token[i] == 'A' {
				c = 'B'
			}
			if forged := token[:i] + string(c) + token[i+1:]; s.RefreshTokenSignature(ctx, forged) != "" {
				t.Fatalf("token %q with its MAC changed (%q) still got a signature", token, forged)
			}
		}
		_ = s.AccessTokenSignature(ctx, token)
		_ = s.AuthorizeCodeSignature(ctx, token)
		_, _ = ParseSignature(token)
	})
}
