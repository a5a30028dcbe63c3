package storagetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/redisstore"
)

// DefaultRedisClusterURL is the Redis Cluster `make test` provides
// (scripts/services.sh cluster-up: three masters on 7000-7002).
const DefaultRedisClusterURL = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"

// RedisClusterURL returns $AUTHD_TEST_REDIS_CLUSTER_URL, or
// DefaultRedisClusterURL when it is unset.
func RedisClusterURL() string {
	if u := os.Getenv("AUTHD_TEST_REDIS_CLUSTER_URL"); u != "" {
		return u
	}
	return DefaultRedisClusterURL
}

// RedisCluster is Redis for a Redis Cluster: a cluster client and a key
// prefix t:<random hex>: unique to this test. Every key under the prefix, on
// every master, is deleted and the client closed when the test ends.
func RedisCluster(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	url := RedisClusterURL()
	opts, err := redisstore.ParseURL(url)
	if err != nil {
		t.Fatalf("storagetest: parse AUTHD_TEST_REDIS_CLUSTER_URL %q: %v", url, err)
	}
	client := redis.NewUniversalClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clusterReady(ctx, client); err != nil {
		client.Close()
		unavailable(t, "redis cluster", url, err)
	}
	prefix := "t:" + randomHex() + ":"
	t.Cleanup(func() {
		deletePrefixEverywhere(t, client, prefix)
		client.Close()
	})
	return client, prefix
}

// clusterReady pings every master (a cluster client's Ping reaches one node
// only).
func clusterReady(ctx context.Context, c redis.UniversalClient) error {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.Ping(ctx).Err()
	}
	return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		return n.Ping(ctx).Err()
	})
}

// deletePrefixEverywhere is deletePrefix on every master of a cluster (SCAN
// sees one node's keys only). Keys go one UNLINK each: keys of different
// slots cannot share a command.
func deletePrefixEverywhere(t testing.TB, c redis.UniversalClient, prefix string) {
	t.Helper()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		if sc, ok := c.(*redis.Client); ok {
			deletePrefix(t, sc, prefix)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		pipe := n.Pipeline()
		for iter.Next(ctx) {
			pipe.Unlink(ctx, iter.Val())
			if pipe.Len() == 500 {
				if _, err := pipe.Exec(ctx); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if pipe.Len() > 0 {
			_, err := pipe.Exec(ctx)
			return err
		}
		return nil
	})
	if err != nil {
		t.Errorf("storagetest: delete test keys on the cluster: %v", err)
	}
}
