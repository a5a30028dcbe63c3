package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/storagetest"
)

// withParam returns the test database URL with one more query parameter.
func withParam(t *testing.T, key, value string) string {
	t.Helper()
	u, err := url.Parse(storagetest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestUnavailable: every way the real Postgres can fail to answer comes back
// as storage.ErrUnavailable (with the cause kept), and answers do not.
func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	t.Run("refused", func(t *testing.T) {
		_, err := postgres.Open(ctx, fmt.Sprintf("postgres://authd@127.0.0.1:%d/authd?sslmode=disable&connect_timeout=2", storagetest.FreePort(t)))
		storagetest.WantUnavailable(t, "Open", err, syscall.ECONNREFUSED)
		var ce *pgconn.ConnectError
		if !errors.As(err, &ce) {
			t.Errorf("Open: %v, want the pgconn.ConnectError in the chain", err)
		}
	})
	t.Run("closed pool", func(t *testing.T) {
		db := storagetest.Postgres(t)
		if _, err := db.GetClient(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("GetClient of a missing client: %v, want ErrNotFound alone", err)
		}
		if err := db.CreateClient(ctx, &storage.Client{ID: "c", Public: true}); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateClient(ctx, &storage.Client{ID: "c", Public: true}); !errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("CreateClient twice: %v, want ErrConflict alone", err)
		}
		db.Close()
		_, err := db.GetClient(ctx, "c")
		storagetest.WantUnavailable(t, "GetClient after Close", err, nil)
		storagetest.WantUnavailable(t, "ListGrants after Close", listGrantsErr(ctx, db), nil)
	})
	t.Run("deadline", func(t *testing.T) {
		db := storagetest.Postgres(t)
		dctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-dctx.Done()
		_, err := db.GetClient(dctx, "c")
		storagetest.WantUnavailable(t, "GetClient past the deadline", err, context.DeadlineExceeded)
	})
	t.Run("terminated connection", testTerminatedConnection)
}

func listGrantsErr(ctx context.Context, db *postgres.DB) error {
	_, err := db.ListGrants(ctx, "alice")
	return err
}

// testTerminatedConnection: a pooled connection whose server process was
// terminated (as a restart or failover does) fails the next statement with
// storage.ErrUnavailable.
func testTerminatedConnection(t *testing.T) {
	ctx := context.Background()
	app := "authd_unavailable_" + fmt.Sprint(time.Now().UnixNano())
	db, err := postgres.Open(ctx, withParam(t, "application_name", app)+"&pool_max_conns=1")
	if err != nil {
		t.Skipf("postgres: %v", err)
	}
	defer db.Close()
	admin, err := pgx.Connect(ctx, storagetest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// The pool pings a connection only after a second idle (and would then
	// replace a dead one silently): ping at once, and try again should a
	// slow machine have taken that second.
	for attempt := 1; ; attempt++ {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1`, app).Scan(&n); err != nil || n != 1 {
			t.Fatalf("terminate the store's connection: %d terminated, %v", n, err)
		}
		err := db.Ping(ctx)
		if err != nil || attempt == 3 {
			storagetest.WantUnavailable(t, "Ping on the terminated connection", err, nil)
			return
		}
	}
}
