package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/web"
)

// RateLimitConfig bounds failed authentications: failed client
// authentications at the token, revocation, introspection and device
// authorization endpoints (per client id and per IP) and failed sign-ins on
// POST /login (per username and per IP). Successful requests are never
// counted or throttled.
type RateLimitConfig struct {
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

func (c RateLimitConfig) withDefaults() RateLimitConfig {
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

// RateLimiter counts failed authentications in Redis (INCR and PEXPIRE in
// one script, under the App's key prefix) and refuses a client id, username
// or address with 429 while it is blocked. It fails open: when Redis cannot
// be asked, the request proceeds (the endpoints then report the outage
// themselves).
type RateLimiter struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    RateLimitConfig
	pages  *web.Pages
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

// call runs f against Redis for at most limiterWait; false when Redis failed
// or was too slow (the limiter then fails open).
func (l *RateLimiter) call(ctx context.Context, f func(context.Context) error) bool {
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

// NewRateLimiter returns a limiter keeping its counters under prefix+"rl:";
// pages renders the sign-in refusal.
func NewRateLimiter(rdb redis.UniversalClient, prefix string, cfg RateLimitConfig, pages *web.Pages, log *slog.Logger) *RateLimiter {
	if log == nil {
		log = slog.Default()
	}
	return &RateLimiter{rdb: rdb, prefix: prefix, cfg: cfg.withDefaults(), pages: pages, log: log,
		clear: expirable.NewLRU[string, struct{}](100000, nil, clearTTL)}
}

// Key layout (all parts of one identity share a hash tag, so the script is
// legal on a Redis Cluster): P rl:{<kind>:<hash>}:n failures in the current
// window, :l block level (doubles the next block), :b the block itself.
// Identities are hashed: usernames and client ids do not appear in Redis.
func (l *RateLimiter) key(kind, id string) string {
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
func (l *RateLimiter) fail(ctx context.Context, keys []limitKey) {
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
func (l *RateLimiter) blocked(ctx context.Context, keys []limitKey) time.Duration {
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

// clientAuthPaths are the endpoints that authenticate clients.
var clientAuthPaths = map[string]bool{
	"/oauth2/token": true, "/oauth2/revoke": true, "/oauth2/introspect": true, "/oauth2/device/auth": true,
}

// Middleware wraps the whole router. It needs the client id or username
// before the endpoint runs, so it reads the (small, bounded) form body
// itself and hands the endpoint an identical copy.
func (l *RateLimiter) Middleware(next http.Handler) http.Handler {
	if l == nil || l.cfg.Failures < 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		login := r.URL.Path == "/login" && r.Method == http.MethodPost
		if r.Method != http.MethodPost || !login && !clientAuthPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		ip := clientIP(r)
		// The body is read ahead only when the identity is in it (a
		// username, or a client_id without HTTP Basic credentials): resource
		// servers authenticating with Basic, the common hot path, are not
		// parsed twice.
		var form url.Values
		basicID, _, basic := r.BasicAuth()
		if login || !basic {
			form = peekForm(r, 64<<10)
		}
		var keys []limitKey
		if login {
			keys = append(keys, limitKey{l.key("ipl", ip), l.cfg.IPFailures})
			if u := strings.ToLower(strings.TrimSpace(form.Get("username"))); u != "" && len(u) <= 200 {
				keys = append(keys, limitKey{l.key("u", u), l.cfg.Failures})
			}
		} else {
			keys = append(keys, limitKey{l.key("ipc", ip), l.cfg.IPFailures})
			if id := requestClientID(basicID, basic, form); id != "" && len(id) <= 255 {
				keys = append(keys, limitKey{l.key("c", id), l.cfg.Failures})
			}
		}
		if wait := l.blocked(r.Context(), keys); wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			if login && l.pages != nil {
				l.pages.RenderError(w, r, http.StatusTooManyRequests, "Too many attempts",
					fmt.Sprintf("Too many failed sign-in attempts. Try again in %d seconds.", secs))
				return
			}
			writeJSON(w, http.StatusTooManyRequests, map[string]string{
				"error": "invalid_client", "error_description": fmt.Sprintf("Too many failed attempts; retry after %d s.", secs),
			})
			return
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		// 401 is what these endpoints answer for failed client
		// authentication (invalid_client) and for a wrong password.
		if rec.code == http.StatusUnauthorized {
			l.fail(r.Context(), keys)
		}
	})
}

// clientIP is the peer address (authd does not trust X-Forwarded-For).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// requestClientID is the client id of HTTP Basic credentials (basicID, when
// basic) or of the form (client_secret_post, public clients).
func requestClientID(id string, basic bool, form url.Values) string {
	if basic {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	return form.Get("client_id")
}

// peekForm parses a copy of a form-encoded body of at most limit bytes and
// puts the body back unchanged (a longer body is put back whole, for the
// endpoint's own size check to refuse).
func peekForm(r *http.Request, limit int64) url.Values {
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if r.Body == nil || !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
		return url.Values{}
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	rest := r.Body
	r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), rest), rest}
	if err != nil || int64(len(buf)) > limit {
		return url.Values{}
	}
	v, _ := url.ParseQuery(string(buf))
	if v == nil {
		v = url.Values{}
	}
	return v
}

type readCloser struct {
	io.Reader
	io.Closer
}
