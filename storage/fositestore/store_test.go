package fositestore_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/grants"
	"github.com/authd/authd/oauth"
	"github.com/authd/authd/storage"
	"github.com/authd/authd/storage/fositestore"
	"github.com/authd/authd/storage/postgres"
	"github.com/authd/authd/storage/redisstore"
	"github.com/authd/authd/storage/storagetest"
	"github.com/authd/authd/token"
)

// env is one test's (or benchmark's) adapter over the real Redis and
// Postgres (own schema, own key prefix), configured as cmd/authd configures
// it. rt counts Redis round trips and pg the Postgres queries the adapter
// makes (a counting decorator over the real store, not a stand-in).
type env struct {
	store    *fositestore.Store
	strategy *token.Strategy
	rdb      redis.UniversalClient
	redis    *redisstore.Store
	db       *postgres.DB
	client   *fositestore.Client
	clients  *fositestore.ClientCache
	grants   *grants.Manager
	rt       *roundTrips
	// bornForCounters: a refresh token TestBenchCounters revokes.
	bornForCounters string
	pg              *countingRecords
}

// testSubject is the user of every request the fixture builds.
const testSubject = "0b5c3f0e-5a43-4b38-9d3c-3a6f2d1c9e77"

// newEnv is an env on the single test Redis (the benchmarks' backend).
func newEnv(t testing.TB) *env { return newEnvOn(t, singleRedis) }

