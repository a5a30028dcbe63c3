package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key layout of an identity (all under one hash tag, see keyBase):
// :h a hash of f (failures in the current window) and p (attempts in
// flight), its TTL the window, started by its first attempt; :b the block;
// :l the block level (doubles the next block); :g "succeeded recently, no
// failure since" (pairs only). An account's failures across sources:
// :n, its TTL MaxWindow.

// reserveScript: blocked → the block's PTTL; the failures reached the limit
// → start the block (exponential) and return its length; every attempt the
// limit allows already failed or in flight → -1 (busy); else reserve a place
// (p+1) → 0. The second value is 1 when :g exists.
var reserveScript = redis.NewScript(`
local good = redis.call('EXISTS', KEYS[4])
local t = redis.call('PTTL', KEYS[2])
if t > 0 then return {t, good} end
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local p = tonumber(redis.call('HGET', KEYS[1], 'p') or '0')
local limit = tonumber(ARGV[1])
if f >= limit then
  local lvl = redis.call('INCR', KEYS[3])
  local w = tonumber(ARGV[2]) * 2 ^ (lvl - 1)
  if w > tonumber(ARGV[3]) then w = tonumber(ARGV[3]) end
  w = math.floor(w)
  redis.call('SET', KEYS[2], '1', 'PX', w)
  redis.call('PEXPIRE', KEYS[3], 2 * w + tonumber(ARGV[2]))
  redis.call('DEL', KEYS[1], KEYS[4])
  return {w, 0}
end
if f + p >= limit then return {-1, good} end
redis.call('HINCRBY', KEYS[1], 'p', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {0, good}`)

// settleScript ends an attempt: ARGV[1] f (failed: count it, forget :g),
// s (succeeded: mark :g for ARGV[4] ms when > 0) or r (refused: give the
// place back only); ARGV[2] 1 when the attempt reserved a place. A place
// whose window already ended (or was ended by a block) is not given back.
var settleScript = redis.NewScript(`
if ARGV[2] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    if ARGV[1] == 'f' then redis.call('DEL', KEYS[2]) end
    return 0
  end
  if tonumber(redis.call('HGET', KEYS[1], 'p') or '0') > 0 then redis.call('HINCRBY', KEYS[1], 'p', -1) end
end
if ARGV[1] == 'f' then
  redis.call('HINCRBY', KEYS[1], 'f', 1)
  if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  redis.call('DEL', KEYS[2])
elseif ARGV[1] == 's' and tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
end
return 0`)

// accountFailScript counts a failure of an account across sources.
var accountFailScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// goodTTL is how long a pair that succeeded stays exempt from the
// account-wide slowdown (renewed by every success that asks Redis).
const goodTTL = 7 * 24 * time.Hour

type scriptCall struct {
	s    *redis.Script
	keys []string
	args []any
}

// runScripts runs the calls in one pipeline (one round trip; a Redis
// Cluster client splits it by node) and returns their results. Scripts
// unknown to the server are sent in full on a second try.
func runScripts(ctx context.Context, rdb redis.UniversalClient, calls []scriptCall) ([]*redis.Cmd, error) {
	run := func(sha bool) ([]*redis.Cmd, error) {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, c := range calls {
			if sha {
				cmds[i] = c.s.EvalSha(ctx, pipe, c.keys, c.args...)
			} else {
				cmds[i] = c.s.Eval(ctx, pipe, c.keys, c.args...)
			}
		}
		_, err := pipe.Exec(ctx)
		return cmds, err
	}
	cmds, err := run(true)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmds, err = run(false)
	}
	return cmds, err
}

// reserve asks Redis about every identity of a, reserving a place for each
// that is neither blocked nor busy; ok false when Redis could not be asked.
func (l *Limiter) reserve(ctx context.Context, a attempt) (replies []reply, accountFailures int64, ok bool) {
	keys := a.keys()
	calls := make([]scriptCall, 0, len(keys))
	for _, k := range keys {
		calls = append(calls, scriptCall{reserveScript, []string{k.base + "h", k.base + "b", k.base + "l", k.base + "g"},
			[]any{k.limit, l.cfg.Window.Milliseconds(), l.cfg.MaxWindow.Milliseconds()}})
	}
	var cmds []*redis.Cmd
	var acct *redis.StringCmd
	ok = l.call(ctx, func(ctx context.Context) error {
		var err error
		if cmds, err = runScripts(ctx, l.rdb, calls); err != nil {
			return err
		}
		if a.account != "" {
			acct = l.rdb.Get(ctx, a.account+"n")
			if err := acct.Err(); err != nil && err != redis.Nil {
				return err
			}
		}
		return nil
	})
	if !ok {
		return nil, 0, false
	}
	replies = make([]reply, len(cmds))
	for i, c := range cmds {
		v, _ := c.Int64Slice()
		if len(v) == 2 {
			replies[i] = reply{wait: time.Duration(v[0]) * time.Millisecond, good: v[1] == 1}
		}
	}
	if acct != nil {
		accountFailures, _ = acct.Int64()
	}
	return replies, accountFailures, true
}

// settle ends an attempt: outcome f (failed), s (succeeded) or r (refused,
// give back what was reserved); reserved[i] tells whether keys()[i] holds a
// place.
func (l *Limiter) settle(ctx context.Context, a attempt, outcome string, reserved []bool) {
	var calls []scriptCall
	for i, k := range a.keys() {
		res := i < len(reserved) && reserved[i]
		if outcome != "f" && !res {
			continue
		}
		good := int64(0)
		if k == a.pair {
			good = goodTTL.Milliseconds()
		}
		calls = append(calls, scriptCall{settleScript, []string{k.base + "h", k.base + "g"},
			[]any{outcome, boolArg(res), l.cfg.Window.Milliseconds(), good}})
	}
	if outcome == "f" && a.account != "" {
		calls = append(calls, scriptCall{accountFailScript, []string{a.account + "n"}, []any{l.cfg.MaxWindow.Milliseconds()}})
	}
	if len(calls) == 0 {
		return
	}
	l.call(ctx, func(ctx context.Context) error {
		_, err := runScripts(ctx, l.rdb, calls)
		return err
	})
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
