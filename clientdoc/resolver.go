package clientdoc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/authd/authd/clients"
	"github.com/authd/authd/storage"
)

// Defaults of Config.
const (
	// DefaultMaxBytes is the draft's recommended read limit (5 KB).
	DefaultMaxBytes = 5 << 10
	// DefaultTimeout bounds a whole fetch: connect, TLS, headers, body.
	DefaultTimeout = 5 * time.Second
	// DefaultStale is how long past its lifetime a document still serves
	// the token, refresh and introspection paths while it is fetched again
	// in the background.
	DefaultStale = time.Hour
	cacheSize    = 4096
)

// Config configures a Resolver.
type Config struct {
	// AllowPrivate lets documents be fetched from loopback, private and
	// other special-use addresses (tests and development only).
	AllowPrivate bool
	MaxBytes     int64
	Timeout      time.Duration
	Lifetimes    Lifetimes
	Stale        time.Duration
	// RootCAs replaces the system roots (tests).
	RootCAs *x509.CertPool
	Logger  *slog.Logger
	// Now is the clock (tests; nil: time.Now).
	Now func() time.Time
}

// Resolver fetches, checks and caches Client ID Metadata Documents. It is
// safe for concurrent use; concurrent lookups of one URL share one fetch.
type Resolver struct {
	cfg     Config
	http    *http.Client
	cache   *lru.Cache[string, *entry]
	flight  singleflight.Group
	now     func() time.Time
	fetches atomic.Int64
}

// entry is a fetched document's client and until when it is fresh.
type entry struct {
	client *storage.Client
	fresh  time.Time
	// revalidating: a background fetch is under way; retryAt (Unix
	// nanoseconds): after one that failed on the way, none before then.
	revalidating atomic.Bool
	retryAt      atomic.Int64
}

// refusal is an answer from the document's server that authd refuses (a
// status other than 200 but for 429 and 5xx, not JSON, too large, an
// invalid document), as opposed to a failure on the way: a stale copy
// whose revalidation is refused is dropped at once.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

