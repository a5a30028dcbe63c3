package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/redisstore"
)

// TestJobQueueLease: a claimed job is invisible to other claims until its
// lease ends, then claimable again; the first claim can then neither
// complete nor retry it. Retry counts the attempt; every key has a TTL.
// On a single Redis and on a Redis Cluster (the keys share {bcl}).
func TestJobQueueLease(t *testing.T) {
	onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := redisstore.New(rdb, prefix)
		now := time.Now()
		if err := s.EnqueueJobs(ctx, []storage.QueueJob{{Payload: []byte("a"), Due: now}, {Payload: []byte("later"), Due: now.Add(time.Hour)}}, time.Hour); err != nil {
			t.Fatal(err)
		}
		first, err := s.ClaimJobs(ctx, now, 10, 200*time.Millisecond)
		if err != nil || len(first) != 1 || string(first[0].Payload) != "a" || first[0].Attempts != 0 {
			t.Fatalf("claim: %v %+v", err, first)
		}
		if again, err := s.ClaimJobs(ctx, now.Add(100*time.Millisecond), 10, time.Second); err != nil || len(again) != 0 {
			t.Fatalf("claimed during the lease: %v %+v", err, again)
		}
		second, err := s.ClaimJobs(ctx, now.Add(300*time.Millisecond), 10, time.Second)
		if err != nil || len(second) != 1 || second[0].ID != first[0].ID {
			t.Fatalf("after the lease: %v %+v", err, second)
		}
		if ok, err := s.DoneJob(ctx, first[0]); err != nil || ok {
			t.Fatalf("a lapsed claim completed the job: %v %v", ok, err)
		}
		if ok, err := s.RetryJob(ctx, first[0], now); err != nil || ok {
			t.Fatalf("a lapsed claim retried the job: %v %v", ok, err)
		}
		if ok, err := s.RetryJob(ctx, second[0], now.Add(time.Second)); err != nil || !ok {
			t.Fatalf("retry: %v %v", ok, err)
		}
		third, err := s.ClaimJobs(ctx, now.Add(2*time.Second), 10, time.Second)
		if err != nil || len(third) != 1 || third[0].Attempts != 1 {
			t.Fatalf("after retry: %v %+v", err, third)
		}
		for _, k := range []string{prefix + "{bcl}:due", prefix + "{bcl}:j:" + third[0].ID} {
			if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
				t.Errorf("%s TTL %v", k, ttl)
			}
		}
		if ok, err := s.DoneJob(ctx, third[0]); err != nil || !ok {
			t.Fatalf("done: %v %v", ok, err)
		}
		if n := rdb.Exists(ctx, prefix+"{bcl}:j:"+third[0].ID).Val(); n != 0 {
			t.Fatal("a done job's hash is left")
		}
		if n := rdb.ZCard(ctx, prefix+"{bcl}:due").Val(); n != 1 {
			t.Fatalf("%d due entries, want the later job only", n)
		}
	})
}
