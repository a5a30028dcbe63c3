package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/redisstore"
)

// TestMarkOnce: the first mark of an id wins, a second within its TTL
// loses; only a hash of the id is stored, with a TTL (on a single Redis
// and on the cluster).
func TestMarkOnce(t *testing.T) {
	onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := redisstore.New(rdb, prefix)
		const id = "authd_request:sealed-value"
		for i, want := range []bool{true, false} {
			if ok, err := s.MarkOnce(ctx, id, time.Minute); err != nil || ok != want {
				t.Fatalf("mark %d: %v %v, want %v", i, ok, err, want)
			}
		}
		if ok, err := s.MarkOnce(ctx, id+"-other", time.Minute); err != nil || !ok {
			t.Fatalf("another id: %v %v", ok, err)
		}
		for _, v := range []string{id, id + "-other"} {
			h := sha256.Sum256([]byte(v))
			k := prefix + "once:" + base64.RawURLEncoding.EncodeToString(h[:])
			if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
				t.Errorf("%s: TTL %v", k, ttl)
			}
		}
		if n := rdb.Exists(ctx, prefix+"once:"+id).Val(); n != 0 {
			t.Error("the id is stored in the clear")
		}
	})
}
