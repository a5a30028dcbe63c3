package storagetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/storage/postgres"
)

// DefaultPostgresURL is the database `make test` provides.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5440/authd_test?sslmode=disable"

// PostgresURL returns $AUTHD_TEST_DATABASE_URL, or DefaultPostgresURL when
// it is unset.
func PostgresURL() string {
	if u := os.Getenv("AUTHD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// Postgres returns a migrated store in a fresh schema t_<random hex> of the
// test database. The store is closed and the schema dropped when the test
// ends.
func Postgres(t testing.TB) *postgres.DB {
	t.Helper()
	schema := Schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, PostgresURL(), postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	t.Cleanup(db.Close) // runs before Schema's cleanup drops the schema
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("storagetest: migrate: %v", err)
	}
	return db
}

// Schema returns the name of a fresh schema t_<random hex>, not created yet
// (Migrate creates it), that is dropped when the test ends. It is for tests
// that open their own stores with postgres.WithSchema, several on one schema
// or an unmigrated one; they must close them before the test ends.
func Schema(t testing.TB) string {
	t.Helper()
	url := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		unavailable(t, "postgres", url, err)
	}
	_ = conn.Close(ctx)

	schema := "t_" + randomHex()
	t.Cleanup(func() { dropSchema(t, url, schema) })
	return schema
}

// dropSchema drops the test's schema over a connection of its own (the
// store's pool is closed by then).
func dropSchema(t testing.TB, url, schema string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("storagetest: drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("storagetest: drop schema %s: %v", schema, err)
	}
}