// newEnvOn is an env whose Redis is backend's (conformance_test.go: the
// single server or the cluster).
func newEnvOn(t testing.TB, backend redisBackend) *env {
	t.Helper()
	db := storagetest.Postgres(t)
	rdb, prefix := backend(t)
	rt := &roundTrips{}
	rdb.AddHook(rt)
	pg := &countingRecords{DB: db, db: db}
	rs := redisstore.New(rdb, prefix)
	// As serve runs it (AUTHD_REDIS_AUTOPIPELINE defaults to on).
	if err := rs.AutoPipelineReads(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := &storage.Client{
		ID: "app", SecretHash: []byte("x"), GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile", "offline_access"},
		RedirectURIs: []string{"http://127.0.0.1/cb"},
	}
	if err := db.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	// The server's cache settings (cmd/authd: 10000 clients, 10 s).
	cache := fositestore.NewClientCache(pg, 10000, 10*time.Second)
	gm := grants.New(grants.Config{Families: rs, Records: pg, TombstoneTTL: time.Minute})
	st := fositestore.New(fositestore.Config{
		Redis: rs, Records: pg, Clients: cache, NewSession: oauth.NewSession, Revoker: gm,
		TombstoneTTL: time.Minute, RefreshScopes: oauth.RefreshScopes,
	})
	strat, err := token.New([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := cache.Get(ctx, "app") // warm the cache, as a running server has
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: st, strategy: strat, rdb: rdb, redis: rs, db: db, client: cl, clients: cache, grants: gm, rt: rt, pg: pg}
}

// request is what fosite hands storage for a user's request of grantType,
// with a session shaped like the one authd's authorize endpoint builds.
func (e *env) request(grantType string, id string) *fosite.Request {
	s := oauth.NewSession().(*oauth.Session)
	s.Subject, s.Username = testSubject, "alice"
	now := time.Now().UTC()
	s.Claims.Subject = s.Subject
	s.Claims.Nonce = "n-0S6_WzA2Mj"
	s.Claims.AuthTime = now.Truncate(time.Second)
	s.Claims.RequestedAt = now.Truncate(time.Second)
	s.Claims.AuthenticationMethodsReferences = []string{"pwd"}
	s.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
	s.SetExpiresAt(fosite.RefreshToken, now.Add(24*time.Hour))
	s.SetExpiresAt(fosite.AuthorizeCode, now.Add(10*time.Minute))
	s.SetExpiresAt(fosite.IDToken, now.Add(time.Hour))
	scopes := fosite.Arguments{"openid", "offline_access"}
	return &fosite.Request{
		ID: id, RequestedAt: now, Client: e.client, RequestedScope: scopes, GrantedScope: scopes,
		Form:    url.Values{"grant_type": {grantType}, "client_id": {"app"}, "scope": {"openid offline_access"}},
		Session: s,
	}
}

const grantID = "7d1c2a64-0000-4000-8000-000000000001"

// born issues the first access + refresh token of a grant, as a code
// exchange does (fosite stores sanitised requests), and returns the tokens.
func (e *env) born(t testing.TB, ctx context.Context, id string) (access, refresh string) {
	t.Helper()
	return e.bornWith(t, ctx, e.request("authorization_code", id))
}

// bornFor is born for another registered client; it returns the refresh
// token.
func (e *env) bornFor(t testing.TB, ctx context.Context, clientID, id string) string {
	t.Helper()
	c, err := e.clients.Get(ctx, clientID)
	if err != nil {
		t.Fatal(err)
	}
	r := e.request("authorization_code", id)
	r.Client = c
	r.Form.Set("client_id", clientID)
	_, rt := e.bornWith(t, ctx, r)
	return rt
}

func (e *env) bornWith(t testing.TB, ctx context.Context, r *fosite.Request) (access, refresh string) {
	t.Helper()
	at, atSig, err := e.strategy.GenerateAccessToken(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	rt, rtSig, err := e.strategy.GenerateRefreshToken(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateAccessTokenSession(ctx, atSig, r.Sanitize(nil)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateRefreshTokenSession(ctx, rtSig, atSig, r.Sanitize(nil)); err != nil {
		t.Fatal(err)
	}
	return at, rt
}

// refresh is the storage side of one refresh_token grant, as fosite's
// RefreshTokenGrantHandler does it: look the token up and validate it,
// then, in a transaction, rotate it and store the new access and refresh
// tokens. It returns the new tokens (or the first storage error).
func (e *env) refresh(ctx context.Context, id, oldRefresh string) (string, string, error) {
	oldSig := e.strategy.RefreshTokenSignature(ctx, oldRefresh)
	orig, err := e.store.GetRefreshTokenSession(ctx, oldSig, oauth.NewSession())
	if err != nil {
		return "", "", err
	}
	if err := e.strategy.ValidateRefreshToken(ctx, orig, oldRefresh); err != nil {
		return "", "", err
	}
	r := &fosite.AccessRequest{GrantTypes: fosite.Arguments{"refresh_token"}, Request: *e.request("refresh_token", id)}
	r.Form.Set("refresh_token", oldRefresh)
	at, atSig, err := e.strategy.GenerateAccessToken(ctx, r)
	if err != nil {
		return "", "", err
	}
	rt, rtSig, err := e.strategy.GenerateRefreshToken(ctx, r)
	if err != nil {
		return "", "", err
	}
	stored := r.Sanitize(nil)
	tx, err := e.store.BeginTX(ctx)
	if err != nil {
		return "", "", err
	}
	if err := e.store.RotateRefreshToken(tx, id, oldSig); err != nil {
		return "", "", errors.Join(err, e.store.Rollback(tx))
	}
	if err := e.store.CreateAccessTokenSession(tx, atSig, stored); err != nil {
		return "", "", errors.Join(err, e.store.Rollback(tx))
	}
	if err := e.store.CreateRefreshTokenSession(tx, rtSig, atSig, stored); err != nil {
		return "", "", errors.Join(err, e.store.Rollback(tx))
	}
	if err := e.store.Commit(tx); err != nil {
		return "", "", errors.Join(err, e.store.Rollback(tx))
	}
	return at, rt, nil
}

func (e *env) accessActive(ctx context.Context, at string) bool {
	_, err := e.store.GetAccessTokenSession(ctx, e.strategy.AccessTokenSignature(ctx, at), oauth.NewSession())
	return err == nil
}

func pttl(t *testing.T, rdb redis.UniversalClient, key string) time.Duration {
	t.Helper()
	d, err := rdb.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testTokenKeysCarryBoundedTTL(t *testing.T, e *env) {
	ctx := context.Background()
	r := e.request("authorization_code", grantID)
	code, codeSig, _ := e.strategy.GenerateAuthorizeCode(ctx, r)
	if err := e.store.CreateAuthorizeCodeSession(ctx, codeSig, r); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreatePKCERequestSession(ctx, codeSig, r); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateOpenIDConnectSession(ctx, code, r); err != nil {
		t.Fatal(err)
	}
	e.born(t, ctx, grantID)
	for _, c := range []struct {
		part string
		max  time.Duration
	}{{"c", 10 * time.Minute}, {"pk", 10 * time.Minute}, {"oi", 10 * time.Minute}, {"at", time.Hour}, {"f", 24 * time.Hour}} {
		d := pttl(t, e.rdb, e.redis.Key(grantID, c.part))
		if d <= 0 || d > c.max {
			t.Errorf("key %s: PTTL %v, want in (0, %v]", c.part, d, c.max)
		}
	}
	fam, _ := e.rdb.MemoryUsage(ctx, e.redis.Key(grantID, "f")).Result()
	acc, _ := e.rdb.MemoryUsage(ctx, e.redis.Key(grantID, "at")).Result()
	t.Logf("Redis MEMORY USAGE: refresh family %d bytes, access session %d bytes", fam, acc)
	if fam > 1024 || fam+acc > 2048 {
		t.Errorf("session too large: family %d B, access %d B", fam, acc)
	}
}

func testGrantRowWrittenOncePerFamily(t *testing.T, e *env) {
	ctx := context.Background()
	_, rt := e.born(t, ctx, grantID)
	var err error
	for i := 0; i < 5; i++ {
		if _, rt, err = e.refresh(ctx, grantID, rt); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	gs, err := e.db.ListGrants(ctx, testSubject)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].ID != grantID || gs[0].ClientID != "app" || gs[0].Flow != "authorization_code" {
		t.Fatalf("grants = %+v, want exactly one row for the family", gs)
	}
}

func testRotationRetiresOldTokens(t *testing.T, e *env) {
	ctx := context.Background()
	at1, rt1 := e.born(t, ctx, grantID)
	at2, rt2, err := e.refresh(ctx, grantID, rt1)
	if err != nil {
		t.Fatal(err)
	}
	if e.accessActive(ctx, at1) {
		t.Error("the access token of the previous generation is still active")
	}
	if !e.accessActive(ctx, at2) {
		t.Error("the new access token is not active")
	}
	if _, _, err := e.refresh(ctx, grantID, rt2); err != nil {
		t.Errorf("the new refresh token does not work: %v", err)
	}
}

func testReuseRevokesFamily(t *testing.T, e *env) {
	ctx := context.Background()
	_, rt1 := e.born(t, ctx, grantID)
	at2, rt2, err := e.refresh(ctx, grantID, rt1)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.refresh(ctx, grantID, rt1) // replay of the rotated token
	if !errors.Is(err, fosite.ErrInactiveToken) {
		t.Fatalf("replay: err = %v, want ErrInactiveToken", err)
	}
	if e.accessActive(ctx, at2) {
		t.Error("access token still active after reuse")
	}
	if _, _, err := e.refresh(ctx, grantID, rt2); !errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("current refresh after reuse: err = %v, want ErrNotFound", err)
	}
	g, err := e.db.GetGrant(ctx, grantID)
	if err != nil {
		t.Fatal(err)
	}
	if g.RevokedAt == nil || g.RevokeReason != storage.RevokedReuse {
		t.Errorf("grant row revoked=%v reason=%q, want reuse_detected", g.RevokedAt, g.RevokeReason)
	}
}

func testForgedTokenNeverReachesStorage(t *testing.T, e *env) {
	ctx := context.Background()
	_, rt1 := e.born(t, ctx, grantID)
	if _, _, err := e.refresh(ctx, grantID, rt1); err != nil {
		t.Fatal(err)
	}
	// Somebody who knows the grant id forges an "old generation" token: it
	// must not count as reuse (which would revoke the victim's grant).
	forged := strings.Replace(rt1, ".0.", ".0.", 1)
	forged = forged[:len(forged)-4] + "AAAA"
	if sig := e.strategy.RefreshTokenSignature(ctx, forged); sig != "" {
		t.Fatalf("forged token got a signature %q", sig)
	}
	if _, err := e.store.GetRefreshTokenSession(ctx, "", oauth.NewSession()); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("empty signature: %v", err)
	}
	g, _ := e.db.GetGrant(ctx, grantID)
	if g.RevokedAt != nil {
		t.Fatal("a forged token revoked the grant")
	}
}

func testConcurrentRotationHasOneWinner(t *testing.T, e *env) {
	ctx := context.Background()
	for round := 0; round < 20; round++ {
		id := "7d1c2a64-0000-4000-8000-0000000001" + string(rune('a'+round/10)) + string(rune('0'+round%10))
		_, rt := e.born(t, ctx, id)
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, reuse := 0, 0
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := e.refresh(ctx, id, rt)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, fosite.ErrInactiveToken):
					reuse++
				case errors.Is(err, fosite.ErrSerializationFailure), errors.Is(err, fosite.ErrNotFound):
				default:
					t.Errorf("unexpected error %v", err)
				}
			}()
		}
		wg.Wait()
		if wins > 1 || (wins == 0 && reuse == 0) {
			t.Fatalf("round %d: %d winners (%d reuse detections), want exactly one winner or a revoked family", round, wins, reuse)
		}
	}
}

