package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counter keeps fixed-window failure counters in Redis (the device
// verification page throttles wrong user codes with them): P rl:<key>, a
// string whose TTL is the window, started by the first failure.
type Counter struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewCounter returns counters kept under prefix+"rl:".
func NewCounter(rdb redis.UniversalClient, prefix string) *Counter {
	return &Counter{rdb: rdb, prefix: prefix}
}

func (c *Counter) key(key string) string { return c.prefix + "rl:" + key }

// CountFailure adds one to the counter key (the window starts with the
// first failure) and returns the new count.
func (c *Counter) CountFailure(ctx context.Context, key string, window time.Duration) (int64, error) {
	k := c.key(key)
	var incr *redis.IntCmd
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, k)
		p.Do(ctx, "PEXPIRE", k, window.Milliseconds(), "NX")
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("ratelimit: count failure: %w", err)
	}
	return incr.Val(), nil
}

// Failures returns the current count of the counter key (0 when absent).
func (c *Counter) Failures(ctx context.Context, key string) (int64, error) {
	n, err := c.rdb.Get(ctx, c.key(key)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ratelimit: get failures: %w", err)
	}
	return n, nil
}
