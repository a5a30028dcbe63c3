package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/storagetest"
)

// testServer is a real authd (real Redis, real Postgres) on a loopback port,
// in its own Postgres schema and Redis key prefix.
type testServer struct {
	URL string
	App *App
	DB  *postgres.DB
}

// startServer starts authd for one test. cfgFn may adjust the config.
func startServer(t testing.TB, cfgFn ...func(*Config)) *testServer {
	t.Helper()
	return startServerLog(t, nil, cfgFn...)
}

// startServerLog is startServer with authd's logs (debug level) written to
// logw (nil: discarded, or stderr with AUTHD_TEST_LOG set).
func startServerLog(t testing.TB, logw io.Writer, cfgFn ...func(*Config)) *testServer {
	t.Helper()
	_, prefix := storagetest.Redis(t) // cleans the prefix up afterwards
	l := testListener(t)
	cfg := testConfig(l, storagetest.Schema(t), storagetest.RedisURL(), prefix)
	for _, f := range cfgFn {
		f(&cfg)
	}
	db := migratedDB(t, cfg)
	app := serveApp(t, cfg, l, testLogger(logw))
	return &testServer{URL: "http://" + l.Addr().String(), App: app, DB: db}
}

// testListener is a free loopback port.
func testListener(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testConfig is the configuration of a test authd serving on l, in schema
// and under the Redis prefix: the defaults (config.go's table) but for
// these, a shorter refresh token lifetime, and no janitor loop.
func testConfig(l net.Listener, schema, redisURL, prefix string) Config {
	c := defaultConfig()
	c.Issuer, c.Addr, c.RedisURL, c.RedisPrefix = "http://"+l.Addr().String(), l.Addr().String(), redisURL, prefix
	c.DatabaseURL, c.DatabaseSchema = storagetest.PostgresURL(), schema
	c.Secret = []byte("test-secret-test-secret-test-secret-0123456789")
	c.AccessTokenTTL, c.RefreshTokenTTL, c.AuthCodeTTL = time.Hour, 24*time.Hour, 10*time.Minute
	c.JanitorInterval = 0
	return c
}

// migratedDB opens cfg's schema, migrates it and closes it after the test.
func migratedDB(t testing.TB, cfg Config) *postgres.DB {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.WithSchema(cfg.DatabaseSchema))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// testLogger writes debug-level JSON logs to w; nil means stderr when
// AUTHD_TEST_LOG is set and nowhere otherwise.
func testLogger(w io.Writer) *slog.Logger {
	if w == nil {
		w = io.Discard
		if os.Getenv("AUTHD_TEST_LOG") != "" {
			w = os.Stderr
		}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serveApp builds an App from cfg and serves it on l until the test ends,
// then shuts it down gracefully.
func serveApp(t testing.TB, cfg Config, l net.Listener, log *slog.Logger) *App {
	t.Helper()
	app, err := NewApp(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve %s: %v", l.Addr(), err)
		}
		app.Close()
	})
	return app
}

// addUser creates a user and returns its subject.
func (s *testServer) addUser(t testing.TB, username, password string) string {
	t.Helper()
	u, err := createUser(context.Background(), s.DB, username, password)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// addClient registers a client; secret "" makes it public.
func (s *testServer) addClient(t testing.TB, c storage.Client, secret string) {
	t.Helper()
	if secret != "" {
		h, err := storage.HashClientSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		c.SecretHash = h
	} else {
		c.Public = true
	}
	if err := s.DB.CreateClient(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
}

// noRedirectClient is an http.Client with a cookie jar that does not follow
// redirects, so tests can read the Location of the authorization response.
func noRedirectClient(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers (a child's
// output, a logger used by many requests); with a limit, what is written
// once it holds more than limit bytes is dropped.
type lockedBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	limit int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit > 0 && l.b.Len() > l.limit {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cli runs an authd command against s's stores and returns stdout.
func cli(t testing.TB, s *testServer, args ...string) (string, error) {
	t.Helper()
	c := s.App.Config
	t.Setenv("AUTHD_DATABASE_URL", c.DatabaseURL)
	t.Setenv("AUTHD_DATABASE_SCHEMA", c.DatabaseSchema)
	t.Setenv("AUTHD_REDIS_URL", c.RedisURL)
	t.Setenv("AUTHD_REDIS_PREFIX", c.RedisPrefix)
	t.Setenv("AUTHD_SECRET", string(c.Secret))
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), err
}
