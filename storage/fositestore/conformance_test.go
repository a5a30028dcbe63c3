package fositestore_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/storagetest"
)

// redisBackend gives a test a Redis client and a key prefix of its own.
type redisBackend func(t testing.TB) (redis.UniversalClient, string)

// singleRedis is the single test server.
func singleRedis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	rdb, prefix := storagetest.Redis(t)
	return rdb, prefix
}

// clusterRedis is the test Redis Cluster of `scripts/services.sh
// cluster-up`; it skips (fails in CI) when the cluster is down.
func clusterRedis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	return storagetest.RedisCluster(t)
}

// conformance is the storage conformance suite: what the fosite adapter
// must do over real Redis and Postgres, whatever the Redis topology. Each
// test gets an env of its own.
var conformance = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"TokenKeysCarryBoundedTTL", testTokenKeysCarryBoundedTTL},
	{"GrantRowWrittenOncePerFamily", testGrantRowWrittenOncePerFamily},
	{"RotationRetiresOldTokens", testRotationRetiresOldTokens},
	{"ReuseRevokesFamily", testReuseRevokesFamily},
	{"ForgedTokenNeverReachesStorage", testForgedTokenNeverReachesStorage},
	{"ConcurrentRotationHasOneWinner", testConcurrentRotationHasOneWinner},
	{"RevocationCascadesAndBlocksRacingWrites", testRevocationCascadesAndBlocksRacingWrites},
	{"RevocationFindsRotationInFlight", testRevocationFindsRotationInFlight},
	{"AuthorizeCodeIsSingleUse", testAuthorizeCodeIsSingleUse},
	{"StoredEnvelopeGolden", testStoredEnvelopeGolden},
	{"StuckRotationResumes", testStuckRotationResumes},
	{"LookupAccessToken", testLookupAccessToken},
}

// runConformance runs the conformance suite with envs from newEnv (as dex's
// storage/conformance.RunTests takes a storage constructor).
func runConformance(t *testing.T, newEnv func(t testing.TB) *env) {
	for _, c := range conformance {
		t.Run(c.name, func(t *testing.T) { c.run(t, newEnv(t)) })
	}
}

// TestConformance runs the suite on the single test Redis.
func TestConformance(t *testing.T) {
	runConformance(t, newEnv)
}

// TestConformanceOnCluster runs the same suite on the Redis Cluster: it
// proves the Lua scripts and transactions only ever touch keys of one hash
// slot.
func TestConformanceOnCluster(t *testing.T) {
	storagetest.RedisCluster(t) // skips (fails in CI) when the cluster is down, before any subtest
	runConformance(t, func(t testing.TB) *env { return newEnvOn(t, clusterRedis) })
}

// TestConformanceListsEverySuiteTest: a test written in the suite's shape
// (func testX(t *testing.T, e *env)) but left out of conformance would never
// run; this finds one.
func TestConformanceListsEverySuiteTest(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range conformance {
		listed["test"+c.name] = true
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "test") || len(fn.Type.Params.List) != 2 {
				continue
			}
			if id, ok := fn.Type.Params.List[1].Type.(*ast.StarExpr); ok && isIdent(id.X, "env") && !listed[fn.Name.Name] {
				t.Errorf("%s: %s is not in the conformance list", fset.Position(fn.Pos()), fn.Name.Name)
			}
		}
	}
}

func isIdent(x ast.Expr, name string) bool {
	id, ok := x.(*ast.Ident)
	return ok && id.Name == name
}
