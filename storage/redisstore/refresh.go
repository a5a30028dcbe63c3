package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Refresh is one refresh's writes: retire the live refresh token (Gen,
// OldMAC) and the grant's access token, and install the new access token and
// the refresh token of generation Gen+1.
type Refresh struct {
	Gen    uint64
	OldMAC string

	AccessMAC string
	Access    []byte
	AccessTTL time.Duration

	RefreshMAC string
	Payload    []byte // the new refresh token's request
	RefreshTTL time.Duration
}

// refresh is Rotate, CreateAccess and CreateRefresh in one script: the same
// checks in the same order (tombstone, family, compare-and-set of the live
// token or the resumption of a stuck rotation), then every write, so no
// rotation is ever left in flight.
var refresh = redis.NewScript(`
local f, at, rs = KEYS[1], KEYS[2], KEYS[3]
local v = redis.call('HMGET', f, 'g', 'm', 'r', 'pm', 'ra')
if v[3] == '1' then return 'revoked' end
if not v[1] then return 'missing' end
local live = v[1] == ARGV[1] and v[2] == ARGV[2] and v[2] ~= ''
local stuck = tostring(tonumber(v[1]) - 1) == ARGV[1] and v[2] == '' and v[4] == ARGV[2] and v[5]
   and tonumber(ARGV[3]) - tonumber(v[5]) > tonumber(ARGV[4])
if not live and not stuck then return 'stale' end
redis.call('HSET', f, 'g', tostring(tonumber(ARGV[1]) + 1), 'm', ARGV[7], 'p', ARGV[8], 'ra', ARGV[3], 'ru', ARGV[10])
redis.call('HDEL', f, 'pm')
redis.call('PEXPIRE', f, ARGV[9])
redis.call('UNLINK', rs)
redis.call('SET', at, ARGV[5], 'PX', ARGV[6])
return 'ok'`)

// RotateRefresh retires the live refresh token and the grant's access token
// and installs their successors, atomically: one round trip instead of
// Rotate, CreateAccess and CreateRefresh. Exactly one of several concurrent
// callers with the same token succeeds; the others get ErrStale. ErrRevoked
// when the grant was revoked (the tombstone), ErrNotFound when it has no
// family. A rotation that Rotate began more than the stuck-rotation time ago
// and never completed is completed by the same token.
func (s *Store) RotateRefresh(ctx context.Context, grant string, r Refresh) error {
	now := time.Now() // before the script runs: a request begun after it is not concurrent (GetRefresh)
	val := make([]byte, 0, len(r.AccessMAC)+1+len(r.Access))
	val = append(append(append(val, r.AccessMAC...), '|'), r.Access...)
	res, err := refresh.Run(ctx, s.rdb, []string{s.Key(grant, "f"), s.Key(grant, "at"), s.Key(grant, "rs")},
		r.Gen, r.OldMAC, now.UnixMilli(), s.stuckAfter.Milliseconds(),
		val, ms(r.AccessTTL), r.RefreshMAC, r.Payload, ms(r.RefreshTTL), now.UnixMicro()).Text()
	if err != nil {
		return wrap("rotate refresh", err)
	}
	return scriptResult(res)
}
