package ratelimit_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/ratelimit"
	"github.com/authd/authd/storage/storagetest"
)

// TestWindowPerKey: a key gets its limit within the window, counted
// before deciding (a concurrent burst gets no more), then a retry no
// longer than the window; another key is not limited; the counter's key
// expires with the window and names no key in the clear.
func TestWindowPerKey(t *testing.T) {
	rdb, prefix := storagetest.Redis(t)
	ctx := context.Background()
	w := ratelimit.NewWindow(rdb, prefix, "reg", 5, time.Hour)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _, err := w.Take(ctx, "203.0.113.7"); err != nil {
				t.Error(err)
			} else if ok {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 5 {
		t.Errorf("a burst of 20 got %d through, want the limit 5", allowed.Load())
	}
	ok, retry, err := w.Take(ctx, "203.0.113.7")
	if err != nil || ok || retry <= 0 || retry > time.Hour {
		t.Errorf("over the limit: ok %v retry %v err %v", ok, retry, err)
	}
	if ok, _, err := w.Take(ctx, "203.0.113.8"); err != nil || !ok {
		t.Errorf("another key: ok %v err %v", ok, err)
	}
	keys, err := rdb.Keys(ctx, prefix+"rl:{reg:*}:n").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("counter keys %v %v", keys, err)
	}
	for _, k := range keys {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s: PTTL %v", k, ttl)
		}
		if len(k) > len(prefix)+40 || strings.Contains(k, "203.0.113") {
			t.Errorf("counter key %q names the address", k)
		}
	}
}
