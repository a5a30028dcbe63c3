package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/ratelimit"
	"github.com/authd/authd/storage/storagetest"
)

// The counter on the real Redis, single server and cluster: counts from 0,
// and the window starts with the first failure (later ones do not extend it).
func TestFailureCounter(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(testing.TB) (redis.UniversalClient, string)
	}{
		{"single", func(t testing.TB) (redis.UniversalClient, string) { return storagetest.Redis(t) }},
		{"cluster", storagetest.RedisCluster},
	} {
		t.Run(b.name, func(t *testing.T) {
			rdb, prefix := b.open(t)
			testFailureCounter(t, rdb, prefix)
		})
	}
}

func testFailureCounter(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	s := ratelimit.NewCounter(rdb, prefix)
	if n, err := s.Failures(ctx, "k"); err != nil || n != 0 {
		t.Fatalf("fresh counter: %d, %v", n, err)
	}
	for i := 1; i <= 3; i++ {
		n, err := s.CountFailure(ctx, "k", time.Minute)
		if err != nil || n != int64(i) {
			t.Fatalf("count %d: %d, %v", i, n, err)
		}
	}
	rdb.PExpire(ctx, prefix+"rl:k", 30*time.Second)
	if _, err := s.CountFailure(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, prefix+"rl:k").Val(); ttl > 30*time.Second || ttl <= 0 {
		t.Fatalf("PTTL after another failure = %v, want the first window's", ttl)
	}
	if n, _ := s.Failures(ctx, "k"); n != 4 {
		t.Fatalf("failures = %d, want 4", n)
	}
}
