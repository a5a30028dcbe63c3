package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/authd/authd/migrations"
)

// defaultConnectTimeout bounds dialing a connection when the URL sets no
// connect_timeout.
const defaultConnectTimeout = 5 * time.Second

// DB is authd's Postgres store. It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	schema string // "" means the server's default search_path
}

// Option configures Open.
type Option func(*options)

type options struct {
	schema string
	tracer pgx.QueryTracer // stats.go
}

// WithSchema makes every connection use the given schema (search_path), which
// Migrate creates if it does not exist. Tests use one schema per test. name
// must be a plain lower-case identifier ([a-z_][a-z0-9_]*).
func WithSchema(name string) Option {
	return func(o *options) { o.schema = name }
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects to the database at url (a postgres:// URL or key=value DSN)
// and pings it. The pool holds at most max(10, 4*GOMAXPROCS) connections
// unless the URL sets pool_max_conns; dialing times out after 5s unless it
// sets connect_timeout.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.schema != "" && !identRE.MatchString(o.schema) {
		return nil, fmt.Errorf("postgres: invalid schema name %q", o.schema)
	}

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(10, 4*runtime.GOMAXPROCS(0)))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if o.schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = o.schema
	}
	if o.tracer != nil {
		cfg.ConnConfig.Tracer = o.tracer
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap("open", err)
	}
	db := &DB{pool: pool, schema: o.schema}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes every connection; it waits for connections in use to be
// released.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return wrap("ping", db.pool.Ping(ctx))
}

// Migrate applies every pending migration in migrations.FS. It is a no-op
// when the schema is up to date and safe to run from several processes at
// once: goose holds a Postgres advisory lock (one per schema) while it
// migrates. With WithSchema, the schema is created first and goose's version
// table lives in it.
func (db *DB) Migrate(ctx context.Context) error {
	if db.schema != "" {
		_, err := db.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{db.schema}.Sanitize())
		// Two processes creating the schema at once can still collide on the
		// catalog's unique index; the schema exists either way.
		if err != nil && !isCode(err, codeUniqueViolation, codeDuplicateSchema) {
			return wrap("create schema", err)
		}
	}

	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(db.migrationLockID()),
		lock.WithLockTimeout(1, 300), // poll every second, give up after 5 minutes
	)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	// A connection of its own, not borrowed from the pool: the session lock
	// dies with it even if unlocking fails.
	sqlDB := stdlib.OpenDB(*db.pool.Config().ConnConfig)
	defer sqlDB.Close()

	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS,
		goose.WithSessionLocker(locker),
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	_, err = provider.Up(ctx)
	return wrap("migrate", err)
}

// migrationLockID derives the advisory lock from the schema, so migrations of
// different schemas (parallel tests) do not wait for each other.
func (db *DB) migrationLockID() int64 {
	h := fnv.New64a()
	h.Write([]byte("authd/migrate:" + db.schema))
	return int64(h.Sum64())
}

// now is the time stored for records created without one, rounded to what
// timestamptz keeps so the caller's copy equals the stored value.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// orNow returns t, or now() when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return now()
	}
	return t
}

// texts returns s, or an empty slice when s is nil, so text[] columns hold
// '{}' rather than NULL.
func texts(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
