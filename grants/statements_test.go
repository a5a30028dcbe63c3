package grants_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
)

// statements records the Postgres statements run through a pool (its
// first keyword and whether it names the grants table).
type statements struct {
	mu  sync.Mutex
	sql []string
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	op := strings.ToUpper(strings.Fields(d.SQL)[0])
	if strings.Contains(d.SQL, "grants") {
		op += " grants"
	}
	s.sql = append(s.sql, op)
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (s *statements) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sql
	s.sql = nil
	return out
}

// commands records the Redis commands sent.
type commands struct {
	mu   sync.Mutex
	cmds []string
}

func (c *commands) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.cmds = append(c.cmds, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		c.cmds = append(c.cmds, "pipeline")
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *commands) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.cmds
	c.cmds = nil
	return out
}

// TestRevocationStatements proves against the real services what a
// revocation from the devices page or the account API costs: the ownership
// read, ONE grants UPDATE and one run of the Redis revocation script, for a
// live family and for one already gone from Redis (not swept yet) alike.
// (Before the grants home it was SELECT, UPDATE, UPDATE, SELECT for a live
// family: the row was marked twice.)
func TestRevocationStatements(t *testing.T) {
	ctx := context.Background()
	pg := &statements{}
	db, err := postgres.Open(ctx, storagetest.PostgresURL(), postgres.WithSchema(storagetest.Schema(t)), postgres.WithTracer(pg))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rdb, prefix := storagetest.Redis(t)
	rc := &commands{}
	rdb.AddHook(rc)
	rs := redisstore.New(rdb, prefix)
	m := grants.New(grants.Config{Families: rs, Records: db})
	_ = m.Revoke(ctx, "warm-up", storage.RevokedByUser) // load the script: later runs are one EVALSHA

	for _, c := range []struct {
		id     string
		family bool
	}{{"7d1c2a64-0000-4000-8000-000000000001", true}, {"7d1c2a64-0000-4000-8000-000000000002", false}} {
		if err := db.CreateGrant(ctx, &storage.Grant{ID: c.id, Subject: "alice", ClientID: "app", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if c.family {
			if err := rs.CreateAccess(ctx, c.id, "mac", []byte("x"), time.Hour, &redisstore.Birth{FamilyTTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
		}
		pg.take()
		rc.take()
		if err := m.RevokeFor(ctx, "alice", c.id, storage.RevokedByUser); err != nil {
			t.Fatal(err)
		}
		sql, cmds := pg.take(), rc.take()
		t.Logf("family in Redis %v: Postgres %v, Redis %v", c.family, sql, cmds)
		if strings.Join(sql, ",") != "SELECT grants,UPDATE grants" {
			t.Errorf("family in Redis %v: Postgres statements %v, want the ownership SELECT and ONE UPDATE", c.family, sql)
		}
		if strings.Join(cmds, ",") != "evalsha" {
			t.Errorf("family in Redis %v: Redis commands %v, want the revocation script once", c.family, cmds)
		}
		if g, err := db.GetGrant(ctx, c.id); err != nil || g.RevokeReason != storage.RevokedByUser {
			t.Errorf("row %+v, %v", g, err)
		}
	}

	// The protocol path (RFC 7009, reuse): no read, one UPDATE for a live
	// user grant; nothing in Postgres for one already ended.
	id := "7d1c2a64-0000-4000-8000-000000000003"
	if err := db.CreateGrant(ctx, &storage.Grant{ID: id, Subject: "alice", ClientID: "app", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := rs.CreateAccess(ctx, id, "mac", []byte("x"), time.Hour, &redisstore.Birth{FamilyTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	pg.take()
	rc.take()
	for i, want := range []string{"UPDATE grants", ""} {
		if err := m.Revoke(ctx, id, storage.RevokedByClient); err != nil {
			t.Fatal(err)
		}
		if sql, cmds := pg.take(), rc.take(); strings.Join(sql, ",") != want || strings.Join(cmds, ",") != "evalsha" {
			t.Errorf("protocol revocation %d: Postgres %v, Redis %v; want %q and the script once", i+1, sql, cmds, want)
		}
	}
}