func testRevocationCascadesAndBlocksRacingWrites(t *testing.T, e *env) {
	ctx := context.Background()
	at, rt := e.born(t, ctx, grantID)
	if err := e.store.RevokeRefreshToken(ctx, grantID); err != nil {
		t.Fatal(err)
	}
	if e.accessActive(ctx, at) {
		t.Error("access token active after its grant was revoked")
	}
	if _, _, err := e.refresh(ctx, grantID, rt); !errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("refresh after revocation: %v, want ErrNotFound", err)
	}
	// A request that passed its checks before the revocation cannot write
	// a new token into the revoked grant.
	r := e.request("refresh_token", grantID)
	_, atSig, _ := e.strategy.GenerateAccessToken(ctx, r)
	if err := e.store.CreateAccessTokenSession(ctx, atSig, r); !errors.Is(err, storage.ErrRevoked) {
		t.Errorf("write into revoked grant: %v, want ErrRevoked", err)
	}
	if err := e.store.RevokeRefreshToken(ctx, grantID); err != nil {
		t.Errorf("second revocation: %v", err)
	}
	g, _ := e.db.GetGrant(ctx, grantID)
	if g.RevokedAt == nil || g.RevokeReason != storage.RevokedByClient {
		t.Errorf("grant row: revoked=%v reason %q", g.RevokedAt, g.RevokeReason)
	}
}

