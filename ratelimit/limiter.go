package ratelimit

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/redis/go-redis/v9"
)

// Config bounds failed authentications: failed client authentications and
// failed sign-ins, per (account, source address), per source address, and —
// as a slowdown only — per account across addresses; and device
// authorization requests per (client, source address).
type Config struct {
	// Failures per (client id or username, source address) within Window
	// before that pair is blocked (0 means 10; negative disables the
	// limiter). The account-wide slowdown starts at the same count.
	Failures int
	// IPFailures per source address within Window, whatever the account
	// (0 means 50).
	IPFailures int
	// Window counts failures and is the first block's length (0: 1m). Each
	// further block while failures continue is twice as long, up to
	// MaxWindow (0: 1h). MaxWindow is also the account-wide count's period.
	Window, MaxWindow time.Duration
	// MaxDelay bounds the account-wide slowdown (0: no slowdown).
	MaxDelay time.Duration
	// DeviceAuthPerMinute bounds device authorization requests per client
	// and source address (0: unbounded). It works even when Failures is
	// negative.
	DeviceAuthPerMinute int
}

func (c Config) withDefaults() Config {
	if c.Failures == 0 {
		c.Failures = 10
	}
	if c.IPFailures <= 0 {
		c.IPFailures = 50
	}
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.MaxWindow < c.Window {
		c.MaxWindow = max(time.Hour, c.Window)
	}
	return c
}

// PublicClients tells whether a client id is a public client's (the client
// cache). A public client has no secret to guess: failed authentications
// naming it are counted against their source address only, so nobody can
// block or slow the client itself.
type PublicClients interface {
	IsPublic(ctx context.Context, clientID string) bool
}

// Limiter counts authentications in Redis and refuses with 429 what is
// blocked. An attempt reserves its place (increment, then decide, in one
// script per identity) before the endpoint runs, so a concurrent burst
// cannot get more attempts than the limit; a success gives its place back.
// It fails open: when Redis cannot be asked, the request proceeds (the
// endpoints then report the outage themselves). A nil Limiter, or one whose
// Failures is negative, guards nothing.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    Config
	log    *slog.Logger
	public PublicClients
	// downUntil (unix nanoseconds): after a Redis error the limiter stands
	// aside for a second, so an outage costs each request nothing extra.
	downUntil atomic.Int64
	// clear remembers, for clearTTL, (client, source) pairs (and sources of
	// requests naming no confidential client) that just succeeded, so
	// steady successful traffic (introspection, token calls of a resource
	// server) costs no Redis round trip. A failure on this replica forgets
	// the pair at once; a block set on another replica is seen here within
	// clearTTL.
	clear *expirable.LRU[string, struct{}]
}

// clearTTL bounds how stale a replica's "just succeeded" verdict may be.
const clearTTL = time.Second

// limiterWait bounds how long a request waits for the limiter's Redis: a
// hung Redis must not add its timeouts to the endpoint's own (long
// enough that a loaded machine, or an attacker's burst, does not make the
// limiter stand aside).
const limiterWait = 500 * time.Millisecond

// New returns a limiter keeping its counters under prefix+"rl:"; public
// (may be nil: every client counts as confidential) tells public clients.
func New(rdb redis.UniversalClient, prefix string, cfg Config, log *slog.Logger, public PublicClients) *Limiter {
	if log == nil {
		log = slog.Default()
	}
	return &Limiter{rdb: rdb, prefix: prefix, cfg: cfg.withDefaults(), log: log, public: public,
		clear: expirable.NewLRU[string, struct{}](100000, nil, clearTTL)}
}

func (l *Limiter) off() bool { return l == nil || l.cfg.Failures < 0 }

// call runs f against Redis for at most limiterWait; false when Redis failed
// or was too slow (the limiter then fails open).
func (l *Limiter) call(ctx context.Context, f func(context.Context) error) bool {
	if time.Now().UnixNano() < l.downUntil.Load() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		done <- f(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(limiterWait):
		err = context.DeadlineExceeded
	}
	if err != nil && err != redis.Nil {
		l.downUntil.Store(time.Now().Add(time.Second).UnixNano())
		l.log.Debug("rate limiter: redis unavailable, not limiting", "err", err)
		return false
	}
	return true
}

// RequestClientID is the client a request names: the id of its HTTP Basic
// credentials (form-decoded, RFC 6749 §2.3.1) or, without them, the
// client_id of its already parsed form (client_secret_post, public
// clients). "" when it names none.
func RequestClientID(r *http.Request) string {
	if id, _, basic := r.BasicAuth(); basic {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	if r.PostForm == nil {
		return ""
	}
	return r.PostForm.Get("client_id")
}
