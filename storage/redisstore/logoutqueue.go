package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage"
)

// The back-channel logout queue: deliveries of logout tokens waiting for
// their due time, durable in Redis so that a restart of authd loses none.
// Every key shares the hash tag {bcl}, so the scripts below are legal on a
// Redis Cluster (the queue lives on one slot):
//
//	P{bcl}:due    sorted set  job id -> due time (Unix ms); a claimed job's
//	                          score is the end of its lease
//	P{bcl}:j:<id> hash        p (payload), a (failed attempts), c (the token
//	                          of the claim holding it, while one does)

func (s *Store) queueDueKey() string          { return s.prefix + "{bcl}:due" }
func (s *Store) queueJobKey(id string) string { return s.prefix + "{bcl}:j:" + id }

// EnqueueJobs adds jobs in one round trip (a MULTI). Each job lives at most
// ttl (its attempts must end before); the due set's TTL is refreshed to ttl
// by every write, so it outlives every job in it.
func (s *Store) EnqueueJobs(ctx context.Context, jobs []storage.QueueJob, ttl time.Duration) error {
	if len(jobs) == 0 {
		return nil
	}
	due := s.queueDueKey()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, j := range jobs {
			id := randomID()
			p.HSet(ctx, s.queueJobKey(id), "p", j.Payload, "a", 0)
			p.PExpire(ctx, s.queueJobKey(id), ttl)
			p.ZAdd(ctx, due, redis.Z{Score: float64(j.Due.UnixMilli()), Member: id})
		}
		p.PExpire(ctx, due, ttl)
		return nil
	})
	return wrap("enqueue jobs", err)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// claimJob takes one due job for a lease: it moves the job's score to the
// lease's end (no other claim sees it until then) and records the claim's
// token. A member whose job has expired is dropped.
var claimJob = redis.NewScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) > tonumber(ARGV[2]) then return false end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], 'c', ARGV[4])
return redis.call('HMGET', KEYS[2], 'p', 'a')`)

// ClaimJobs claims up to n jobs due at now, each until now+lease. Each
// claim is one atomic script, so concurrent workers (on any replica) never
// hold the same job at once; a job whose holder died is claimed again when
// its lease ends.
func (s *Store) ClaimJobs(ctx context.Context, now time.Time, n int, lease time.Duration) ([]storage.ClaimedJob, error) {
	due := s.queueDueKey()
	ids, err := s.rdb.ZRangeByScore(ctx, due, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(n),
	}).Result()
	if err != nil {
		return nil, wrap("list due jobs", err)
	}
	var out []storage.ClaimedJob
	for _, id := range ids {
		token := randomID()
		v, err := claimJob.Run(ctx, s.rdb, []string{due, s.queueJobKey(id)},
			id, now.UnixMilli(), now.Add(lease).UnixMilli(), token).Slice()
		if errors.Is(err, redis.Nil) {
			continue // another worker took it, or it expired
		}
		if err != nil {
			return out, wrap("claim job", err)
		}
		p, _ := v[0].(string)
		a, _ := v[1].(string)
		attempts, _ := strconv.Atoi(a)
		out = append(out, storage.ClaimedJob{ID: id, Payload: []byte(p), Attempts: attempts, Claim: token})
	}
	return out, nil
}

// finishJob deletes a job, retryJob counts a failed attempt and makes the
// job due again at ARGV[3]; both only while the caller's claim holds it
// (its lease may have ended and another worker claimed it since).
var (
	finishJob = redis.NewScript(`
if redis.call('HGET', KEYS[2], 'c') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1`)
	retryJob = redis.NewScript(`
if redis.call('HGET', KEYS[2], 'c') ~= ARGV[2] then return 0 end
redis.call('HINCRBY', KEYS[2], 'a', 1)
redis.call('HDEL', KEYS[2], 'c')
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1`)
)

// DoneJob removes a claimed job (delivered, or given up). false: the claim
// no longer held the job.
func (s *Store) DoneJob(ctx context.Context, j storage.ClaimedJob) (bool, error) {
	n, err := finishJob.Run(ctx, s.rdb, []string{s.queueDueKey(), s.queueJobKey(j.ID)}, j.ID, j.Claim).Int()
	return n == 1, wrap("finish job", err)
}

// RetryJob puts a claimed job back, due at at, one failed attempt more.
// false: the claim no longer held the job.
func (s *Store) RetryJob(ctx context.Context, j storage.ClaimedJob, at time.Time) (bool, error) {
	n, err := retryJob.Run(ctx, s.rdb, []string{s.queueDueKey(), s.queueJobKey(j.ID)}, j.ID, j.Claim, at.UnixMilli()).Int()
	return n == 1, wrap("retry job", err)
}
