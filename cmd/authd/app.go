package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/account"
	"github.com/authd/authd/admin"
	"github.com/authd/authd/clientdoc"
	"github.com/authd/authd/clients"
	"github.com/authd/authd/grants"
	"github.com/authd/authd/keys"
	"github.com/authd/authd/logout"
	"github.com/authd/authd/oauth"
	"github.com/authd/authd/ratelimit"
	dynreg "github.com/authd/authd/registration"
	"github.com/authd/authd/sessions"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/users"
	"github.com/authd/authd/web"
)

// App is a running authd: its stores, key manager and HTTP handler. The
// serve command and the end-to-end tests start it the same way.
type App struct {
	Config  Config
	Log     *slog.Logger
	DB      *postgres.DB
	RDB     redis.UniversalClient
	Redis   *redisstore.Store
	Keys    *keys.Manager
	Clients *fositestore.ClientCache
	Store   *fositestore.Store
	Grants  *grants.Manager
	// Sessions runs browser sign-in sessions; add its Listeners before
	// serving.
	Sessions *sessions.Manager
	OAuth    *oauth.Server
	Pages    *web.Pages
	// BackChannel queues and delivers back-channel logout tokens;
	// EndSession is the RP-initiated (and front-channel) logout endpoint.
	BackChannel *logout.BackChannel
	EndSession  *logout.EndSession
	Handler     http.Handler
	// AdminHandler serves /metrics and /admin/* when AUTHD_ADMIN_ADDR is
	// set (nil otherwise: Handler serves them).
	AdminHandler http.Handler
	// ClientDocs resolves Client ID Metadata Documents
	// (AUTHD_CLIENT_ID_METADATA_DOCUMENTS; nil when off).
	ClientDocs *clientdoc.Resolver

	// Users is the user service the admin API shares with `authd users`;
	// a password change, disabling or deletion ends the user's browser
	// sessions through Sessions.
	Users *users.Service
	// adminRoutes is the router /admin/* is mounted on (the public one
	// without AUTHD_ADMIN_ADDR): TestOpenAPICoversRoutes walks it.
	adminRoutes *mux.Router

	stores *storeMetrics // storemetrics.go
	cancel context.CancelFunc
	done   chan struct{}
	jobs   *jobs
}

