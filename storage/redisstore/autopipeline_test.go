package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
)

// batchSizes records the size of every pipeline go-redis sends.
type batchSizes struct {
	mu      sync.Mutex
	largest int
	batches int
}

func (h *batchSizes) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *batchSizes) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *batchSizes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.batches++
		h.largest = max(h.largest, len(cmds))
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestAutoPipelinedReads: with AutoPipelineReads, reads issued by many
// goroutines at once share pipelines, and every caller still gets exactly
// its own answer (its own payload, a MAC mismatch, a missing key).
func TestAutoPipelinedReads(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := storagetest.Redis(t)
	hook := &batchSizes{}
	rdb.AddHook(hook)
	s := redisstore.New(rdb, prefix)
	if err := s.AutoPipelineReads(); err != nil {
		t.Fatal(err)
	}
	const grants = 64
	for i := 0; i < grants; i++ {
		g := fmt.Sprintf("g%02d", i)
		birth := &redisstore.Birth{FamilyTTL: time.Minute}
		if err := s.CreateAccess(ctx, g, "mac-"+g, []byte("payload-"+g), time.Minute, birth); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var wrong atomic.Int64
	start := make(chan struct{})
	for w := 0; w < grants; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			for i := 0; i < 50; i++ {
				g := fmt.Sprintf("g%02d", (w+i)%grants)
				var err error
				switch i % 3 {
				case 0: // the live token
					var b []byte
					b, err = s.GetAccess(ctx, g, "mac-"+g)
					if err == nil && string(b) != "payload-"+g {
						err = fmt.Errorf("%s: got %q", g, b)
					}
				case 1: // the right grant, a wrong MAC
					_, err = s.GetAccess(ctx, g, "mac-other")
					if errors.Is(err, redisstore.ErrNotFound) {
						err = nil
					} else {
						err = fmt.Errorf("%s with a wrong MAC: %v", g, err)
					}
				case 2: // no such grant
					_, err = s.GetAccess(ctx, "missing-"+g, "mac-"+g)
					if errors.Is(err, redisstore.ErrNotFound) {
						err = nil
					} else {
						err = fmt.Errorf("missing grant: %v", err)
					}
				}
				if err != nil {
					wrong.Add(1)
					t.Error(err)
					return
				}
			}
		}(w)
	}
	close(start)
	wg.Wait()
	if wrong.Load() > 0 {
		return
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	// 3,200 reads by 64 goroutines released together: go-redis coalesces
	// them, so there are fewer pipelines than reads and some carry several.
	if hook.batches == 0 || hook.batches >= grants*50 || hook.largest < 2 {
		t.Fatalf("%d pipelines for %d reads, largest %d: reads were not batched", hook.batches, grants*50, hook.largest)
	}
	t.Logf("%d reads in %d pipelines, largest %d", grants*50, hook.batches, hook.largest)
}
