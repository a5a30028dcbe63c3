package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestVerifiedSecretCache(t *testing.T) {
	ctx := context.Background()
	c := NewVerifiedSecretCache(100, time.Minute)
	chosen := "an operator chosen secret"
	h, err := HashClientSecret(chosen) // argon2id
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Compare(ctx, h, []byte(chosen)); err != nil {
		t.Fatalf("first verification: %v", err)
	}
	slow := time.Since(start)
	start = time.Now()
	for i := 0; i < 100; i++ {
		if err := c.Compare(ctx, h, []byte(chosen)); err != nil {
			t.Fatalf("cached verification: %v", err)
		}
	}
	if fast := time.Since(start) / 100; fast*20 > slow {
		t.Errorf("cached verification took %v, the argon2id one %v: not served from the cache", fast, slow)
	}
	// Failures are never cached, and a changed secret (new stored hash)
	// misses.
	for i := 0; i < 2; i++ {
		if err := c.Compare(ctx, h, []byte("wrong secret")); !errors.Is(err, ErrSecretMismatch) {
			t.Fatalf("wrong secret: %v", err)
		}
	}
	h2, _ := HashClientSecret("a new operator chosen secret")
	if err := c.Compare(ctx, h2, []byte(chosen)); !errors.Is(err, ErrSecretMismatch) {
		t.Fatalf("old secret against the new hash: %v", err)
	}
	// Generated secrets keep their fast path.
	gen := GenerateClientSecret()
	gh, _ := HashClientSecret(gen)
	if err := c.Compare(ctx, gh, []byte(gen)); err != nil || c.cache.Len() != 1 {
		t.Fatalf("generated secret: %v, cache entries %d (want only the argon2id one)", err, c.cache.Len())
	}
}
