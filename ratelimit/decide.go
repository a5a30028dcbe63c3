package ratelimit

import (
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"time"
)

// The pure decisions of the limiter: what a request is counted as, and what
// Redis's answers mean. No Redis here.

// Source is the part of a client address that the limits count: an IPv4
// address as it is, an IPv6 address by its /64 (one subscriber, one
// machine's privacy addresses, is typically given a whole /64), an
// IPv4-mapped IPv6 address as the IPv4 address. Text that is no address is
// returned as it is.
func Source(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// keyBase is the Redis key prefix of one counted identity: P rl:{<kind>:<hash>}:
// (its parts share a hash tag, so a script over them is legal on a Redis
// Cluster). Identities are hashed: usernames, client ids and addresses do
// not appear in Redis.
func keyBase(prefix, kind, id string) string {
	h := sha256.Sum256([]byte(id))
	return prefix + "rl:{" + kind + ":" + base64.RawURLEncoding.EncodeToString(h[:12]) + "}:"
}

// attempt is what one request is counted as.
type attempt struct {
	// pair (account and source) and source are blocked after their limits;
	// pair is "" when the account is not counted (none named, a public
	// client, a name too long to be one).
	pair, source limitKey
	// account counts failures across sources: a slowdown only, never a
	// block. "" with pair.
	account string
}

type limitKey struct {
	base  string
	limit int
}

// newAttempt names the identities of an attempt on account (a client id or
// a lower-cased username; "" for none) from source. kinds are the key kinds
// of the pair, the source and the account.
func newAttempt(prefix string, kinds [3]string, account, source string, cfg Config) attempt {
	a := attempt{source: limitKey{keyBase(prefix, kinds[1], source), cfg.IPFailures}}
	if account != "" {
		a.pair = limitKey{keyBase(prefix, kinds[0], account+"\x00"+source), cfg.Failures}
		a.account = keyBase(prefix, kinds[2], account)
	}
	return a
}

// keys are the identities that are reserved and blocked.
func (a attempt) keys() []limitKey {
	if a.pair.base == "" {
		return []limitKey{a.source}
	}
	return []limitKey{a.pair, a.source}
}

// reply is the reserve script's answer for one identity.
type reply struct {
	// wait > 0: blocked for that long; wait < 0: every attempt the limit
	// allows is in flight (busy); 0: reserved.
	wait time.Duration
	// good: this identity succeeded recently and has not failed since.
	good bool
}

// verdict is what the limiter does with a request.
type verdict struct {
	// block > 0: refuse, Retry-After block (the longest block).
	block time.Duration
	// busy: no block, but the limit's attempts are all in flight: wait for
	// one to end and ask again.
	busy bool
	// delay before the attempt runs: the account-wide slowdown.
	delay time.Duration
}

// decide turns the identities' replies (one per attempt.keys(), in order)
// and the account's failures across sources into a verdict. The slowdown
// spares an (account, source) pair that succeeded recently: the real user
// at a machine they used before is never slowed by someone else's guesses.
func decide(replies []reply, accountFailures int64, cfg Config) verdict {
	var v verdict
	for _, r := range replies {
		switch {
		case r.wait > v.block:
			v.block = r.wait
		case r.wait < 0:
			v.busy = true
		}
	}
	if v.block > 0 {
		v.busy = false
		return v
	}
	if len(replies) > 1 && !replies[0].good {
		v.delay = slowdown(accountFailures, cfg)
	}
	return v
}

// slowdown is the delay an attempt on an account waits when the account has
// failures failures across all sources in the current (MaxWindow) period:
// none below Failures, then 100 ms doubling with every further Failures
// failures, at most MaxDelay (0: no slowdown). It holds a guesser who spreads
// over many addresses back, but never refuses anyone.
func slowdown(failures int64, cfg Config) time.Duration {
	if cfg.MaxDelay <= 0 || cfg.Failures <= 0 || failures < int64(cfg.Failures) {
		return 0
	}
	steps := failures/int64(cfg.Failures) - 1
	if steps > 30 {
		return cfg.MaxDelay
	}
	return min(100*time.Millisecond<<steps, cfg.MaxDelay)
}