// openPostgres connects to AUTHD_DATABASE_URL (in AUTHD_DATABASE_SCHEMA).
func openPostgres(ctx context.Context, c Config, opts ...postgres.Option) (*postgres.DB, error) {
	if c.DatabaseSchema != "" {
		opts = append(opts[:len(opts):len(opts)], postgres.WithSchema(c.DatabaseSchema))
	}
	db, err := postgres.Open(ctx, c.DatabaseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}

// openRedis connects to AUTHD_REDIS_URL (redisurl.go); it does not dial yet.
func openRedis(c Config) (redis.UniversalClient, error) { return newRedisClient(c.RedisURL) }

// newGrantStores builds the token stores over open connections: the Redis
// store, the client cache, the grants home and the fosite adapter (which
// ends grants through the grants home). serve and the grants, clients and
// janitor commands share it, so a revocation from the CLI goes through
// exactly the path the server's uses. reg (nil for the CLI) receives the
// grants home's metrics, log (nil: slog's default) what its usage flush
// drops.
func newGrantStores(c Config, db *postgres.DB, rdb redis.UniversalClient, reg prometheus.Registerer, log *slog.Logger) (*redisstore.Store, *fositestore.ClientCache, *fositestore.Store, *grants.Manager, error) {
	rs := redisstore.New(rdb, c.RedisPrefix)
	if !c.NoRedisAutoPipeline {
		if err := rs.AutoPipelineReads(); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	clients := fositestore.NewClientCache(db, 10000, c.ClientCacheTTL)
	m := grants.New(grants.Config{
		Families: rs, Records: db, Pending: rs, Sweeper: db, Clients: clients, ClientRecords: db,
		DeviceLabel: web.DeviceLabel, TombstoneTTL: c.AuthCodeTTL, Metrics: reg, Logger: log,
	})
	store := fositestore.New(fositestore.Config{
		Redis: rs, Records: db, Clients: clients, Revoker: m, NewSession: oauth.NewSession,
		TombstoneTTL: c.AuthCodeTTL, RefreshScopes: oauth.RefreshScopes, RetryWindow: c.RefreshRetryWindow,
	})
	return rs, clients, store, m, nil
}

// newSessions is the sessions home over the Redis store; ending a session
// revokes its grants through the grants home. serve and the grants command
// share it.
func newSessions(c Config, rs *redisstore.Store, m *grants.Manager, log *slog.Logger) *sessions.Manager {
	return sessions.New(sessions.Config{
		Store: rs, Grants: m, TTL: c.SessionTTL, Idle: c.SessionIdleTimeout,
		Secure: strings.HasPrefix(c.Issuer, "https://"), DeviceLabel: web.DeviceLabel, Logger: log,
	})
}

// NewApp builds the whole server. It needs migrated storage; it creates the
// first signing key if there is none.
func NewApp(ctx context.Context, c Config, log *slog.Logger) (*App, error) {
	if err := c.ValidateServe(); err != nil {
		return nil, err
	}
	log = withRequestIDs(log) // requestid.go
	sm := newStoreMetrics()   // storemetrics.go
	db, err := openPostgres(ctx, c, postgres.WithTracer(sm))
	if err != nil {
		return nil, err
	}
	rdb, err := openRedis(c)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &App{Config: c, Log: log, DB: db, RDB: rdb, done: make(chan struct{}), stores: sm}
	if err := a.build(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context) error {
	c := a.Config
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.stores.register(reg, a.RDB, a.DB)
	var err error
	if a.Redis, a.Clients, a.Store, a.Grants, err = newGrantStores(c, a.DB, a.RDB, reg, a.Log); err != nil {
		return err
	}
	if a.ClientDocs = a.clientDocuments(); a.ClientDocs != nil {
		a.Clients.UseDocuments(a.ClientDocs)
	}
	if a.Keys, err = keys.New(a.DB, c.Secret, keys.WithLogger(a.Log)); err != nil {
		return err
	}
	// An active key of each algorithm: ID tokens are signed RS256 or ES256
	// (the audience client's id_token_signed_response_alg), JWT access
	// tokens (--access-token-format jwt) ES256.
	for _, alg := range []string{keys.RS256, keys.ES256} {
		if err := a.Keys.EnsureKey(ctx, alg); err != nil {
			if errors.Is(err, keys.ErrSealed) {
				return fmt.Errorf("signing key: %w: the keys in this database were sealed with another AUTHD_SECRET; start with that secret", err)
			}
			return fmt.Errorf("signing key: %w", err)
		}
	}
	secure := strings.HasPrefix(c.Issuer, "https://")
	limiter := ratelimit.New(a.RDB, c.RedisPrefix, c.limits(), a.Log, publicClients{a.Clients, a.ClientDocs != nil}) // failed authentications
	a.Sessions = newSessions(c, a.Redis, a.Grants, a.Log)
	a.Pages, err = web.New(web.Config{
		Users: a.DB, Sessions: a.Sessions, Secret: c.Secret, Secure: secure,
		Logger: a.Log, Devices: account.Devices{Grants: a.Grants},
		Apps:             account.AppsPage{Apps: account.Apps{Grants: a.Grants, Consents: a.DB}},
		SignInLimiter:    limiter,
		UserCodeFailures: c.DeviceCodeFailures, UserCodeWindow: c.DeviceCodeWindow,
	})
	if err != nil {
		return err
	}
	a.OAuth, err = oauth.New(oauth.Config{
		Issuer: c.Issuer, Secret: c.Secret, AccessTokenTTL: c.AccessTokenTTL,
		RefreshTokenTTL: c.RefreshTokenTTL, AuthCodeTTL: c.AuthCodeTTL, IDTokenTTL: c.IDTokenTTL,
		DeviceCodeTTL: c.DeviceCodeTTL, RefreshRetryWindow: c.RefreshRetryWindow,
		RegistrationEndpoint: dynreg.Endpoint(c.Issuer, c.Registration), ClientIDMetadataDocuments: a.ClientDocs != nil,
	}, oauth.Deps{
		Store: a.Store, Clients: a.Clients, Keys: a.Keys, Pages: a.Pages, Consents: a.DB, Users: a.DB,
		Logger: a.Log, Metrics: reg, Usage: a.Grants,
		DeviceStates: a.Redis, Once: a.Redis, Limiter: limiter, UserCodeGuesses: ratelimit.NewCounter(a.RDB, c.RedisPrefix),
		Health: []oauth.HealthCheck{{Name: "redis", Check: a.Redis.Ping}, {Name: "postgres", Check: a.DB.Ping}},
	})
	if err != nil {
		return err
	}
	a.Users = &users.Service{Store: a.DB, Grants: a.Grants, Sessions: a.Sessions, Logger: a.Log}
	a.BackChannel = logout.NewBackChannel(logout.BackChannelConfig{
		Issuer: c.Issuer, Clients: logoutClients{a.Clients}, Keys: a.Keys, Queue: a.Redis,
		Logger: a.Log, Metrics: reg, Backoff: c.backchannelBackoff,
	})
	a.EndSession = &logout.EndSession{Issuer: c.Issuer, Browser: logoutBrowser{a.Pages}, Hints: a.OAuth,
		Clients: logoutClients{a.Clients}, Pages: a.Pages, Logger: a.Log}
	a.Sessions.Listeners = append(a.Sessions.Listeners, a.BackChannel, a.EndSession) // a session's end: logout tokens, front-channel frames
	a.Handler = a.routes(reg, secure)

	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		defer close(a.done)
		a.runKeys(bg) // keyrotation.go: reload keys; rotate them if AUTHD_KEY_ROTATION is set
	}()
	a.jobs = startJobs(bg, a)
	return nil
}

// routes mounts every area's routes: the whole HTTP surface of authd is
// this block (each area's Mount lists its own routes). gorilla/mux tries
// routes in order, so the protocol's hot endpoints come first. With
// AUTHD_ADMIN_ADDR, /admin/* and /metrics go on their own router
// (a.AdminHandler, served on that listener) and the public one answers 404
// for them.
func (a *App) routes(reg *prometheus.Registry, secure bool) http.Handler {
	r := mux.NewRouter()
	ops := r
	if a.Config.AdminAddr != "" {
		ops = mux.NewRouter()
	}
	a.adminRoutes = ops
	me := &account.API{Grants: a.Grants, Apps: account.Apps{Grants: a.Grants, Consents: a.DB}, Tokens: a.OAuth, Sessions: a.Sessions, Logger: a.Log}
	a.OAuth.Mount(r)              // /oauth2/*, /userinfo, /.well-known/*, health
	a.OAuth.DeviceFlow().Mount(r) // /oauth2/device/auth, /device
	me.Mount(r)                   // /api/me/*
	a.adminAPI().Mount(ops)       // /admin/*
	a.Pages.Routes(r)             // /login, /logout, /account/devices, /static/
	a.registrationAPI().Mount(r)  // /oauth2/register (RFC 7591, 7592) unless off
	a.EndSession.Mount(r)         // /oauth2/logout, /oauth2/logout/confirm
	ops.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	if ops != r {
		a.AdminHandler = a.outer(ops, secure)
	}
	return a.outer(r, secure)
}

// adminAPI is the admin area over the grants home and the user and client
// services.
func (a *App) adminAPI() *admin.API {
	return &admin.API{
		Token: a.Config.AdminToken, Grants: a.Grants, Users: a.Users, Sessions: a.Sessions,
		Clients: a.ClientService(), ClientPages: a.DB, Logger: a.Log,
	}
}

// registrationAPI is the dynamic client registration area over the client
// service (deletes end tokens through the grants home).
func (a *App) registrationAPI() *dynreg.API {
	c := a.Config
	return &dynreg.API{
		Mode: c.Registration, InitialToken: c.RegistrationToken, Issuer: c.Issuer,
		Clients: a.ClientService(), Tokens: a.DB, Logger: a.Log,
		Limit: ratelimit.NewWindow(a.RDB, c.RedisPrefix, "reg", c.RegistrationRate, time.Hour),
	}
}

// ClientService is the client lifecycle over the server's stores: deletes
// end tokens through the grants home, and every change reloads this
// replica's client cache at once.
func (a *App) ClientService() *clients.Service {
	return &clients.Service{Store: a.DB, Deleter: a.Grants, Cache: reloadCache{a.Clients}}
}

// reloadCache reloads a changed client into the cache (a failure leaves
// the cached copy to expire).
type reloadCache struct{ c *fositestore.ClientCache }

func (r reloadCache) ClientChanged(ctx context.Context, id string) { _, _ = r.c.Reload(ctx, id) }

// outer puts the middleware every request goes through around a router.
func (a *App) outer(r *mux.Router, secure bool) http.Handler {
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found", http.StatusNotFound)
	})
	h := requestIDs(a.Log, web.SecurityHeaders(recoverer(a.Log, r))) // requestid.go
	if secure {
		h = web.StrictTransport(h)
	}
	// First: the client address is resolved once (AUTHD_TRUSTED_PROXIES),
	// for the limiter, the grants' IPs, the device page and the request log.
	return a.Config.Proxies.Middleware(h)
}

// recoverer turns a panic into a logged 500 instead of a dropped connection.
func recoverer(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// Serve serves HTTP on l until ctx is done, then shuts down gracefully.
func (a *App) Serve(ctx context.Context, l net.Listener) error { return a.serve(ctx, l, a.Handler) }

// ServeAdmin serves /metrics and /admin/* on l (AUTHD_ADMIN_ADDR) as Serve
// does.
func (a *App) ServeAdmin(ctx context.Context, l net.Listener) error {
	if a.AdminHandler == nil {
		return errors.New("AUTHD_ADMIN_ADDR is not set")
	}
	return a.serve(ctx, l, a.AdminHandler)
}

func (a *App) serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases everything NewApp opened.
func (a *App) Close() {
	if a.cancel != nil {
		a.cancel()
		<-a.done
		a.jobs.stop() // final usage flush, before the stores close
	}
	if a.RDB != nil {
		_ = a.RDB.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
}
