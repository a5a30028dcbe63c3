package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
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
	ctx := context.Background()
	schema := storagetest.Schema(t)
	rdb, prefix := storagetest.Redis(t) // cleans the prefix up afterwards
	_ = rdb
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	cfg := Config{
		Issuer: base, Addr: l.Addr().String(), RedisURL: storagetest.RedisURL(), RedisPrefix: prefix,
		DatabaseURL: storagetest.PostgresURL(), DatabaseSchema: schema,
		Secret:         []byte("test-secret-test-secret-test-secret-0123456789"),
		AccessTokenTTL: time.Hour, RefreshTokenTTL: 24 * time.Hour, AuthCodeTTL: 10 * time.Minute,
	}
	for _, f := range cfgFn {
		f(&cfg)
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	var logw io.Writer = io.Discard
	if os.Getenv("AUTHD_TEST_LOG") != "" {
		logw = os.Stderr
	}
	app, err := NewApp(ctx, cfg, slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Serve(sctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		app.Close()
	})
	return &testServer{URL: base, App: app, DB: db}
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
