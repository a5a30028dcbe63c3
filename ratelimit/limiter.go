package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/internal/httpx"
)

// Config bounds failed authentications: failed client authentications (per
// client id and per IP) and failed sign-ins (per username and per IP).
// Successful requests are never counted or throttled.
type Config struct {
	// Failures per client id or username within Window before it is
	// blocked (0 means 10; negative disables the limiter).
	Failures int
	// IPFailures per client IP address within Window (0 means 50).
	IPFailures int
	// Window counts failures and is the first block's length (0: 1m). Each
	// further block while failures continue is twice as long, up to
	// MaxWindow (0: 1h).
	Window, MaxWindow time.Duration
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

// Limiter counts failed authentications in Redis (INCR and PEXPIRE in one
// script, under the key prefix) and refuses a client id, username or
// address with 429 while it is blocked. It fails open: when Redis cannot be
// asked, the request proceeds (the endpoints then report the outage
// themselves). A nil Limiter, or one whose Failures is negative, guards
// nothing.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    Config
	log    *slog.Logger
	// downUntil (unix nanoseconds): after a Redis error the limiter stands
	// aside for a second, so an outage costs each request nothing extra.
	downUntil atomic.Int64
	// clear remembers identities Redis just said are not blocked, for
	// clearTTL, so steady successful traffic (introspection, token calls of
	// a resource server) does not pay a Redis round trip per request for
	// the block check. A failure on this replica forgets the identity at
	// once; a block set on another replica is seen here within clearTTL.
	clear *expirable.LRU[string, struct{}]
}

// clearTTL bounds how stale a replica's "not blocked" verdict may be.
const clearTTL = time.Second

// limiterWait bounds how long a request waits for the limiter's Redis: a
// hung Redis must not add its timeouts to the endpoint's own.
const limiterWait = 200 * time.Millisecond

// New returns a limiter keeping its counters under prefix+"rl:".
func New(rdb redis.UniversalClient, prefix string, cfg Config, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.Default()
	}
	return &Limiter{rdb: rdb, prefix: prefix, cfg: cfg.withDefaults(), log: log,
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

// Key layout (all parts of one identity share a hash tag, so the script is
// legal on a Redis Cluster): P rl:{<kind>:<hash>}:n failures in the current
// window, :l block level (doubles the next block), :b the block itself.
// Identities are hashed: usernames and client ids do not appear in Redis.
func (l *Limiter) key(kind, id string) string {
	h := sha256.Sum256([]byte(id))
	return l.prefix + "rl:{" + kind + ":" + base64.RawURLEncoding.EncodeToString(h[:12]) + "}:"
}

var failScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n < tonumber(ARGV[1]) then return 0 end
local lvl = redis.call('INCR', KEYS[2])
local w = tonumber(ARGV[2]) * 2 ^ (lvl - 1)
if w > tonumber(ARGV[3]) then w = tonumber(ARGV[3]) end
w = math.floor(w)
redis.call('SET', KEYS[3], '1', 'PX', w)
redis.call('PEXPIRE', KEYS[2], 2 * w + tonumber(ARGV[2]))
redis.call('DEL', KEYS[1])
return w`)

type limitKey struct {
	base  string
	limit int
}

// fail records one failure for each identity.
func (l *Limiter) fail(ctx context.Context, keys []limitKey) {
	for _, k := range keys {
		l.clear.Remove(k.base)
	}
	l.call(ctx, func(ctx context.Context) error {
		for _, k := range keys {
			err := failScript.Run(ctx, l.rdb, []string{k.base + "n", k.base + "l", k.base + "b"},
				k.limit, l.cfg.Window.Milliseconds(), l.cfg.MaxWindow.Milliseconds()).Err()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// blocked returns how long the longest block among keys still lasts.
// Identities found clear within clearTTL are not asked again.
func (l *Limiter) blocked(ctx context.Context, keys []limitKey) time.Duration {
	ask := make([]limitKey, 0, len(keys))
	for _, k := range keys {
		if _, ok := l.clear.Get(k.base); !ok {
			ask = append(ask, k)
		}
	}
	if len(ask) == 0 {
		return 0
	}
	var cmds []*redis.DurationCmd
	ok := l.call(ctx, func(ctx context.Context) error {
		pipe := l.rdb.Pipeline()
		for _, k := range ask {
			cmds = append(cmds, pipe.PTTL(ctx, k.base+"b"))
		}
		_, err := pipe.Exec(ctx)
		return err
	})
	if !ok {
		return 0
	}
	var wait time.Duration
	for i, c := range cmds {
		if d := c.Val(); d > wait {
			wait = d
		} else if d <= 0 {
			l.clear.Add(ask[i].base, struct{}{})
		}
	}
	return wait
}

// Refusal answers a request refused because it is blocked for retryAfter
// seconds (the Retry-After header is already set).
type Refusal func(w http.ResponseWriter, r *http.Request, retryAfter int)

// guard serves h unless one of keys is blocked (then refuse answers), and
// counts a failure for each key when h answers 401: what the guarded
// endpoints answer for failed client authentication (invalid_client) and
// for a wrong password.
func (l *Limiter) guard(w http.ResponseWriter, r *http.Request, keys []limitKey, refuse Refusal, h http.Handler) {
	if wait := l.blocked(r.Context(), keys); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		refuse(w, r, secs)
		return
	}
	rec := httpx.NewStatusWriter(w)
	h.ServeHTTP(rec, r)
	if rec.Status() == http.StatusUnauthorized {
		l.fail(r.Context(), keys)
	}
}

// ClientAuth guards an endpoint that authenticates clients (token,
// revocation, introspection, device authorization). It names the client by
// its HTTP Basic credentials or, without them, by the client_id of the
// request's form, which the route must have parsed already (the limiter
// reads exactly the form the endpoint uses and never reads the body
// itself). Blocked callers get 429 invalid_client.
func (l *Limiter) ClientAuth(h http.Handler) http.Handler {
	if l.off() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys := []limitKey{{l.key("ipc", httpx.ClientIP(r)), l.cfg.IPFailures}}
		if id := RequestClientID(r); id != "" && len(id) <= 255 {
			keys = append(keys, limitKey{l.key("c", id), l.cfg.Failures})
		}
		l.guard(w, r, keys, refuseClient, h)
	})
}

func refuseClient(w http.ResponseWriter, _ *http.Request, secs int) {
	httpx.WriteJSON(w, http.StatusTooManyRequests, map[string]string{
		"error": "invalid_client", "error_description": fmt.Sprintf("Too many failed attempts; retry after %d s.", secs),
	})
}

// SignIn guards the sign-in form's POST: failures are counted per username
// (as the form gives it: the limiter reads it with the same PostFormValue
// the sign-in handler uses, whatever the encoding) and per IP; refuse
// renders the page a blocked person sees.
func (l *Limiter) SignIn(refuse func(w http.ResponseWriter, r *http.Request, retryAfter int), h http.Handler) http.Handler {
	if l.off() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		keys := []limitKey{{l.key("ipl", httpx.ClientIP(r)), l.cfg.IPFailures}}
		if u := strings.ToLower(strings.TrimSpace(r.PostFormValue("username"))); u != "" && len(u) <= 200 {
			keys = append(keys, limitKey{l.key("u", u), l.cfg.Failures})
		}
		l.guard(w, r, keys, refuse, h)
	})
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
