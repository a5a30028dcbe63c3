package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
)

// usageShardTTLs returns the PTTL of every usage shard under prefix.
func usageShardTTLs(t *testing.T, rdb *redis.Client, prefix string) map[string]time.Duration {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, prefix+"touch:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Duration{}
	for _, k := range keys {
		out[k] = rdb.PTTL(ctx, k).Val()
	}
	return out
}

// Finding 10 (issue 15): the usage buffers had no TTL. Every write (a
// recorded use, a hand-back after a failed flush) gives its shard one far
// longer than any flush delay.
func TestUsageShardsHaveTTL(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := storagetest.Redis(t)
	s := redisstore.New(rdb, prefix)
	t0 := time.Now()
	for i := 0; i < 40; i++ {
		if err := s.RecordUsage(ctx, fmt.Sprintf("g%d", i), "10.0.0.1", "ua", t0, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		ttls := usageShardTTLs(t, rdb, prefix)
		if len(ttls) == 0 {
			t.Fatalf("%s: no usage shard", when)
		}
		for k, d := range ttls {
			if d < redisstore.UsageTTL-time.Minute || d > redisstore.UsageTTL {
				t.Errorf("%s: %s has PTTL %v, want about %v", when, k, d, redisstore.UsageTTL)
			}
		}
	}
	check("after RecordUsage")
	if redisstore.UsageTTL < 24*time.Hour {
		t.Errorf("UsageTTL %v: must be far longer than any flush delay", redisstore.UsageTTL)
	}
	us, err := s.TakeUsages(ctx)
	if err != nil || len(us) != 40 {
		t.Fatalf("take: %d, %v", len(us), err)
	}
	if err := s.ReturnUsages(ctx, us); err != nil {
		t.Fatal(err)
	}
	check("after ReturnUsages")
	// A shard whose TTL has run down is refreshed by the next write.
	for k := range usageShardTTLs(t, rdb, prefix) {
		rdb.PExpire(ctx, k, time.Minute)
	}
	for i := 0; i < 40; i++ {
		if err := s.RecordUsage(ctx, fmt.Sprintf("g%d", i), "10.0.0.1", "ua", t0.Add(time.Second), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	check("after a later RecordUsage")
}
