package fositestore_test

// Benchmarks of the storage adapter's hot operations against the real Redis
// and Postgres that `make test` starts. Each reports, besides ns/op and
// allocs/op:
//
//	redis-roundtrips/op  commands and pipelines sent to Redis (a go-redis hook)
//	pg-queries/op        calls into the Postgres store (a counting decorator
//	                     over the real store, also behind the client cache)
//
// Refresh, introspection and access-token validation must not touch
// Postgres: those benchmarks fail when pg-queries/op is not 0.
//
// Each iteration does what fosite v0.49's handlers do with storage (and the
// token strategy) for one request; the HTTP layer and fosite itself are not
// included (`go run ./bench` measures those).

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/oauth"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/token"
)

// roundTrips counts what go-redis sends: one per command, one per pipeline
// (or MULTI/EXEC transaction). A script's EVALSHA that falls back to EVAL
// counts twice, as it costs two round trips.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// countingRecords decorates the real Postgres store and counts the queries
// the adapter (and its client cache) make.
type countingRecords struct {
	*postgres.DB // the grant manager's other calls, not counted
	db           *postgres.DB
	n            atomic.Int64
}

func (c *countingRecords) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	c.n.Add(1)
	return c.db.GetClient(ctx, id)
}

func (c *countingRecords) CreateGrant(ctx context.Context, g *storage.Grant) error {
	c.n.Add(1)
	return c.db.CreateGrant(ctx, g)
}

func (c *countingRecords) RevokeGrant(ctx context.Context, id, reason string, at time.Time) (storage.Grant, error) {
	c.n.Add(1)
	return c.db.RevokeGrant(ctx, id, reason, at)
}

func (e *env) measure(b *testing.B) {
	b.ReportAllocs()
	e.rt.n.Store(0)
	e.pg.n.Store(0)
	b.ResetTimer()
}

func (e *env) report(b *testing.B, wantPG int64) {
	b.StopTimer()
	rt, pg := e.rt.n.Load(), e.pg.n.Load()
	b.ReportMetric(float64(rt)/float64(b.N), "redis-roundtrips/op")
	b.ReportMetric(float64(pg)/float64(b.N), "pg-queries/op")
	if wantPG >= 0 && pg != wantPG*int64(b.N) {
		b.Fatalf("%d Postgres queries in %d operations, want %d per operation", pg, b.N, wantPG)
	}
}

func grantIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	return ids
}

// BenchmarkRefresh: one refresh per iteration along a single rotating chain.
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	id := uuid.NewString()
	_, rt := e.born(b, ctx, id)
	e.measure(b)
	for i := 0; i < b.N; i++ {
		var err error
		if _, rt, err = e.refresh(ctx, id, rt); err != nil {
			b.Fatalf("refresh %d: %v", i, err)
		}
	}
	e.report(b, 0)
}

// BenchmarkRefreshParallel: concurrent refreshes (-cpu × GOMAXPROCS
// goroutines, b.SetParallelism(8) each), every goroutine on its own chain.
func BenchmarkRefreshParallel(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	const par = 8
	b.SetParallelism(par)
	type chain struct{ id, rt string }
	chains := make([]chain, par*runtime.GOMAXPROCS(0))
	for i := range chains {
		chains[i].id = uuid.NewString()
		_, chains[i].rt = e.born(b, ctx, chains[i].id)
	}
	var next atomic.Int64
	var fail atomic.Value
	e.measure(b)
	b.RunParallel(func(pb *testing.PB) {
		c := &chains[next.Add(1)-1]
		for pb.Next() {
			var err error
			if _, c.rt, err = e.refresh(ctx, c.id, c.rt); err != nil {
				fail.Store(err.Error())
				return
			}
		}
	})
	if v := fail.Load(); v != nil {
		b.Fatal(v)
	}
	e.report(b, 0)
}

