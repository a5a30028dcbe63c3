package redisstore

import (
	"context"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Grant usage (refreshes) waiting to be written to Postgres in batches:
//
//	P:touch:{N}  hash  grant id -> "at|expires|ip|user agent" of its latest use (Unix ms), N in 0..usageShards-1
//
// Recording is one HSET on the refresh path; a flusher takes whole shards
// and applies them to Postgres. Pending usage lives in Redis, not in a
// process, so an authd crash loses none of it: the next flush (any replica)
// writes it.
//
// Every write to a shard (a recorded use, a hand-back after a failed flush)
// sets the shard's TTL to UsageTTL in the same round trip, so no key of
// authd's lives forever (an abandoned prefix, a stopped deployment: Redis
// reclaims them; volatile-* eviction policies see them) and pending usage is
// never lost to it: a shard expires only when nothing has written it for
// UsageTTL, and the flush takes every shard every
// AUTHD_USAGE_FLUSH_INTERVAL (default 5s, at most 24h). A use is at most a
// flush interval old when it is taken, so the TTL must exceed the longest
// interval; a week leaves a flusher that is down (every replica stopped,
// Postgres unreachable: the hand-back refreshes the TTL) days to come back.

const usageShards = 16

// UsageTTL is the TTL of a usage shard, refreshed by every write to it.
const UsageTTL = 7 * 24 * time.Hour

func (s *Store) usageKey(n int) string {
	return s.prefix + "touch:{" + strconv.Itoa(n) + "}"
}

func usageShard(grant string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(grant))
	return int(h.Sum32() % usageShards)
}

// Usage is one recorded use of a grant: when, from where, and the end of
// its family after it (refresh tokens slide; zero when unknown).
type Usage struct {
	Grant, IP, UserAgent string
	At, Expires          time.Time
}

func millis(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func fromMillis(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	if n == 0 {
		return time.Time{}, true
	}
	return time.UnixMilli(n).UTC(), true
}

func encodeUsage(u Usage) string {
	return millis(u.At) + "|" + millis(u.Expires) + "|" + u.IP + "|" + u.UserAgent
}

func decodeUsage(grant, v string) (Usage, bool) {
	f := strings.SplitN(v, "|", 4)
	if len(f) != 4 {
		return Usage{}, false
	}
	at, ok1 := fromMillis(f[0])
	exp, ok2 := fromMillis(f[1])
	if !ok1 || !ok2 || at.IsZero() {
		return Usage{}, false
	}
	return Usage{Grant: grant, At: at, Expires: exp, IP: f[2], UserAgent: f[3]}, true
}

// RecordUsage notes the latest use of a grant and its family's new end
// (one HSET; a later use of the same grant overwrites it before the flush).
func (s *Store) RecordUsage(ctx context.Context, grant, ip, userAgent string, at, expires time.Time) error {
	u := Usage{Grant: grant, IP: ip, UserAgent: userAgent, At: at, Expires: expires}
	err := recordShard.Run(ctx, s.rdb, []string{s.usageKey(usageShard(grant))},
		grant, encodeUsage(u), UsageTTL.Milliseconds()).Err()
	return wrap("record usage", err)
}

// recordShard sets a grant's usage and refreshes the shard's TTL, in one
// round trip.
var recordShard = redis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0`)

// takeShard reads and deletes one shard atomically, so a use recorded
// meanwhile lands in the next batch instead of being lost.
var takeShard = redis.NewScript(`
local v = redis.call('HGETALL', KEYS[1])
if #v > 0 then redis.call('DEL', KEYS[1]) end
return v`)

// TakeUsages removes and returns every pending usage. A caller that fails
// to store them hands them back with ReturnUsages.
func (s *Store) TakeUsages(ctx context.Context) ([]Usage, error) {
	var out []Usage
	for n := 0; n < usageShards; n++ {
		v, err := takeShard.Run(ctx, s.rdb, []string{s.usageKey(n)}).StringSlice()
		if err != nil {
			if len(out) > 0 {
				_ = s.ReturnUsages(ctx, out)
			}
			return nil, wrap("take usages", err)
		}
		for i := 0; i+1 < len(v); i += 2 {
			if u, ok := decodeUsage(v[i], v[i+1]); ok {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// ReturnUsages puts usages back after a failed flush, without overwriting a
// newer use recorded since.
func (s *Store) ReturnUsages(ctx context.Context, us []Usage) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, u := range us {
			k := s.usageKey(usageShard(u.Grant))
			p.HSetNX(ctx, k, u.Grant, encodeUsage(u))
			p.PExpire(ctx, k, UsageTTL)
		}
		return nil
	})
	return wrap("return usages", err)
}
