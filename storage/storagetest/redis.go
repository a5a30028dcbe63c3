package storagetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is the Redis database `make test` provides.
const DefaultRedisURL = "redis://127.0.0.1:6390/1"

// RedisURL returns $AUTHD_TEST_REDIS_URL, or DefaultRedisURL when it is
// unset.
func RedisURL() string {
	if u := os.Getenv("AUTHD_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultRedisURL
}

// Redis returns a client on the test Redis and a key prefix t:<random hex>:
// unique to this test. Every key under the prefix is deleted and the client
// closed when the test ends; the code under test must put all its keys under
// the prefix.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := RedisURL()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("storagetest: parse AUTHD_TEST_REDIS_URL %q: %v", url, err)
	}
	client := redis.NewClient(opts)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		unavailable(t, "redis", url, err)
	}
	prefix := "t:" + randomHex() + ":"
	t.Cleanup(func() {
		deletePrefix(t, client, prefix)
		client.Close()
	})
	return client, prefix
}

// deletePrefix unlinks every key starting with prefix, scanning in batches.
func deletePrefix(t testing.TB, client *redis.Client, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := client.Unlink(ctx, batch...).Err(); err != nil {
			t.Errorf("storagetest: unlink test keys: %v", err)
		}
		batch = batch[:0]
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			flush()
		}
	}
	flush()
	if err := iter.Err(); err != nil {
		t.Errorf("storagetest: scan test keys: %v", err)
	}
}