func testAuthorizeCodeIsSingleUse(t *testing.T, e *env) {
	ctx := context.Background()
	r := e.request("authorization_code", grantID)
	_, sig, _ := e.strategy.GenerateAuthorizeCode(ctx, r)
	if err := e.store.CreateAuthorizeCodeSession(ctx, sig, r); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.store.InvalidateAuthorizeCodeSession(ctx, sig); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d concurrent invalidations succeeded, want 1", ok)
	}
	e.born(t, ctx, grantID) // the exchange completes: the code is marked exchanged
	if _, err := e.store.GetAuthorizeCodeSession(ctx, sig, oauth.NewSession()); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		t.Fatalf("code after exchange: %v, want ErrInvalidatedAuthorizeCode", err)
	}
}

// testStoredEnvelopeGolden: a request stored by an earlier version must
// still decode (tokens outlive deployments).
func testStoredEnvelopeGolden(t *testing.T, e *env) {
	ctx := context.Background()
	b, err := os.ReadFile("testdata/access_v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
	if err := e.rdb.Set(ctx, e.redis.Key(grantID, "at"), parts[1], time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := e.store.GetAccessTokenSession(ctx, grantID+".0."+parts[0], oauth.NewSession())
	if err != nil {
		t.Fatal(err)
	}
	if r.GetSession().GetSubject() != "user-1" || r.GetClient().GetID() != "app" || !r.GetGrantedScopes().Has("offline_access") {
		t.Fatalf("decoded %+v", r)
	}
}

// testStuckRotationResumes: a refresh that died between retiring the old
// token and storing the new one (Redis failed in between, or the process
// crashed) does not end the grant: after the stuck-rotation time the old
// token, still the client's only one, resumes the rotation; before that it
// is refused as a concurrent duplicate.
func testStuckRotationResumes(t *testing.T, e *env) {
	e.redis.SetStuckRotation(200 * time.Millisecond)
	ctx := context.Background()
	_, rt := e.born(t, ctx, grantID)
	oldSig := e.strategy.RefreshTokenSignature(ctx, rt)
	if _, err := e.store.GetRefreshTokenSession(ctx, oldSig, oauth.NewSession()); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RotateRefreshToken(ctx, grantID, oldSig); err != nil {
		t.Fatal(err)
	}
	// ...and the request dies here: no new tokens are stored.
	if _, _, err := e.refresh(ctx, grantID, rt); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("while the rotation may still be in flight: %v, want ErrNotFound", err)
	}
	time.Sleep(300 * time.Millisecond)
	at2, rt2, err := e.refresh(ctx, grantID, rt)
	if err != nil {
		t.Fatalf("resuming a stuck rotation: %v", err)
	}
	if !e.accessActive(ctx, at2) {
		t.Fatal("the resumed rotation's access token is not active")
	}
	if _, _, err := e.refresh(ctx, grantID, rt2); err != nil {
		t.Fatalf("the grant is not healthy after resuming: %v", err)
	}
	if _, _, err := e.refresh(ctx, grantID, rt); !errors.Is(err, fosite.ErrInactiveToken) {
		t.Fatalf("the old token after the resumed rotation completed: %v, want reuse", err)
	}
}

// testLookupAccessToken: introspection's lookup answers what
// GetAccessTokenSession answers, reuses a decoded session only while Redis
// holds the very bytes it was decoded from, and never outlives a
// revocation, a rotation or the client.
func testLookupAccessToken(t *testing.T, e *env) {
	ctx := context.Background()
	at, rt := e.born(t, ctx, grantID)
	sig := e.strategy.AccessTokenSignature(ctx, at)

	want, err := e.store.GetAccessTokenSession(ctx, sig, oauth.NewSession())
	if err != nil {
		t.Fatal(err)
	}
	r1, err := e.store.LookupAccessToken(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.store.LookupAccessToken(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []fosite.Requester{r1, r2} {
		if r.GetID() != want.GetID() || r.GetClient().GetID() != "app" || r.GetSession().GetSubject() != testSubject ||
			!r.GetRequestedAt().Equal(want.GetRequestedAt()) || strings.Join(r.GetGrantedScopes(), " ") != strings.Join(want.GetGrantedScopes(), " ") ||
			!r.GetSession().GetExpiresAt(fosite.AccessToken).Equal(want.GetSession().GetExpiresAt(fosite.AccessToken)) {
			t.Fatalf("lookup %+v, want %+v", r, want)
		}
	}
	if r1.GetSession() != r2.GetSession() {
		t.Error("the second lookup decoded again: the decoded session was not reused")
	}

	// Different bytes under the same signature (here: another subject
	// written straight into Redis) are decoded afresh.
	key := e.redis.Key(grantID, "at")
	raw, err := e.rdb.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	const other = "11111111-2222-4333-8444-555555555555"
	if err := e.rdb.Set(ctx, key, strings.ReplaceAll(raw, testSubject, other), redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := e.store.LookupAccessToken(ctx, sig); err != nil || r.GetSession().GetSubject() != other {
		t.Fatalf("after the stored bytes changed: %v, %v", r, err)
	}

	// Rotation: the old access token is gone, the new one found.
	at2, _, err := e.refresh(ctx, grantID, rt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.LookupAccessToken(ctx, sig); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("rotated-away access token: %v, want not found", err)
	}
	sig2 := e.strategy.AccessTokenSignature(ctx, at2)
	if _, err := e.store.LookupAccessToken(ctx, sig2); err != nil {
		t.Fatal(err)
	}

	// Revocation: gone at once although decoded a moment ago.
	if err := e.store.RevokeRefreshToken(ctx, grantID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.LookupAccessToken(ctx, sig2); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("revoked grant's access token: %v, want not found", err)
	}

	// A deleted client's tokens are dead, decoded or not.
	const g2 = "7d1c2a64-0000-4000-8000-000000000002"
	at3, _ := e.born(t, ctx, g2)
	sig3 := e.strategy.AccessTokenSignature(ctx, at3)
	if _, err := e.store.LookupAccessToken(ctx, sig3); err != nil {
		t.Fatal(err)
	}
	if err := e.db.DeleteClient(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	e.clients.Forget("app") // what every replica's cache does within its TTL
	if _, err := e.store.LookupAccessToken(ctx, sig3); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("deleted client's token: %v, want not found", err)
	}
}