// New returns a Resolver; zero fields of cfg take the defaults.
func New(cfg Config) *Resolver {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Lifetimes == (Lifetimes{}) {
		cfg.Lifetimes = DefaultLifetimes
	}
	if cfg.Stale <= 0 {
		cfg.Stale = DefaultStale
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cache, _ := lru.New[string, *entry](cacheSize) // only a size <= 0 fails
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Resolver{cfg: cfg, http: newHTTPClient(cfg), cache: cache, now: cfg.Now}
}

// newHTTPClient is the fetching client: no proxy (it would dial for us,
// past the guard), the dial guard on every connection, no redirects
// followed, TLS 1.2 at least.
func newHTTPClient(cfg Config) *http.Client {
	d := &net.Dialer{Timeout: cfg.Timeout, Control: dialGuard(cfg.AllowPrivate)}
	t := &http.Transport{
		Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		TLSHandshakeTimeout: cfg.Timeout, ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns: 16, IdleConnTimeout: 30 * time.Second, MaxResponseHeaderBytes: 16 << 10,
	}
	return &http.Client{Transport: t, Timeout: cfg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// Fetches counts the documents fetched (tests and metrics).
func (r *Resolver) Fetches() int64 { return r.fetches.Load() }

type freshKey struct{}

// RequireFresh marks ctx as an authorization request's: a document past
// its lifetime is fetched again before it is used (elsewhere a stale one
// serves while it is fetched again in the background).
func RequireFresh(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshKey{}, true)
}

// Client returns the client the document at id describes. Its errors wrap
// storage.ErrNotFound (an invalid URL, a failed fetch, a refused document:
// to OAuth an unknown client); nothing that failed is cached.
func (r *Resolver) Client(ctx context.Context, id string) (*storage.Client, error) {
	if err := ValidateURL(id); err != nil {
		return nil, fmt.Errorf("%w: %v", storage.ErrNotFound, err)
	}
	now := r.now()
	if e, ok := r.cache.Get(id); ok {
		switch fresh, _ := ctx.Value(freshKey{}).(bool); {
		case now.Before(e.fresh):
			return e.client, nil
		case !fresh && now.Before(e.fresh.Add(r.cfg.Stale)):
			r.revalidate(id, e)
			return e.client, nil
		}
	}
	ch := r.flight.DoChan(id, func() (any, error) { return r.load(context.WithoutCancel(ctx), id) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*storage.Client), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// revalidate fetches a stale entry again in the background (once at a
// time). A refusal drops the entry; a failure on the way keeps it until
// its stale bound, tried again no sooner than the shortest lifetime.
func (r *Resolver) revalidate(id string, e *entry) {
	if r.now().UnixNano() < e.retryAt.Load() || !e.revalidating.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer e.revalidating.Store(false)
		_, err, _ := r.flight.Do(id, func() (any, error) { return r.load(context.Background(), id) })
		var refused refusal
		switch {
		case err == nil:
		case errors.As(err, &refused):
			if cur, ok := r.cache.Peek(id); ok && cur == e {
				r.cache.Remove(id)
			}
		default:
			e.retryAt.Store(r.now().Add(r.cfg.Lifetimes.Min).UnixNano())
		}
	}()
}

// load fetches and checks the document and caches the client.
func (r *Resolver) load(ctx context.Context, id string) (*storage.Client, error) {
	c, lifetime, err := r.fetch(ctx, id)
	var invalid *clients.Error
	if errors.As(err, &invalid) {
		err = refusal{errors.New(invalid.Description())} // metadata names, not flags
	}
	if err != nil {
		r.cfg.Logger.InfoContext(ctx, "client id metadata document refused", "client_id", id, "err", err)
		return nil, fmt.Errorf("%w: client id metadata document %s: %w", storage.ErrNotFound, id, err)
	}
	r.cache.Add(id, &entry{client: c, fresh: r.now().Add(lifetime)})
	return c, nil
}

// fetch GETs the document and, for a private_key_jwt client with a
// jwks_uri, its key set (kept inline: fosite never fetches a URL a
// document names), all within one time limit.
func (r *Resolver) fetch(ctx context.Context, id string) (*storage.Client, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	body, h, err := r.get(ctx, id, r.cfg.MaxBytes)
	if err != nil {
		return nil, 0, err
	}
	c, err := Parse(id, body)
	if err != nil {
		return nil, 0, refusal{err}
	}
	if c.JWKSURI != "" {
		if c.JWKS, _, err = r.get(ctx, c.JWKSURI, maxJWKSBytes); err != nil {
			return nil, 0, fmt.Errorf("jwks_uri: %w", err)
		}
		if err := publicKeys(c.JWKS); err != nil {
			return nil, 0, refusal{fmt.Errorf("jwks_uri: %w", err)}
		}
		c.JWKSURI = ""
	}
	return &c, r.cfg.Lifetimes.Lifetime(h, r.now()), nil
}

// maxJWKSBytes bounds a key set fetched from a document's jwks_uri.
const maxJWKSBytes = 16 << 10

// get GETs u through the guarded client: only a 200 with a JSON content
// type, at most limit bytes (a redirect is not followed: it is an error).
func (r *Resolver) get(ctx context.Context, u string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil || req.URL.Scheme != "https" {
		return nil, nil, fmt.Errorf("%.300q is not an https URL", u)
	}
	req.Header.Set("Accept", "application/json")
	r.fetches.Add(1)
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code >= 500:
		return nil, nil, fmt.Errorf("status %d", code)
	case code != http.StatusOK && resp.Header.Get("Location") != "":
		return nil, nil, refusal{fmt.Errorf("status %d (redirects are not followed)", code)}
	case code != http.StatusOK:
		return nil, nil, refusal{fmt.Errorf("status %d", code)}
	case !jsonType(resp.Header.Get("Content-Type")):
		return nil, nil, refusal{fmt.Errorf("content type %.100q is not JSON", resp.Header.Get("Content-Type"))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > limit {
		return nil, nil, refusal{fmt.Errorf("the document is larger than %d bytes", limit)}
	}
	return body, resp.Header, nil
}

// jsonType: application/json or application/<something>+json.
func jsonType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
