package main

import (
	"testing"
	"time"

	"github.com/authd/authd/storage/redisstore"
)

// The usage flush runs far inside the Redis usage buffers' TTL (finding 10
// of issue 15): serve refuses an interval that could let pending usage
// expire.
func TestUsageFlushIntervalWithinBufferTTL(t *testing.T) {
	if 4*maxUsageFlushInterval > redisstore.UsageTTL {
		t.Fatalf("max flush interval %v is not far inside the buffer TTL %v", maxUsageFlushInterval, redisstore.UsageTTL)
	}
	c := defaultConfig()
	c.Secret = []byte("0123456789abcdef0123456789abcdef")
	if err := c.ValidateServe(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.UsageFlushInterval = 25 * time.Hour
	if err := c.ValidateServe(); err == nil {
		t.Error("a 25h usage flush interval was accepted")
	}
}
