package fositestore_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/storage/storagetest"
)

// onClusterEnv, set to "1", makes newEnv use the test Redis Cluster instead
// of the single test server. TestConformanceOnCluster sets it for a child run
// of this package's tests.
const onClusterEnv = "AUTHD_TEST_ON_REDIS_CLUSTER"

// testingOnCluster reports whether this run is the one on the cluster.
func testingOnCluster() bool { return os.Getenv(onClusterEnv) == "1" }

// redisBackend is the Redis every conformance test runs on.
func redisBackend(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	if os.Getenv(onClusterEnv) == "1" {
		return storagetest.RedisCluster(t)
	}
	rdb, prefix := storagetest.Redis(t)
	return rdb, prefix
}

// TestConformanceOnCluster reruns every test of this package against the
// Redis Cluster of `scripts/services.sh cluster-up` (a re-run of the test
// binary with onClusterEnv set, so a new test is covered without being
// listed here). It proves the Lua scripts and transactions only ever touch
// keys of one hash slot.
func TestConformanceOnCluster(t *testing.T) {
	if os.Getenv(onClusterEnv) == "1" {
		t.Skip("already running on the cluster")
	}
	storagetest.RedisCluster(t) // skips (fails in CI) when the cluster is down
	args := []string{"-test.run", "^Test", "-test.skip", "^TestConformanceOnCluster$", "-test.count", "1", "-test.timeout", "5m"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), onClusterEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("conformance tests on the Redis Cluster (%s) failed: %v\n%s", storagetest.RedisClusterURL(), err, out)
	}
	if testing.Verbose() {
		t.Logf("on the Redis Cluster:\n%s", out)
	}
}
