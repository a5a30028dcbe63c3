package main

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/redisstore"
)

// newRedisClient connects to AUTHD_REDIS_URL: one server (redis://),
// a Redis Cluster (redis+cluster://) or a Sentinel-managed master
// (redis+sentinel://), TLS with rediss. It does not dial yet.
func newRedisClient(url string) (redis.UniversalClient, error) {
	o, err := redisstore.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("AUTHD_REDIS_URL: %w", err)
	}
	// Bounded timeouts: a Redis outage must turn into a prompt error, not a
	// hang. The pool (per node for a cluster) is sized for concurrent token
	// traffic.
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	o.PoolTimeout = 700 * time.Millisecond
	o.MaxRetries = 1
	// go-redis retries a failed dial 5 times, 100 ms apart, per attempt:
	// with MaxRetries that made a request wait ~850 ms when Redis is down.
	// Two quick dial attempts keep the answer (503) within ~100 ms.
	o.DialerRetries, o.DialerRetryTimeout = 2, 20*time.Millisecond
	o.PoolSize = 64
	if redisstore.Topology(o) == "cluster" {
		co := o.Cluster()
		// go-redis reloads the slot map every 60 s by default, and not when
		// a master stops answering: after a failover the dead master's slots
		// would stay unreachable for up to a minute after its replica took
		// over. One CLUSTER SLOTS every 2 s (only while commands run) is cheap.
		co.ClusterStateReloadInterval = 2 * time.Second
		return redis.NewClusterClient(co), nil
	}
	return redis.NewUniversalClient(o), nil
}