// BenchmarkAccessTokenLookup is the introspection and token-validation path
// (fosite's introspector, the userinfo endpoint): check the MAC, one Redis
// GET, the client from the cache, the expiry.
func BenchmarkAccessTokenLookup(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	const n = 64
	ats := make([]string, n)
	for i := range ats {
		ats[i], _ = e.born(b, ctx, uuid.NewString())
	}
	e.measure(b)
	for i := 0; i < b.N; i++ {
		at := ats[i%n]
		r, err := e.store.GetAccessTokenSession(ctx, e.strategy.AccessTokenSignature(ctx, at), oauth.NewSession())
		if err != nil {
			b.Fatal(err)
		}
		if err := e.strategy.ValidateAccessToken(ctx, r, at); err != nil {
			b.Fatal(err)
		}
	}
	e.report(b, 0)
}

// BenchmarkCodeExchange is a grant's birth: the storage side of an
// authorization_code grant with PKCE and OpenID Connect (fosite's code,
// PKCE and OpenID Connect token handlers), writing the grant's Postgres row.
// The codes are created before the timer starts.
func BenchmarkCodeExchange(b *testing.B) {
	e := newEnv(b)
	ctx := storage.WithRequestMeta(context.Background(), storage.RequestMeta{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (bench)"})
	ids := grantIDs(b.N)
	codes := make([]string, b.N)
	for i, id := range ids {
		r := e.request("authorization_code", id)
		code, sig, err := e.strategy.GenerateAuthorizeCode(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		codes[i] = code
		// What the authorize endpoint stores (fosite sanitises the form).
		if err := e.store.CreateAuthorizeCodeSession(ctx, sig, r.Sanitize(nil)); err != nil {
			b.Fatal(err)
		}
		if err := e.store.CreatePKCERequestSession(ctx, sig, r.Sanitize([]string{"code_challenge", "code_challenge_method"})); err != nil {
			b.Fatal(err)
		}
		if err := e.store.CreateOpenIDConnectSession(ctx, code, r.Sanitize([]string{"nonce"})); err != nil {
			b.Fatal(err)
		}
	}
	e.measure(b)
	for i := 0; i < b.N; i++ {
		code := codes[i]
		sig := e.strategy.AuthorizeCodeSignature(ctx, code)
		req := &fosite.AccessRequest{GrantTypes: fosite.Arguments{"authorization_code"}, Request: *e.request("authorization_code", ids[i])}
		req.Form.Set("code", code)
		// HandleTokenEndpointRequest: code, then PKCE.
		if _, err := e.store.GetAuthorizeCodeSession(ctx, sig, req.GetSession()); err != nil {
			b.Fatal(err)
		}
		if _, err := e.store.GetPKCERequestSession(ctx, sig, req.GetSession()); err != nil {
			b.Fatal(err)
		}
		if err := e.store.DeletePKCERequestSession(ctx, sig); err != nil {
			b.Fatal(err)
		}
		// PopulateTokenEndpointResponse: the code again, single use, the
		// tokens; then the OpenID Connect session.
		if _, err := e.store.GetAuthorizeCodeSession(ctx, sig, req.GetSession()); err != nil {
			b.Fatal(err)
		}
		_, atSig, _ := e.strategy.GenerateAccessToken(ctx, req)
		_, rtSig, _ := e.strategy.GenerateRefreshToken(ctx, req)
		if err := e.store.InvalidateAuthorizeCodeSession(ctx, sig); err != nil {
			b.Fatal(err)
		}
		if err := e.store.CreateAccessTokenSession(ctx, atSig, req.Sanitize(nil)); err != nil {
			b.Fatal(err)
		}
		if err := e.store.CreateRefreshTokenSession(ctx, rtSig, atSig, req.Sanitize(nil)); err != nil {
			b.Fatal(err)
		}
		if _, err := e.store.GetOpenIDConnectSession(ctx, code, req); err != nil {
			b.Fatal(err)
		}
		if err := e.store.DeleteOpenIDConnectSession(ctx, code); err != nil {
			b.Fatal(err)
		}
	}
	e.report(b, 1) // the grants row
}

// BenchmarkRevoke: RFC 7009 revocation of a user's refresh token (fosite's
// TokenRevocationHandler: look the token up, revoke by request id as refresh
// and as access token, in the revocation endpoint's context). The grants are
// born before the timer starts.
func BenchmarkRevoke(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	ids := grantIDs(b.N)
	rts := make([]string, b.N)
	for i, id := range ids {
		_, rts[i] = e.born(b, ctx, id)
	}
	e.measure(b)
	for i := 0; i < b.N; i++ {
		revoke(b, e, rts[i])
	}
	e.report(b, 1) // the grants row's revocation, once
}

// revoke is the storage side of one RFC 7009 request for refresh token rt.
func revoke(t testing.TB, e *env, rt string) {
	t.Helper()
	ctx := fositestore.WithRevocation(context.Background())
	r, err := e.store.GetRefreshTokenSession(ctx, e.strategy.RefreshTokenSignature(ctx, rt), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.RevokeRefreshToken(ctx, r.GetID()); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RevokeAccessToken(ctx, r.GetID()); err != nil {
		t.Fatal(err)
	}
}

// grantOf is the grant id in a token.
func grantOf(t testing.TB, tok string) string {
	t.Helper()
	sg, ok := token.ParseSignature(tok)
	if !ok {
		t.Fatalf("token %q does not parse", tok)
	}
	return sg.Grant
}

// TestBenchCounters keeps the counters honest: a birth is two Redis round
// trips (scripts) and one Postgres insert, a lookup one GET, a refresh two.
func TestBenchCounters(t *testing.T) {
	for _, c := range []struct {
		name   string
		fn     func(e *env, ctx context.Context)
		rt, pg int64
	}{
		{"birth", func(e *env, ctx context.Context) { e.born(t, ctx, uuid.NewString()) }, 2, 1},
		{"lookup", func(e *env, ctx context.Context) {
			_, _ = e.store.GetAccessTokenSession(ctx, "7d1c2a64-0000-4000-8000-000000000001.0.x", oauth.NewSession())
		}, 1, 0},
		// The family's HMGET and one revocation script, although fosite
		// revokes as refresh and as access token; the grants row once.
		{"revoke", func(e *env, ctx context.Context) { revoke(t, e, e.bornForCounters) }, 2, 1},
		// The family's HMGET and one script that rotates and stores the new
		// access and refresh tokens (fosite's transaction, tx.go); was 4:
		// the HMGET, then rotate, create access, create refresh.
		{"refresh", func(e *env, ctx context.Context) {
			if _, _, err := e.refresh(ctx, grantOf(t, e.bornForCounters), e.bornForCounters); err != nil {
				t.Fatal(err)
			}
		}, 2, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.born(t, ctx, uuid.NewString()) // loads the scripts: EVALSHA never falls back to EVAL below
			_, e.bornForCounters = e.born(t, ctx, uuid.NewString())
			revoke(t, e, e.bornForCounters) // loads the revocation script
			id := uuid.NewString()
			_, rt := e.born(t, ctx, id)
			if _, _, err := e.refresh(ctx, id, rt); err != nil { // loads the refresh script
				t.Fatal(err)
			}
			_, e.bornForCounters = e.born(t, ctx, uuid.NewString())
			// Dials the autopipeliner's connection (its handshake commands
			// pass the hook too), as any first read after start does.
			_, _ = e.store.GetAccessTokenSession(ctx, "7d1c2a64-0000-4000-8000-000000000000.0.x", oauth.NewSession())
			e.rt.n.Store(0)
			e.pg.n.Store(0)
			c.fn(e, ctx)
			if got := e.rt.n.Load(); got != c.rt {
				t.Errorf("redis round trips = %d, want %d", got, c.rt)
			}
			if got := e.pg.n.Load(); got != c.pg {
				t.Errorf("postgres queries = %d, want %d", got, c.pg)
			}
		})
	}
}
