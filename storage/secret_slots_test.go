package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Finding 4 of issue 15: slow (argon2id) client-secret checks run in at
// most GOMAXPROCS slots and wait a bounded time for one; cached successes
// and sha256 secrets need no slot.
func TestVerifiedSecretCacheBoundsSlowChecks(t *testing.T) {
	ctx := context.Background()
	slow, err := HashClientSecret("operator chosen")
	if err != nil {
		t.Fatal(err)
	}
	gen := GenerateClientSecret()
	fast, _ := HashClientSecret(gen)
	c := NewVerifiedSecretCache(10, time.Minute)
	c.slotWait = 50 * time.Millisecond
	if err := c.Compare(ctx, slow, []byte("operator chosen")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cap(c.slots); i++ { // every slot busy
		c.slots <- struct{}{}
	}
	start := time.Now()
	if err := c.Compare(ctx, slow, []byte("a guess")); !errors.Is(err, ErrSecretChecksBusy) {
		t.Errorf("saturated: %v, want ErrSecretChecksBusy", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > time.Second {
		t.Errorf("waited %v for a slot, want the bound (50ms)", d)
	}
	if err := c.Compare(ctx, slow, []byte("operator chosen")); err != nil {
		t.Errorf("a cached success needs no slot: %v", err)
	}
	if err := c.Compare(ctx, fast, []byte(gen)); err != nil {
		t.Errorf("a sha256 secret needs no slot: %v", err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Compare(gone, slow, []byte("a guess")); !errors.Is(err, ErrSecretChecksBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("request gone while waiting: %v", err)
	}
	<-c.slots // one frees up: the next check runs
	if err := c.Compare(ctx, slow, []byte("a guess")); !errors.Is(err, ErrSecretMismatch) {
		t.Errorf("with a free slot: %v, want ErrSecretMismatch", err)
	}
	if len(c.slots) != cap(c.slots)-1 {
		t.Errorf("slots in use %d after the check, want %d", len(c.slots), cap(c.slots)-1)
	}
}
